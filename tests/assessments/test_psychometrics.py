"""Item analysis formulas, each pinned to 1e-9 against an independent computation:
pingouin (Cronbach's α and its Feldt interval), scipy.stats (skewness, kurtosis,
Pearson's r, the F distribution) and Moodle's definitions worked out here with
plain numpy (``question/classes/statistics/questions/calculator.php``)."""

import numpy as np
import pandas as pd
import pingouin
import pytest
from scipy import stats

from assessments import psychometrics

TOL = 1e-9

# Eight examinees, five items: four 0/1 items and one scored 0-3 (max 3).
MATRIX = np.array(
    [
        [1, 1, 1, 0, 3],
        [1, 1, 0, 1, 2],
        [1, 0, 1, 1, 3],
        [0, 1, 0, 0, 1],
        [1, 1, 1, 1, 2],
        [0, 0, 0, 1, 0],
        [1, 0, 1, 0, 1],
        [0, 0, 0, 0, 2],
    ],
    dtype=float,
)
MAXIMA = np.array([1, 1, 1, 1, 3], dtype=float)
ITEMS = ["q1", "q2", "q3", "q4", "q5"]


def frame(matrix=MATRIX, items=ITEMS) -> pd.DataFrame:
    return pd.DataFrame(
        matrix, columns=items, index=[f"e{i}" for i in range(len(matrix))]
    )


def analyse(matrix=MATRIX, maxima=MAXIMA, **kwargs):
    items = [f"q{j + 1}" for j in range(matrix.shape[1])]
    return psychometrics.analyse(
        frame(matrix, items), dict(zip(items, maxima, strict=True)), **kwargs
    )


def by_item(result):
    return {item.item: item for item in result.items}


def test_item_statistics_match_moodles_definitions():
    result = by_item(analyse())
    total = MATRIX.sum(axis=1)
    n = len(MATRIX)
    # Moodle's sums with n - 1 in every variance and covariance.
    for j, item in enumerate(ITEMS):
        x, rest = MATRIX[:, j], total - MATRIX[:, j]
        dx, dr = x - x.mean(), rest - rest.mean()
        var_x, var_r = (dx @ dx) / (n - 1), (dr @ dr) / (n - 1)
        cov_xr = (dx @ dr) / (n - 1)
        sx, sr = np.sort(x) - x.mean(), np.sort(rest) - rest.mean()
        cov_max = (sx @ sr) / (n - 1)
        stats_ = result[item]
        assert stats_.n == n
        assert stats_.facility == pytest.approx(x.mean() / MAXIMA[j], abs=TOL)
        assert stats_.sd == pytest.approx(np.sqrt(var_x) / MAXIMA[j], abs=TOL)
        assert stats_.discrimination_index == pytest.approx(
            cov_xr / np.sqrt(var_x * var_r), abs=TOL
        )
        assert stats_.discrimination_index == pytest.approx(
            stats.pearsonr(x, rest).statistic, abs=TOL
        )
        assert stats_.discriminative_efficiency == pytest.approx(
            cov_xr / cov_max, abs=TOL
        )
        assert stats_.point_biserial == pytest.approx(
            stats.pearsonr(x, total).statistic, abs=TOL
        )
        assert stats_.intended_weight == pytest.approx(MAXIMA[j] / 7, abs=TOL)


def test_effective_weight_is_moodles_share_of_root_covariances():
    result = by_item(analyse())
    total = MATRIX.sum(axis=1)
    covs = [np.cov(MATRIX[:, j], total, ddof=1)[0, 1] for j in range(5)]
    assert all(c >= 0 for c in covs)
    roots = np.sqrt(covs)
    for j, item in enumerate(ITEMS):
        assert result[item].effective_weight == pytest.approx(
            roots[j] / roots.sum(), abs=TOL
        )
    assert sum(i.effective_weight for i in result.values()) == pytest.approx(1, abs=TOL)


def test_negative_covariance_has_no_effective_weight_and_is_flagged():
    matrix = MATRIX.copy()
    matrix[:, 3] = [0, 0, 0, 1, 0, 1, 0, 1]  # the weak answer it right
    result = by_item(analyse(matrix))
    total = matrix.sum(axis=1)
    covs = np.array([np.cov(matrix[:, j], total)[0, 1] for j in range(5)])
    assert covs[3] < 0
    roots = np.sqrt(covs[covs >= 0])
    assert result["q4"].effective_weight is None
    codes = [flag.code for flag in result["q4"].flags]
    assert "negative_covariance" in codes
    assert "negative_discrimination" in codes
    assert result["q1"].effective_weight == pytest.approx(
        np.sqrt(covs[0]) / roots.sum(), abs=TOL
    )


