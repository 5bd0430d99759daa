"""Tracking: event batches, write keys, CSV imports; nothing lost, nothing twice."""

import io
import json
import threading
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from experiments.models import Event, Exposure
from proving_ground.db import db

NOW = datetime.now(UTC)


def event(i: int | str, **fields) -> dict:
    base = {
        "event_id": f"ev-{i}",
        "type": "call",
        "unit_id": f"lead-{i}",
        "occurred_at": (NOW - timedelta(hours=1)).isoformat(),
    }
    return {**base, **fields}


def _bearer(secret: str) -> dict:
    return {"Authorization": f"Bearer {secret}"}


def _stored(app) -> list[str]:
    with app.app_context():
        return sorted(db.session.scalars(sa.select(Event.event_id)))


def test_batch_with_good_bad_and_duplicate_events(app, client, write_key):
    events = [
        event(
            1,
            rep_id="rep-1",
            customer_id="c-9",
            value=1.5,
            properties={"channel": "电话"},
        ),
        event(2),
        event(1),  # the same event again within the batch
        {"event_id": "ev-3", "type": "call"},  # missing unit_id and occurred_at
        event(4, value="12"),
        event(5, occurred_at="2026-01-01T10:00:00"),  # no zone
        event(6, properties=["not", "an", "object"]),
        event(7, occured_at="typo"),
        "not an object",
    ]
    response = client.post(
        "/api/v1/events", json={"events": events}, headers=_bearer(write_key)
    )
    assert response.status_code == 200, response.json
    body = response.json
    assert (body["accepted"], body["duplicates"]) == (2, 1)
    rejected = {r["index"]: r for r in body["rejected"]}
    assert set(rejected) == {3, 4, 5, 6, 7, 8}
    assert set(rejected[3]["errors"]) == {"unit_id", "occurred_at"}
    assert rejected[3]["event_id"] == "ev-3"
    assert list(rejected[4]["errors"]) == ["value"]
    assert list(rejected[5]["errors"]) == ["occurred_at"]
    assert list(rejected[6]["errors"]) == ["properties"]
    assert list(rejected[7]["errors"]) == ["occured_at"]
    assert rejected[8]["event_id"] is None
    assert _stored(app) == ["ev-1", "ev-2"]
    # The same batch again: nothing new.
    again = client.post("/api/v1/events", json=events, headers=_bearer(write_key)).json
    assert (again["accepted"], again["duplicates"]) == (0, 3)
    assert _stored(app) == ["ev-1", "ev-2"]
    with app.app_context():
        row = db.session.scalar(sa.select(Event).where(Event.event_id == "ev-1"))
        assert row.properties == {"channel": "电话"} and row.value == 1.5
        assert row.occurred_at.tzinfo is not None and row.source == "api"


def test_future_events_rejected_late_events_accepted(client, write_key):
    events = [
        event("future", occurred_at=(NOW + timedelta(days=1)).isoformat()),
        event("late", occurred_at="2025-03-01T09:00:00+08:00"),
        event("skew", occurred_at=(NOW + timedelta(minutes=5)).isoformat()),
    ]
    body = client.post("/api/v1/events", json=events, headers=_bearer(write_key)).json
    assert body["accepted"] == 2
    assert [r["event_id"] for r in body["rejected"]] == ["ev-future"]


@pytest.mark.parametrize(
    ("payload", "status", "code"),
    [
        (b"{not json", 400, "bad_request"),
        (b'{"events": "x"}', 422, "validation_failed"),
        (b"\xff\xfe\x00garbage", 400, "bad_request"),  # invalid UTF-8
    ],
)
def test_malformed_bodies(client, write_key, payload, status, code):
    response = client.post(
        "/api/v1/events",
        data=payload,
        headers={**_bearer(write_key), "Content-Type": "application/json"},
    )
    assert response.status_code == status
    assert response.json["error"]["code"] == code


def test_oversize_batches_get_413(client, write_key):
    too_many = [event(i) for i in range(10_000)]
    response = client.post("/api/v1/events", json=too_many, headers=_bearer(write_key))
    assert response.status_code == 413
    assert response.json["error"]["code"] == "payload_too_large"
    huge = [event(i, properties={"note": "x" * 3000}) for i in range(400)]
    response = client.post("/api/v1/events", json=huge, headers=_bearer(write_key))
    assert response.status_code == 413


def test_huge_strings_are_rejected_per_field(client, write_key):
    events = [
        event(1, unit_id="u" * 5000),
        event(2, type="t" * 100),
        event(3, properties={"note": "x" * 5000}),
        {**event(4), "event_id": "e" * 200},
    ]
    body = client.post("/api/v1/events", json=events, headers=_bearer(write_key)).json
    fields = [list(r["errors"]) for r in body["rejected"]]
    assert fields == [["unit_id"], ["type"], ["properties"], ["event_id"]]


