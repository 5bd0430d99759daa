"""The asset library JSON API: search in the issue's shape, imports and exports,
assets with versions, lifecycle, evidence and usage, vocabularies and synonyms,
with role checks; on SQLite and PostgreSQL."""

import io
import json
from pathlib import Path

import pytest
from support import Caller

import asset_library
from asset_library import services
from proving_ground.db import db

API = "/api/v1/assets"
DEMO = Path(asset_library.__file__).with_name("demo_assets.jsonl")
#: The first 30 demo assets: 16 for lead generation, 14 for first visits; two
#: mention 集采 (pg-0017, with evidence, and pg-0027).
FIRST_30 = DEMO.read_text(encoding="utf-8").splitlines()[:30]
SEARCH_KEYS = {"id", "external_id", "title", "kind", "snippet", "score", "evidence"}


@pytest.fixture
def api(app, make_user, make_token):
    """``api(*roles)``: a new user and a Caller acting as them."""

    def make(*roles, **fields) -> Caller:
        user = make_user(*roles, **fields)
        return Caller(app.test_client(), make_token(user), user, API)

    return make


@pytest.fixture
def seeded(app):
    with app.app_context():
        services.seed_vocabularies()
        db.session.commit()


@pytest.fixture
def editor(api, seeded) -> Caller:
    return api("manager")


@pytest.fixture
def member(api, seeded) -> Caller:
    return api("member")


@pytest.fixture
def library(editor) -> dict[str, int]:
    """The first 30 demo assets, imported and published: external id → id."""
    response = editor.post(
        "/import?publish=1",
        data="\n".join(FIRST_30).encode(),
        content_type="application/x-ndjson",
    )
    assert response.status_code == 200, response.json
    assert len(response.json["created"]) == 30 and not response.json["errors"]
    return ids(editor)


def ids(caller: Caller) -> dict[str, int]:
    items = caller.get("?per_page=200").json["items"]
    return {item["external_id"]: item["id"] for item in items}


def search(caller: Caller, **params) -> dict:
    response = caller.get("/search", query_string=params)
    assert response.status_code == 200, response.json
    return response.json


def problem_fields(response) -> set[str]:
    return set(response.json["error"]["fields"])


# --- search ------------------------------------------------------------------------


def test_search_has_the_issue_shape_and_finds_two_character_chinese(library, member):
    body = search(member, q="集采")
    assert {"total", "results", "facets", "page", "per_page"} <= set(body)
    assert body["total"] >= 2
    by_id = {hit["external_id"]: hit for hit in body["results"]}
    assert {"pg-0017", "pg-0027"} <= set(by_id)
    for hit in body["results"]:
        assert set(hit) >= SEARCH_KEYS
        assert "<mark>" in hit["snippet"] + hit["title_html"]
        assert hit["status"] == "published"
    assert by_id["pg-0017"]["evidence"]["experiment_id"]
    assert by_id["pg-0027"]["evidence"] is None
    assert set(body["facets"]) >= {"industry", "customer_type", "scenario"}
    assert sum(body["facets"]["scenario"].values()) == body["total"]


def test_facet_counts_and_filters(library, member):
    everything = search(member, per_page=100)
    assert everything["total"] == 30
    assert everything["facets"]["scenario"] == {
        "lead-generation": 16,
        "first-visit": 14,
    }
    first_visits = search(member, scenario="first-visit", per_page=100)
    assert first_visits["total"] == 14
    assert {hit["scenario"] for hit in first_visits["results"]} == {"first-visit"}
    # A facet's own filter leaves its counts alone (so other values stay offered).
    assert first_visits["facets"]["scenario"] == everything["facets"]["scenario"]
    english = search(member, language="en", scenario="first-visit")
    assert english["total"] == 2
    assert {hit["language"] for hit in english["results"]} == {"en"}
    page = search(member, per_page=5, page=2)
    assert page["page"] == 2 and page["per_page"] == 5 and len(page["results"]) == 5

    response = member.get("/search", query_string={"kind": "novel"})
    assert response.status_code == 422 and problem_fields(response) == {"kind"}
    response = member.get("/search", query_string={"q": "集" * 201})
    assert response.status_code == 422 and problem_fields(response) == {"q"}