def test_test_statistics_match_pingouin_and_scipy():
    result = analyse().test
    total = MATRIX.sum(axis=1) / MAXIMA.sum()
    alpha, ci = pingouin.cronbach_alpha(frame())
    assert result.n == 8 and result.items == 5
    assert result.alpha == pytest.approx(alpha, abs=TOL)
    # pingouin rounds the interval to 3 decimals; Feldt's formula exactly below.
    assert result.alpha_ci == pytest.approx(list(ci), abs=5e-4)
    f = stats.f(7, 7 * 4)
    assert result.alpha_ci[0] == pytest.approx(1 - (1 - alpha) * f.ppf(0.975), abs=TOL)
    assert result.alpha_ci[1] == pytest.approx(1 - (1 - alpha) * f.ppf(0.025), abs=TOL)
    # Cronbach's α from item and total variances, the textbook way.
    k = 5
    textbook = (
        k
        / (k - 1)
        * (1 - MATRIX.var(axis=0, ddof=1).sum() / MATRIX.sum(axis=1).var(ddof=1))
    )
    assert result.alpha == pytest.approx(textbook, abs=TOL)
    assert result.kr20 is None  # q5 is not 0/1
    assert result.mean == pytest.approx(total.mean(), abs=TOL)
    assert result.sd == pytest.approx(total.std(ddof=1), abs=TOL)
    assert result.skewness == pytest.approx(stats.skew(total, bias=False), abs=TOL)
    assert result.kurtosis == pytest.approx(stats.kurtosis(total, bias=False), abs=TOL)
    assert result.error_ratio == pytest.approx(np.sqrt(1 - alpha), abs=TOL)
    assert result.sem == pytest.approx(total.std(ddof=1) * np.sqrt(1 - alpha), abs=TOL)


def test_kr20_equals_the_pq_formula_for_dichotomous_items():
    rng = np.random.default_rng(7)
    ability = rng.normal(size=120)
    difficulty = np.linspace(-1.5, 1.5, 12)
    matrix = (
        rng.random((120, 12)) < 1 / (1 + np.exp(-(ability[:, None] - difficulty)))
    ).astype(float)
    result = analyse(matrix, np.ones(12)).test
    p = matrix.mean(axis=0)
    total = matrix.sum(axis=1)
    kr20 = 12 / 11 * (1 - (p * (1 - p)).sum() / total.var(ddof=0))
    assert result.kr20 == pytest.approx(kr20, abs=TOL)
    assert result.alpha == pytest.approx(kr20, abs=TOL)
    assert result.alpha == pytest.approx(
        pingouin.cronbach_alpha(pd.DataFrame(matrix))[0], abs=TOL
    )


def test_missing_cells_use_each_items_respondents():
    matrix = MATRIX.copy()
    matrix[0, 1] = np.nan
    matrix[5, 4] = np.nan
    matrix[6, 0] = np.nan
    result = analyse(matrix)
    items = by_item(result)
    seen = ~np.isnan(matrix)
    points = np.nansum(matrix, axis=1)
    possible = seen @ MAXIMA
    # α of a form of the mean length from the mean item variance and the mean
    # covariance of the pairs answered together (each over those examinees).
    k = seen.sum(axis=1).mean()
    variances, covariances = [], []
    for a in range(5):
        for b in range(5):
            both = seen[:, a] & seen[:, b]
            xa, xb = matrix[both, a], matrix[both, b]
            c = ((xa - xa.mean()) * (xb - xb.mean())).sum() / (both.sum() - 1)
            (variances if a == b else covariances).append(c)
    v, c = np.mean(variances), np.mean(covariances)
    alpha = k * c / (v + (k - 1) * c)
    assert k == pytest.approx(37 / 8)
    assert result.test.alpha == pytest.approx(alpha, abs=TOL)
    f = stats.f(7, 7 * (k - 1))
    assert result.test.alpha_ci[0] == pytest.approx(
        1 - (1 - alpha) * f.ppf(0.975), abs=TOL
    )
    assert result.test.kr20 is None
    score = points / possible
    assert result.test.mean == pytest.approx(score.mean(), abs=TOL)
    for j, item in enumerate(ITEMS):
        rows = seen[:, j]
        x = matrix[rows, j]
        rest = (points[rows] - x) / (possible[rows] - MAXIMA[j])
        assert items[item].n == rows.sum()
        assert items[item].facility == pytest.approx(x.mean() / MAXIMA[j], abs=TOL)
        assert items[item].discrimination_index == pytest.approx(
            stats.pearsonr(x, rest).statistic, abs=TOL
        )
        assert items[item].point_biserial == pytest.approx(
            stats.pearsonr(x, score[rows]).statistic, abs=TOL
        )


