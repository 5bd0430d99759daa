"""Asset library pages (能力资产库): search with facets, the asset page with its
evidence, usage and versions, the editor with a live preview, the synonym table,
the facet vocabularies and the curators' work list."""

import math
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import nh3
import sqlalchemy as sa
from flask import (
    Response,
    abort,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from markdown_it import MarkdownIt
from markupsafe import Markup

from asset_library import bp, services  # services: also its signal receiver
from asset_library.forms import (
    ACTION_LABELS,
    DECISION_LABELS,
    FACET_LABELS,
    KIND_LABELS,
    LANGUAGE_LABELS,
    STATUS_LABELS,
    AssetForm,
    FacetValueForm,
    RateForm,
    SynonymForm,
    UsedForm,
)
from asset_library.models import (
    Asset,
    AssetRating,
    AssetStatus,
    AssetUsage,
    Facet,
    SynonymGroup,
    UsageKind,
)
from proving_ground.access import ANY_ROLE, Role, roles_required
from proving_ground.db import db, utcnow, writes_on_read
from proving_ground.validation import Invalid

EDITORS = (Role.MANAGER, Role.ADMIN)
STATIC = Path(__file__).parent / "static"
PER_PAGE = 10
#: The facets of the search sidebar, in order.
SEARCH_FACETS = ("industry", "customer_type", "scenario", "kind", "language")
SITUATION = ("industry", "customer_type", "scenario")
#: Values shown per facet before "more".
FACET_SHOWN = 6
EXAMPLE_QUERIES = ("集采", "话术", "CRM 续约", "renewal")
#: Published assets whose verification lapses within this many days are listed.
DUE_SOON_DAYS = 30
EVIDENCE_FIELDS = {
    "experiment_id": "evidence_experiment",
    "metric": "evidence_metric",
    "lift": "evidence_lift",
    "ci_low": "evidence_ci_low",
    "ci_high": "evidence_ci_high",
    "p_value": "evidence_p_value",
    "sample_size": "evidence_sample_size",
    "decision": "evidence_decision",
}
PERCENT_FIELDS = ("lift", "ci_low", "ci_high")


# --- Markdown ----------------------------------------------------------------------

_markdown = MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])
ALLOWED_TAGS = {
    *(f"h{n}" for n in range(1, 7)),
    *("p", "br", "hr", "blockquote", "pre", "code", "strong", "em", "del", "s"),
    *("ul", "ol", "li", "a", "table", "thead", "tbody", "tr", "th", "td"),
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}}


def render_markdown(text: str) -> Markup:
    """Markdown as safe HTML: raw HTML in the source is shown as text, and the
    result keeps only a small set of tags and http(s)/mailto links."""
    html = _markdown.render(text or "")
    return Markup(  # noqa: S704 (nh3 sanitised it)
        nh3.clean(
            html,
            tags=ALLOWED_TAGS,
            attributes=ALLOWED_ATTRIBUTES,
            url_schemes={"http", "https", "mailto"},
            link_rel="noopener noreferrer nofollow",
        )
    )


# --- helpers -----------------------------------------------------------------------


def _language() -> str:
    """The vocabulary label language of the UI: ``zh`` or ``en``."""
    return "en" if get_locale().language == "en" else "zh"


def _is_editor() -> bool:
    return current_user.is_authenticated and current_user.has_any_role(EDITORS)


def _percent(value: float | None, signed: bool = True) -> str:
    """A fraction as a percentage for people: 0.12 → +12%, 0.125 → +12.5%."""
    if value is None:
        return "—"
    number = round(value * 100, 1)
    text = format(number, "+g" if signed else "g")
    return f"{text}%"


def _facet_label(labels: dict[str, dict[str, str]], facet: str, value: str) -> str:
    if facet == "kind":
        return str(KIND_LABELS.get(value, value))
    if facet == "language":
        return str(LANGUAGE_LABELS.get(value, value))
    return labels.get(facet, {}).get(value, value)


