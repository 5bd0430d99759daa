"""Rep → customer → interaction: variance decomposition and per-group effects.

:func:`variance_decomposition` fits the linear mixed model

    yᵢ = β₀ + Σ_v β_v·[variantᵢ = v] + a_rep(i) + b_customer(i) + eᵢ,
    a ~ N(0, σ²_rep),  b ~ N(0, σ²_customer),  e ~ N(0, σ²),

customers nested in reps, by restricted maximum likelihood (REML): the model
statsmodels' ``MixedLM.from_formula("y ~ C(variant)", groups="rep",
re_formula="1", vc_formula={"customer": "0 + C(customer)"})`` fits, and the
tests pin the numbers to it. The likelihood is evaluated in closed form over
per-(rep, customer, variant) sufficient statistics (count, Σy, Σy²): within a rep
the covariance is σ²I plus compound-symmetric customer blocks plus a rank-one
rep term, so two nested Sherman–Morrison steps give V⁻¹ and log|V| without a
matrix larger than the number of variants. That takes milliseconds where
MixedLM's dense per-rep algebra takes minutes on 50,000 units.

:func:`shrink_effects` gives per-group (rep, customer segment) treatment effects
with empirical-Bayes shrinkage toward the overall effect.
"""

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import sparse
from scipy.optimize import minimize
from scipy.special import ndtri

from experiments.stats.estimates import UNDEFINED, Estimate, json_float
from experiments.stats.frequentist import check_alpha, estimate
from experiments.stats.samples import SampleStats

#: Warning codes (sentences belong in experiments.stats.messages).
LINEAR_PROBABILITY_MODEL = "LINEAR_PROBABILITY_MODEL"
CUSTOMERS_SPLIT_BY_REP = "CUSTOMERS_SPLIT_BY_REP"
CUSTOMER_LEVEL_NOT_IDENTIFIED = "CUSTOMER_LEVEL_NOT_IDENTIFIED"
MODEL_NOT_CONVERGED = "MODEL_NOT_CONVERGED"
TOO_FEW_GROUPS = "TOO_FEW_GROUPS"

LEVELS = ("rep", "customer", "interaction")


@dataclass(frozen=True)
class CellStats:
    """Sufficient statistics of the outcome of one customer's units, served by one
    rep, in one variant (the database's GROUP BY rep, customer, variant)."""

    rep: str
    customer: str
    variant: str
    n: int  #: units
    sum: float  #: Σy
    sum_sq: float  #: Σy²


def cells_from_units(
    outcome: Sequence[float] | Any,
    variant: Sequence[str] | Any,
    rep: Sequence[str] | Any,
    customer: Sequence[str] | Any,
) -> list[CellStats]:
    """Reduce unit-level arrays (one entry per unit) to :class:`CellStats`, as
    the SQL does."""
    sums: dict[tuple[str, str, str], list[float]] = defaultdict(lambda: [0, 0.0, 0.0])
    for y, v, r, c in zip(outcome, variant, rep, customer, strict=True):
        cell = sums[str(r), str(c), str(v)]
        y = float(y)
        cell[0] += 1
        cell[1] += y
        cell[2] += y * y
    return [CellStats(r, c, v, int(n), s, ss) for (r, c, v), (n, s, ss) in sums.items()]


