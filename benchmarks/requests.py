"""Latency of the foundation's endpoints, in process (no network), on a database
holding a realistic amount of data.

    .venv/bin/python benchmarks/requests.py [--database-url URL] [--events 20000]

Without ``--database-url`` a temporary SQLite file is used. With a PostgreSQL URL,
the database must be empty (it is migrated, filled and left as is).
"""

import argparse
import re
import statistics
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa
from flask_migrate import upgrade

CSRF_META = re.compile(r'name="csrf-token" content="([^"]+)"')


def _timed(client, method, url, n, **kwargs) -> list[float]:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        response = client.open(url, method=method, **kwargs)
        times.append(time.perf_counter() - start)
        assert response.status_code < 400, (url, response.status_code)
    return times


def _report(label: str, times: list[float]) -> None:
    times = sorted(times)
    p50 = statistics.median(times) * 1000
    p95 = times[int(len(times) * 0.95) - 1] * 1000
    print(f"{label:<44} n={len(times):>4}  p50 {p50:7.2f} ms  p95 {p95:7.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url")
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("-n", type=int, default=200)
    args = parser.parse_args()

    from proving_ground import create_app
    from proving_ground.audit.models import AuditEvent
    from proving_ground.auth import services
    from proving_ground.db import db
    from proving_ground.demo import DEMO_USERS, load

    tmp = tempfile.TemporaryDirectory()
    url = args.database_url or f"sqlite:///{Path(tmp.name) / 'bench.db'}"
    # Real scrypt hashing, as in production.
    app = create_app(
        {"DATABASE_URL": url, "SECRET_KEY": "bench", "INSTANCE_PATH": tmp.name}
    )
    with app.app_context():
        upgrade()
        load()
        admin = services.get_user_by_email(DEMO_USERS[0]["email"])
        _token, secret = services.create_token(admin, "bench")
        db.session.execute(
            sa.insert(AuditEvent),
            [
                {
                    "action": f"bench.event{i % 7}",
                    "actor_label": f"u{i % 50}@example.com",
                    "target": f"user:{i % 300}",
                    "details": {"i": i},
                }
                for i in range(args.events)
            ],
        )
        db.session.commit()
    print(
        f"database: {sa.make_url(url).get_backend_name()}, {args.events:,} audit events"
    )

    client = app.test_client()
    bearer = {"Authorization": f"Bearer {secret}"}
    _report("GET /api/v1/health", _timed(client, "GET", "/api/v1/health", args.n))
    _report("GET /login (page)", _timed(client, "GET", "/login", args.n))
    _report(
        "GET /api/v1/me (bearer token)",
        _timed(client, "GET", "/api/v1/me", args.n, headers=bearer),
    )
    _report(
        "GET /api/v1/audit-events?per_page=50",
        _timed(
            client, "GET", "/api/v1/audit-events?per_page=50", args.n, headers=bearer
        ),
    )
    _report(
        "GET /api/v1/audit-events?action=bench.event3",
        _timed(
            client,
            "GET",
            "/api/v1/audit-events?action=bench.event3",
            args.n,
            headers=bearer,
        ),
    )

    login_times = []
    for _ in range(20):
        browser = app.test_client()
        page = browser.get("/login").get_data(as_text=True)
        token = CSRF_META.search(page).group(1)
        start = time.perf_counter()
        response = browser.post(
            "/login",
            data={
                "csrf_token": token,
                "email": DEMO_USERS[0]["email"],
                "password": app.config["DEMO_PASSWORD"],
            },
        )
        login_times.append(time.perf_counter() - start)
        assert response.status_code == 302
    _report("POST /login (scrypt verification)", login_times)
    browser.get("/")
    _report(
        "GET /admin/audit (page, session)", _timed(browser, "GET", "/admin/audit", 50)
    )
    _report("GET / (home page, session)", _timed(browser, "GET", "/", args.n))
    tmp.cleanup()


if __name__ == "__main__":
    main()