def test_an_edited_asset_is_one_hit_with_its_new_title(library, editor, member):
    asset_id = library["pg-0017"]
    old_title = editor.get(f"/{asset_id}").json["title"]
    response = editor.patch(
        f"/{asset_id}",
        json={"title": "集采后医院药剂科首访清单（第二版）", "note": "集采背景"},
    )
    assert response.status_code == 200, response.json
    assert response.json["version"] == 2
    assert response.json["versions"][0]["note"] == "集采背景"

    hits = [h for h in search(member, q="集采")["results"] if h["id"] == asset_id]
    assert [h["title"] for h in hits] == ["集采后医院药剂科首访清单（第二版）"]

    versions = member.get(f"/{asset_id}/versions").json
    assert [v["number"] for v in versions] == [2, 1]
    assert member.get(f"/{asset_id}/versions/1").json["title"] == old_title
    assert member.get(f"/{asset_id}/versions/9").status_code == 404
    diff = member.get(f"/{asset_id}/diff").json
    assert diff["from"] == 1 and diff["to"] == 2
    title = next(c for c in diff["changes"] if c["field"] == "title")
    assert {"op": "-", "text": old_title} in title["lines"]
    assert member.get(f"/{asset_id}/diff?from=1&to=7").status_code == 404

    assert member.post(f"/{asset_id}/versions/1/restore").status_code == 403
    restored = editor.post(f"/{asset_id}/versions/1/restore")
    assert restored.status_code == 201, restored.json
    assert restored.json["number"] == 3 and restored.json["title"] == old_title
    hits = [h for h in search(member, q="药剂科")["results"] if h["id"] == asset_id]
    assert [h["title"] for h in hits] == [old_title]


def test_recommendations_for_a_situation(library, member):
    response = member.get(
        "/recommendations",
        query_string={"industry": "pharma", "scenario": "first-visit", "limit": 3},
    )
    assert response.status_code == 200, response.json
    results = response.json["results"]
    assert len(results) == 3
    assert results[0]["external_id"] == "pg-0017"
    assert set(results[0]["matched"]) == {"industry", "scenario"}
    assert results[0]["evidence"] is not None
    assert all(r["scenario"] == "first-visit" for r in results)
    response = member.get("/recommendations")
    assert response.status_code == 422


# --- import and export -------------------------------------------------------------


def line(**fields) -> str:
    record = {
        "title": "续约提醒话术",
        "summary": "到期前 90 天提醒客户续约。",
        "body": "先回顾使用数据，再谈续约。",
        "kind": "script",
        "industry": "saas",
        "customer_type": "smb",
        "scenario": "first-visit",
        "language": "zh",
        "tags": ["续约"],
        **fields,
    }
    return json.dumps({k: v for k, v in record.items() if v is not None})


def test_import_keeps_good_lines_and_reports_each_bad_one(editor, member):
    lines = [
        line(id="t-1"),
        "{not json",
        line(id="t-2", kind="poem"),
        line(id="t-3", title=None),
        line(id="t-4", colour="red"),
        "",
        line(id="bad id!"),
        line(id="t-5", evidence={"experiment_id": "x", "lift": "lots"}),
        line(id="t-6", title="Renewal reminder", language="en"),
    ]
    response = editor.post("/import", data="\n".join(lines), content_type="text/plain")
    assert response.status_code == 200, response.json
    assert {"t-1", "t-6"} <= set(response.json["created"])
    errors = {e["line"]: e for e in response.json["errors"]}
    assert set(errors) == {2, 3, 4, 5, 7, 8}
    assert set(errors[2]["fields"]) == {"line"}
    assert set(errors[3]["fields"]) == {"kind"} and errors[3]["id"] == "t-2"
    assert set(errors[4]["fields"]) == {"title"}
    assert set(errors[5]["fields"]) == {"colour"}
    assert set(errors[7]["fields"]) == {"id"}
    assert set(errors[8]["fields"]) == {"evidence.lift"}
    created = ids(editor)
    assert set(created) == {"t-1", "t-6"}  # the bad evidence undid its asset
    asset = editor.get(f"/{created['t-1']}").json
    assert asset["status"] == "draft"  # not published without ?publish=1
    assert member.get(f"/{created['t-1']}").status_code == 404


