"""The 2PL model of ``assessments.irt``: recovery of known parameters from
simulated answers, the marginal log-likelihood, EAP abilities and standard errors
against independent numerical computations (scipy.integrate.quad per examinee,
finite differences), missing cells and excluded items; the model in the item
analysis API and page."""

import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, special
from support import Caller

from assessments import irt, item_analysis
from proving_ground.db import db


def simulate(people, a, b, seed, missing=0.0):
    """0/1 answers of ``people`` N(0, 1) examinees to 2PL items ``a``, ``b``; a
    share ``missing`` of cells not presented (NaN). Seeded: the same matrix on
    every run."""
    rng = np.random.default_rng(seed)
    theta = rng.normal(size=people)
    p = 1 / (1 + np.exp(-np.asarray(a) * (theta[:, None] - np.asarray(b))))
    answers = (rng.random(p.shape) < p).astype(float)
    answers[rng.random(p.shape) < missing] = np.nan
    columns = [f"q{j:02d}" for j in range(len(a))]
    index = [f"E{i:04d}" for i in range(people)]
    return pd.DataFrame(answers, index=index, columns=columns), theta


def ones(frame):
    return dict.fromkeys(frame.columns, 1.0)


def params(fit):
    return (
        np.array([item.a for item in fit.items]),
        np.array([item.b for item in fit.items]),
    )


@pytest.fixture(scope="module")
def small():
    """120 examinees, 6 items, a tenth of the cells missing, and its fit."""
    a = [0.8, 1.2, 1.6, 1.0, 2.0, 0.7]
    b = [-1.0, -0.3, 0.0, 0.5, 1.0, 1.5]
    frame, _ = simulate(120, a, b, seed=11, missing=0.1)
    return frame, irt.fit_2pl(frame, ones(frame))


def brute_force(frame, a, b, i):
    """Examinee ``i``'s marginal likelihood, posterior mean and SD of θ by
    adaptive quadrature over the real line, from the items they had only."""
    row = frame.iloc[i].to_numpy()
    seen = ~np.isnan(row)
    x, a, b = row[seen], a[seen], b[seen]

    def joint(t):
        p = special.expit(a * (t - b))
        density = math.exp(-t * t / 2) / math.sqrt(2 * math.pi)
        return density * np.prod(np.where(x == 1, p, 1 - p))

    def quad(f):  # the density beyond ±12 is below 1e-31
        return integrate.quad(f, -12, 12, epsabs=0, epsrel=1e-10, limit=200)[0]

    total = quad(joint)
    mean = quad(lambda t: t * joint(t)) / total
    second = quad(lambda t: t * t * joint(t)) / total
    return np.log(total), mean, np.sqrt(second - mean**2)


def test_recovers_known_parameters():
    rng = np.random.default_rng(3)
    a = rng.uniform(0.6, 2.2, 15)
    b = np.linspace(-2, 2, 15)
    frame, theta = simulate(2000, a, b, seed=5)
    fit = irt.fit_2pl(frame, ones(frame))
    assert fit.converged
    assert fit.excluded == () and fit.notes == ()
    a_hat, b_hat = params(fit)
    assert np.corrcoef(a, a_hat)[0, 1] > 0.95
    assert np.corrcoef(b, b_hat)[0, 1] > 0.99
    assert np.sqrt(np.mean((a_hat - a) ** 2)) < 0.15
    assert np.sqrt(np.mean((b_hat - b) ** 2)) < 0.1
    # The errors are about the size the standard errors say (z within ±3.5).
    a_se = np.array([item.a_se for item in fit.items])
    b_se = np.array([item.b_se for item in fit.items])
    assert np.all(np.abs(a_hat - a) / a_se < 3.5)
    assert np.all(np.abs(b_hat - b) / b_se < 3.5)
    estimated = np.array([person.theta for person in fit.persons])
    assert np.corrcoef(theta, estimated)[0, 1] > 0.85
    assert [item.n for item in fit.items] == [2000] * 15


def test_log_likelihood_and_eap_match_quad_per_examinee(small):
    frame, fit = small
    a, b = params(fit)
    reference = [brute_force(frame, a, b, i) for i in range(len(frame))]
    log_l = sum(r[0] for r in reference)
    assert fit.log_likelihood == pytest.approx(log_l, abs=1e-6)
    persons = {person.examinee: person for person in fit.persons}
    for examinee, (_, mean, sd) in zip(frame.index, reference, strict=True):
        assert persons[examinee].theta == pytest.approx(mean, abs=1e-6)
        assert persons[examinee].theta_sd == pytest.approx(sd, abs=1e-6)
        seen = int(frame.loc[examinee].notna().sum())
        assert persons[examinee].n == seen