@bp.context_processor
def pillar_globals() -> dict[str, Any]:
    return {
        "kind_label": lambda kind: KIND_LABELS.get(kind, kind),
        "language_label": lambda code: LANGUAGE_LABELS.get(code, code),
        "status_label": lambda status: STATUS_LABELS.get(status, status),
        "decision_label": lambda value: DECISION_LABELS.get(value, value),
        "facet_name": lambda facet: FACET_LABELS.get(facet, facet),
        "percent": _percent,
        "is_editor": _is_editor(),
        "is_admin": current_user.is_authenticated and current_user.has_role(Role.ADMIN),
        "asset_css": _static_url("asset_library.css"),
        "asset_js": _static_url("asset_library.js"),
    }


def _static_url(filename: str) -> str:
    """The URL of a pillar file, versioned by its modification time."""
    version = int((STATIC / filename).stat().st_mtime)
    return url_for("asset_library.static", filename=filename, v=version)


def _asset_or_404(asset_id: int) -> Asset:
    """The asset; drafts and assets in review only for editors."""
    asset = services.get_asset(asset_id)
    if asset is None:
        abort(404)
    if asset.status in (AssetStatus.DRAFT, AssetStatus.IN_REVIEW) and not (
        _is_editor() or asset.owner_id == current_user.id
    ):
        abort(404)
    return asset


def _show_errors(form, exc: Invalid, names: dict[str, str] | None = None) -> None:
    """Each message of ``exc`` next to its form field (or flashed)."""
    names = names or {}
    for name, messages in exc.fields.items():
        field = form._fields.get(names.get(name, name))
        if field is None:
            for message in messages:
                flash(message, "error")
        else:
            field.errors = [*field.errors, *messages]


def _used_counts(ids: list[int]) -> dict[int, int]:
    """asset id → number of "I used this" marks."""
    if not ids:
        return {}
    return dict(
        db.session.execute(
            sa.select(AssetUsage.asset_id, sa.func.count())
            .where(AssetUsage.asset_id.in_(ids), AssetUsage.kind == UsageKind.USED)
            .group_by(AssetUsage.asset_id)
        ).all()
    )


@dataclass(frozen=True)
class _Page:
    """What the pager macro needs of a page of search results."""

    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def prev_num(self) -> int:
        return self.page - 1

    @property
    def next_num(self) -> int:
        return self.page + 1


# --- search ------------------------------------------------------------------------


@bp.route("/")
@roles_required(ANY_ROLE)
def index():
    q = request.args.get("q", "").strip()[:200]
    filters = {f: request.args.get(f, "").strip() or None for f in SEARCH_FACETS}
    page = max(1, request.args.get("page", 1, type=int))
    started = time.perf_counter()
    try:
        result, assets = services.run_search(q, filters, page=page, per_page=PER_PAGE)
    except Invalid as exc:
        flash(exc.message, "error")
        result, assets = services.run_search("", filters, page=1, per_page=PER_PAGE)
    elapsed_ms = (time.perf_counter() - started) * 1000
    labels = services.facet_labels(_language())
    state = {"q": q, **{k: v for k, v in filters.items() if v}}
    sidebar = []
    for facet in SEARCH_FACETS:
        counts = dict(result.facets.get(facet, {}))
        selected = filters[facet]
        if selected and selected not in counts:
            counts[selected] = 0
        values = []
        for value, count in counts.items():
            args = {k: v for k, v in state.items() if k != facet}
            if value != selected:
                args[facet] = value
            values.append(
                {
                    "value": value,
                    "label": _facet_label(labels, facet, value),
                    "count": count,
                    "selected": value == selected,
                    "url": url_for(
                        "asset_library.index", **{k: v for k, v in args.items() if v}
                    ),
                }
            )
        values.sort(key=lambda v: (not v["selected"], -v["count"], v["label"]))
        sidebar.append({"facet": facet, "values": values})
    situation = {f: filters[f] for f in SITUATION}
    recommended = (
        services.recommend(**situation, limit=4) if any(situation.values()) else []
    )
    hits = [(hit, assets[hit.id]) for hit in result.hits if hit.id in assets]
    active_filters = [
        {
            "facet": facet,
            "label": _facet_label(labels, facet, filters[facet]),
            "url": url_for(
                "asset_library.index",
                **{k: v for k, v in state.items() if k != facet and v},
            ),
        }
        for facet in SEARCH_FACETS
        if filters[facet]
    ]
    return render_template(
        "asset_library/index.html",
        q=q,
        filters=filters,
        result=result,
        hits=hits,
        used=_used_counts([asset.id for _hit, asset in hits]),
        labels=labels,
        facet_label=lambda facet, value: _facet_label(labels, facet, value),
        sidebar=sidebar,
        active_filters=active_filters,
        recommended=recommended,
        page=_Page(page, PER_PAGE, result.total),
        elapsed_ms=elapsed_ms,
        examples=EXAMPLE_QUERIES,
        shown=FACET_SHOWN,
    )