def test_alpha_of_forms_drawn_from_a_larger_pool():
    # Forms of three items out of five: q1 and q2 never meet; α is still that of
    # a three-item form, from the pairs that did meet.
    matrix = MATRIX.copy()
    matrix[:4, 0] = np.nan
    matrix[4:, 1] = np.nan
    matrix[:, 2] = np.nan
    matrix[0, 2] = 1
    result = analyse(matrix)
    k = (~np.isnan(matrix)).sum(axis=1).mean()
    frame_ = frame(matrix)
    cov = frame_.cov(min_periods=2).to_numpy()
    off = cov[~np.eye(5, dtype=bool)]
    v = np.nanmean(np.diag(cov))
    c = np.nanmean(off)
    assert np.isnan(cov[0, 1]) and np.isnan(cov[2, 2])
    assert result.test.alpha == pytest.approx(k * c / (v + (k - 1) * c), abs=TOL)
    assert by_item(result)["q1"].n == 4
    assert by_item(result)["q3"].n == 1 and by_item(result)["q3"].sd is None


def test_alpha_is_none_for_one_item_forms():
    matrix = np.full((6, 3), np.nan)
    for i in range(6):
        matrix[i, i % 3] = i % 2
    result = analyse(matrix, np.ones(3))
    assert result.test.alpha is None and result.test.alpha_ci is None
    assert result.test.sem is None and result.test.error_ratio is None


def test_flags_name_their_reasons():
    matrix = np.array(
        [[1, 0, 1, 1], [1, 0, 1, 0], [1, 0, 0, 1], [1, 1, 0, 0], [1, 0, 1, 1]],
        dtype=float,
    )
    items = by_item(analyse(matrix, np.ones(4)))
    assert [f.code for f in items["q1"].flags] == [
        "few_responses",
        "no_variance",
        "very_easy",
    ]
    assert items["q1"].discrimination_index is None
    assert items["q1"].discriminative_efficiency is None
    assert "very_hard" not in [f.code for f in items["q2"].flags]
    q2 = [f.code for f in items["q2"].flags]
    assert "negative_discrimination" in q2
    few = items["q3"].flags[0]
    assert few.code == "few_responses" and few.value == 5


def test_distractors_by_score_quartile():
    # Eight examinees, item c1 with key "b"; top scorers pick "c" more than the
    # bottom ones, so "c" is flagged.
    scores = pd.DataFrame(
        {
            "c1": [1, 0, 1, 0, 0, 1, 0, 0],
            "q2": [1, 1, 1, 1, 0, 1, 0, 0],
            "q3": [1, 1, 1, 0, 1, 0, 0, 0],
        },
        index=[f"e{i}" for i in range(8)],
        dtype=float,
    )
    options = pd.DataFrame(
        {"c1": ["b", "c", "b", "c", "a", "b", None, "a"]}, index=scores.index
    )
    result = psychometrics.analyse(
        scores, {"c1": 1, "q2": 1, "q3": 1}, options, {"c1": {"b"}}
    )
    item = by_item(result)["c1"]
    # Totals 3,2,3,1,1,2,0,0; quartiles (ties by row order): e6 e7 | e3 e4 |
    # e1 e5 | e0 e2.
    assert item.quartile_n == [2, 2, 2, 2]
    by_option = {o.option: o for o in item.options}
    assert set(by_option) == {"a", "b", "c"}
    assert by_option["b"].key and not by_option["c"].key
    assert by_option["a"].by_quartile == [0.5, 0.5, 0.0, 0.0]
    assert by_option["b"].by_quartile == [0.0, 0.0, 0.5, 1.0]
    assert by_option["c"].by_quartile == [0.0, 0.5, 0.5, 0.0]
    assert by_option["b"].count == 3 and by_option["b"].share == 3 / 8
    assert by_option["a"].mean_score == 0
    codes = [(f.code, f.option) for f in item.flags]
    assert ("distractor_attracts_top", "a") not in codes
    assert ("distractor_attracts_top", "c") not in codes  # 0 top vs 0 bottom


def test_distractor_that_draws_the_top_quartile_is_flagged_and_key_inferred():
    scores = pd.DataFrame(
        {
            "c1": [1, 0, 0, 0, 1, 0, 0, 0],
            "q2": [1, 1, 1, 1, 0, 0, 0, 0],
            "q3": [1, 1, 1, 1, 1, 0, 0, 0],
            "q4": [1, 1, 0, 0, 0, 0, 0, 0],
        },
        index=[f"e{i}" for i in range(8)],
        dtype=float,
    )
    options = pd.DataFrame(
        {"c1": ["b", "d", "d", "d", "b", "a", "a", "a"]}, index=scores.index
    )
    item = by_item(psychometrics.analyse(scores, dict.fromkeys(scores, 1), options))[
        "c1"
    ]
    by_option = {o.option: o for o in item.options}
    assert by_option["b"].key  # inferred: its choosers scored full marks
    assert not by_option["d"].key
    flags = [(f.code, f.option) for f in item.flags]
    assert ("distractor_attracts_top", "d") in flags
    assert ("distractor_attracts_top", "a") not in flags