def test_estimates_maximise_and_standard_errors_match_finite_differences(small):
    """At the estimates the numerical gradient of the marginal log-likelihood in
    (a, b) is zero, and the SEs are the square roots of the inverse of minus
    its numerical Hessian (central differences; checks the analytic Hessian
    and the delta method for b)."""
    frame, fit = small
    responses, _ = irt.dichotomise(frame, ones(frame))
    a, b = params(fit)
    point = np.column_stack([a, b]).ravel()

    def f(v):
        return irt.log_likelihood(responses, v[0::2], v[1::2]).sum()

    h, m = 1e-4, len(point)
    steps = np.eye(m) * h
    gradient = np.array([(f(point + e) - f(point - e)) / (2 * h) for e in steps])
    assert np.abs(gradient).max() < 1e-3
    hessian = np.empty((m, m))
    for i in range(m):
        for j in range(i, m):
            ei, ej = steps[i], steps[j]
            hessian[i, j] = hessian[j, i] = (
                f(point + ei + ej)
                - f(point + ei - ej)
                - f(point - ei + ej)
                + f(point - ei - ej)
            ) / (4 * h * h)
    se = np.sqrt(np.diag(np.linalg.inv(-hessian)))
    a_se = [item.a_se for item in fit.items]
    b_se = [item.b_se for item in fit.items]
    np.testing.assert_allclose(a_se, se[0::2], rtol=1e-4)
    np.testing.assert_allclose(b_se, se[1::2], rtol=1e-4)


def test_missing_cells_are_left_out_not_counted_wrong(small):
    frame, fit = small
    # An examinee who had none of the items adds nothing and is left out.
    blank = pd.DataFrame(np.nan, index=["nobody"], columns=frame.columns)
    with_blank = irt.fit_2pl(pd.concat([frame, blank]), ones(frame))
    assert "nobody" not in {person.examinee for person in with_blank.persons}
    assert [(n.code, n.value) for n in with_blank.notes] == [
        ("persons_without_items", 1.0),
        ("small_sample", 120.0),
    ]
    np.testing.assert_allclose(params(with_blank), params(fit), atol=1e-6)
    assert with_blank.log_likelihood == pytest.approx(fit.log_likelihood, abs=1e-8)
    # Counting the missing cells as wrong answers is a different model.
    as_wrong = irt.fit_2pl(frame.fillna(0.0), ones(frame))
    assert abs(as_wrong.items[0].b - fit.items[0].b) > 0.05
    assert [item.n for item in fit.items] == frame.notna().sum().tolist()


def test_items_without_a_2pl_estimate_are_excluded_with_the_reason(small):
    frame, fit = small
    extended = frame.copy()
    extended["essay"] = np.where(np.arange(len(frame)) % 3 == 0, 1.0, 2.0)
    extended.loc[extended.index[:5], "essay"] = 0.0
    extended["easy"] = 1.0
    extended["hard"] = np.where(np.arange(len(frame)) % 2 == 0, 0.0, np.nan)
    extended["unused"] = np.nan
    extended["rare"] = np.where(
        np.arange(len(frame)) < 29, 1.0 * (frame.index < "E0010"), np.nan
    )
    maxima = {**ones(frame), "essay": 2.0, "easy": 1.0, "hard": 1.0}
    maxima |= {"unused": 1.0, "rare": 1.0}
    result = irt.fit_2pl(extended, maxima)
    assert [(e.item, e.reason) for e in result.excluded] == [
        ("essay", "partial_credit"),
        ("easy", "all_right"),
        ("hard", "all_wrong"),
        ("unused", "no_responses"),
        ("rare", "few_responses"),
    ]
    codes = {note.code: note.items for note in result.notes}
    assert codes["partial_credit"] == ("essay",)
    assert codes["no_variance"] == ("easy", "hard")
    assert codes["few_responses"] == ("rare",)
    # 29 responses are too few; with 29 required the item is modelled.
    assert irt.fit_2pl(extended, maxima, min_responses=29).items[-1].item == "rare"
    np.testing.assert_allclose(params(result), params(fit), atol=1e-6)