def test_exposure_events(app, client, write_key, make_experiment, manager_api):
    make_experiment()
    exposure = {"type": "exposure", "experiment": "price-objection-script"}
    events = [
        event(1, **exposure, variant="new_script"),
        event(2, **exposure, variant="control"),
        event(3, **exposure, variant="control", unit_id="lead-1"),  # 2nd variant
        event(4, **exposure, variant="nope"),
        event(5, type="exposure", experiment="unknown", variant="control"),
        event(6, type="call", experiment="price-objection-script", variant="control"),
        event(7, type="exposure", experiment="price-objection-script"),
    ]
    body = client.post("/api/v1/events", json=events, headers=_bearer(write_key)).json
    assert body["accepted"] == 3
    assert {r["index"]: list(r["errors"]) for r in body["rejected"]} == {
        3: ["variant"],
        4: ["experiment"],
        5: ["experiment"],
        6: ["variant"],
    }
    manager, auth = manager_api
    tracking = manager.get(
        "/api/v1/experiments/price-objection-script/tracking", headers=auth
    ).json
    assert tracking["exposures"] == {"control": 2, "new_script": 1}
    assert tracking["multiple_exposures"] == 1 and tracking["total_units"] == 2
    # Exposures to a stopped experiment are refused.
    manager.post("/api/v1/experiments/price-objection-script/stop", headers=auth)
    late = client.post(
        "/api/v1/events",
        json=[event(8, **exposure, variant="control")],
        headers=_bearer(write_key),
    ).json
    assert late["accepted"] == 0
    assert "stopped" in late["rejected"][0]["errors"]["experiment"][0]


def test_write_keys_only_send_events(client, write_key, make_experiment):
    make_experiment()
    auth = _bearer(write_key)
    assert client.get("/api/v1/metrics", headers=auth).status_code == 403
    assert client.get("/api/v1/me", headers=auth).status_code == 403
    assert (
        client.post("/api/v1/write-keys", json={"name": "x"}, headers=auth).status_code
        == 403
    )
    assign = client.post(
        "/api/v1/experiments/price-objection-script/assign",
        json={"unit_id": "lead-1"},
        headers=auth,
    )
    assert assign.status_code == 200


def test_write_key_lifecycle_and_roles(app, client, make_user, make_token):
    manager = _bearer(make_token(make_user("manager")))
    member = _bearer(make_token(make_user("member")))
    assert (
        client.post(
            "/api/v1/write-keys", json={"name": "x"}, headers=member
        ).status_code
        == 403
    )
    created = client.post(
        "/api/v1/write-keys", json={"name": "CRM 同步"}, headers=manager
    )
    assert created.status_code == 201
    key = created.json["key"]
    assert (
        client.post("/api/v1/events", json=[event(1)], headers=_bearer(key)).status_code
        == 200
    )
    listed = client.get("/api/v1/write-keys", headers=manager).json
    assert listed[0]["name"] == "CRM 同步" and listed[0]["last_used_at"]
    assert "key" not in listed[0]
    assert (
        client.delete(
            f"/api/v1/write-keys/{created.json['id']}", headers=manager
        ).status_code
        == 204
    )
    assert (
        client.post("/api/v1/events", json=[event(2)], headers=_bearer(key)).status_code
        == 401
    )


def test_write_key_cli_prints_key_last(app, client):
    result = app.test_cli_runner().invoke(
        args=["write-keys", "create", "--name", "CRM"]
    )
    assert result.exit_code == 0, result.output
    key = result.output.strip().splitlines()[-1]
    assert (
        client.post("/api/v1/events", json=[event(1)], headers=_bearer(key)).status_code
        == 200
    )
    listing = app.test_cli_runner().invoke(args=["write-keys", "list"]).output
    assert "CRM" in listing and "active" in listing


def test_rate_limit_per_key(make_app, write_key):
    app = make_app(EVENTS_RATE_LIMIT="3 per minute")
    client = app.test_client()
    for i in range(3):
        assert (
            client.post(
                "/api/v1/events", json=[event(i)], headers=_bearer(write_key)
            ).status_code
            == 200
        )
    response = client.post(
        "/api/v1/events", json=[event(9)], headers=_bearer(write_key)
    )
    assert response.status_code == 429
    assert response.json["error"]["code"] == "rate_limited"
    assert int(response.headers["Retry-After"]) > 0