@dataclass(frozen=True)
class VarianceDecomposition:
    """The mixed model's answer.

    ``treatment_effects``: each non-control variant's fixed effect (difference
    from control in the outcome's units; a probability difference for a 0/1
    outcome) with its z interval at ``alpha``. ``components``: the variances
    σ²_rep, σ²_customer, σ² (interaction = residual), in squared outcome units;
    ``levels``: each as a share of their sum (summing to 1). ``nested`` is False
    when some customer was served by several reps: the customer level is then
    the (rep, customer) pair.
    """

    treatment_effects: dict[str, Estimate]
    components: dict[str, float]
    levels: dict[str, float]
    control: str
    units: int
    reps: int
    customers: int
    nested: bool
    linear_probability: bool
    converged: bool
    log_likelihood: float  #: the REML log-likelihood at the estimate
    warnings: tuple[str, ...] = ()
    alpha: float = 0.05

    def to_dict(self) -> dict[str, Any]:
        """The decomposition as JSON (non-finite numbers become None)."""
        return {
            "treatment_effects": {
                k: v.to_dict() for k, v in self.treatment_effects.items()
            },
            "components": {k: json_float(v) for k, v in self.components.items()},
            "levels": {k: json_float(v) for k, v in self.levels.items()},
            "control": self.control,
            "units": self.units,
            "reps": self.reps,
            "customers": self.customers,
            "nested": self.nested,
            "linear_probability": self.linear_probability,
            "converged": self.converged,
            "log_likelihood": json_float(self.log_likelihood),
            "warnings": list(self.warnings),
            "alpha": self.alpha,
        }


@dataclass(frozen=True)
class _Design:
    """Per-(rep, customer) sums of the products of u = (1, d_v…, y)."""

    n: np.ndarray  #: units per customer cell, shape (C,)
    sums: np.ndarray  #: Σu per customer cell, shape (C, m)
    membership: sparse.csr_array  #: 1 where customer cell c is in rep r, (R, C)
    reps: int
    cross: np.ndarray  #: Σ uuᵀ over all units, shape (m, m)
    units: int
    p: int  #: fixed-effect columns (intercept + non-control variants)


def _design(cells: Sequence[CellStats], control: str) -> tuple[_Design, list[str]]:
    others = sorted({c.variant for c in cells} - {control})
    column = {v: i + 1 for i, v in enumerate(others)}
    p = len(others) + 1
    m = p + 1
    customer_index: dict[tuple[str, str], int] = {}
    rep_index: dict[str, int] = {}
    rows = []
    for cell in cells:
        if cell.n <= 0:
            continue
        key = (cell.rep, cell.customer)
        if key not in customer_index:
            customer_index[key] = len(customer_index)
            rep_index.setdefault(cell.rep, len(rep_index))
        rows.append((customer_index[key], cell))
    count = len(customer_index)
    n = np.zeros(count)
    sums = np.zeros((count, m))
    rep_of = np.zeros(count, dtype=int)
    cross = np.zeros((m, m))
    for index, cell in rows:
        j = column.get(cell.variant)
        n[index] += cell.n
        rep_of[index] = rep_index[cell.rep]
        sums[index, 0] += cell.n
        sums[index, p] += cell.sum
        cross[0, 0] += cell.n
        cross[0, p] += cell.sum
        cross[p, p] += cell.sum_sq
        if j is not None:
            sums[index, j] += cell.n
            cross[0, j] += cell.n
            cross[j, j] += cell.n
            cross[j, p] += cell.sum
    cross = np.triu(cross) + np.triu(cross, 1).T
    membership = sparse.csr_array(
        (np.ones(count), (rep_of, np.arange(count))), shape=(len(rep_index), count)
    )
    design = _Design(n, sums, membership, len(rep_index), cross, int(n.sum()), p)
    return design, others


def _reml_terms(design: _Design, rep_ratio: float, customer_ratio: float):
    """For V = σ²·H, H = I + λ_c·(customer blocks) + λ_r·(rep blocks): uᵀH⁻¹u
    summed over all units (m × m) and log|H|, by nested Sherman–Morrison."""
    d = 1.0 + design.n * customer_ratio
    scaled = design.sums / d[:, None]  # 1ᵀW_c⁻¹u per customer cell
    quad = design.cross - customer_ratio * (design.sums.T @ scaled)
    rep_sums = design.membership @ scaled
    rep_ones = design.membership @ (design.n / d)
    e = 1.0 + rep_ratio * rep_ones
    quad -= rep_ratio * (rep_sums.T @ (rep_sums / e[:, None]))
    log_det = float(np.log(d).sum() + np.log(e).sum())
    return quad, log_det