def test_a_maximum_above_one_counts_as_right_and_reversed_items_get_a_negative_a():
    frame, _ = simulate(600, [1.0, 1.5, 1.2, 0.9, 1.8], [-0.5, 0, 0.5, 1, -1], 21)
    twice = frame * 2
    scaled = irt.fit_2pl(twice, dict.fromkeys(frame.columns, 2.0))
    plain = irt.fit_2pl(frame, ones(frame))
    np.testing.assert_allclose(params(scaled), params(plain), atol=1e-9)
    reversed_key = frame.copy()
    reversed_key["q04"] = 1 - reversed_key["q04"]
    a, _ = params(irt.fit_2pl(reversed_key, ones(frame)))
    assert a[4] < -1 and np.all(a[:4] > 0.5)


def test_too_few_items_fits_nothing():
    frame, _ = simulate(100, [1.0, 1.0], [0.0, 0.5], 2)
    fit = irt.fit_2pl(frame, ones(frame))
    assert fit.items == () and fit.persons == ()
    assert fit.log_likelihood is None and not fit.converged
    assert [(n.code, n.value) for n in fit.notes] == [("too_few_items", 2.0)]


def test_fit_serialises_to_json(small):
    _, fit = small
    out = json.loads(json.dumps(fit.to_dict()))
    assert set(out) == {
        "items",
        "persons",
        "excluded",
        "log_likelihood",
        "converged",
        "iterations",
        "quadrature_points",
        "notes",
    }
    assert set(out["items"][0]) == {"item", "a", "a_se", "b", "b_se", "n"}
    assert set(out["persons"][0]) == {"examinee", "theta", "theta_sd", "n"}
    assert out["notes"] == [{"code": "small_sample", "items": [], "value": 120.0}]


# --- through the API and the page -----------------------------------------------


def _import(app, frame):
    rows = ["examinee,item,score,max_score"]
    for examinee, row in frame.iterrows():
        rows += [f"{examinee},{item},{int(v)},1" for item, v in row.dropna().items()]
    with app.app_context():
        exam = item_analysis.create_exam_api(
            {"key": "paper-irt", "title": "Paper", "external": True}, actor=None
        )
        item_analysis.import_responses(exam, "\n".join(rows), actor=None)
        db.session.commit()


def test_api_adds_the_2pl_model_on_request(app, make_user, make_token, small):
    frame, fit = small
    _import(app, frame)
    hr = make_user("hr")
    caller = Caller(app.test_client(), make_token(hr), hr, "/api/v1/exams")
    plain = caller.get("/paper-irt/item-analysis")
    assert plain.status_code == 200 and "irt" not in plain.get_json()
    assert caller.get("/paper-irt/item-analysis?model=3pl").status_code == 422
    response = caller.get("/paper-irt/item-analysis?model=2pl")
    assert response.status_code == 200
    model = response.get_json()["irt"]
    assert model["converged"] is True
    assert model["log_likelihood"] == pytest.approx(fit.log_likelihood, abs=1e-9)
    assert [i["item"] for i in model["items"]] == list(frame.columns)
    np.testing.assert_allclose(
        [[i["a"], i["b"], i["a_se"], i["b_se"]] for i in model["items"]],
        [[i.a, i.b, i.a_se, i.b_se] for i in fit.items],
        rtol=1e-9,
    )
    persons = {p["examinee"]: p for p in model["persons"]}
    assert set(persons) == set(frame.index)
    assert persons["E0000"]["theta"] == pytest.approx(fit.persons[0].theta)
    assert model["notes"] == [
        {
            "code": "small_sample",
            "items": [],
            "value": 120.0,
            "message": "Only 120 examinees: 2PL estimates need a few hundred to "
            "be stable, so read them alongside the classical statistics above.",
        }
    ]


def test_the_page_offers_and_shows_the_2pl_model(app, login_as, small):
    frame, fit = small
    _import(app, frame)
    hr = login_as("hr")
    page = hr.get("/assessments/hr/exams/paper-irt/item-analysis")
    assert page.status_code == 200
    assert "model=2pl" in page.get_data(as_text=True)
    shown = hr.get("/assessments/hr/exams/paper-irt/item-analysis?model=2pl")
    text = shown.get_data(as_text=True)
    assert shown.status_code == 200 and "Discrimination a" in text
    assert f"{fit.items[0].a:.2f}" in text and f"{fit.items[0].b_se:.2f}" in text
