"""``proving-ground assets import | export | lapse``."""

import json
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

import asset_library
from asset_library import services
from asset_library.models import Asset, AssetStatus
from proving_ground.actions.models import ActionItem
from proving_ground.db import db, utcnow

DEMO = Path(asset_library.__file__).with_name("demo_assets.jsonl")
FIVE = DEMO.read_text(encoding="utf-8").splitlines()[:5]


@pytest.fixture
def seeded(app):
    with app.app_context():
        services.seed_vocabularies()
        db.session.commit()


def write(tmp_path, lines: list[str]) -> str:
    path = tmp_path / "assets.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def statuses(app) -> dict[str, str]:
    with app.app_context():
        rows = db.session.execute(sa.select(Asset.external_id, Asset.status)).all()
        return dict(rows)


def test_import_publishes_keeps_good_lines_and_reports_bad_ones(
    app, runner, seeded, tmp_path
):
    bad = json.dumps({"id": "pg-bad", "title": "坏行", "kind": "poem"})
    path = write(tmp_path, [*FIVE[:3], "{oops", bad, *FIVE[3:]])
    result = runner.invoke(args=["assets", "import", path, "--publish"])
    assert result.exit_code == 1, result.output
    assert "5 created, 0 updated, 2 line(s) refused." in result.stdout
    assert "line 4: line: Not JSON" in result.stderr
    assert "line 5 (pg-bad): kind:" in result.stderr
    assert "Importing" in result.stderr  # the progress bar
    assert statuses(app) == {f"pg-000{n}": "published" for n in range(1, 6)}

    changed = json.loads(FIVE[0]) | {"title": "展会线索跟进（修订）"}
    path = write(tmp_path, [json.dumps(changed, ensure_ascii=False)])
    result = runner.invoke(args=["assets", "import", path])
    assert result.exit_code == 0, result.output
    assert "0 created, 1 updated, 0 line(s) refused." in result.stdout
    with app.app_context():
        asset = services.get_by_external_id("pg-0001")
        assert asset.current.title == "展会线索跟进（修订）"
        assert asset.current.number == 2


def test_import_in_batches_counts_lines_across_batches(app, runner, seeded, tmp_path):
    lines = DEMO.read_text(encoding="utf-8").splitlines()[:120]
    lines[109] = "not json"
    result = runner.invoke(args=["assets", "import", write(tmp_path, lines)])
    assert result.exit_code == 1
    assert "119 created" in result.stdout
    assert "line 110: line: Not JSON" in result.stderr
    assert set(statuses(app).values()) == {AssetStatus.DRAFT}


def test_import_owner_must_exist(runner, seeded, tmp_path, make_user):
    path = write(tmp_path, FIVE[:1])
    result = runner.invoke(args=["assets", "import", path, "--owner", "no@x.cn"])
    assert result.exit_code == 2 and "No user" in result.output
    owner = make_user("manager")
    result = runner.invoke(args=["assets", "import", path, "--owner", owner.email])
    assert result.exit_code == 0, result.output


def test_export_round_trips_and_writes_markdown(app, runner, seeded, tmp_path):
    runner.invoke(args=["assets", "import", write(tmp_path, FIVE), "--publish"])
    out = tmp_path / "export.jsonl"
    result = runner.invoke(args=["assets", "export", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "5 asset(s) written" in result.output
    records = [json.loads(line) for line in out.read_text("utf-8").splitlines()]
    assert [r["id"] for r in records] == [json.loads(x)["id"] for x in FIVE]
    assert records[0]["title"] == json.loads(FIVE[0])["title"]

    result = runner.invoke(args=["assets", "import", str(out)])
    assert result.exit_code == 0 and "0 created, 5 updated" in result.stdout
    again = tmp_path / "again.jsonl"
    runner.invoke(args=["assets", "export", "--out", str(again)])
    assert again.read_text("utf-8") == out.read_text("utf-8")

    result = runner.invoke(
        args=["assets", "export", "--format", "markdown", "--status", "published"]
    )
    assert result.exit_code == 0
    assert result.stdout.startswith("# 展会线索48小时跟进打法")
    assert result.stdout.count("\n---\n") == 4


def test_lapse_marks_assets_and_tells_their_owners(
    app, runner, seeded, tmp_path, make_user
):
    owner = make_user("manager")
    path = write(tmp_path, FIVE[:2])
    runner.invoke(args=["assets", "import", path, "--publish", "--owner", owner.email])
    with app.app_context():
        asset = services.get_by_external_id("pg-0001")
        asset.verification_due_at = utcnow() - timedelta(days=1)
        asset_id = asset.id
        db.session.commit()
    result = runner.invoke(args=["assets", "lapse"])
    assert result.exit_code == 0, result.output
    assert "1 asset(s) need re-verification." in result.output
    assert statuses(app) == {
        "pg-0001": AssetStatus.NEEDS_REVERIFICATION,
        "pg-0002": AssetStatus.PUBLISHED,
    }
    with app.app_context():
        items = db.session.scalars(sa.select(ActionItem)).all()
        assert [(i.assignee_id, i.source) for i in items] == [
            (owner.id, f"asset:{asset_id}")
        ]
    assert "0 asset(s)" in runner.invoke(args=["assets", "lapse"]).output
