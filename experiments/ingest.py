"""Event ingestion: validate a batch, store the good events once, report the bad.

Validation is written out by hand rather than with marshmallow: it runs for every
event of every batch, and a direct check is several times faster. Each rejected
event is reported with its index and the problems per field; good events in the
same batch are stored regardless.
"""

import contextlib
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pandas as pd
import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _

from experiments.csvfiles import read_csv
from experiments.models import EventImport, Experiment, ExperimentStatus
from experiments.services import EVENT_TYPE, record_exposures
from proving_ground.db import db, utcnow

MAX_BATCH_EVENTS = 1000
MAX_BATCH_BYTES = 1_000_000
MAX_ID_LENGTH = 128
KNOWN_FIELDS = frozenset(
    {
        "event_id",
        "type",
        "unit_id",
        "rep_id",
        "customer_id",
        "value",
        "occurred_at",
        "properties",
        "experiment",
        "variant",
    }
)
EXPOSURE = "exposure"
#: Experiments in these states accept exposures.
EXPOSABLE = frozenset({ExperimentStatus.RUNNING})


@dataclass
class IngestResult:
    accepted: int = 0
    duplicates: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)

    def add(self, other: "IngestResult") -> None:
        self.accepted += other.accepted
        self.duplicates += other.duplicates
        self.rejected.extend(other.rejected)

    def as_dict(self) -> dict[str, Any]:
        return {
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
        }


class _Validator:
    """Checks events one by one; caches the experiments named by exposures."""

    def __init__(self, now: datetime):
        config = current_app.config
        self.now = now
        self.latest = now + timedelta(minutes=config["EVENTS_MAX_FUTURE_MINUTES"])
        self.max_properties = config["EVENTS_MAX_PROPERTIES_BYTES"]
        self.experiments: dict[str, Experiment | None] = {}

    def experiment(self, key: str) -> Experiment | None:
        if key not in self.experiments:
            self.experiments[key] = db.session.scalar(
                sa.select(Experiment).where(Experiment.key == key)
            )
        return self.experiments[key]

    def identifier(self, raw: Any, name: str, errors: dict, *, required: bool):
        if type(raw) is str and 0 < len(raw) <= MAX_ID_LENGTH:  # the usual case
            return raw
        if raw is None or raw == "":
            if required:
                errors[name] = [_("This field is required.")]
            return None
        if isinstance(raw, bool) or not isinstance(raw, str | int):
            errors[name] = [_("Must be a string.")]
            return None
        text = str(raw)
        if len(text) > MAX_ID_LENGTH:
            errors[name] = [_("At most %(n)d characters.", n=MAX_ID_LENGTH)]
            return None
        return text

    def check(self, raw: Any) -> tuple[tuple | None, dict[str, list[str]]]:
        """The row to store (the values of ``_COLUMNS``, then the properties as a
        dict), or None and the problems per field."""
        if type(raw) is not dict and not isinstance(raw, Mapping):
            return None, {"_event": [_("Each event must be a JSON object.")]}
        errors: dict[str, list[str]] = {}
        if not raw.keys() <= KNOWN_FIELDS:
            for name in raw.keys() - KNOWN_FIELDS:
                errors[str(name)[:64]] = [_("Unknown field.")]
        get = raw.get
        # Fast paths for well-formed values; self.identifier explains the rest.
        event_id, unit_id = get("event_id"), get("unit_id")
        rep_id, customer_id = get("rep_id"), get("customer_id")
        if not (type(event_id) is str and 0 < len(event_id) <= MAX_ID_LENGTH):
            event_id = self.identifier(event_id, "event_id", errors, required=True)
        if not (type(unit_id) is str and 0 < len(unit_id) <= MAX_ID_LENGTH):
            unit_id = self.identifier(unit_id, "unit_id", errors, required=True)
        if rep_id is not None:
            rep_id = self.identifier(rep_id, "rep_id", errors, required=False)
        if customer_id is not None:
            customer_id = self.identifier(
                customer_id, "customer_id", errors, required=False
            )
        kind = get("type")
        if type(kind) is not str or not EVENT_TYPE.match(kind):
            errors["type"] = [
                _("Required: 1-64 letters, digits or _ . : - characters.")
            ]
        value = get("value")
        if value is not None and (
            (type(value) is not float and type(value) is not int)
            or not math.isfinite(value)
        ):
            errors["value"] = [_("Must be a finite number.")]
        occurred_at = self.timestamp(raw.get("occurred_at"), errors)
        properties = raw.get("properties")
        properties_json = None
        if properties is not None:
            if not isinstance(properties, Mapping):
                errors["properties"] = [_("Must be a JSON object.")]
            else:
                properties_json = json.dumps(
                    properties, ensure_ascii=False, separators=(",", ":")
                )
                # A character is at most 4 bytes of UTF-8: encode only if it matters.
                if (
                    len(properties_json) * 4 > self.max_properties
                    and len(properties_json.encode()) > self.max_properties
                ):
                    errors["properties"] = [
                        _("At most %(n)d bytes of JSON.", n=self.max_properties)
                    ]
        experiment_key, variant_key = raw.get("experiment"), raw.get("variant")
        experiment = None
        if experiment_key is not None or variant_key is not None:
            experiment = self.exposure_target(kind, experiment_key, variant_key, errors)
        if errors:
            return None, errors
        return (
            event_id,
            kind,
            unit_id,
            rep_id,
            customer_id,
            float(value) if value is not None else None,
            occurred_at,
            properties_json,
            experiment.key if experiment else None,
            variant_key if experiment else None,
            properties,
        ), {}

    def timestamp(self, raw: Any, errors: dict) -> datetime | None:
        if not isinstance(raw, str) or not raw:
            errors["occurred_at"] = [_("Required: an ISO 8601 time with its zone.")]
            return None
        try:
            moment = datetime.fromisoformat(raw)
        except ValueError:
            errors["occurred_at"] = [_("Not an ISO 8601 time.")]
            return None
        if moment.tzinfo is None:
            errors["occurred_at"] = [
                _("Give the time zone, e.g. 2026-03-01T09:30:00+08:00.")
            ]
            return None
        if moment > self.latest:
            errors["occurred_at"] = [_("This time is in the future.")]
            return None
        return moment

    def exposure_target(self, kind, experiment_key, variant_key, errors):
        if kind != EXPOSURE:
            errors["experiment"] = [
                _("Only exposure events name an experiment and variant.")
            ]
            return None
        if not isinstance(experiment_key, str) or not isinstance(variant_key, str):
            errors["variant" if isinstance(experiment_key, str) else "experiment"] = [
                _("An exposure names both experiment and variant.")
            ]
            return None
        experiment = self.experiment(experiment_key)
        if experiment is None:
            errors["experiment"] = [_("No experiment with this key.")]
            return None
        if experiment.status not in EXPOSABLE:
            errors["experiment"] = [
                _(
                    "The experiment is %(status)s and takes no exposures.",
                    status=experiment.status,
                )
            ]
            return None
        if variant_key not in {v.key for v in experiment.variants}:
            errors["variant"] = [_("The experiment has no variant with this key.")]
            return None
        return experiment


