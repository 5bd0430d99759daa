"""The rules of the asset library through its services: lifecycle and
verification, versions, evidence (also from an adopted experiment), imports,
and search staying current with the database."""

import json
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from asset_library import services
from asset_library.models import Asset, AssetStatus
from proving_ground.actions.models import ActionItem
from proving_ground.auth.models import User
from proving_ground.db import db, utcnow
from proving_ground.signals import experiment_decided
from proving_ground.validation import Invalid

DEMO = Path(services.__file__).with_name("demo_assets.jsonl")


def body(**overrides) -> dict:
    return {
        "title": "集采降价后的价格异议应对话术",
        "summary": "医院科室主任说“集采后你们太贵了”时的三步回应。",
        "body": "## 三步\n1. 认同\n2. 重构价值\n3. 给出分阶段方案",
        "kind": "script",
        "industry": "pharma",
        "customer_type": "hospital",
        "scenario": "objection-handling",
        "language": "zh",
        "tags": ["集采", "价格异议"],
        **overrides,
    }


@pytest.fixture
def library(app):
    with app.app_context():
        services.seed_vocabularies()
        db.session.commit()


def _search(query: str, **filters):
    result, assets = services.run_search(query, filters)
    return [assets[hit.id].current.title for hit in result.hits], result


def test_lifecycle_verification_and_lapse(app, library, make_user):
    owner = make_user("manager")
    with app.app_context():
        user = db.session.get(User, owner.id)
        asset = services.create_asset(body(), actor=user)
        assert asset.status == AssetStatus.DRAFT
        with pytest.raises(Invalid) as refused:
            services.transition(asset, "verify", actor=user)
        assert refused.value.status == 409
        services.transition(asset, "submit", actor=user)
        services.transition(asset, "publish", actor=user)
        assert asset.verifier_id == user.id
        assert asset.verification_due_at - asset.verified_at == timedelta(days=90)
        assert services.lapse_verifications(utcnow()) == 0
        lapsed = services.lapse_verifications(asset.verification_due_at)
        assert lapsed == 1 and asset.status == AssetStatus.NEEDS_REVERIFICATION
        item = db.session.scalar(sa.select(ActionItem))
        assert item.assignee_id == user.id and item.source == f"asset:{asset.id}"
        titles, _ = _search("集采")
        assert titles == [asset.current.title]  # lapsed assets stay findable
        services.transition(asset, "verify", actor=user)
        assert asset.status == AssetStatus.PUBLISHED
        services.transition(asset, "archive", actor=user)
        assert _search("集采")[0] == []


def test_every_edit_is_a_version_with_diff_and_restore(app, library):
    with app.app_context():
        asset = services.create_asset(body(), actor=None)
        services.update_asset(asset, {"body": body()["body"] + "\n4. 跟进"}, actor=None)
        services.update_asset(asset, {"industry": "medical-devices"}, actor=None)
        assert [v.number for v in asset.versions] == [1, 2]  # facets: no version
        (change,) = services.diff_versions(asset, 1, 2)
        assert change["field"] == "body" and ("+", "4. 跟进") in change["lines"]
        services.restore_version(asset, 1, actor=None)
        assert asset.current.number == 3 and asset.current.body == body()["body"]
        with pytest.raises(Invalid):
            services.diff_versions(asset, 1, 9)


def test_bad_fields_are_named(app, library):
    with app.app_context():
        with pytest.raises(Invalid) as bad:
            services.create_asset(
                body(title=" ", kind="essay", industry="mining", language="fr"),
                actor=None,
            )
        assert {"title", "kind", "industry", "language"} <= set(bad.value.fields)


def test_import_keeps_good_lines_and_updates_by_id(app, library):
    lines = DEMO.read_text(encoding="utf-8").splitlines()[:5]
    bad_kind = json.dumps({**json.loads(lines[0]), "id": "x-1", "kind": "poem"})
    with app.app_context():
        report = services.import_lines(
            [lines[0], "{not json", bad_kind, "[1]", *lines[1:5]], actor=None
        )
        assert len(report.created) == 5
        assert [e["line"] for e in report.errors] == [2, 3, 4]
        assert "kind" in report.errors[1]["fields"]
        again = json.loads(lines[0]) | {"title": "新标题 New title"}
        report = services.import_lines([json.dumps(again)], actor=None)
        assert report.updated == [again["id"]]
        asset = services.get_by_external_id(again["id"])
        assert [v.number for v in asset.versions] == [1, 2]
        exported = services.export_record(asset)
        assert exported["title"] == "新标题 New title"
        assert set(exported) <= services.IMPORT_FIELDS