def _profile(design: _Design, rep_ratio: float, customer_ratio: float):
    """REML log-likelihood profiled over σ², with β̂, (XᵀH⁻¹X)⁻¹ and σ̂²."""
    quad, log_det = _reml_terms(design, rep_ratio, customer_ratio)
    p = design.p
    xx, xy, yy = quad[:p, :p], quad[:p, p], quad[p, p]
    sign, log_det_xx = np.linalg.slogdet(xx)
    if sign <= 0:
        return -math.inf, None, None, math.nan
    beta = np.linalg.solve(xx, xy)
    residual = max(float(yy - xy @ beta), 0.0)
    dof = design.units - p
    if residual <= 0:
        return -math.inf, None, None, math.nan
    scale = residual / dof
    loglike = -0.5 * (
        dof * (1.0 + math.log(2 * math.pi * scale)) + log_det + log_det_xx
    )
    return float(loglike), beta, np.linalg.inv(xx), scale


def variance_decomposition(
    cells: Iterable[CellStats],
    control: str,
    *,
    alpha: float = 0.05,
    linear_probability: bool | None = None,
) -> VarianceDecomposition:
    """Fit the nested random-intercept model of the module docstring by REML and
    return the treatment effects with their intervals and the variance shares at
    rep, customer and interaction (residual) level.

    ``linear_probability`` None infers a 0/1 outcome from Σy = Σy² in every
    cell (pass it explicitly when the metric kind is known); on a 0/1 outcome
    the model is a linear probability model and the result carries
    ``LINEAR_PROBABILITY_MODEL``. The fixed effects' covariance is
    σ̂²(XᵀĤ⁻¹X)⁻¹ at the REML estimate, intervals are normal (as MixedLM's).
    Customers with one unit each leave the customer level unidentified: it is
    fixed at 0 (``CUSTOMER_LEVEL_NOT_IDENTIFIED``). Raises ValueError without
    units of the control variant.
    """
    check_alpha(alpha)
    cells = [cell for cell in cells if cell.n > 0]
    if not any(cell.variant == control for cell in cells):
        raise ValueError(f"no units of the control variant {control!r}")
    if linear_probability is None:
        linear_probability = all(
            math.isclose(c.sum, c.sum_sq, rel_tol=1e-12, abs_tol=1e-12) for c in cells
        )
    design, others = _design(cells, control)
    reps_of_customer: dict[str, set[str]] = defaultdict(set)
    for cell in cells:
        reps_of_customer[cell.customer].add(cell.rep)
    nested = all(len(reps) == 1 for reps in reps_of_customer.values())
    warnings = []
    if linear_probability:
        warnings.append(LINEAR_PROBABILITY_MODEL)
    if not nested:
        warnings.append(CUSTOMERS_SPLIT_BY_REP)
    customer_identified = bool(design.n.max() > 1)
    if not customer_identified:
        warnings.append(CUSTOMER_LEVEL_NOT_IDENTIFIED)
    if design.reps < 3:
        warnings.append(TOO_FEW_GROUPS)

    def objective(theta: np.ndarray) -> float:
        # λ = θ², so the boundary λ = 0 is reachable (statsmodels' use_sqrt).
        rep_ratio = theta[0] ** 2
        customer_ratio = theta[1] ** 2 if customer_identified else 0.0
        loglike = _profile(design, rep_ratio, customer_ratio)[0]
        return -loglike if math.isfinite(loglike) else 1e300

    fits = [
        minimize(
            objective,
            np.array(start),
            method="L-BFGS-B",
            options={"ftol": 1e-15, "gtol": 1e-10, "maxiter": 500},
        )
        for start in ((0.5, 0.5), (0.05, 1.0), (1.0, 0.05))
    ]
    best = min(fits, key=lambda fit: fit.fun)
    rep_ratio = float(best.x[0] ** 2)
    customer_ratio = float(best.x[1] ** 2) if customer_identified else 0.0
    loglike, beta, inverse, scale = _profile(design, rep_ratio, customer_ratio)
    converged = bool(best.success) and beta is not None
    if not converged:
        warnings.append(MODEL_NOT_CONVERGED)
    effects: dict[str, Estimate] = {}
    for j, variant in enumerate(others, start=1):
        if beta is None:
            effects[variant] = UNDEFINED
        else:
            value, variance = float(beta[j]), float(scale * inverse[j, j])
            effects[variant] = estimate(value, variance, alpha=alpha, df=None)
    components = {
        "rep": rep_ratio * scale,
        "customer": customer_ratio * scale,
        "interaction": scale,
    }
    total = math.fsum(components.values())
    levels = {k: (v / total if total > 0 else math.nan) for k, v in components.items()}
    return VarianceDecomposition(
        treatment_effects=effects,
        components=components,
        levels=levels,
        control=control,
        units=design.units,
        reps=design.reps,
        customers=len(reps_of_customer),
        nested=nested,
        linear_probability=linear_probability,
        converged=converged,
        log_likelihood=loglike,
        warnings=tuple(warnings),
        alpha=alpha,
    )