def ingest(
    events: Iterable[Any],
    *,
    source: str = "api",
    now: datetime | None = None,
    offset: int = 0,
) -> IngestResult:
    """Validate and store events; returns counts and the rejected events.

    Events are stored once: a repeated (occurred_at, event_id) is a duplicate,
    within the batch or against what is stored. Exposure events that name a
    running experiment also record the unit's exposure. ``offset`` is added to
    the reported indexes (for batches cut from a larger file).
    """
    now = now or utcnow()
    validator = _Validator(now)
    result = IngestResult()
    rows = []
    for index, raw in enumerate(events):
        row, errors = validator.check(raw)
        if row is None:
            event_id = raw.get("event_id") if isinstance(raw, Mapping) else None
            result.rejected.append(
                {
                    "index": index + offset,
                    "event_id": event_id if isinstance(event_id, str) else None,
                    "errors": errors,
                }
            )
        else:
            rows.append(row)
    if rows:
        result.accepted = _store(rows, received_at=now, source=source)
        result.duplicates = len(rows) - result.accepted
        _record_event_exposures(rows, validator)
    return result


#: The columns written, in order; ``properties`` is given as JSON text.
_COLUMNS = (
    "event_id",
    "type",
    "unit_id",
    "rep_id",
    "customer_id",
    "value",
    "occurred_at",
    "properties",
    "experiment_key",
    "variant_key",
)
# Built from the constant column list above, never from input.
_SQLITE_INSERT = (
    f"INSERT INTO events ({', '.join(_COLUMNS)}, received_at, source) "
    f"VALUES ({', '.join('?' * (len(_COLUMNS) + 2))}) "
    "ON CONFLICT (occurred_at, event_id) DO NOTHING"
)
_POSTGRES_TYPES = {
    "value": "float8",
    "occurred_at": "timestamptz",
    "properties": "json",
}
_POSTGRES_INSERT = (
    f"INSERT INTO events ({', '.join(_COLUMNS)}, received_at, source) "
    f"SELECT e.*, %(received_at)s, %(source)s FROM unnest("
    + ", ".join(f"%({c})s::{_POSTGRES_TYPES.get(c, 'varchar')}[]" for c in _COLUMNS)
    + f") AS e({', '.join(_COLUMNS)}) "
    "ON CONFLICT (occurred_at, event_id) DO NOTHING RETURNING id"
)


def _sqlite_time(moment: datetime) -> str:
    """SQLAlchemy's SQLite storage text for an aware time, in UTC (see UTCDateTime):
    ``2026-11-20 02:00:00.000000``. Subtracting the offset is twice as fast as
    ``astimezone`` and gives the same instant."""
    return (moment.replace(tzinfo=None) - moment.utcoffset()).isoformat(
        " ", "microseconds"
    )