def test_reimporting_an_id_adds_a_version(library, editor, member):
    record = json.loads(FIRST_30[0])
    record["title"] = "展会线索48小时跟进打法（修订）"
    response = editor.post(
        "/import", data=json.dumps(record, ensure_ascii=False).encode()
    )
    assert response.status_code == 200, response.json
    assert response.json == {"created": [], "updated": ["pg-0001"], "errors": []}
    asset = member.get(f"/{library['pg-0001']}").json
    assert asset["title"] == record["title"]
    assert asset["version"] == 2 and asset["status"] == "published"
    assert len(ids(editor)) == 30


def test_import_takes_a_file_upload(editor):
    data = {"file": (io.BytesIO("\n".join(FIRST_30[:3]).encode()), "a.jsonl")}
    response = editor.post("/import?publish=true", data=data)
    assert response.status_code == 200, response.json
    assert response.json["created"] == ["pg-0001", "pg-0002", "pg-0003"]
    response = editor.post("/import", data={"file": (io.BytesIO(b" \n"), "x.jsonl")})
    assert response.status_code == 422 and problem_fields(response) == {"file"}
    response = editor.post(
        "/import", data={"other": "x"}, content_type="multipart/form-data"
    )
    assert response.status_code == 422 and problem_fields(response) == {"file"}
    # curl --data-binary @assets.jsonl sends the form content type
    response = editor.post(
        "/import",
        data=FIRST_30[3].encode(),
        content_type="application/x-www-form-urlencoded",
    )
    assert response.json["created"] == ["pg-0004"], response.json


def test_export_round_trips_through_import(library, editor, member):
    response = editor.get("/export")
    assert response.status_code == 200
    assert response.mimetype == "application/x-ndjson"
    exported = response.get_data(as_text=True)
    records = [json.loads(text) for text in exported.splitlines()]
    assert [r["id"] for r in records] == [json.loads(x)["id"] for x in FIRST_30]
    original = json.loads(FIRST_30[0])
    for name in ("title", "summary", "body", "kind", "tags", "scenario", "language"):
        assert records[0][name] == original[name]
    assert (
        records[0]["evidence"]["experiment_id"] == original["evidence"]["experiment_id"]
    )

    again = editor.post("/import", data=exported.encode())
    assert again.status_code == 200, again.json
    assert len(again.json["updated"]) == 30 and not again.json["errors"]
    assert editor.get("/export").get_data(as_text=True) == exported
    assert member.get(f"/{library['pg-0001']}").json["version"] == 1

    markdown = editor.get("/export?format=markdown&language=en")
    assert markdown.status_code == 200 and markdown.mimetype == "text/markdown"
    text = markdown.get_data(as_text=True)
    assert text.count("\n---\n") == 29 and text.startswith("# 展会线索48小时")
    assert member.get("/export").status_code == 403

    one = member.get(f"/{library['pg-0001']}/export")
    assert one.status_code == 200 and one.json["id"] == "pg-0001"
    one_md = member.get(f"/{library['pg-0001']}/export?format=markdown")
    assert one_md.get_data(as_text=True).startswith("# 展会线索48小时")
    assert member.get(f"/{library['pg-0001']}/export?format=pdf").status_code == 422


# --- assets, lifecycle, evidence ---------------------------------------------------