@dataclass(frozen=True)
class GroupEffect:
    """One group's treatment − control effect, raw and shrunk.

    ``raw``: difference of means with its sampling variance v (normal interval,
    p-value against 0). ``shrunk``: the empirical-Bayes posterior mean with its
    interval (p-value NaN: a posterior interval is not a test). ``weight`` =
    τ²/(τ² + v), the share of the raw deviation from the overall effect kept.
    """

    group: str
    control_n: int
    treatment_n: int
    raw: Estimate
    shrunk: Estimate
    weight: float

    def to_dict(self) -> dict[str, Any]:
        """The group's effects as JSON."""
        return {
            "group": self.group,
            "control_n": self.control_n,
            "treatment_n": self.treatment_n,
            "raw": self.raw.to_dict(),
            "shrunk": self.shrunk.to_dict(),
            "weight": json_float(self.weight),
        }


@dataclass(frozen=True)
class ShrunkEffects:
    """Per-group effects shrunk toward the overall (random-effects) effect.

    ``tau2``: DerSimonian–Laird between-group variance of the true effects
    (squared outcome units); ``q``: Cochran's Q; ``overall``: the random-effects
    mean Σw*θ/Σw*, w* = 1/(v + τ²). ``skipped`` lists groups without at least
    two units in each arm (no effect to estimate).
    """

    overall: Estimate
    tau2: float
    q: float
    groups: tuple[GroupEffect, ...]
    skipped: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    alpha: float = 0.05
    pooled_variance: bool = True

    def to_dict(self) -> dict[str, Any]:
        """The effects as JSON."""
        return {
            "overall": self.overall.to_dict(),
            "tau2": json_float(self.tau2),
            "q": json_float(self.q),
            "groups": [g.to_dict() for g in self.groups],
            "skipped": list(self.skipped),
            "warnings": list(self.warnings),
            "alpha": self.alpha,
            "pooled_variance": self.pooled_variance,
        }


def dersimonian_laird(
    effects: Sequence[float], variances: Sequence[float]
) -> tuple[float, float]:
    """DerSimonian & Laird (1986) method-of-moments between-study variance:
    with w = 1/v, θ̂_FE = Σwθ/Σw and Q = Σw(θ − θ̂_FE)²,

        τ² = max(0, (Q − (k − 1)) / (Σw − Σw²/Σw)).

    Returns (τ², Q). Needs k ≥ 2 effects with positive variances.
    """
    theta = np.asarray(effects, dtype=float)
    w = 1.0 / np.asarray(variances, dtype=float)
    fixed = float(np.sum(w * theta) / np.sum(w))
    q = float(np.sum(w * (theta - fixed) ** 2))
    denominator = float(np.sum(w) - np.sum(w**2) / np.sum(w))
    tau2 = max(0.0, (q - (theta.size - 1)) / denominator) if denominator > 0 else 0.0
    return tau2, q


