"""Asset library: the business rules of assets, their versions, lifecycle,
evidence and usage, the managed vocabularies and synonyms, imports and exports,
and the glue between the database and the in-memory search engine.

Search: ``asset_library.search`` is a pure engine. Each process keeps one index of
the searchable assets (published, or published with a lapsed verification) and
checks one row (``SearchState.generation``) before each search; every change that
search can see bumps it, and the process then re-reads only the assets changed
since its own generation (a synonym or label change rebuilds everything). So the
same assets give the same results on SQLite and PostgreSQL, and a change is
visible to every worker at its next search.
"""

import difflib
import html
import json
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import nh3
import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from markdown_it import MarkdownIt
from sqlalchemy.orm import selectinload

from asset_library import search
from asset_library.models import (
    LANGUAGES,
    Asset,
    AssetEvidence,
    AssetKind,
    AssetRating,
    AssetStatus,
    AssetUsage,
    AssetVersion,
    Facet,
    FacetValue,
    SearchState,
    SynonymGroup,
    UsageKind,
)
from proving_ground.actions import services as action_services
from proving_ground.audit.services import record
from proving_ground.auth.models import User
from proving_ground.db import db, utcnow
from proving_ground.signals import experiment_decided
from proving_ground.validation import Invalid, Problems

VOCABULARIES = Path(__file__).with_name("vocabularies.json")
SEARCHABLE = (AssetStatus.PUBLISHED, AssetStatus.NEEDS_REVERIFICATION)
TEXT_LIMITS = {"title": 200, "summary": 2000, "body": 50_000}
KEY_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$")


# --- vocabularies and synonyms ------------------------------------------------------


def seed_vocabularies(path: Path = VOCABULARIES) -> int:
    """Add the facet values and synonym groups of ``vocabularies.json`` that are
    missing; returns how many rows were added."""
    data = json.loads(path.read_text(encoding="utf-8"))
    added = 0
    existing = {
        (row.facet, row.key) for row in db.session.scalars(sa.select(FacetValue))
    }
    for facet in Facet:
        for position, value in enumerate(data.get(facet.value, [])):
            if (facet.value, value["key"]) in existing:
                continue
            db.session.add(
                FacetValue(
                    facet=facet.value,
                    key=value["key"],
                    label_zh=value["zh"],
                    label_en=value["en"],
                    position=position,
                )
            )
            added += 1
    if not db.session.scalar(sa.select(SynonymGroup.id).limit(1)):
        for terms in data.get("synonyms", []):
            db.session.add(SynonymGroup(terms=list(terms)))
            added += 1
    db.session.flush()
    bump_search(synonyms=True)
    return added


def facet_values(facet: str, *, active_only: bool = True) -> list[FacetValue]:
    query = sa.select(FacetValue).where(FacetValue.facet == facet)
    if active_only:
        query = query.where(FacetValue.active.is_(True))
    return list(db.session.scalars(query.order_by(FacetValue.position, FacetValue.key)))


def facet_labels(language: str) -> dict[str, dict[str, str]]:
    """facet → key → label in ``language`` (``zh`` or ``en``), retired ones too."""
    labels: dict[str, dict[str, str]] = {f.value: {} for f in Facet}
    for row in db.session.scalars(sa.select(FacetValue)):
        labels[row.facet][row.key] = row.label(language)
    return labels


def save_facet_value(
    facet: str, key: str, label_zh: str, label_en: str, *, active: bool, actor
) -> FacetValue:
    """Add a facet value or change its labels/activity (admins); audited."""
    problems = Problems()
    if facet not in {f.value for f in Facet}:
        problems.add("facet", _l("Choose industry, customer type or scenario."))
    if not KEY_PATTERN.match(key or ""):
        problems.add(
            "key", _l("Use 1-64 lower-case letters, digits or . _ - characters.")
        )
    for name, label in (("label_zh", label_zh), ("label_en", label_en)):
        if not (label or "").strip() or len(label) > 100:
            problems.add(name, _l("A label of 1 to 100 characters."))
    problems.raise_if_any()
    row = db.session.scalar(
        sa.select(FacetValue).where(FacetValue.facet == facet, FacetValue.key == key)
    )
    if row is None:
        position = len(facet_values(facet, active_only=False))
        row = FacetValue(facet=facet, key=key, position=position)
        db.session.add(row)
    row.label_zh, row.label_en, row.active = label_zh.strip(), label_en.strip(), active
    db.session.flush()
    bump_search(synonyms=True)  # labels are searchable
    record(actor, "asset_facet.saved", f"facet:{facet}:{key}", {"active": active})
    return row


def synonym_groups() -> list[SynonymGroup]:
    return list(db.session.scalars(sa.select(SynonymGroup).order_by(SynonymGroup.id)))


