"""Multiple-testing corrections against statsmodels' multipletests."""

import math

import pytest
from statsmodels.stats.multitest import multipletests

from experiments.stats import adjust_p_values

P_VALUES = [0.001, 0.012, 0.03, 0.04, 0.2, 0.049]
#: Ties, adjusted values capped at 1, and a p-value of 1 itself.
TIED = [0.02, 0.3, 0.02, 0.5, 1.0, 0.3, 0.004]
# Ties, values that hit the cap of 1, and a 1.0 itself.
TIED = [0.02, 0.3, 0.02, 0.5, 1.0, 0.3, 0.004]


@pytest.mark.parametrize(
    ("method", "statsmodels_method"), [("holm", "holm"), ("bh", "fdr_bh")]
)
@pytest.mark.parametrize("p_values", [P_VALUES, TIED])
def test_matches_statsmodels(method, statsmodels_method, p_values):
    # Expected: statsmodels.stats.multitest.multipletests on the same list.
    expected = multipletests(p_values, method=statsmodels_method)[1]
    assert adjust_p_values(p_values, method) == pytest.approx(list(expected), rel=1e-12)


def test_hand_computed_holm_and_bh_values():
    # Hand-computed from the definitions (Holm 1979; Benjamini & Hochberg 1995)
    # for p = 0.01, 0.04, 0.03: Holm = 3·0.01, max(2·0.03, .03), max(1·0.04, .06);
    # BH = 0.01·3/1, then min(0.03·3/2, 0.04·3/3) for both others.
    assert adjust_p_values([0.01, 0.04, 0.03], "holm") == pytest.approx(
        [0.03, 0.06, 0.06]
    )
    assert adjust_p_values([0.01, 0.04, 0.03], "bh") == pytest.approx(
        [0.03, 0.04, 0.04]
    )


def test_none_and_nan_pass_through_and_leave_the_family():
    got = adjust_p_values([0.01, None, 0.04, math.nan, 0.03], "holm")
    assert got[1] is None and got[3] is None
    # The family is the three defined p-values (same as the test above).
    assert got[0] == pytest.approx(0.03)
    assert got[2] == pytest.approx(0.06)
    assert got[4] == pytest.approx(0.06)


def test_none_method_and_empty_family():
    assert adjust_p_values([0.2, None], "none") == [0.2, None]
    assert adjust_p_values([None, None], "bh") == [None, None]
    assert adjust_p_values([], "holm") == []
    with pytest.raises(ValueError, match="unknown correction"):
        adjust_p_values([0.1], "bonferroni")