# --- the asset page ------------------------------------------------------------------


@bp.route("/assets/<int:asset_id>")
@roles_required(ANY_ROLE)
@writes_on_read
def asset(asset_id: int):
    asset = _asset_or_404(asset_id)
    services.record_usage(asset, current_user, UsageKind.VIEW)
    rating = db.session.get(AssetRating, (asset.id, current_user.id))
    rate_form = RateForm(stars=str(rating.stars) if rating else None)
    actions = [
        action
        for action in ACTION_LABELS
        if asset.status in services.TRANSITIONS[action][0]
    ]
    versions = list(reversed(asset.versions))
    return render_template(
        "asset_library/asset.html",
        asset=asset,
        version=asset.current,
        body_html=render_markdown(asset.current.body),
        labels=services.facet_labels(_language()),
        usage=services.usage(asset),
        used_form=UsedForm(),
        rate_form=rate_form,
        my_rating=rating.stars if rating else None,
        actions=actions if _is_editor() else [],
        action_labels=ACTION_LABELS,
        versions=versions,
        now=utcnow(),
    )


@bp.route("/assets/<int:asset_id>/usage", methods=["POST"])
@roles_required(ANY_ROLE)
def record_usage(asset_id: int):
    """ "I used this" (with an optional outcome note) from the form, or a copy
    of the body (the copy button's fetch, answered in JSON)."""
    asset = _asset_or_404(asset_id)
    kind = request.form.get("kind", UsageKind.USED)
    wants_json = request.accept_mimetypes.best == "application/json"
    if kind not in (UsageKind.USED, UsageKind.COPY):
        abort(400)
    form = UsedForm()
    try:
        services.record_usage(asset, current_user, kind, form.outcome.data or "")
    except Invalid as exc:
        if wants_json:
            return jsonify(error={"code": 422, "message": exc.message}), 422
        flash(exc.message, "error")
        return redirect(url_for("asset_library.asset", asset_id=asset.id))
    if wants_json:
        return jsonify(copies=asset.copies)
    flash(_("Thank you: your use is recorded."), "success")
    return redirect(url_for("asset_library.asset", asset_id=asset.id) + "#usage")


@bp.route("/assets/<int:asset_id>/rate", methods=["POST"])
@roles_required(ANY_ROLE)
def rate(asset_id: int):
    asset = _asset_or_404(asset_id)
    form = RateForm()
    stars = int(form.stars.data) if (form.stars.data or "").isdigit() else None
    try:
        services.rate(asset, current_user, stars)
    except Invalid as exc:
        flash(exc.message, "error")
    else:
        flash(_("Your rating is saved."), "success")
    return redirect(url_for("asset_library.asset", asset_id=asset.id) + "#usage")


@bp.route("/assets/<int:asset_id>/export.md")
@roles_required(ANY_ROLE)
def export_markdown(asset_id: int):
    asset = _asset_or_404(asset_id)
    name = asset.external_id or f"asset-{asset.id}"
    return Response(
        services.export_markdown(asset, _language()),
        mimetype="text/markdown",
        headers={"Content-Disposition": f'attachment; filename="{name}.md"'},
    )


@bp.route("/assets/<int:asset_id>/<action>", methods=["POST"])
@roles_required(EDITORS)
def transition(asset_id: int, action: str):
    if action not in ACTION_LABELS:
        abort(404)
    asset = _asset_or_404(asset_id)
    try:
        services.transition(asset, action, actor=current_user)
    except Invalid as exc:
        flash(exc.message, "error")
    else:
        flash(
            _("The asset is now: %(status)s.", status=STATUS_LABELS[asset.status]),
            "success",
        )
    return redirect(url_for("asset_library.asset", asset_id=asset.id))