def test_create_edit_and_move_through_the_lifecycle(editor, member):
    body = {
        "title": "Renewal playbook for SaaS",
        "kind": "playbook",
        "language": "en",
        "industry": "saas",
        "scenario": "first-visit",
        "body": "Start 90 days early.",
        "tags": ["renewal"],
        "evidence": {"experiment_id": "renewal-90", "lift": 0.12, "p_value": 0.01},
    }
    response = editor.post("", json=body)
    assert response.status_code == 201, response.json
    asset = response.json
    assert asset["status"] == "draft" and asset["version"] == 1
    assert asset["evidence"]["lift"] == 0.12
    assert asset["owner"]["id"] == editor.user.id
    path = f"/{asset['id']}"

    for bad, field in (
        ({"title": "x", "kind": "poem"}, "kind"),
        ({"kind": "script"}, "title"),
        ({"title": "x", "kind": "script", "industry": "space"}, "industry"),
        ({"title": "x", "kind": "script", "colour": "red"}, "colour"),
        ({"title": "x", "kind": "script", "evidence": {"lift": 1}}, "evidence"),
    ):
        response = editor.post("", json=bad)
        assert response.status_code == 422, bad
        assert any(name.startswith(field) for name in problem_fields(response)), bad
    assert (
        editor.post("", data="[]", content_type="application/json").status_code == 400
    )
    assert editor.get(f"{path}/diff").json["changes"] == []

    assert editor.patch(path, json={"language": "fr"}).status_code == 422
    response = editor.patch(path, json={"summary": "Renew early.", "note": "summary"})
    assert response.status_code == 200 and response.json["version"] == 2
    response = editor.patch(path, json={"scenario": "lead-generation"})
    assert response.json["version"] == 2 and response.json["scenario"] == (
        "lead-generation"
    )

    assert member.get(path).status_code == 404  # a draft
    assert search(member, q="renewal")["total"] == 0
    transitions = f"{path}/transitions"
    assert member.post(transitions, json={"action": "publish"}).status_code == 403
    response = editor.post(transitions, json={"action": "dance"})
    assert response.status_code == 422 and problem_fields(response) == {"action"}
    response = editor.post(transitions, json={"action": "submit"})
    assert response.status_code == 200 and response.json["status"] == "in_review"
    response = editor.post(transitions, json={"action": "submit"})
    assert response.status_code == 409
    assert response.json["error"]["code"] == "conflict"
    response = editor.post(
        transitions, json={"action": "publish", "verifier_id": 999_999}
    )
    assert response.status_code == 422 and problem_fields(response) == {"verifier_id"}
    response = editor.post(transitions, json={"action": "publish"})
    assert response.status_code == 200 and response.json["status"] == "published"
    assert response.json["verifier"]["id"] == editor.user.id
    assert response.json["verification_due_at"]
    assert [h["id"] for h in search(member, q="renewal")["results"]] == [asset["id"]]

    response = editor.put(f"{path}/evidence", json={"experiment_id": "x", "lift": "a"})
    assert response.status_code == 422 and problem_fields(response) == {"evidence.lift"}
    response = editor.put(
        f"{path}/evidence", data="null", content_type="application/json"
    )
    assert response.status_code == 200 and response.json["evidence"] is None
    assert search(member, q="renewal")["results"][0]["evidence"] is None
    assert member.put(f"{path}/evidence", json={"experiment_id": "y"}).status_code == (
        403
    )

    response = editor.post(transitions, json={"action": "archive"})
    assert response.json["status"] == "archived"
    assert search(member, q="renewal")["total"] == 0
    assert editor.get("/987654").status_code == 404
    assert editor.patch("/987654", json={"title": "x"}).status_code == 404


def test_list_filters_and_visibility(library, editor, api, seeded):
    other = api("admin")
    draft = other.post("", json={"title": "草稿话术", "kind": "script"}).json
    member = api("member")
    listed = member.get("?per_page=200").json
    assert listed["total"] == 30 and draft["id"] not in {
        i["id"] for i in listed["items"]
    }
    mine = other.get("?mine=1").json
    assert [i["id"] for i in mine["items"]] == [draft["id"]]
    drafts = editor.get("?status=draft").json
    assert [i["id"] for i in drafts["items"]] == [draft["id"]]
    page = editor.get("?per_page=7&page=5").json
    assert page["total"] == 31 and page["pages"] == 5 and len(page["items"]) == 3
    assert editor.get("?status=gone").status_code == 422


# --- usage ----------------------------------------------------------------------


def test_usage_marks_and_ratings_change_the_summary(library, member, api):
    path = f"/{library['pg-0002']}"
    response = member.post(f"{path}/usage", json={"kind": "view"})
    assert response.status_code == 201 and response.json["views"] == 1
    member.post(f"{path}/usage", json={"kind": "copy"})
    response = member.post(
        f"{path}/usage", json={"kind": "used", "outcome": "约到了老板面谈"}
    )
    assert response.json["used"] == 1 and response.json["copies"] == 1
    assert response.json["notes"][0]["outcome"] == "约到了老板面谈"
    assert response.json["notes"][0]["user"]["id"] == member.user.id

    assert member.put(f"{path}/rating", json={"stars": 4}).json["rating"] == 4.0
    other = api("member")
    usage = other.put(f"{path}/rating", json={"stars": 2}).json
    assert usage["rating"] == 3.0 and usage["ratings"] == 2
    usage = member.put(f"{path}/rating", json={"stars": 5}).json
    assert usage["rating"] == 3.5 and usage["ratings"] == 2

    response = member.put(f"{path}/rating", json={"stars": 6})
    assert response.status_code == 422 and problem_fields(response) == {"stars"}
    response = member.post(f"{path}/usage", json={"kind": "liked"})
    assert response.status_code == 422 and problem_fields(response) == {"kind"}
    summary = member.get(path).json["usage"]
    assert (summary["views"], summary["copies"], summary["used"]) == (1, 1, 1)
    assert summary["rating"] == 3.5


