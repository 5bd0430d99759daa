"""The asset library pages: search, the asset page, the editor, versions, usage,
the synonym table, the vocabularies and the work list, per role."""

import re
from itertools import islice
from pathlib import Path

import pytest
from support import post_form

from asset_library import services
from asset_library.models import Asset
from proving_ground.db import db

DEMO = Path(services.__file__).with_name("demo_assets.jsonl")
EVERY_ROLE = ["admin", "hr", "manager", "member"]
EDITORS = {"admin", "manager"}


@pytest.fixture
def seeded(app):
    """The vocabularies and the first 40 demo assets, published."""
    with app.app_context():
        services.seed_vocabularies()
        with DEMO.open(encoding="utf-8") as lines:
            report = services.import_lines(islice(lines, 40), actor=None, publish=True)
        assert not report.errors
        db.session.commit()
    return app


def asset_id(app, external_id: str) -> int:
    with app.app_context():
        return services.get_by_external_id(external_id).id


def make_draft(app, **fields) -> int:
    with app.app_context():
        asset = services.create_asset(
            {"title": "草稿资产", "kind": "script", **fields}, actor=None
        )
        db.session.commit()
        return asset.id


def result_count(html: str) -> int:
    match = re.search(r'<p class="count">(\d+) assets?', html)
    return int(match.group(1)) if match else 0


# --- access -------------------------------------------------------------------------


@pytest.mark.parametrize("role", EVERY_ROLE)
def test_pages_per_role(seeded, login_as, role):
    client = login_as(role)
    asset = asset_id(seeded, "pg-0001")
    for url in (
        "/library/",
        f"/library/assets/{asset}",
        "/library/synonyms",
        f"/library/assets/{asset}/export.md",
    ):
        assert client.get(url).status_code == 200, url
    for url in ("/library/new", f"/library/assets/{asset}/edit", "/library/manage"):
        assert client.get(url).status_code == (200 if role in EDITORS else 403), url
    expected = 200 if role == "admin" else 403
    assert client.get("/library/vocabularies").status_code == expected


def test_pages_need_sign_in(seeded, client):
    for url in ("/library/", "/library/synonyms", "/library/new"):
        assert client.get(url).location.startswith("/login")


def test_drafts_are_hidden_from_members(seeded, login_as):
    draft = make_draft(seeded)
    assert login_as("member").get(f"/library/assets/{draft}").status_code == 404
    assert login_as("manager").get(f"/library/assets/{draft}").status_code == 200


# --- search -------------------------------------------------------------------------


def test_search_highlights_two_characters(seeded, login_as):
    client = login_as("member")
    html = client.get("/library/?q=集采").get_data(as_text=True)
    assert "<mark>集采</mark>" in html
    assert result_count(html) >= 1
    assert 'value="集采"' in html  # the box keeps the query
    html = client.get("/library/?q=话术").get_data(as_text=True)
    assert result_count(html) >= 1 and "<mark>" in html


def test_search_escapes_the_query(seeded, login_as):
    html = login_as("member").get("/library/?q=<b>x</b>").get_data(as_text=True)
    assert "<b>x</b>" not in html


def test_facet_filter_narrows_results(seeded, login_as):
    client = login_as("member")
    everything = result_count(client.get("/library/").get_data(as_text=True))
    html = client.get("/library/?industry=saas").get_data(as_text=True)
    narrowed = result_count(html)
    assert 0 < narrowed < everything == 40
    assert narrowed == 6
    assert "Recommended for this situation" in html
    assert 'class="facet-value selected"' in html
    # the selected value links to the search without it
    assert 'href="/library/"' in html


def test_empty_results_offer_examples(seeded, login_as):
    html = login_as("member").get("/library/?q=zzzqqqxxx").get_data(as_text=True)
    assert "No asset matches" in html
    assert "CRM 续约" in html


# --- the asset page -----------------------------------------------------------------


def test_asset_page_evidence_card_and_view_count(seeded, login_as):
    client = login_as("member")
    proven = asset_id(seeded, "pg-0001")
    html = client.get(f"/library/assets/{proven}").get_data(as_text=True)
    assert "/experiments/tradeshow-48h/results" in html
    assert "+9%" in html and "[+4%, +14%]" in html
    assert "No evidence yet" not in html
    client.get(f"/library/assets/{proven}")
    with seeded.app_context():
        assert db.session.get(Asset, proven).views == 2

    unproven = asset_id(seeded, "pg-0003")
    html = client.get(f"/library/assets/{unproven}").get_data(as_text=True)
    assert "No evidence yet" in html


