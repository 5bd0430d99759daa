"""The statistics engine: pure functions over sufficient statistics.

No Flask, no database, no I/O. The database sums n, Σx, Σx², Σy, Σy², Σxy per
variant (:class:`SampleStats`); these functions turn them into comparisons
(frequentist, CUPED, ratios, always-valid), a Bayesian read-out, the SRM check
and multiple-testing corrections. Results are frozen dataclasses with
``to_dict()``; warnings are codes from :mod:`experiments.stats.messages`.

Modules: samples (SampleStats), estimates (Estimate, Comparison), frequentist
(compare_means, compare_ratios), cuped, sequential, bayesian, srm, multiple,
messages.
"""

from experiments.stats import messages
from experiments.stats.bayesian import BayesianResult, bayesian
from experiments.stats.estimates import Comparison, Estimate
from experiments.stats.frequentist import compare_means, compare_ratios
from experiments.stats.multiple import adjust_p_values
from experiments.stats.samples import SampleStats, combine, summarise
from experiments.stats.sequential import sequential
from experiments.stats.srm import SrmResult, srm

__all__ = [
    "BayesianResult",
    "Comparison",
    "Estimate",
    "SampleStats",
    "SrmResult",
    "adjust_p_values",
    "bayesian",
    "combine",
    "compare_means",
    "compare_ratios",
    "messages",
    "sequential",
    "srm",
    "summarise",
]