# --- vocabularies, synonyms, roles -----------------------------------------------


def test_a_synonym_added_through_the_api_changes_search(library, member, api):
    admin = api("admin")
    assert search(member, q="loaner")["total"] == 0
    assert member.post("/synonyms", json={"terms": ["loaner", "样机"]}).status_code == (
        403
    )
    assert api("manager").post("/synonyms", json={"terms": ["a", "b"]}).status_code == (
        403
    )
    response = admin.post("/synonyms", json={"terms": ["loaner", "样机"]})
    assert response.status_code == 201, response.json
    group = response.json
    assert group["terms"] == ["loaner", "样机"]
    found = search(member, q="loaner")
    assert "pg-0001" in {hit["external_id"] for hit in found["results"]}
    assert any(g["id"] == group["id"] for g in member.get("/synonyms").json)

    response = admin.put(f"/synonyms/{group['id']}", json={"terms": ["loaner"]})
    assert response.status_code == 422 and problem_fields(response) == {"terms"}
    response = admin.put(f"/synonyms/{group['id']}", json={"terms": "loaner, 展会"})
    assert response.status_code == 200 and response.json["terms"] == ["loaner", "展会"]
    assert admin.delete(f"/synonyms/{group['id']}").status_code == 204
    assert search(member, q="loaner")["total"] == 0
    assert admin.delete(f"/synonyms/{group['id']}").status_code == 404


def test_vocabularies_are_read_by_all_and_managed_by_admins(member, api):
    vocabularies = member.get("/vocabularies").json
    assert set(vocabularies) == {"industry", "customer_type", "scenario"}
    pharma = next(v for v in vocabularies["industry"] if v["key"] == "pharma")
    assert pharma == {
        "key": "pharma",
        "zh": "医药",
        "en": "Pharmaceuticals",
        "active": True,
    }

    value = {"label_zh": "半导体", "label_en": "Semiconductors"}
    assert member.put("/vocabularies/industry/chips", json=value).status_code == 403
    admin = api("admin")
    response = admin.put("/vocabularies/industry/chips", json=value)
    assert response.status_code == 200, response.json
    assert response.json == {
        "key": "chips",
        "zh": "半导体",
        "en": "Semiconductors",
        "active": True,
    }
    response = admin.put(
        "/vocabularies/industry/chips", json={**value, "active": False}
    )
    assert response.json["active"] is False
    chips = [
        v for v in member.get("/vocabularies").json["industry"] if v["key"] == "chips"
    ]
    assert chips[0]["active"] is False
    response = admin.put("/vocabularies/planet/mars", json=value)
    assert response.status_code == 422 and problem_fields(response) == {"facet"}
    response = admin.put("/vocabularies/industry/chips", json={"label_zh": "x"})
    assert response.status_code == 422 and problem_fields(response) == {"label_en"}


def test_members_read_but_do_not_write(library, member, client):
    assert member.post("", json={"title": "x", "kind": "script"}).status_code == 403
    assert member.patch(f"/{library['pg-0001']}", json={"title": "x"}).status_code == (
        403
    )
    assert member.post("/import", data=FIRST_30[0].encode()).status_code == 403
    assert member.get(f"/{library['pg-0001']}").status_code == 200
    assert client.get(f"{API}/search?q=集采").status_code == 401


def test_openapi_documents_the_asset_api(client):
    paths = client.get("/api/v1/openapi.json").json["paths"]
    for path in (
        "/api/v1/assets/search",
        "/api/v1/assets/import",
        "/api/v1/assets/{asset_id}/transitions",
        "/api/v1/assets/synonyms/{group_id}",
    ):
        assert path in paths, path
