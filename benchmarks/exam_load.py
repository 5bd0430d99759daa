"""Exam load: simulated examinees sit one exam at the same time against a real
server (gunicorn on loopback), each saving one answer per question.

    .venv/bin/python benchmarks/exam_load.py [--examinees 200] [--answers 30]
        [--think-ms 1000] [--workers N] [--threads 4] [--postgres URL]
        [--database-url URL]

Without ``--database-url`` it runs on SQLite in a temporary directory and, when
``--postgres`` or ``TEST_DATABASE_URL`` names a PostgreSQL server, on PostgreSQL
too: a scratch database is created on that server and dropped at the end. With
``--database-url`` it runs on that database alone, which must be empty.

For each database:

* setup, through the services: a framework with one competency, 40 active
  single-choice items, a published exam of one section drawing 30 of them (60
  minutes, one attempt), and the examinees (role ``member``), each with an API
  token; committed.
* gunicorn starts on a free loopback port (``--workers``, default 2 x cores + 1,
  gthread with ``--threads`` each) with ``DATABASE_URL`` and ``SECRET_KEY`` in its
  environment. The app rate-limits only failed sign-ins and event ingestion, so
  nothing needs raising for many examinees behind one address.
* every examinee is a client thread with its own keep-alive connection and bearer
  token. All wait at a barrier, then start the attempt
  (``POST /api/v1/assessments/exams/<key>/attempts``), then for each question in
  turn think (uniform between 0.5 and 1.5 x ``--think-ms``; 0 sends flat out)
  and save a random option (``PUT /api/v1/assessments/attempts/<id>/answers/<n>``),
  then submit (``POST .../submit``). The default pace packs the exam into half a
  minute, about 200 saves/s offered; a real sitting (30 questions in up to 60
  minutes) offers a few per second, ``--think-ms 10000`` a brisk one. Latencies
  are the client's, request sent to response read; the server's own time per
  save (gunicorn's ``%(D)s``) is shown beside them, the difference being time
  queued for a worker. Exceptions in the server's error log are summarised.
* the database is then read directly: every saved answer must equal the last one
  its client sent, and every attempt must be submitted.

It prints, per database, the setup time, saves, throughput, save latency p50,
p95, p99 and max, start and submit p95, errors by HTTP status, lost answers and
PASS or MISS against the target (no error, no lost answer, save p95 at most
100 ms); then the databases side by side.
"""

import argparse
import http.client
import json
import os
import random
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from common import Progress, scratch_postgres

TARGET_P95_MS = 100.0
ITEMS_IN_BANK = 40
EXAM_KEY = "load-exam"
SECRET_KEY = "exam-load-bench"  # noqa: S105 (a throwaway server)
REPOSITORY = Path(__file__).resolve().parents[1]
#: gunicorn access-log line: method, path, status, microseconds in the worker.
ACCESS_FORMAT = "%(m)s %(U)s %(s)s %(D)s"
SAVE_PATH = re.compile(r"^/api/v1/assessments/attempts/\d+/answers/\d+$")


def _percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile of ``values`` (same units)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, int(len(ordered) * share + 0.999999))
    return ordered[min(rank, len(ordered)) - 1]


def _single_choice(n: int) -> dict:
    return {
        "type": "single",
        "points": 1,
        "stem": {"zh": f"第 {n} 题：哪个选项正确？", "en": f"Question {n}: which?"},
        "options": [
            {"id": i, "text": {"zh": f"选项 {i}", "en": f"Option {i}"}}
            for i in ("a", "b", "c", "d")
        ],
        "key": {"option": "b"},
        "feedback": {"zh": "解析", "en": "Explanation"},
    }