# --- versions ----------------------------------------------------------------------


@bp.route("/assets/<int:asset_id>/diff")
@roles_required(ANY_ROLE)
def diff(asset_id: int):
    asset = _asset_or_404(asset_id)
    current = asset.current.number
    new = request.args.get("to", current, type=int)
    old = request.args.get("from", max(1, new - 1), type=int)
    try:
        changes = services.diff_versions(asset, old, new)
    except Invalid:
        abort(404)
    return render_template(
        "asset_library/diff.html",
        asset=asset,
        changes=changes,
        old=old,
        new=new,
        numbers=[v.number for v in reversed(asset.versions)],
        field_labels=_version_field_labels(),
    )


def _version_field_labels() -> dict[str, str]:
    form = AssetForm(meta={"csrf": False}, formdata=None)
    return {name: form[name].label.text for name in services.VERSION_FIELDS}


@bp.route("/assets/<int:asset_id>/versions/<int:number>/restore", methods=["POST"])
@roles_required(EDITORS)
def restore(asset_id: int, number: int):
    asset = _asset_or_404(asset_id)
    try:
        version = services.restore_version(asset, number, actor=current_user)
    except Invalid:
        abort(404)
    flash(
        _(
            "Version %(old)d is current again, as version %(new)d.",
            old=number,
            new=version.number,
        ),
        "success",
    )
    return redirect(url_for("asset_library.asset", asset_id=asset.id) + "#versions")


# --- the editor ----------------------------------------------------------------------


def _vocabulary_choices() -> dict[str, list[tuple[str, str]]]:
    language = _language()
    return {
        facet.value: [
            (row.key, row.label(language)) for row in services.facet_values(facet)
        ]
        for facet in (Facet.INDUSTRY, Facet.CUSTOMER_TYPE, Facet.SCENARIO)
    }


def _text(value: str | None) -> str:
    """Form text with the browser's CRLF line ends made plain newlines."""
    return (value or "").replace("\r\n", "\n")


def _asset_fields(form: AssetForm) -> dict[str, Any]:
    return {
        "title": _text(form.title.data),
        "summary": _text(form.summary.data),
        "body": _text(form.body.data),
        "kind": form.kind.data,
        "industry": form.industry.data or None,
        "customer_type": form.customer_type.data or None,
        "scenario": form.scenario.data or None,
        "language": form.language.data,
        "tags": form.tags.data or "",
        "when_to_use": _text(form.when_to_use.data),
        "when_not_to_use": _text(form.when_not_to_use.data),
        "steps": _text(form.steps.data),
        "verification_interval_days": form.verification_interval_days.data,
    }


def _form_data(asset: Asset) -> dict[str, Any]:
    version = asset.current
    data = {
        "title": version.title,
        "summary": version.summary,
        "body": version.body,
        "kind": asset.kind,
        "industry": asset.industry or "",
        "customer_type": asset.customer_type or "",
        "scenario": asset.scenario or "",
        "language": asset.language,
        "tags": ", ".join(version.tags),
        "when_to_use": version.when_to_use,
        "when_not_to_use": version.when_not_to_use,
        "steps": "\n".join(version.steps),
        "verification_interval_days": asset.verification_interval_days,
    }
    evidence = services.evidence_dict(asset.evidence) or {}
    for key, field in EVIDENCE_FIELDS.items():
        value = evidence.get(key)
        if key in PERCENT_FIELDS and value is not None:
            value = round(value * 100, 4)
            value = int(value) if value.is_integer() else value
        data[field] = value if value is not None else ""
    return data