#: PostgreSQL advisory lock key of event inserts (an arbitrary constant).
INGEST_LOCK = 7_340_215_001


def _store(rows: list[tuple], *, received_at: datetime, source: str) -> int:
    """Insert validated events, skipping stored (occurred_at, event_id) pairs;
    returns how many were new.

    This is the hot path of ingestion, so it speaks each database's own SQL in
    one statement per batch: on SQLite an ``executemany`` whose row count is exact;
    on PostgreSQL an INSERT … SELECT over ``unnest`` of one array per column, whose
    text stays the same for every batch, so the server and psycopg prepare it once.
    """
    connection = db.session.connection()
    if connection.dialect.name == "sqlite":
        stamp = _sqlite_time(received_at)
        params = [
            (*row[:6], _sqlite_time(row[6]), *row[7:10], stamp, source) for row in rows
        ]
        return connection.exec_driver_sql(_SQLITE_INSERT, params).rowcount
    params = {
        column: list(values)
        for column, values in zip(_COLUMNS, zip(*rows, strict=True), strict=False)
    }
    params["received_at"], params["source"] = received_at, source
    # Held until the transaction ends: the analysis knows no insert is in flight
    # when it can take this lock exclusively (see analysis._settled_bound).
    connection.exec_driver_sql(
        "SELECT pg_advisory_xact_lock_shared(%(key)s)", {"key": INGEST_LOCK}
    )
    return len(connection.exec_driver_sql(_POSTGRES_INSERT, params).all())


def _record_event_exposures(rows: list[tuple], validator: _Validator) -> None:
    by_experiment: dict[str, list[dict]] = {}
    for row in rows:
        experiment_key = row[8]
        if experiment_key:
            by_experiment.setdefault(experiment_key, []).append(
                {
                    "unit_id": row[2],
                    "variant_key": row[9],
                    "first_exposed_at": row[6],
                    "attributes": row[10],
                }
            )
    for key, exposures in by_experiment.items():
        record_exposures(validator.experiment(key), exposures, source="event")


# --- CSV import -------------------------------------------------------------------

CSV_COLUMNS = KNOWN_FIELDS


def csv_events(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Events from CSV rows: empty cells are absent, ``value`` becomes a number,
    ``properties`` holds JSON and ``properties.<name>`` columns add properties."""
    property_columns = [c for c in frame.columns if c.startswith("properties.")]
    events = []
    for record in frame.to_dict("records"):
        event: dict[str, Any] = {}
        for column, cell in record.items():
            if cell == "" or column in property_columns:
                continue
            event[column] = cell
        # Cells that do not parse stay text, and the validator reports them.
        if "value" in event:
            with contextlib.suppress(ValueError):
                event["value"] = float(event["value"])
        if "properties" in event:
            with contextlib.suppress(ValueError):
                event["properties"] = json.loads(event["properties"])
        extra = {
            c.removeprefix("properties."): record[c]
            for c in property_columns
            if record[c] != ""
        }
        if extra:
            base = event.get("properties")
            event["properties"] = {**base, **extra} if isinstance(base, dict) else extra
        events.append(event)
    return events


def import_csv(
    data: bytes, *, filename: str, actor
) -> tuple[EventImport, IngestResult]:
    """Import a CSV of events in batches; keeps an error report of rejected rows.

    Raises ValueError with a message when the file cannot be read as CSV or lacks
    required columns.
    """
    try:
        frame = read_csv(data)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
        raise ValueError(
            _("The file is not a readable CSV file: %(error)s", error=str(exc)[:200])
        ) from exc
    missing = {"event_id", "type", "unit_id", "occurred_at"} - set(frame.columns)
    if missing:
        raise ValueError(
            _("Missing columns: %(columns)s", columns=", ".join(sorted(missing)))
        )
    events = csv_events(frame)
    result = IngestResult()
    now = utcnow()
    for start in range(0, len(events), MAX_BATCH_EVENTS):
        result.add(
            ingest(
                events[start : start + MAX_BATCH_EVENTS],
                source="csv",
                now=now,
                offset=start,
            )
        )
    job = EventImport(
        filename=filename[:255],
        created_by_id=getattr(actor, "id", None),
        rows=len(events),
        accepted=result.accepted,
        duplicates=result.duplicates,
        rejected=len(result.rejected),
        error_report=error_report(frame, result.rejected),
    )
    db.session.add(job)
    db.session.flush()
    return job, result


def error_report(frame: pd.DataFrame, rejected: list[dict[str, Any]]) -> str:
    """The rejected rows as CSV: ``row`` (the line in the file), ``errors``, then
    the row's original cells."""
    if not rejected:
        return ""
    indexes = [r["index"] for r in rejected]
    report = frame.iloc[indexes].copy()
    report.insert(
        0,
        "errors",
        [
            "; ".join(f"{k}: {' '.join(v)}" for k, v in r["errors"].items())
            for r in rejected
        ],
    )
    report.insert(0, "row", [i + 2 for i in indexes])  # line 1 is the header
    return report.to_csv(index=False)