def test_search_sees_edits_at_once_with_one_hit_per_asset(app, library):
    with app.app_context():
        asset = services.create_asset(body(), actor=None)
        services.transition(asset, "publish", actor=None)
        other = services.create_asset(
            body(
                title="回款逾期升级清单",
                summary="应收款逾期 30 天后的升级步骤。",
                body="1. 提醒\n2. 财务对账\n3. 升级到区域总监",
                kind="checklist",
                scenario="collections",
                tags=["回款"],
            ),
            actor=None,
        )
        services.transition(other, "publish", actor=None)
        db.session.commit()
        assert _search("话术")[0] == [asset.current.title]
        services.update_asset(asset, {"title": "带量采购价格异议话术"}, actor=None)
        db.session.commit()
        titles, result = _search("话术")
        assert result.total == 1 and titles == ["带量采购价格异议话术"]
        assert "集采降价后的价格异议应对话术" not in titles
        assert _search("回款")[0] == ["回款逾期升级清单"]


def test_synonyms_make_english_find_chinese(app, library):
    with app.app_context():
        asset = services.create_asset(body(), actor=None)
        services.transition(asset, "publish", actor=None)
        db.session.commit()
        assert _search("centralized procurement")[0] == [asset.current.title]
        for group in services.synonym_groups():
            if "集采" in group.terms:
                services.delete_synonym_group(group, actor=None)
        db.session.commit()
        assert _search("centralized procurement")[0] == []
        services.save_synonym_group(None, "集采, centralized procurement", actor=None)
        db.session.commit()
        assert _search("centralized procurement")[0] == [asset.current.title]


def test_facet_filters_and_counts(app, library):
    with app.app_context():
        for industry in ("pharma", "pharma", "saas"):
            asset = services.create_asset(body(industry=industry), actor=None)
            services.transition(asset, "publish", actor=None)
        db.session.commit()
        _titles, result = _search("集采", industry="saas")
        assert result.total == 1
        assert result.facets["industry"] == {"pharma": 2, "saas": 1}


def test_an_adopted_experiment_drafts_a_playbook_with_evidence(app, library):
    evidence = [
        {
            "metric": "converted",
            "variant": "value-reframe",
            "relative": {"estimate": 0.12, "ci_low": 0.03, "ci_high": 0.21},
            "adjusted_p_value": 0.004,
            "n_control": 2000,
            "n_variant": 2010,
        }
    ]
    with app.app_context():
        for decision in ("iterate", "adopt", "adopt"):
            experiment_decided.send(
                None,
                experiment_key="price-objection-script",
                decision=decision,
                rationale="Primary metric up, no guardrail harmed.",
                evidence=evidence,
                actor=None,
            )
        (asset,) = db.session.scalars(sa.select(Asset)).all()  # once, on adopt
        assert asset.status == AssetStatus.DRAFT and asset.kind == "playbook"
        card = services.evidence_dict(asset.evidence)
        assert card["lift"] == 0.12 and card["sample_size"] == 4010
        assert card["p_value"] == 0.004 and card["decision"] == "adopt"
        assert "+12.0%" in asset.current.body
        markdown = services.export_markdown(asset, "en")
        assert "price-objection-script" in markdown


def test_usage_and_ratings(app, library, make_user):
    reader = make_user("member")
    with app.app_context():
        user = db.session.get(User, reader.id)
        asset = services.create_asset(body(), actor=None)
        services.record_usage(asset, user, "view")
        services.record_usage(asset, user, "used", "客户接受了分阶段报价")
        services.rate(asset, user, 4)
        services.rate(asset, user, 5)
        with pytest.raises(Invalid):
            services.rate(asset, user, 6)
        summary = services.usage(asset)
        assert (summary.views, summary.used, summary.rating) == (1, 1, 5.0)
        assert summary.notes[0].outcome == "客户接受了分阶段报价"


def test_deciding_an_experiment_drafts_its_playbook(app, library, make_experiment):
    from experiments import results
    from experiments import services as experiment_services

    make_experiment()
    with app.app_context():
        experiment = experiment_services.get_experiment("price-objection-script")
        experiment_services.transition(experiment, "stop", actor=None)
        results.decide(experiment, "adopt", "Works in every region.", actor=None)
        (asset,) = db.session.scalars(sa.select(Asset)).all()
        assert asset.evidence.experiment_key == "price-objection-script"
        assert experiment.hypothesis_if in asset.current.body
        assert "Works in every region." in asset.current.body