def test_checklist_steps_render_as_a_checklist(seeded, login_as):
    html = (
        login_as("member")
        .get(f"/library/assets/{asset_id(seeded, 'pg-0005')}")
        .get_data(as_text=True)
    )
    assert '<ol class="steps">' in html and 'type="checkbox"' in html


def test_markdown_is_sanitised(seeded, login_as):
    draft = make_draft(
        seeded,
        body="## 要点\n\n<script>alert('x')</script>\n\n"
        "[点我](javascript:alert(1)) [官网](https://example.com)\n\n"
        '<img src="x" onerror="alert(2)">',
    )
    client = login_as("manager")
    html = client.get(f"/library/assets/{draft}").get_data(as_text=True)
    body = html.split('id="asset-body"', 1)[1].split("</article>", 1)[0]
    assert "<h2>要点</h2>" in body
    assert "<script>" not in body and "<img" not in body
    assert 'href="javascript:' not in body and "<a href" in body
    assert 'href="https://example.com"' in body
    preview = post_form(
        client, "/library/preview", {"body": "**b** <script>x</script>"}
    ).get_data(as_text=True)
    assert "<strong>b</strong>" in preview and "<script>" not in preview


def test_export_markdown(seeded, login_as):
    response = login_as("member").get(
        f"/library/assets/{asset_id(seeded, 'pg-0001')}/export.md"
    )
    assert response.mimetype == "text/markdown"
    assert "attachment" in response.headers["Content-Disposition"]
    assert response.get_data(as_text=True).startswith("# 展会线索48小时跟进打法")


# --- usage --------------------------------------------------------------------------


def test_i_used_this_and_rating(seeded, login_as):
    client = login_as("member")
    asset = asset_id(seeded, "pg-0002")
    response = post_form(
        client,
        f"/library/assets/{asset}/usage",
        {"kind": "used", "outcome": "客户同意下周见面"},
    )
    assert response.status_code == 302
    post_form(client, f"/library/assets/{asset}/rate", {"stars": "4"})
    with seeded.app_context():
        usage = services.usage(db.session.get(Asset, asset))
    assert (usage.used, usage.rating, usage.ratings) == (1, 4.0, 1)
    html = client.get(f"/library/assets/{asset}").get_data(as_text=True)
    assert "客户同意下周见面" in html
    search = client.get("/library/?q=陌拜电话").get_data(as_text=True)
    assert "used 1 time" in search


def test_copy_is_recorded_by_fetch(seeded, login_as):
    client = login_as("hr")
    asset = asset_id(seeded, "pg-0002")
    response = post_form(
        client,
        f"/library/assets/{asset}/usage",
        {"kind": "copy"},
        headers={"Accept": "application/json"},
    )
    assert response.get_json() == {"copies": 1}
    refused = client.post(f"/library/assets/{asset}/usage", data={"kind": "copy"})
    assert refused.status_code == 400  # no CSRF token


# --- editor, versions, lifecycle ---------------------------------------------------


EDITOR_FORM = {
    "title": "价格异议三步法",
    "summary": "客户说太贵时先确认再拆解。",
    "body": "## 步骤\r\n先确认，再拆解。",
    "kind": "method",
    "industry": "saas",
    "customer_type": "",
    "scenario": "",
    "language": "zh",
    "tags": "价格, 异议",
    "when_to_use": "",
    "when_not_to_use": "",
    "steps": "确认顾虑\r\n拆解总价",
    "verification_interval_days": "90",
    "note": "",
    "evidence_experiment": "price-objection",
    "evidence_metric": "win_rate",
    "evidence_lift": "12",
    "evidence_ci_low": "4",
    "evidence_ci_high": "20",
    "evidence_p_value": "0.01",
    "evidence_sample_size": "1200",
    "evidence_decision": "adopt",
}