def _clean_terms(terms: Any) -> list[str]:
    if isinstance(terms, str):
        terms = re.split(r"[,，;；\n]", terms)
    if not isinstance(terms, list):
        raise Invalid("terms", str(_l("Give at least two terms.")))
    cleaned = list(dict.fromkeys(t.strip() for t in terms if isinstance(t, str)))
    cleaned = [t for t in cleaned if t]
    if len(cleaned) < 2 or any(len(t) > 60 for t in cleaned):
        raise Invalid(
            "terms", str(_l("Give at least two terms of at most 60 characters."))
        )
    return cleaned


def save_synonym_group(
    group: SynonymGroup | None, terms: Any, *, actor
) -> SynonymGroup:
    """Create or replace a synonym group (admins); audited; search rebuilds."""
    cleaned = _clean_terms(terms)
    if group is None:
        group = SynonymGroup(terms=cleaned)
        db.session.add(group)
    else:
        group.terms = cleaned
    db.session.flush()
    bump_search(synonyms=True)
    record(actor, "asset_synonyms.saved", f"synonyms:{group.id}", {"terms": cleaned})
    return group


def delete_synonym_group(group: SynonymGroup, *, actor) -> None:
    record(
        actor, "asset_synonyms.deleted", f"synonyms:{group.id}", {"terms": group.terms}
    )
    db.session.delete(group)
    db.session.flush()
    bump_search(synonyms=True)


# --- assets -----------------------------------------------------------------------


TEXT_FIELDS = ("title", "summary", "body", "when_to_use", "when_not_to_use")
FACET_FIELDS = ("industry", "customer_type", "scenario")


def _clean(data: dict[str, Any], *, creating: bool) -> dict[str, Any]:
    """Validated asset fields from an API/form/import payload (only those given,
    all required ones when ``creating``)."""
    problems = Problems()
    out: dict[str, Any] = {}
    if creating and not str(data.get("title") or "").strip():
        problems.add("title", _l("Give the asset a title."))
    for name in TEXT_FIELDS:
        if name not in data:
            continue
        value = data[name]
        if value is None:
            value = ""
        if not isinstance(value, str):
            problems.add(name, _l("Give a text."))
            continue
        limit = TEXT_LIMITS.get(name, 5000)
        if len(value) > limit:
            problems.add(name, _l("At most %(n)d characters.", n=limit))
        out[name] = value.strip() if name != "body" else value
    if "title" in out and not out["title"]:
        problems.add("title", _l("Give the asset a title."))
    if "kind" in data or creating:
        if data.get("kind") not in {k.value for k in AssetKind}:
            problems.add(
                "kind", _l("Choose method, template, checklist, playbook or script.")
            )
        else:
            out["kind"] = data["kind"]
    if "language" in data or creating:
        language = data.get("language") or "zh"
        if language not in LANGUAGES:
            problems.add("language", _l("Choose zh, en or mixed."))
        else:
            out["language"] = language
    for facet in FACET_FIELDS:
        if facet not in data:
            continue
        value = data[facet] or None
        if value is not None and not db.session.scalar(
            sa.select(FacetValue.id).where(
                FacetValue.facet == facet, FacetValue.key == value
            )
        ):
            problems.add(facet, _l("Not a value of this vocabulary."))
        out[facet] = value
    if "tags" in data:
        tags = data["tags"] or []
        if isinstance(tags, str):
            tags = re.split(r"[,，;；]", tags)
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            problems.add(
                "tags", _l("Tags are a list of texts of at most 64 characters.")
            )
        else:
            tags = list(dict.fromkeys(t.strip() for t in tags if t.strip()))
            if any(len(t) > 64 for t in tags) or len(tags) > 30:
                problems.add("tags", _l("At most 30 tags of at most 64 characters."))
            out["tags"] = tags
    if "steps" in data:
        steps = data["steps"] or []
        if isinstance(steps, str):
            steps = [s for s in (line.strip() for line in steps.splitlines()) if s]
        if not isinstance(steps, list) or not all(
            isinstance(s, str) and 0 < len(s.strip()) <= 500 for s in steps
        ):
            problems.add(
                "steps", _l("Steps are a list of texts of at most 500 characters.")
            )
        else:
            out["steps"] = [s.strip() for s in steps]
    if "verification_interval_days" in data:
        days = data["verification_interval_days"]
        if not isinstance(days, int) or isinstance(days, bool) or not 7 <= days <= 730:
            problems.add(
                "verification_interval_days",
                _l("A whole number of days from %(a)d to %(b)d.", a=7, b=730),
            )
        else:
            out["verification_interval_days"] = days
    problems.raise_if_any()
    return out


VERSION_FIELDS = (*TEXT_FIELDS, "tags", "steps")


