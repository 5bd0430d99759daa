"""The statistics engine: pure functions over sufficient statistics.

No Flask, no database, no I/O. The database sums n, Σx, Σx², Σy, Σy², Σxy per
variant (:class:`SampleStats`); these functions turn them into comparisons
(frequentist, CUPED, ratios, always-valid), a Bayesian read-out, the SRM check
and multiple-testing corrections. Results are frozen dataclasses with
``to_dict()``; warnings are codes from :mod:`experiments.stats.messages`.

Modules: samples (SampleStats), estimates (Estimate, Comparison), frequentist
(compare_means, compare_ratios), cuped, sequential, bayesian, srm, multiple,
attribution (touchpoint attribution: attribute, Path, path_from_events),
multilevel (variance_decomposition, cells_from_units, shrink_effects),
messages.
"""

from experiments.stats import messages
from experiments.stats.attribution import (
    Path,
    TouchpointAttribution,
    attribute,
    path_from_events,
)
from experiments.stats.bayesian import BayesianResult, bayesian
from experiments.stats.estimates import Comparison, Estimate
from experiments.stats.frequentist import compare_means, compare_ratios
from experiments.stats.multilevel import (
    CellStats,
    ShrunkEffects,
    VarianceDecomposition,
    cells_from_units,
    shrink_effects,
    variance_decomposition,
)
from experiments.stats.multiple import adjust_p_values
from experiments.stats.samples import SampleStats, combine, summarise
from experiments.stats.sequential import sequential
from experiments.stats.srm import SrmResult, srm

__all__ = [
    "BayesianResult",
    "CellStats",
    "Comparison",
    "Estimate",
    "Path",
    "SampleStats",
    "ShrunkEffects",
    "SrmResult",
    "TouchpointAttribution",
    "VarianceDecomposition",
    "adjust_p_values",
    "attribute",
    "bayesian",
    "cells_from_units",
    "combine",
    "compare_means",
    "compare_ratios",
    "messages",
    "path_from_events",
    "sequential",
    "shrink_effects",
    "srm",
    "summarise",
    "variance_decomposition",
]