def test_editor_round_trip_creates_a_version_and_a_diff(seeded, login_as):
    client = login_as("manager")
    response = post_form(client, "/library/new", EDITOR_FORM)
    assert response.status_code == 302, response.get_data(as_text=True)
    url = response.location
    new_id = int(url.rsplit("/", 1)[1])
    with seeded.app_context():
        asset = db.session.get(Asset, new_id)
        assert (
            asset.status == "draft"
            and asset.current.body == "## 步骤\n先确认，再拆解。"
        )
        assert asset.current.steps == ["确认顾虑", "拆解总价"]
        assert asset.evidence.lift == pytest.approx(0.12)
    html = client.get(f"/library/assets/{new_id}/edit").get_data(as_text=True)
    assert 'value="12"' in html  # the lift comes back in %

    edited = {
        **EDITOR_FORM,
        "body": "## 步骤\r\n先确认，再拆解，最后给案例。",
        "note": "加案例",
    }
    response = post_form(client, f"/library/assets/{new_id}/edit", edited)
    assert response.status_code == 302
    unchanged = post_form(client, f"/library/assets/{new_id}/edit", edited)
    assert unchanged.status_code == 302
    with seeded.app_context():
        asset = db.session.get(Asset, new_id)
        assert [v.number for v in asset.versions] == [1, 2]
        assert asset.current.note == "加案例"
    diff = client.get(f"/library/assets/{new_id}/diff?from=1&to=2").get_data(
        as_text=True
    )
    assert 'class="diff-line del"' in diff and 'class="diff-line add"' in diff
    assert "最后给案例" in diff

    response = post_form(client, f"/library/assets/{new_id}/versions/1/restore")
    assert response.status_code == 302
    response = post_form(client, f"/library/assets/{new_id}/publish")
    with seeded.app_context():
        asset = db.session.get(Asset, new_id)
        assert asset.current.number == 3 and "最后给案例" not in asset.current.body
        assert asset.status == "published" and asset.verification_due_at is not None


def test_editor_keeps_input_on_error(seeded, login_as):
    client = login_as("admin")
    bad = {**EDITOR_FORM, "title": "", "evidence_experiment": "", "body": "保留我"}
    response = post_form(client, "/library/new", bad)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'class="field has-error"' in html and "保留我" in html
    bad = {**EDITOR_FORM, "evidence_experiment": "", "evidence_p_value": "0.5"}
    html = post_form(client, "/library/new", bad).get_data(as_text=True)
    assert "Name the experiment." in html
    with seeded.app_context():
        assert services.get_by_external_id("x") is None
        assert db.session.query(Asset).count() == 40  # nothing half-saved


def test_members_cannot_edit_or_publish(seeded, login_as):
    client = login_as("member")
    asset = asset_id(seeded, "pg-0001")
    assert post_form(client, "/library/new", EDITOR_FORM).status_code == 403
    assert post_form(client, f"/library/assets/{asset}/archive").status_code == 403
    assert post_form(client, "/library/preview", {"body": "x"}).status_code == 403


def test_work_list(seeded, login_as):
    client = login_as("manager")
    post_form(client, "/library/new", EDITOR_FORM)
    html = client.get("/library/manage").get_data(as_text=True)
    assert "价格异议三步法" in html


# --- synonyms and vocabularies ------------------------------------------------------


def test_synonyms_are_admin_only(seeded, login_as):
    member = login_as("member")
    assert member.get("/library/synonyms?q=续约").status_code == 200
    refused = post_form(member, "/library/synonyms", {"terms": "甲, 乙"})
    assert refused.status_code == 403

    admin = login_as("admin")
    response = post_form(admin, "/library/synonyms", {"terms": "回款, collections"})
    assert response.status_code == 302
    with seeded.app_context():
        group = services.synonym_groups()[-1]
        assert group.terms == ["回款", "collections"]
    too_few = post_form(admin, f"/library/synonyms/{group.id}", {"terms": "回款"})
    assert "at least two terms" in too_few.get_data(as_text=True)
    post_form(admin, f"/library/synonyms/{group.id}/delete")
    with seeded.app_context():
        assert all(
            g.terms != ["回款", "collections"] for g in services.synonym_groups()
        )
    assert post_form(member, f"/library/synonyms/{group.id}/delete").status_code in (
        403,
        404,
    )


def test_vocabulary_rename_and_retire(seeded, login_as):
    admin = login_as("admin")
    row = {"row": "1", "facet": "industry", "key": "saas", "label_zh": "软件服务"}
    post_form(admin, "/library/vocabularies", {**row, "label_en": "Software"})
    post_form(
        admin, "/library/vocabularies", {**row, "label_en": "Software", "toggle": "1"}
    )
    with seeded.app_context():
        values = services.facet_values("industry", active_only=False)
        saas = next(v for v in values if v.key == "saas")
        assert (saas.label_en, saas.active) == ("Software", False)
    html = admin.get("/library/?industry=saas").get_data(as_text=True)
    assert "Software" in html
    added = post_form(
        admin,
        "/library/vocabularies",
        {"facet": "scenario", "key": "pilot", "label_zh": "试点", "label_en": "Pilot"},
    )
    assert added.status_code == 302
    taken = post_form(
        admin,
        "/library/vocabularies",
        {"facet": "scenario", "key": "pilot", "label_zh": "试点", "label_en": "Pilot"},
    )
    assert "taken" in taken.get_data(as_text=True)
    assert (
        post_form(login_as("manager"), "/library/vocabularies", row).status_code == 403
    )
