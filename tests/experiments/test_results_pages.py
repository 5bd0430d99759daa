"""The results pages: results with what-if settings, the decision, action items on
the home page, the CSV download and the printable report."""

import random
import re
from datetime import timedelta

import pytest
from babel.numbers import format_percent
from support import login, post_form

from experiments import ingest, services
from experiments.models import ExperimentDecision, ExperimentStatus
from proving_ground.actions.models import ActionItem
from proving_ground.db import db, utcnow

KEY = "price-objection-script"


def _fill(app, key=KEY, *, control=200, treatment=200, rates=(0.10, 0.30)):
    """Expose units over the last days and send their won deals (the treatment
    converts far more often, so the primary metric is clearly better)."""
    rng = random.Random(3)  # noqa: S311 (simulated test data)
    now = utcnow()
    with app.app_context():
        experiment = services.get_experiment(key)
        events = []
        for variant, count, rate in (
            ("control", control, rates[0]),
            ("new_script", treatment, rates[1]),
        ):
            exposures = []
            for i in range(count):
                unit = f"{variant}-{i}"
                at = now - timedelta(days=10) + timedelta(hours=i % 150)
                exposures.append(
                    {"unit_id": unit, "variant_key": variant, "first_exposed_at": at}
                )
                if rng.random() < rate:
                    events.append(
                        {
                            "event_id": f"won-{unit}",
                            "type": "deal_won",
                            "unit_id": unit,
                            "value": rng.uniform(5_000, 50_000),
                            "occurred_at": (at + timedelta(days=2)).isoformat(),
                        }
                    )
            services.record_exposures(experiment, exposures, source="event")
        result = ingest.ingest(events)
        assert not result.rejected, result.rejected[:3]
        db.session.commit()


@pytest.fixture
def experiment(app, make_experiment):
    make_experiment()
    _fill(app)
    return KEY


@pytest.fixture
def owner(app, manager):
    """A browser signed in as the experiment's owner (the manager fixture)."""
    client = app.test_client()
    assert login(client, manager.email).status_code == 302
    return client


def _page(client, url, **kwargs):
    response = client.get(url, **kwargs)
    assert response.status_code == 200, (url, response.status_code)
    return response.get_data(as_text=True)


def _stop(manager_api):
    client, auth = manager_api
    response = client.post(f"/api/v1/experiments/{KEY}/stop", headers=auth)
    assert response.status_code == 200, response.json


@pytest.mark.parametrize("role", ["member", "hr", "manager", "admin"])
def test_pages_render_for_every_role(experiment, login_as, role):
    client = login_as(role)
    for url in (
        f"/experiments/{KEY}/results",
        f"/experiments/{KEY}/report",
        f"/experiments/{KEY}",
    ):
        page = _page(client, url)
        assert "<script>" not in page and 'style="' not in page, url
    page = _page(client, f"/experiments/{KEY}/results")
    assert 'data-chart="forest"' in page and 'data-chart="cumulative-lift"' in page
    assert "/vendor/plotly.min.js" in page
    assert "raised Converted by" in page
    # Only the owner or an administrator gets the forms.
    assert ('action-items"' in page and 'name="title"' in page) == (role == "admin")
    assert 'name="decision"' not in page  # the experiment is still running


def test_page_shows_the_numbers_of_the_api(experiment, login_as, manager_api):
    api, auth = manager_api
    payload = api.get(f"/api/v1/experiments/{KEY}/results", headers=auth).json
    client = login_as("member")
    page = _page(client, f"/experiments/{KEY}/results")
    converted = payload["metrics"][0]
    assert converted["metric"] == "converted" and converted["role"] == "primary"
    entry = converted["variants"][1]
    relative = entry["relative"]
    lift = format_percent(relative["estimate"], "#,##0.0%", locale="en")
    low = format_percent(relative["ci_low"], "#,##0.0%", locale="en")
    high = format_percent(relative["ci_high"], "#,##0.0%", locale="en")
    assert f"new_script raised Converted by {lift} (95% CI {low} to {high})." in page
    table = format_percent(relative["estimate"], "+#,##0.0%;-#,##0.0%", locale="en")
    assert table in page
    assert payload["recommendation"]["rule"] == "primary_better"
    assert (
        "The primary metric Converted improved significantly with new_script." in page
    )
    # In Chinese the metric name comes from the catalogue's zh name.
    zh = _page(client, f"/experiments/{KEY}/results", headers={"Accept-Language": "zh"})
    assert "成交转化" in zh and '<html lang="zh-CN">' in zh


def test_what_if_settings(experiment, login_as):
    client = login_as("member")
    page = _page(
        client,
        f"/experiments/{KEY}/results?alpha=0.01&correction=bh&sequential=1&cuped=0",
    )
    assert "99% CI" in page and "Benjamini–Hochberg" in page
    assert "Sequential, N* =" in page
    assert "report?cuped=0&amp;sequential=1&amp;alpha=0.01&amp;correction=bh" in page
    page = _page(client, f"/experiments/{KEY}/results?alpha=2&sequential_tuning=-3")
    assert "A number between 0 and 0.5, e.g. 0.05." in page
    assert "A positive whole number of units." in page
    assert "the results below use the experiment's own settings" in page
    assert "95% CI" in page
    # The CSV of a refused setting goes back to the page, which explains.
    response = client.get(f"/experiments/{KEY}/results.csv?alpha=x")
    assert response.status_code == 302 and "/results?alpha=x" in response.location