def shrink_effects(
    groups: Mapping[str, tuple[SampleStats, SampleStats]],
    *,
    alpha: float = 0.05,
    pooled_variance: bool = True,
) -> ShrunkEffects:
    """Per-group treatment effects with empirical-Bayes shrinkage.

    ``groups`` maps a group (a rep, a customer segment) to its (control,
    treatment) :class:`SampleStats`. Per group: raw θ = x̄_t − x̄_c with sampling
    variance v = s²_t/n_t + s²_c/n_c, where s² is each arm's variance pooled
    over all groups (``pooled_variance``, the default: a rep whose four leads all
    failed is not taken as certain) or the group's own (falling back to the
    pooled one when it is 0 or undefined). Then τ² by
    :func:`dersimonian_laird`, the overall effect μ̂ = Σw*θ/Σw* with Var 1/Σw*,
    and per group

        shrunk = μ̂ + B·(θ − μ̂),  B = τ²/(τ² + v),
        Var = B·v + (1 − B)²·Var(μ̂)

    (the posterior variance given τ², plus the overall effect's uncertainty as
    carried by the shrinkage), with a normal interval at ``alpha``. Groups
    without two units in each arm are skipped. Fewer than two usable groups:
    no shrinkage (τ² NaN, shrunk = raw) and ``TOO_FEW_GROUPS``.
    """
    check_alpha(alpha)
    usable = {
        name: pair for name, pair in groups.items() if pair[0].n >= 2 and pair[1].n >= 2
    }
    skipped = tuple(sorted(set(groups) - set(usable)))
    pooled = [
        _pooled_variance([pair[arm] for pair in usable.values()]) for arm in (0, 1)
    ]
    names = sorted(usable)
    raws, variances = [], []
    for name in names:
        arms = usable[name]
        arm_variances = []
        for arm, stats in enumerate(arms):
            own = stats.variance
            use_own = not pooled_variance and math.isfinite(own) and own > 0
            arm_variances.append((own if use_own else pooled[arm]) / stats.n)
        raws.append(arms[1].mean - arms[0].mean)
        variances.append(math.fsum(arm_variances))
    z = float(ndtri(1 - alpha / 2))
    usable_variances = [v for v in variances if v > 0 and math.isfinite(v)]
    if len(names) < 2 or len(usable_variances) < len(variances):
        results = tuple(
            GroupEffect(
                name,
                usable[name][0].n,
                usable[name][1].n,
                estimate(raw, v, alpha=alpha, df=None),
                estimate(raw, v, alpha=alpha, df=None),
                1.0,
            )
            for name, raw, v in zip(names, raws, variances, strict=True)
        )
        return ShrunkEffects(
            UNDEFINED,
            math.nan,
            math.nan,
            results,
            skipped,
            (TOO_FEW_GROUPS,),
            alpha,
            pooled_variance,
        )
    tau2, q = dersimonian_laird(raws, variances)
    w = 1.0 / (np.asarray(variances) + tau2)
    overall_value = float(np.sum(w * np.asarray(raws)) / np.sum(w))
    overall_variance = float(1.0 / np.sum(w))
    overall = estimate(overall_value, overall_variance, alpha=alpha, df=None)
    results = []
    for name, raw, v in zip(names, raws, variances, strict=True):
        keep = tau2 / (tau2 + v)
        value = overall_value + keep * (raw - overall_value)
        variance = keep * v + (1 - keep) ** 2 * overall_variance
        se = math.sqrt(variance)
        shrunk = Estimate(value, value - z * se, value + z * se, math.nan, se)
        results.append(
            GroupEffect(
                name,
                usable[name][0].n,
                usable[name][1].n,
                estimate(raw, v, alpha=alpha, df=None),
                shrunk,
                keep,
            )
        )
    return ShrunkEffects(
        overall, tau2, q, tuple(results), skipped, (), alpha, pooled_variance
    )


def _pooled_variance(samples: Sequence[SampleStats]) -> float:
    """Within-group variance pooled over groups: Σ(nᵢ − 1)s²ᵢ / Σ(nᵢ − 1)."""
    dof = sum(s.n - 1 for s in samples if s.n >= 2)
    if dof <= 0:
        return math.nan
    total = math.fsum((s.n - 1) * s.variance for s in samples if s.n >= 2)
    return total / dof