def _new_version(
    asset: Asset, fields: dict[str, Any], actor, note: str
) -> AssetVersion:
    base = asset.current if asset.versions else None
    values = {
        name: fields.get(name, getattr(base, name) if base else None)
        for name in VERSION_FIELDS
    }
    version = AssetVersion(
        asset=asset,
        number=(base.number + 1) if base else 1,
        title=values["title"] or "",
        summary=values["summary"] or "",
        body=values["body"] or "",
        tags=values["tags"] or [],
        when_to_use=values["when_to_use"] or "",
        when_not_to_use=values["when_not_to_use"] or "",
        steps=values["steps"] or [],
        note=(note or "")[:300],
        created_by_id=getattr(actor, "id", None),
    )
    db.session.add(version)
    return version


def create_asset(
    data: dict[str, Any], *, actor, external_id: str | None = None, note: str = ""
) -> Asset:
    """A draft asset with its first version; flushed, audited."""
    fields = _clean(data, creating=True)
    if external_id is not None and not ID_PATTERN.match(external_id):
        raise Invalid(
            "id", str(_l("Ids are 1-100 letters, digits or . _ : - characters."))
        )
    asset = Asset(
        external_id=external_id,
        owner_id=getattr(actor, "id", None),
        **{k: v for k, v in fields.items() if k not in VERSION_FIELDS},
    )
    db.session.add(asset)
    _new_version(asset, fields, actor, note or str(_l("Created")))
    db.session.flush()
    record(actor, "asset.created", f"asset:{asset.id}", {"title": fields["title"]})
    _touch(asset)
    return asset


def update_asset(asset: Asset, data: dict[str, Any], *, actor, note: str = "") -> Asset:
    """Apply an edit: every change of the text is a new version; facets, kind and
    language change on the asset. Audited; search sees it at once."""
    fields = _clean(data, creating=False)
    text = {k: v for k, v in fields.items() if k in VERSION_FIELDS}
    current = asset.current
    changed_text = {k: v for k, v in text.items() if getattr(current, k) != v}
    for name, value in fields.items():
        if name not in VERSION_FIELDS:
            setattr(asset, name, value)
    if changed_text:
        _new_version(asset, changed_text, actor, note)
    db.session.flush()
    record(
        actor,
        "asset.updated",
        f"asset:{asset.id}",
        {"fields": sorted(fields), "version": asset.current.number},
    )
    _touch(asset)
    return asset


def restore_version(asset: Asset, number: int, *, actor) -> AssetVersion:
    """Make an earlier version's text current again, as a new version."""
    old = next((v for v in asset.versions if v.number == number), None)
    if old is None:
        raise Invalid("version", str(_l("No such version.")), status=404)
    fields = {name: getattr(old, name) for name in VERSION_FIELDS}
    version = _new_version(
        asset, fields, actor, str(_l("Restored version %(n)d", n=number))
    )
    db.session.flush()
    record(actor, "asset.restored", f"asset:{asset.id}", {"from": number})
    _touch(asset)
    return version


def diff_versions(asset: Asset, old: int, new: int) -> list[dict[str, Any]]:
    """Per changed field of two versions: the lines removed and added
    (``[{"field", "lines": [(op, text)]}]``, op one of " ", "-", "+")."""
    by_number = {v.number: v for v in asset.versions}
    if old not in by_number or new not in by_number:
        raise Invalid("version", str(_l("No such version.")), status=404)
    a, b = by_number[old], by_number[new]
    changes = []
    for name in VERSION_FIELDS:
        before, after = getattr(a, name), getattr(b, name)
        if before == after:
            continue
        if isinstance(before, list):
            before, after = "\n".join(before), "\n".join(after)
        lines = [
            (line[0], line[2:])
            for line in difflib.ndiff(before.splitlines(), after.splitlines())
            if line[:1] in (" ", "-", "+")
        ]
        changes.append({"field": name, "lines": lines})
    return changes


TRANSITIONS = {
    "submit": ({AssetStatus.DRAFT}, AssetStatus.IN_REVIEW),
    "publish": ({AssetStatus.DRAFT, AssetStatus.IN_REVIEW}, AssetStatus.PUBLISHED),
    "verify": (
        {AssetStatus.PUBLISHED, AssetStatus.NEEDS_REVERIFICATION},
        AssetStatus.PUBLISHED,
    ),
    "archive": (
        {
            AssetStatus.DRAFT,
            AssetStatus.IN_REVIEW,
            AssetStatus.PUBLISHED,
            AssetStatus.NEEDS_REVERIFICATION,
        },
        AssetStatus.ARCHIVED,
    ),
    "reopen": ({AssetStatus.ARCHIVED, AssetStatus.IN_REVIEW}, AssetStatus.DRAFT),
}