def _save_evidence(asset: Asset, form: AssetForm) -> None:
    """Attach, change or remove the evidence as the form says; the variant,
    confidence and detailed results of existing evidence are kept."""
    given = {}
    for key, field in EVIDENCE_FIELDS.items():
        value = form[field].data
        if isinstance(value, str):
            value = value.strip() or None
        if key in PERCENT_FIELDS and value is not None:
            value = value / 100
        given[key] = value
    current = services.evidence_dict(asset.evidence)
    if not any(v is not None for v in given.values()):
        if current is not None:
            services.set_evidence(asset, None, actor=current_user)
        return
    data = {**(current or {}), **given}
    if current is not None:
        if asset.evidence.details:
            data.update(asset.evidence.details)
        unchanged = all(_same(current.get(key), value) for key, value in given.items())
        if unchanged:
            return
    services.set_evidence(asset, data, actor=current_user)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float | int) and isinstance(b, float | int):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    return a == b


def _editor_errors(form: AssetForm, exc: Invalid) -> None:
    names = {f"evidence.{key}": field for key, field in EVIDENCE_FIELDS.items()}
    _show_errors(form, exc, names)


def _render_editor(form: AssetForm, asset: Asset | None):
    return render_template(
        "asset_library/editor.html",
        form=form,
        asset=asset,
        preview=render_markdown(_text(form.body.data)),
    )


@bp.route("/new", methods=["GET", "POST"])
@roles_required(EDITORS)
def create():
    form = AssetForm()
    form.set_vocabularies(_vocabulary_choices())
    if form.validate_on_submit():
        try:
            with db.session.begin_nested():
                asset = services.create_asset(
                    _asset_fields(form), actor=current_user, note=form.note.data or ""
                )
                _save_evidence(asset, form)
        except Invalid as exc:
            _editor_errors(form, exc)
        else:
            flash(_("The asset is saved as a draft."), "success")
            return redirect(url_for("asset_library.asset", asset_id=asset.id))
    return _render_editor(form, None)


@bp.route("/assets/<int:asset_id>/edit", methods=["GET", "POST"])
@roles_required(EDITORS)
def edit(asset_id: int):
    asset = _asset_or_404(asset_id)
    form = AssetForm(data=_form_data(asset) if request.method == "GET" else None)
    form.set_vocabularies(_vocabulary_choices())
    if form.validate_on_submit():
        before = asset.current.number
        try:
            with db.session.begin_nested():
                services.update_asset(
                    asset,
                    _asset_fields(form),
                    actor=current_user,
                    note=form.note.data or "",
                )
                _save_evidence(asset, form)
        except Invalid as exc:
            _editor_errors(form, exc)
        else:
            if asset.current.number != before:
                flash(_("Saved as version %(n)d.", n=asset.current.number), "success")
            else:
                flash(_("Saved."), "success")
            return redirect(url_for("asset_library.asset", asset_id=asset.id))
    return _render_editor(form, asset)


@bp.route("/preview", methods=["POST"])
@roles_required(EDITORS)
def preview():
    """The editor's live preview: the body as sanitised HTML."""
    body = _text(request.form.get("body", ""))[: services.TEXT_LIMITS["body"]]
    return Response(str(render_markdown(body)), mimetype="text/html")


# --- synonyms and vocabularies -------------------------------------------------------


def _render_synonyms(add_form: SynonymForm, editing: dict | None = None):
    q = request.args.get("q", "").strip()
    groups = services.synonym_groups()
    if q:
        needle = q.casefold()
        groups = [
            g for g in groups if any(needle in term.casefold() for term in g.terms)
        ]
    return render_template(
        "asset_library/synonyms.html",
        groups=groups,
        q=q,
        add_form=add_form,
        editing=editing or {},
    )


@bp.route("/synonyms")
@roles_required(ANY_ROLE)
def synonyms():
    return _render_synonyms(SynonymForm(formdata=None))


@bp.route("/synonyms", methods=["POST"])
@roles_required(Role.ADMIN)
def add_synonyms():
    form = SynonymForm()
    if form.validate_on_submit():
        try:
            services.save_synonym_group(None, form.terms.data, actor=current_user)
        except Invalid as exc:
            _show_errors(form, exc)
        else:
            flash(_("The synonym group is added."), "success")
            return redirect(url_for("asset_library.synonyms"))
    return _render_synonyms(form)


def _synonym_group_or_404(group_id: int) -> SynonymGroup:
    group = db.session.get(SynonymGroup, group_id)
    if group is None:
        abort(404)
    return group