def test_concurrent_batches_store_every_event_exactly_once(app, write_key):
    """8 threads send overlapping batches, each twice: every event once."""
    batches = [[event(f"{b}-{i}") for i in range(100)] for b in range(12)]
    errors: list[str] = []

    def send(thread: int) -> None:
        client = app.test_client()
        for index in range(len(batches)):
            batch = batches[(index + thread) % len(batches)]
            for _ in range(2):
                response = client.post(
                    "/api/v1/events", json=batch, headers=_bearer(write_key)
                )
                if response.status_code != 200:
                    body = response.get_data(as_text=True)[:200]
                    errors.append(f"{response.status_code} {body}")

    threads = [threading.Thread(target=send, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    sent = sorted(e["event_id"] for batch in batches for e in batch)
    assert _stored(app) == sent


def test_aborted_transaction_then_replay_stores_the_sent_set(
    make_app, write_key, monkeypatch
):
    """The writer fails mid-stream (after inserting, before committing); the client
    replays everything: the stored set equals the sent set."""
    import experiments.ingest

    app = make_app(PROPAGATE_EXCEPTIONS=False)
    client = app.test_client()
    batches = [[event(f"{b}-{i}") for i in range(50)] for b in range(6)]
    original = experiments.ingest._record_event_exposures
    calls = {"n": 0}

    def crash_on_third(rows, validator):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("writer died")
        return original(rows, validator)

    monkeypatch.setattr(experiments.ingest, "_record_event_exposures", crash_on_third)
    statuses = [
        client.post("/api/v1/events", json=b, headers=_bearer(write_key)).status_code
        for b in batches
    ]
    assert statuses == [200, 200, 500, 200, 200, 200]
    assert len(_stored(app)) == 250  # the third batch was rolled back whole
    monkeypatch.setattr(experiments.ingest, "_record_event_exposures", original)
    for batch in batches:  # the client replays everything it is unsure of
        assert (
            client.post(
                "/api/v1/events", json=batch, headers=_bearer(write_key)
            ).status_code
            == 200
        )
    assert _stored(app) == sorted(e["event_id"] for b in batches for e in b)


CSV = (
    "event_id,type,unit_id,occurred_at,value,rep_id,properties.channel\n"
    "c1,deal_won,lead-1,2026-11-01T10:00:00+08:00,88000,rep-1,电话\n"
    "c2,call,lead-2,2026-11-01T11:00:00+08:00,,rep-1,微信\n"
    "c3,call,,2026-11-01T11:00:00+08:00,,rep-2,\n"
    "c4,deal_won,lead-3,yesterday,lots,rep-2,\n"
    "c1,deal_won,lead-1,2026-11-01T10:00:00+08:00,88000,rep-1,电话\n"
)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_csv_import_with_error_report(app, manager_api, encoding):
    client, auth = manager_api
    response = client.post(
        "/api/v1/events/import",
        data={"file": (io.BytesIO(CSV.encode(encoding)), "events.csv")},
        headers=auth,
    )
    assert response.status_code == 201, response.json
    job = response.json
    assert (job["rows"], job["accepted"], job["duplicates"], job["rejected"]) == (
        5,
        2,
        1,
        2,
    )
    report = client.get(job["error_report_url"], headers=auth)
    assert report.mimetype == "text/csv"
    lines = report.get_data(as_text=True).splitlines()
    assert lines[0].startswith("row,errors,event_id")
    assert lines[1].startswith("4,unit_id:") and lines[2].startswith("5,")
    assert "value" in lines[2] and "occurred_at" in lines[2]
    with app.app_context():
        stored = db.session.scalar(sa.select(Event).where(Event.event_id == "c1"))
        assert stored.value == 88000 and stored.properties == {"channel": "电话"}
        assert stored.source == "csv"


def test_csv_import_rejects_unusable_files(manager_api):
    client, auth = manager_api
    missing = client.post(
        "/api/v1/events/import",
        data={"file": (io.BytesIO(b"id,kind\n1,call\n"), "x.csv")},
        headers=auth,
    )
    assert missing.status_code == 422 and "file" in missing.json["error"]["fields"]
    assert "event_id" in missing.json["error"]["message"]
    none = client.post("/api/v1/events/import", data={}, headers=auth)
    assert none.status_code == 422


def test_events_count_towards_tracking(
    app, client, write_key, make_experiment, manager_api
):
    make_experiment()
    manager, auth = manager_api
    manager.post(
        "/api/v1/experiments/price-objection-script/assign",
        json={"unit_id": "lead-1"},
        headers=auth,
    )
    client.post(
        "/api/v1/events",
        json=[event(1, type="deal_won", value=5000.0), event(2, type="call")],
        headers=_bearer(write_key),
    )
    tracking = manager.get(
        "/api/v1/experiments/price-objection-script/tracking", headers=auth
    ).json
    assert tracking["events_by_type"] == {"deal_won": 1}  # lead-2 was never exposed
    assert tracking["last_event_at"] is not None
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Exposure)) == 1
    assert json.dumps(tracking)


def test_out_of_order_exposures_keep_the_earliest_time(
    app, client, write_key, make_experiment
):
    make_experiment()
    exposure = {
        "type": "exposure",
        "experiment": "price-objection-script",
        "variant": "control",
    }
    later = (NOW - timedelta(hours=1)).isoformat()
    earlier = (NOW - timedelta(hours=5)).isoformat()
    client.post(
        "/api/v1/events",
        json=[event("a", **exposure, occurred_at=later)],
        headers=_bearer(write_key),
    )
    client.post(
        "/api/v1/events",
        json=[event("b", **exposure, occurred_at=earlier, unit_id="lead-a")],
        headers=_bearer(write_key),
    )
    client.post(
        "/api/v1/events",
        json=[event("c", **exposure, unit_id="lead-a")],
        headers=_bearer(write_key),
    )
    with app.app_context():
        stored = db.session.scalars(sa.select(Exposure)).all()
    assert len(stored) == 1
    assert abs(stored[0].first_exposed_at - (NOW - timedelta(hours=5))) < timedelta(
        seconds=1
    )