def transition(
    asset: Asset, action: str, *, actor, verifier: User | None = None
) -> Asset:
    """Move an asset through draft → in review → published → needs
    re-verification → archived. Publishing and verifying start a verification
    interval (the verifier is the actor unless another is named). 409 when the
    move is not allowed from the current status."""
    if action not in TRANSITIONS:
        raise Invalid("action", str(_l("Unknown action.")))
    allowed, target = TRANSITIONS[action]
    if asset.status not in allowed:
        raise Invalid(
            "action",
            str(_l("Not possible while the asset is %(status)s.", status=asset.status)),
            status=409,
        )
    before = asset.status
    asset.status = target
    if action in ("publish", "verify"):
        now = utcnow()
        asset.verifier = verifier or actor
        asset.verified_at = now
        asset.verification_due_at = now + timedelta(
            days=asset.verification_interval_days
        )
    db.session.flush()
    record(
        actor,
        f"asset.{action}",
        f"asset:{asset.id}",
        {"from": before, "to": target},
    )
    _touch(asset)
    return asset


def lapse_verifications(now: datetime | None = None) -> int:
    """Mark published assets whose verification has lapsed as needing
    re-verification and give each owner an action item; returns how many."""
    now = now or utcnow()
    assets = db.session.scalars(
        sa.select(Asset).where(
            Asset.status == AssetStatus.PUBLISHED, Asset.verification_due_at <= now
        )
    ).all()
    for asset in assets:
        asset.status = AssetStatus.NEEDS_REVERIFICATION
        if asset.owner is not None and asset.owner.active:
            action_services.create_action_item(
                title=str(
                    _l(
                        "Re-verify the asset “%(title)s”",
                        title=asset.current.title[:200],
                    )
                ),
                assignee=asset.owner,
                due_on=(now + timedelta(days=14)).date(),
                source=f"asset:{asset.id}",
                actor=None,
            )
        record(None, "asset.lapsed", f"asset:{asset.id}", {}, actor_label="system")
        _touch(asset)
    db.session.flush()
    return len(assets)


def get_asset(asset_id: int) -> Asset | None:
    return db.session.get(Asset, asset_id)


def get_by_external_id(external_id: str) -> Asset | None:
    return db.session.scalar(sa.select(Asset).where(Asset.external_id == external_id))


def list_assets(
    *, status: str | None = None, owner: User | None = None, limit: int = 200
) -> list[Asset]:
    query = sa.select(Asset).order_by(Asset.updated_at.desc(), Asset.id.desc())
    if status:
        query = query.where(Asset.status == status)
    if owner is not None:
        query = query.where(Asset.owner_id == owner.id)
    return list(db.session.scalars(query.limit(limit)))


# --- evidence ----------------------------------------------------------------------


def _number(value: Any, name: str, problems: Problems, *, low=None, high=None):
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        problems.add(name, _l("Give a number."))
        return None
    try:
        number = float(value)
    except ValueError:
        problems.add(name, _l("Give a number."))
        return None
    if (low is not None and number < low) or (high is not None and number > high):
        problems.add(name, _l("Out of range."))
    return number


def set_evidence(asset: Asset, data: dict[str, Any] | None, *, actor) -> None:
    """Attach (or, with None, remove) the experiment result behind an asset.
    ``data``: experiment_id (key), metric, variant, lift (fraction), ci_low,
    ci_high, p_value, confidence, sample_size, decision."""
    if data is None:
        if asset.evidence is not None:
            db.session.delete(asset.evidence)
            asset.evidence = None
        db.session.flush()
        _touch(asset)
        return
    if not isinstance(data, dict):
        raise Invalid("evidence", str(_l("Give an object.")))
    problems = Problems()
    key = data.get("experiment_id") or data.get("experiment_key")
    if not isinstance(key, str) or not key.strip() or len(key) > 64:
        problems.add("evidence.experiment_id", _l("Name the experiment."))
    values = {
        "lift": _number(data.get("lift"), "evidence.lift", problems),
        "ci_low": _number(data.get("ci_low"), "evidence.ci_low", problems),
        "ci_high": _number(data.get("ci_high"), "evidence.ci_high", problems),
        "p_value": _number(
            data.get("p_value"), "evidence.p_value", problems, low=0, high=1
        ),
        "confidence": _number(
            data.get("confidence"), "evidence.confidence", problems, low=0, high=1
        ),
    }
    size = _number(data.get("sample_size"), "evidence.sample_size", problems, low=0)
    decision = data.get("decision")
    if decision not in (None, "adopt", "iterate", "abandon"):
        problems.add("evidence.decision", _l("Choose adopt, iterate or abandon."))
    problems.raise_if_any()
    row = asset.evidence or AssetEvidence(asset=asset, experiment_key=key)
    row.experiment_key = key.strip()
    row.metric = (data.get("metric") or None) and str(data["metric"])[:64]
    row.variant = (data.get("variant") or None) and str(data["variant"])[:64]
    for name, value in values.items():
        setattr(row, name, value)
    row.sample_size = int(size) if size is not None else None
    row.decision = decision
    if "results" in data:  # an edit without them keeps the stored results
        row.details = {"results": data["results"]}
    db.session.add(row)
    db.session.flush()
    record(
        actor, "asset.evidence", f"asset:{asset.id}", {"experiment": row.experiment_key}
    )
    _touch(asset)