@bp.route("/synonyms/<int:group_id>", methods=["POST"])
@roles_required(Role.ADMIN)
def save_synonyms(group_id: int):
    group = _synonym_group_or_404(group_id)
    terms = request.form.get("terms", "")
    try:
        services.save_synonym_group(group, terms, actor=current_user)
    except Invalid as exc:
        messages = [m for ms in exc.fields.values() for m in ms]
        return _render_synonyms(
            SynonymForm(formdata=None), {group.id: (terms, messages)}
        )
    flash(_("The synonym group is saved."), "success")
    return redirect(url_for("asset_library.synonyms") + f"#group-{group.id}")


@bp.route("/synonyms/<int:group_id>/delete", methods=["POST"])
@roles_required(Role.ADMIN)
def delete_synonyms(group_id: int):
    group = _synonym_group_or_404(group_id)
    services.delete_synonym_group(group, actor=current_user)
    flash(_("The synonym group is deleted."), "success")
    return redirect(url_for("asset_library.synonyms"))


def _render_vocabularies(add_form: FacetValueForm, row_errors: dict | None = None):
    return render_template(
        "asset_library/vocabularies.html",
        vocabularies=[
            (facet.value, services.facet_values(facet.value, active_only=False))
            for facet in (Facet.INDUSTRY, Facet.CUSTOMER_TYPE, Facet.SCENARIO)
        ],
        add_form=add_form,
        row_errors=row_errors or {},
    )


@bp.route("/vocabularies")
@roles_required(Role.ADMIN)
def vocabularies():
    return _render_vocabularies(FacetValueForm(formdata=None))


@bp.route("/vocabularies", methods=["POST"])
@roles_required(Role.ADMIN)
def save_vocabulary_value():
    """Add a value (the add form) or rename, retire or restore one (a row)."""
    if request.form.get("row"):
        facet, key = request.form.get("facet", ""), request.form.get("key", "")
        values = services.facet_values(facet, active_only=False)
        row = next((v for v in values if v.key == key), None)
        if row is None:
            abort(404)
        active = not row.active if request.form.get("toggle") else row.active
        try:
            services.save_facet_value(
                facet,
                key,
                request.form.get("label_zh", ""),
                request.form.get("label_en", ""),
                active=active,
                actor=current_user,
            )
        except Invalid as exc:
            messages = [m for ms in exc.fields.values() for m in ms]
            return _render_vocabularies(
                FacetValueForm(formdata=None), {(facet, key): messages}
            )
        flash(_("The vocabulary is saved."), "success")
        return redirect(url_for("asset_library.vocabularies") + f"#{facet}-{key}")
    form = FacetValueForm()
    if form.validate_on_submit():
        existing = {
            v.key for v in services.facet_values(form.facet.data, active_only=False)
        }
        if form.key.data in existing:
            form.key.errors = [_("This key is taken in this vocabulary.")]
        else:
            try:
                services.save_facet_value(
                    form.facet.data,
                    form.key.data.strip(),
                    form.label_zh.data,
                    form.label_en.data,
                    active=form.active.data,
                    actor=current_user,
                )
            except Invalid as exc:
                _show_errors(form, exc)
            else:
                flash(_("The value is added."), "success")
                return redirect(url_for("asset_library.vocabularies"))
    return _render_vocabularies(form)


# --- the curators' work list ------------------------------------------------------


@bp.route("/manage")
@roles_required(EDITORS)
def manage():
    now = utcnow()
    due_soon = db.session.scalars(
        sa.select(Asset)
        .where(
            Asset.status == AssetStatus.PUBLISHED,
            Asset.verification_due_at <= now + timedelta(days=DUE_SOON_DAYS),
        )
        .order_by(Asset.verification_due_at, Asset.id)
        .limit(100)
    ).all()
    return render_template(
        "asset_library/manage.html",
        drafts=services.list_assets(status=AssetStatus.DRAFT, owner=current_user),
        in_review=services.list_assets(status=AssetStatus.IN_REVIEW),
        lapsed=services.list_assets(status=AssetStatus.NEEDS_REVERIFICATION),
        due_soon=due_soon,
        now=now,
    )