def test_csv_download(experiment, login_as, manager_api):
    client = login_as("member")
    response = client.get(f"/experiments/{KEY}/results.csv?alpha=0.1")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeffmetric,role,kind,variant,n,")
    api, auth = manager_api
    same = api.get(f"/api/v1/experiments/{KEY}/results.csv?alpha=0.1", headers=auth)
    assert same.get_data(as_text=True) == text


def test_members_and_other_managers_cannot_decide(experiment, login_as, manager_api):
    _stop(manager_api)
    member = login_as("member")
    response = post_form(
        member,
        f"/experiments/{KEY}/decide",
        {"decision": "adopt", "rationale": "Looks good"},
    )
    assert response.status_code == 403
    other = login_as("manager")
    response = post_form(
        other, f"/experiments/{KEY}/decide", {"decision": "adopt", "rationale": "x"}
    )
    assert response.status_code == 403
    assert 'name="decision"' not in _page(other, f"/experiments/{KEY}/results")
    response = post_form(
        other, f"/experiments/{KEY}/action-items", {"title": "x", "assignee": "1"}
    )
    assert response.status_code == 403


def test_owner_decides_a_stopped_experiment(app, experiment, owner, manager_api):
    # While running there is no form, and a forged post is refused.
    page = _page(owner, f"/experiments/{KEY}/results")
    assert 'name="decision"' not in page and "stop the experiment" in page
    response = post_form(
        owner,
        f"/experiments/{KEY}/decide",
        {"decision": "adopt", "rationale": "Too early"},
    )
    assert "Only a stopped experiment can be decided" in response.get_data(as_text=True)
    _stop(manager_api)
    page = _page(owner, f"/experiments/{KEY}/results")
    # The form is prefilled with the recommendation.
    assert re.search(r'value="adopt"[^>]*checked|checked[^>]*value="adopt"', page)
    assert "Recommendation: Adopt." in page
    response = post_form(
        owner, f"/experiments/{KEY}/decide", {"decision": "adopt", "rationale": " "}
    )
    assert "Say why: the rationale is part of the record." in response.get_data(
        as_text=True
    )
    response = post_form(
        owner,
        f"/experiments/{KEY}/decide",
        {"decision": "adopt", "rationale": "Conversion clearly up; roll it out."},
    )
    assert response.status_code == 302
    assert response.location.endswith(f"/experiments/{KEY}/results#decision")
    with app.app_context():
        assert services.get_experiment(KEY).status == ExperimentStatus.DECIDED
        row = db.session.query(ExperimentDecision).one()
        assert row.decision == "adopt"
    for url in (f"/experiments/{KEY}/results", f"/experiments/{KEY}"):
        page = _page(owner, url)
        assert "Conversion clearly up; roll it out." in page
        assert "the recommendation was: Adopt" in page
    report = _page(owner, f"/experiments/{KEY}/report")
    assert "Conversion clearly up; roll it out." in report
    assert "reps answer price objections with the value script" in report
    assert "data-print" in report and "Save as PDF" in report


def test_action_items_reach_the_assignees_home_page(app, experiment, owner, make_user):
    member = make_user("member", name="Li Na")
    response = post_form(
        owner,
        f"/experiments/{KEY}/action-items",
        {"title": "", "assignee": str(member.id)},
    )
    assert "Say what is to be done." in response.get_data(as_text=True)
    response = post_form(
        owner,
        f"/experiments/{KEY}/action-items",
        {
            "title": "Train the East team on the new script",
            "assignee": str(member.id),
            "due_on": "2026-12-15",
        },
    )
    assert response.status_code == 302
    assert response.location.endswith("#action-items")
    page = _page(owner, f"/experiments/{KEY}/results")
    assert "Train the East team on the new script" in page and "Li Na" in page

    browser = app.test_client()
    login(browser, member.email)
    home = _page(browser, "/")
    assert "Train the East team on the new script" in home
    assert f'href="/experiments/{KEY}/results"' in home
    with app.app_context():
        item = db.session.query(ActionItem).one()
        assert item.source == f"experiment:{KEY}"
    assert f'action="/actions/{item.id}/done"' in home
    response = post_form(browser, f"/actions/{item.id}/done")
    assert response.status_code == 302
    home = _page(browser, "/")
    assert "Marked as done: Train the East team" in home
    assert f'action="/actions/{item.id}/done"' not in home
    assert "Done" in _page(owner, f"/experiments/{KEY}/results")


def test_sample_ratio_mismatch_banner(app, make_experiment, login_as):
    make_experiment()
    _fill(app, control=300, treatment=150)
    page = _page(login_as("member"), f"/experiments/{KEY}/results")
    assert "Sample ratio mismatch (SRM): do not trust these results" in page
    assert "differs from the configured weights by more than chance allows" in page
    assert "fix the assignment" in page.lower()


def test_results_of_a_draft_without_units(make_experiment, login_as):
    make_experiment(start=False)
    client = login_as("member")
    page = _page(client, f"/experiments/{KEY}/results")
    assert "Low sample" in page
    assert client.get("/experiments/no-such/results").status_code == 404