def evidence_dict(evidence: AssetEvidence | None) -> dict[str, Any] | None:
    if evidence is None:
        return None
    return {
        "experiment_id": evidence.experiment_key,
        "metric": evidence.metric,
        "variant": evidence.variant,
        "lift": evidence.lift,
        "ci_low": evidence.ci_low,
        "ci_high": evidence.ci_high,
        "p_value": evidence.p_value,
        "confidence": evidence.confidence,
        "sample_size": evidence.sample_size,
        "decision": evidence.decision,
    }


def _lift_rows(evidence: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The experiments pillar's evidence items as lift rows, best first (the
    smallest p-value among positive lifts)."""
    rows = []
    for item in evidence:
        relative = item.get("relative") or {}
        rows.append(
            {
                "metric": item.get("metric"),
                "variant": item.get("variant"),
                "lift": relative.get("estimate"),
                "ci_low": relative.get("ci_low"),
                "ci_high": relative.get("ci_high"),
                "p_value": item.get("adjusted_p_value", relative.get("p_value")),
                "sample_size": (item.get("n_control") or 0)
                + (item.get("n_variant") or 0),
            }
        )
    return sorted(
        rows,
        key=lambda r: (
            not (r["lift"] or 0) > 0,
            r["p_value"] if r["p_value"] is not None else 1.0,
        ),
    )


@experiment_decided.connect
def on_experiment_decided(
    sender, *, experiment_key, decision, rationale, evidence, actor, **extra
) -> None:
    """An adopted experiment becomes a draft playbook for its owner to finish."""
    if decision != "adopt":
        return
    draft_from_decision(
        experiment_key=experiment_key,
        name=extra.get("name") or experiment_key,
        hypothesis=extra.get("hypothesis") or "",
        variant_description=extra.get("variant_description") or "",
        evidence=_lift_rows(evidence),
        rationale=rationale,
        actor=actor,
    )


def draft_from_decision(
    *,
    experiment_key: str,
    name: str,
    hypothesis: str,
    variant_description: str,
    evidence: list[dict[str, Any]],
    rationale: str,
    actor,
) -> Asset | None:
    """A draft playbook pre-filled from an adopted experiment: hypothesis, what
    the winning variant does, the results, and the evidence card (the first
    primary metric's result). Returns None when one exists already."""
    existing = db.session.scalar(
        sa.select(Asset)
        .join(AssetEvidence)
        .where(AssetEvidence.experiment_key == experiment_key)
        .limit(1)
    )
    if existing is not None:
        return None
    lines = [f"## {_l('Hypothesis')}", hypothesis or "—", ""]
    if variant_description:
        lines += [f"## {_l('What to do')}", variant_description, ""]
    lines += [f"## {_l('Results')}"]
    for row in evidence:
        lift = row.get("lift")
        interval = (
            f"[{row['ci_low']:+.1%}, {row['ci_high']:+.1%}]"
            if row.get("ci_low") is not None and row.get("ci_high") is not None
            else ""
        )
        lift_text = f"{lift:+.1%}" if lift is not None else "—"
        lines.append(
            f"- {row.get('metric')} ({row.get('variant')}): {lift_text} {interval}"
        )
    if rationale:
        lines += ["", f"## {_l('Why we adopted it')}", rationale]
    asset = create_asset(
        {
            "title": str(_l("Playbook: %(name)s", name=name))[:200],
            "summary": (hypothesis or name)[:2000],
            "body": "\n".join(lines),
            "kind": "playbook",
            "language": "zh",
            "tags": [experiment_key],
        },
        actor=actor,
        note=str(_l("Drafted from the adopted experiment %(key)s", key=experiment_key)),
    )
    first = evidence[0] if evidence else {}
    set_evidence(
        asset,
        {
            "experiment_id": experiment_key,
            "metric": first.get("metric"),
            "variant": first.get("variant"),
            "lift": first.get("lift"),
            "ci_low": first.get("ci_low"),
            "ci_high": first.get("ci_high"),
            "p_value": first.get("p_value"),
            "sample_size": first.get("sample_size"),
            "decision": "adopt",
            "results": evidence,
        },
        actor=actor,
    )
    return asset


# --- usage -------------------------------------------------------------------------


def record_usage(asset: Asset, user, kind: str, outcome: str = "") -> AssetUsage:
    """A view, a copy or an "I used this" mark (with an optional outcome note)."""
    if kind not in {k.value for k in UsageKind}:
        raise Invalid("kind", str(_l("Choose view, copy or used.")))
    outcome = (outcome or "").strip()
    if len(outcome) > 2000:
        raise Invalid("outcome", str(_l("At most %(n)d characters.", n=2000)))
    usage = AssetUsage(
        asset_id=asset.id, user_id=getattr(user, "id", None), kind=kind, outcome=outcome
    )
    db.session.add(usage)
    if kind == UsageKind.VIEW:
        asset.views += 1
    elif kind == UsageKind.COPY:
        asset.copies += 1
    else:
        _touch(asset)  # uses count in ranking
    db.session.flush()
    return usage


def rate(asset: Asset, user: User, stars: Any) -> None:
    if not isinstance(stars, int) or isinstance(stars, bool) or not 1 <= stars <= 5:
        raise Invalid("stars", str(_l("Give 1 to 5 stars.")))
    row = db.session.get(AssetRating, (asset.id, user.id))
    if row is None:
        db.session.add(AssetRating(asset_id=asset.id, user_id=user.id, stars=stars))
    else:
        row.stars, row.rated_at = stars, utcnow()
    db.session.flush()
    _touch(asset)


@dataclass(frozen=True)
class Usage:
    views: int
    copies: int
    used: int
    rating: float | None
    ratings: int
    notes: list[AssetUsage]


def usage(asset: Asset) -> Usage:
    used = db.session.scalar(
        sa.select(sa.func.count()).where(
            AssetUsage.asset_id == asset.id, AssetUsage.kind == UsageKind.USED
        )
    )
    average, count = db.session.execute(
        sa.select(sa.func.avg(AssetRating.stars), sa.func.count()).where(
            AssetRating.asset_id == asset.id
        )
    ).one()
    notes = db.session.scalars(
        sa.select(AssetUsage)
        .where(
            AssetUsage.asset_id == asset.id,
            AssetUsage.kind == UsageKind.USED,
            AssetUsage.outcome != "",
        )
        .order_by(AssetUsage.created_at.desc())
        .limit(20)
    ).all()
    return Usage(
        asset.views,
        asset.copies,
        int(used or 0),
        float(average) if average is not None else None,
        int(count or 0),
        list(notes),
    )


# --- import and export ---------------------------------------------------------------


@dataclass
class ImportReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    #: [{"line": n, "id": …, "fields": {field: [messages]}}]
    errors: list[dict[str, Any]] = field(default_factory=list)


IMPORT_FIELDS = {
    "id",
    "title",
    "summary",
    "body",
    "kind",
    "industry",
    "customer_type",
    "scenario",
    "language",
    "tags",
    "when_to_use",
    "when_not_to_use",
    "steps",
    "evidence",
    "status",
}


def import_lines(lines: Iterable[str], *, actor, publish: bool = False) -> ImportReport:
    """Import JSON Lines: one asset per line with ``id`` (kept as external id;
    the same id again adds a version to that asset), title, summary, body, kind,
    facets, language, tags, optional evidence. Each line runs in a savepoint: bad
    lines are reported and skipped, good ones kept. ``publish`` publishes new
    assets (the demo and trusted bulk loads)."""
    report = ImportReport()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            report.errors.append(
                {"line": number, "fields": {"line": [f"Not JSON: {exc.msg}"]}}
            )
            continue
        if not isinstance(data, dict):
            report.errors.append(
                {"line": number, "fields": {"line": [str(_l("Give an object."))]}}
            )
            continue
        unknown = sorted(set(data) - IMPORT_FIELDS)
        external_id = data.get("id")
        try:
            if unknown:
                raise Invalid({name: [str(_l("Unknown field."))] for name in unknown})
            if not isinstance(external_id, str) or not ID_PATTERN.match(external_id):
                raise Invalid(
                    "id",
                    str(_l("Ids are 1-100 letters, digits or . _ : - characters.")),
                )
            with db.session.begin_nested():
                fields = {k: v for k, v in data.items() if k not in ("id", "evidence")}
                fields.pop("status", None)  # exported for information; not imported
                asset = get_by_external_id(external_id)
                created = asset is None
                if created:
                    asset = create_asset(
                        fields, actor=actor, external_id=external_id, note="import"
                    )
                    if publish:
                        transition(asset, "publish", actor=actor)
                else:
                    update_asset(asset, fields, actor=actor, note="import")
                if "evidence" in data:
                    set_evidence(asset, data["evidence"], actor=actor)
            (report.created if created else report.updated).append(external_id)
        except Invalid as exc:
            report.errors.append(
                {"line": number, "id": external_id, "fields": exc.fields}
            )
    return report


def export_record(asset: Asset) -> dict[str, Any]:
    """An asset in the import format."""
    version = asset.current
    record_ = {
        "id": asset.external_id or f"asset-{asset.id}",
        "title": version.title,
        "summary": version.summary,
        "body": version.body,
        "kind": asset.kind,
        "industry": asset.industry,
        "customer_type": asset.customer_type,
        "scenario": asset.scenario,
        "language": asset.language,
        "tags": version.tags,
        "when_to_use": version.when_to_use,
        "when_not_to_use": version.when_not_to_use,
        "status": asset.status,
    }
    if version.steps:
        record_["steps"] = version.steps
    evidence = evidence_dict(asset.evidence)
    if evidence:
        record_["evidence"] = {k: v for k, v in evidence.items() if v is not None}
    return record_


def export_markdown(asset: Asset, language: str = "zh") -> str:
    """The asset as one Markdown document (title, facts, body, steps, evidence)."""
    version = asset.current
    labels = facet_labels(language)
    lines = [f"# {version.title}", ""]
    if version.summary:
        lines += [f"> {version.summary}", ""]
    facts = [
        f"- {_l('Kind')}: {asset.kind}",
        *(
            f"- {name}: {labels[name].get(getattr(asset, name), getattr(asset, name))}"
            for name in FACET_FIELDS
            if getattr(asset, name)
        ),
    ]
    if version.tags:
        facts.append(f"- {_l('Tags')}: {', '.join(version.tags)}")
    lines += [*facts, "", version.body.strip(), ""]
    if version.steps:
        lines += [f"## {_l('Steps')}", *[f"- [ ] {s}" for s in version.steps], ""]
    for title, text in (
        (_l("When to use it"), version.when_to_use),
        (_l("When not to use it"), version.when_not_to_use),
    ):
        if text:
            lines += [f"## {title}", text, ""]
    evidence = asset.evidence
    if evidence is not None:
        lines += [
            f"## {_l('Evidence')}",
            f"- {_l('Experiment')}: {evidence.experiment_key}",
        ]
        if evidence.lift is not None:
            lines.append(f"- {_l('Lift')}: {evidence.lift:+.1%}")
        if evidence.ci_low is not None and evidence.ci_high is not None:
            lines.append(
                f"- {_l('Confidence interval')}: "
                f"[{evidence.ci_low:+.1%}, {evidence.ci_high:+.1%}]"
            )
        if evidence.p_value is not None:
            lines.append(f"- p: {evidence.p_value:.3g}")
        if evidence.sample_size:
            lines.append(f"- n: {evidence.sample_size:,}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


# --- search ------------------------------------------------------------------------


_markdown = MarkdownIt("commonmark", {"html": False}).enable("table")


def plain_text(markdown: str) -> str:
    """The words of a Markdown text without its markup (what search indexes and
    quotes in snippets: no ``**``, ``##`` or table pipes)."""
    html_text = _markdown.render(markdown or "")
    html_text = re.sub(r"</(p|h[1-6]|li|tr|blockquote|pre)>", "\n", html_text)
    text = html.unescape(nh3.clean(html_text, tags=set()))
    text = re.sub(r"^\[[ xX]\] ", "", text, flags=re.MULTILINE)  # task-list boxes
    return re.sub(r"\n{2,}", "\n", text).strip()


def _state() -> SearchState:
    state = db.session.get(SearchState, 1)
    if state is None:
        state = SearchState(id=1, generation=0, synonyms_generation=0)
        db.session.add(state)
        db.session.flush()
    return state


def bump_search(*, synonyms: bool = False) -> int:
    """Advance the search generation (every process re-reads what changed)."""
    state = _state()
    state.generation += 1
    if synonyms:
        state.synonyms_generation = state.generation
    db.session.flush()
    return state.generation


def _touch(asset: Asset) -> None:
    asset.search_generation = bump_search()


def _documents(query: sa.Select):
    """Search documents for the assets of ``query`` (current versions, signals)."""
    assets = db.session.scalars(query).unique().all()
    if not assets:
        return [], []
    ids = [a.id for a in assets]
    uses = dict(
        db.session.execute(
            sa.select(AssetUsage.asset_id, sa.func.count())
            .where(AssetUsage.asset_id.in_(ids), AssetUsage.kind == UsageKind.USED)
            .group_by(AssetUsage.asset_id)
        ).all()
    )
    ratings = dict(
        db.session.execute(
            sa.select(AssetRating.asset_id, sa.func.avg(AssetRating.stars))
            .where(AssetRating.asset_id.in_(ids))
            .group_by(AssetRating.asset_id)
        ).all()
    )
    current = dict(
        db.session.execute(
            sa.select(AssetVersion.asset_id, sa.func.max(AssetVersion.number))
            .where(AssetVersion.asset_id.in_(ids))
            .group_by(AssetVersion.asset_id)
        ).all()
    )
    versions = {
        v.asset_id: v
        for v in db.session.scalars(
            sa.select(AssetVersion).where(
                sa.tuple_(AssetVersion.asset_id, AssetVersion.number).in_(
                    list(current.items())
                )
            )
        )
    }
    documents, removed = [], []
    for asset in assets:
        if asset.status not in SEARCHABLE:
            removed.append(asset.id)
            continue
        version = versions[asset.id]
        documents.append(
            search.Document(
                id=asset.id,
                title=version.title,
                summary=version.summary,
                body="\n".join([plain_text(version.body), *version.steps]),
                tags=tuple(version.tags),
                kind=asset.kind,
                industry=asset.industry,
                customer_type=asset.customer_type,
                scenario=asset.scenario,
                language=asset.language,
                evidence_strength=search.evidence_strength(
                    evidence_dict(asset.evidence)
                ),
                verification=(
                    "verified" if asset.status == AssetStatus.PUBLISHED else "lapsed"
                ),
                updated_at=version.created_at.timestamp(),
                usage_count=int(uses.get(asset.id, 0)),
                rating=float(ratings[asset.id]) if asset.id in ratings else None,
            )
        )
    return documents, removed


def _label_lists() -> dict[str, dict[str, tuple[str, str]]]:
    """facet → key → (Chinese label, English label): searchable with the asset."""
    labels: dict[str, dict[str, tuple[str, str]]] = {f.value: {} for f in Facet}
    for row in db.session.scalars(sa.select(FacetValue)):
        labels[row.facet][row.key] = (row.label_zh, row.label_en)
    return labels


class _Cache:
    """This process's index, keyed by the database it was built from."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.indexes: dict[str, tuple[int, int, search.SearchIndex]] = {}


_cache = _Cache()


def search_index() -> search.SearchIndex:
    """This process's index, brought up to date with the database: rebuilt when
    the synonyms or labels changed since it was built, otherwise refreshed with
    the assets changed since its generation."""
    state = db.session.get(SearchState, 1) or SearchState(
        generation=0, synonyms_generation=0
    )
    url = str(db.engine.url)
    with _cache.lock:
        cached = _cache.indexes.get(url)
        if cached is None or cached[1] != state.synonyms_generation:
            index = search.SearchIndex(
                [g.terms for g in synonym_groups()], facet_labels=_label_lists()
            )
            documents, _removed = _documents(
                sa.select(Asset).where(Asset.status.in_(SEARCHABLE))
            )
            index.rebuild(documents)
        else:
            generation, _synonyms, index = cached
            if generation == state.generation:
                return index
            documents, removed = _documents(
                sa.select(Asset).where(Asset.search_generation > generation)
            )
            for asset_id in removed:
                index.remove(asset_id)
            for document in documents:
                index.add(document)
        _cache.indexes[url] = (state.generation, state.synonyms_generation, index)
        return index


def run_search(
    query: str,
    filters: dict[str, str | None] | None = None,
    *,
    page: int = 1,
    per_page: int = 20,
) -> tuple[search.SearchResult, dict[int, Asset]]:
    """Ranked results (one hit per asset, its current version) and the assets
    of the page's hits."""
    if len(query) > 200:
        raise Invalid("q", str(_l("At most %(n)d characters.", n=200)))
    clean = {k: v for k, v in (filters or {}).items() if v}
    with _cache.lock:  # searches read what a refresh may be changing
        result = search_index().search(query, clean, page=page, per_page=per_page)
    ids = [hit.id for hit in result.hits]
    assets = {
        a.id: a
        for a in db.session.scalars(
            sa.select(Asset)
            .where(Asset.id.in_(ids))
            .options(selectinload(Asset.versions))
        )
    }
    return result, assets


def recommend(
    industry: str | None,
    customer_type: str | None,
    scenario: str | None,
    limit: int = 5,
) -> list[tuple[Asset, Any]]:
    """The best-matching proven assets for a situation (see SearchIndex.recommend)."""
    with _cache.lock:
        picks = search_index().recommend(industry, customer_type, scenario, limit=limit)
    assets = {
        a.id: a
        for a in db.session.scalars(
            sa.select(Asset).where(Asset.id.in_([p.id for p in picks]))
        )
    }
    return [(assets[p.id], p) for p in picks if p.id in assets]