def setup(url: str, examinees: int, answers: int) -> list[str]:
    """Migrate ``url`` and create the bank, the exam and the examinees; returns
    their bearer secrets."""
    import logging

    from flask_migrate import upgrade

    from assessments import services
    from proving_ground import create_app
    from proving_ground.auth import services as auth_services
    from proving_ground.db import db

    app = create_app(
        {
            "DATABASE_URL": url,
            "SECRET_KEY": SECRET_KEY,
            # Nobody signs in with a password here; spare the scrypt cost.
            "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
        }
    )
    with app.app_context():
        upgrade()
        logging.getLogger("alembic").setLevel(logging.WARNING)
        services.create_framework(
            {
                "key": "load",
                "name": {"zh": "压测", "en": "Load"},
                "competencies": [
                    {
                        "key": "load-skill",
                        "name": {"zh": "能力", "en": "Skill"},
                        "levels": [{"zh": "入门", "en": "Novice"}],
                    }
                ],
            },
            actor=None,
        )
        for n in range(max(ITEMS_IN_BANK, answers)):
            services.create_item(
                {
                    "key": f"load-{n:03d}",
                    "competency": "load-skill",
                    "status": "active",
                    "content": _single_choice(n),
                },
                actor=None,
            )
        exam = services.create_exam(
            {
                "key": EXAM_KEY,
                "title": {"zh": "压测考试", "en": "Load exam"},
                "time_limit_minutes": 60,
                "max_attempts": 1,
                "sections": [
                    {
                        "title": {"zh": "全部", "en": "All"},
                        "competency": "load-skill",
                        "item_count": answers,
                    }
                ],
            },
            actor=None,
        )
        services.set_exam_status(exam, "published", actor=None)
        secrets = []
        for n in range(examinees):
            user = auth_services.create_user(
                email=f"examinee{n:04d}@example.com",
                display_name=f"Examinee {n}",
                password="not-used-by-the-benchmark",  # noqa: S106
                roles=["member"],
                check_password=False,
            )
            _token, secret = auth_services.create_token(user, "exam load")
            secrets.append(secret)
        db.session.commit()
        db.engine.dispose()
    return secrets


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """gunicorn serving the app on a free loopback port, logging each request's
    time in the worker."""

    def __init__(self, url: str, workers: int, threads: int, folder: Path):
        self.port = _free_port()
        self.access_log = folder / "access.log"
        self.error_log = folder / "error.log"
        gunicorn = Path(sys.executable).with_name("gunicorn")
        command = [
            str(gunicorn),
            "-w",
            str(workers),
            "-k",
            "gthread",
            "--threads",
            str(threads),
            "-b",
            f"127.0.0.1:{self.port}",
            # Examinees think between saves: keep their connections open.
            "--keep-alive",
            "75",
            "--access-logfile",
            str(self.access_log),
            "--access-logformat",
            ACCESS_FORMAT,
            "--error-logfile",
            str(self.error_log),
            "proving_ground:create_app()",
        ]
        env = os.environ | {"DATABASE_URL": url, "SECRET_KEY": SECRET_KEY}
        self.process = subprocess.Popen(command, cwd=REPOSITORY, env=env)

    def wait_healthy(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        health = f"http://127.0.0.1:{self.port}/api/v1/health"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                with urllib.request.urlopen(health, timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        self.stop()
        tail = self.error_log.read_text()[-3000:] if self.error_log.exists() else ""
        raise RuntimeError(f"gunicorn did not become healthy:\n{tail}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def exceptions(self) -> Counter:
        """The last line of every traceback in the error log → count."""
        found: Counter = Counter()
        lines = self.error_log.read_text().splitlines()
        for i, line in enumerate(lines):
            if line.startswith("Traceback"):
                end = i + 1
                while end < len(lines) and lines[end].startswith((" ", "\t")):
                    end += 1
                if end < len(lines):
                    found[lines[end][:200]] += 1
        return found

    def save_times_ms(self) -> list[float]:
        """The worker time of every successful save, from the access log."""
        times = []
        for line in self.access_log.read_text().splitlines():
            method, path, status, micros = line.split()
            if method == "PUT" and status == "200" and SAVE_PATH.match(path):
                times.append(int(micros) / 1000)
        return times


@dataclass
class Results:
    """What the clients measured (seconds) and sent."""

    saves: list[float] = field(default_factory=list)
    starts: list[float] = field(default_factory=list)
    submits: list[float] = field(default_factory=list)
    #: (phase, HTTP status or exception name) → count.
    errors: Counter = field(default_factory=Counter)
    #: (attempt id, position) → the option id last sent and acknowledged or not.
    sent: dict[tuple[int, int], str] = field(default_factory=dict)
    #: Seconds from the barrier to the last client's end.
    elapsed: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)


class Examinee:
    """One client: a keep-alive connection and a bearer token."""

    def __init__(self, port: int, secret: str, think: float, seed: int):
        self.port = port
        self.headers = {
            "Authorization": f"Bearer {secret}",
            "Content-Type": "application/json",
            "Accept-Language": "en",
        }
        self.think = think
        self.random = random.Random(seed)
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def request(self, method: str, path: str, body=None) -> tuple[int, dict, float]:
        """Status, JSON body and seconds taken. Reconnects once if the server had
        closed the idle connection before the request was sent."""
        payload = None if body is None else json.dumps(body).encode()
        for retry in (False, True):
            start = time.perf_counter()
            try:
                self.connection.request(method, path, payload, self.headers)
                response = self.connection.getresponse()
                data = response.read()
            except (http.client.RemoteDisconnected, BrokenPipeError):
                self.connection.close()
                if retry:
                    raise
                continue
            elapsed = time.perf_counter() - start
            return response.status, (json.loads(data) if data else {}), elapsed
        raise AssertionError("unreachable")

    def run(
        self,
        barrier: threading.Barrier,
        results: Results,
        progress: Callable[[], None],
    ) -> None:
        self.connection.connect()
        barrier.wait()
        try:
            self._sit(results, progress)
        except Exception as exc:
            with results.lock:
                results.errors["client", type(exc).__name__] += 1
        finally:
            self.connection.close()

    def _sit(self, results: Results, progress: Callable[[], None]) -> None:
        status, attempt, elapsed = self.request(
            "POST", f"/api/v1/assessments/exams/{EXAM_KEY}/attempts"
        )
        with results.lock:
            results.starts.append(elapsed)
            if status != 201:
                results.errors["start", status] += 1
                return
        for question in attempt["questions"]:
            options = [option["id"] for option in question["content"]["options"]]
            choice = self.random.choice(options)
            if self.think:
                time.sleep(self.think * self.random.uniform(0.5, 1.5))
            position = question["position"]
            status, _saved, elapsed = self.request(
                "PUT",
                f"/api/v1/assessments/attempts/{attempt['id']}/answers/{position}",
                {"answer": choice},
            )
            with results.lock:
                results.saves.append(elapsed)
                results.sent[attempt["id"], position] = choice
                if status != 200:
                    results.errors["save", status] += 1
            progress()
        status, _submitted, elapsed = self.request(
            "POST", f"/api/v1/assessments/attempts/{attempt['id']}/submit"
        )
        with results.lock:
            results.submits.append(elapsed)
            if status != 200:
                results.errors["submit", status] += 1


def load(port: int, secrets: list[str], answers: int, think: float) -> Results:
    """Run every examinee at once; returns what they measured and sent."""
    results = Results()
    bar = Progress("saves", len(secrets) * answers)
    done = 0

    def progress() -> None:
        nonlocal done
        with results.lock:
            done += 1
            bar(done)

    barrier = threading.Barrier(len(secrets) + 1)
    threads = [
        threading.Thread(
            target=Examinee(port, secret, think, seed).run,
            args=(barrier, results, progress),
        )
        for seed, secret in enumerate(secrets)
    ]
    for thread in threads:
        thread.start()
    barrier.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    results.elapsed = time.perf_counter() - began
    return results


@dataclass
class Check:
    """The database read after the run."""

    lost: int
    unanswered: int
    submitted: int
    attempts: int
    answer_events: int


def verify(url: str, sent: dict[tuple[int, int], str]) -> Check:
    """Compare every saved answer with the last one sent; count submissions."""
    from assessments.models import Attempt, AttemptEvent, AttemptItem
    from proving_ground.config import normalise_database_url

    engine = sa.create_engine(normalise_database_url(url))
    with engine.connect() as conn:
        saved = {
            (row.attempt_id, row.position): row.answer
            for row in conn.execute(
                sa.select(
                    AttemptItem.attempt_id, AttemptItem.position, AttemptItem.answer
                )
            )
        }
        attempts = conn.scalar(sa.select(sa.func.count()).select_from(Attempt))
        submitted = conn.scalar(
            sa.select(sa.func.count())
            .select_from(Attempt)
            .where(Attempt.submitted_by == "examinee")
        )
        answer_events = conn.scalar(
            sa.select(sa.func.count())
            .select_from(AttemptEvent)
            .where(AttemptEvent.kind == "answer")
        )
    engine.dispose()
    lost = sum(1 for key, choice in sent.items() if saved.get(key) != choice)
    unanswered = sum(1 for answer in saved.values() if answer is None)
    return Check(lost, unanswered, submitted, attempts, answer_events)


def run(url: str, args: argparse.Namespace) -> dict:
    """Set up, serve, load and verify one database; prints and returns figures."""
    backend = sa.make_url(url).get_backend_name()
    began = time.perf_counter()
    secrets = setup(url, args.examinees, args.answers)
    setup_seconds = time.perf_counter() - began
    with tempfile.TemporaryDirectory() as folder:
        server = Server(url, args.workers, args.threads, Path(folder))
        try:
            server.wait_healthy()
            results = load(server.port, secrets, args.answers, args.think_ms / 1000)
        finally:
            server.stop()
        server_saves = server.save_times_ms()
        exceptions = server.exceptions()
    check = verify(url, results.sent)

    saves_ms = [s * 1000 for s in results.saves]
    errors = sum(results.errors.values())
    expected = args.examinees * args.answers
    p95 = _percentile(saves_ms, 0.95)
    passed = (
        errors == 0
        and check.lost == 0
        and len(saves_ms) == expected
        and check.submitted == args.examinees
        and p95 <= TARGET_P95_MS
    )
    print(
        f"\n{backend}: gunicorn {args.workers} workers x {args.threads} threads, "
        f"{args.examinees} examinees x {args.answers} answers, "
        f"think {args.think_ms:g} ms (mean); {os.cpu_count()} cores, "
        f"load average {os.getloadavg()[0]:.1f} after the run"
    )
    print(f"  setup               {setup_seconds:8.1f} s (migrate, bank, exam, users)")
    print(
        f"  saves               {len(saves_ms):8,} in {results.elapsed:.1f} s: "
        f"{len(saves_ms) / results.elapsed:,.0f} saves/s"
    )
    print(
        "  save, client        "
        f"p50 {_percentile(saves_ms, 0.50):7.1f}  p95 {p95:7.1f}  "
        f"p99 {_percentile(saves_ms, 0.99):7.1f}  max {max(saves_ms):7.1f} ms"
    )
    print(
        "  save, in worker     "
        f"p50 {_percentile(server_saves, 0.50):7.1f}  "
        f"p95 {_percentile(server_saves, 0.95):7.1f}  "
        f"p99 {_percentile(server_saves, 0.99):7.1f}  "
        f"max {max(server_saves, default=float('nan')):7.1f} ms"
    )
    print(
        f"  start p95 {_percentile(results.starts, 0.95) * 1000:7.1f} ms, "
        f"submit p95 {_percentile(results.submits, 0.95) * 1000:7.1f} ms"
    )
    by_status = ", ".join(f"{p} {s}: {n}" for (p, s), n in results.errors.items())
    print(f"  errors              {errors:8,}{f' ({by_status})' if by_status else ''}")
    for exception, count in exceptions.most_common(5):
        print(f"    server: {count} x {exception}")
    print(
        f"  lost answers        {check.lost:8,} of {len(results.sent):,} sent "
        f"({check.unanswered} questions unanswered, "
        f"{check.answer_events:,} answer events)"
    )
    print(f"  attempts submitted  {check.submitted:8,} of {check.attempts:,}")
    print(
        f"  target: save p95 <= {TARGET_P95_MS:g} ms, nothing lost: "
        f"{'PASS' if passed else 'MISS'}"
    )
    return {
        "database": backend,
        "saves_per_s": len(saves_ms) / results.elapsed,
        "p50": _percentile(saves_ms, 0.50),
        "p95": p95,
        "p99": _percentile(saves_ms, 0.99),
        "errors": errors,
        "lost": check.lost,
        "passed": passed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url")
    parser.add_argument("--postgres", default=os.environ.get("TEST_DATABASE_URL"))
    parser.add_argument("--examinees", type=int, default=200)
    parser.add_argument("--answers", type=int, default=30)
    parser.add_argument(
        "--think-ms",
        type=float,
        default=1000,
        help="mean pause before each save (0: flat out)",
    )
    parser.add_argument("--workers", type=int, default=2 * (os.cpu_count() or 1) + 1)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()

    figures = []
    with ExitStack() as stack:
        if args.database_url:
            urls = [args.database_url]
        else:
            folder = stack.enter_context(tempfile.TemporaryDirectory())
            urls = [f"sqlite:///{Path(folder) / 'exam_load.db'}"]
            if args.postgres:
                urls.append(
                    stack.enter_context(scratch_postgres(args.postgres, "exam_load"))
                )
        for url in urls:
            figures.append(run(url, args))

    print(f"\n{'database':<12}{'saves/s':>9}{'p50':>8}{'p95':>8}{'p99':>8}", end="")
    print(f"{'errors':>8}{'lost':>6}  target p95 <= {TARGET_P95_MS:g} ms")
    for row in figures:
        print(
            f"{row['database']:<12}{row['saves_per_s']:>9,.0f}{row['p50']:>8.1f}"
            f"{row['p95']:>8.1f}{row['p99']:>8.1f}{row['errors']:>8}{row['lost']:>6}"
            f"  {'PASS' if row['passed'] else 'MISS'}"
        )


if __name__ == "__main__":
    main()
