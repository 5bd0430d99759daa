"""The two-parameter logistic (2PL) item-response model, fitted by marginal
maximum likelihood. Pure: numpy, scipy and pandas only, no Flask, no database.

Model: examinee ``i`` of ability ``θ_i`` answers item ``j`` right with
probability ``P_j(θ) = 1 / (1 + exp(−a_j (θ − b_j)))``; ``a_j`` is the item's
**discrimination** (how sharply the chance of a right answer rises with ability)
and ``b_j`` its **difficulty** (the ability at which the chance is one half), on
the ability scale of the people analysed: abilities follow N(0, 1), which fixes
the scale's origin and unit.

Estimation (Bock & Aitkin 1981, marginal maximum likelihood): the abilities are
integrated out, so each examinee contributes
``log L_i = log ∫ Π_j P_j(θ)^x_ij (1 − P_j(θ))^(1 − x_ij) φ(θ) dθ`` over the items
they had (a missing cell, an item not presented, is left out of the product, not
counted as wrong). The integral is a sum over ``QUADRATURE_POINTS`` evenly
spaced nodes on ``[−QUADRATURE_BOUND, QUADRATURE_BOUND]`` weighted by the normal
density (the trapezoidal rule). Not Gauss–Hermite: on a long test each
examinee's likelihood is a narrow peak that falls between Gauss–Hermite nodes
(41 of them miss the log-likelihood of a simulated 60-item test by 1.5 and EAP
abilities by 0.03; 151 still by 2e-5), while the trapezoidal rule converges
geometrically for smooth, fast-falling integrands (81 nodes on ±7: 1e-11).
The sum of ``log L_i`` is maximised over
``(a_j, c_j = −a_j b_j)`` with L-BFGS-B and its analytic gradient; standard
errors come from the observed information, the analytic Hessian of the marginal
log-likelihood (the posterior expectation of each examinee's Hessian plus the
posterior covariance of their score, Louis 1982), and reach ``b`` by the delta
method. Abilities are EAP estimates: posterior mean and SD of θ given the
examinee's answers and the fitted items, on the same nodes.

Guards (no prior is used, so the log-likelihood is the plain marginal one):

- Only dichotomous items: every score 0 or the item's maximum (mapped to 0 and
  1). An item with partial credit is excluded (``partial_credit``).
- An item everyone got right or everyone got wrong has no finite estimate and is
  excluded (``all_right``, ``all_wrong``); so is an item fewer than
  ``MIN_RESPONSES`` examinees had (``few_responses``), whose estimates would be
  noise.
- The model needs at least ``MIN_ITEMS`` items (with fewer the 2PL is not
  identified) and examinees with at least one of them; examinees with none are
  left out (note ``persons_without_items``).
- ``a`` is bounded to ``[−A_BOUND, A_BOUND]`` and ``c`` to ``[−C_BOUND, C_BOUND]``:
  an item that splits examinees almost perfectly would otherwise drift to an
  infinite slope. Such an item stops at the bound, has no standard error and is
  noted (``at_bound``). Negative slopes are allowed: an item stronger examinees
  fail more often shows up as ``a < 0``, as in the classical analysis.
- Fewer than ``SMALL_SAMPLE`` examinees: noted (``small_sample``); 2PL estimates
  are unstable on small samples.
"""

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize

QUADRATURE_POINTS = 81
QUADRATURE_BOUND = 7.0
MIN_ITEMS = 3
#: Items answered by fewer examinees are left out (as the item analysis page
#: sets aside items with fewer than 30 responses).
MIN_RESPONSES = 30
A_BOUND = 6.0
C_BOUND = 25.0
#: Below this many examinees a fit is noted as a small sample.
SMALL_SAMPLE = 200
#: Largest gradient component (per examinee) accepted as converged.
GRADIENT_TOLERANCE = 1e-5
MAX_ITERATIONS = 2000

EXCLUSION_CODES = (
    "partial_credit",
    "all_right",
    "all_wrong",
    "few_responses",
    "no_responses",
)
NOTE_CODES = (
    "partial_credit",
    "no_variance",
    "few_responses",
    "too_few_items",
    "persons_without_items",
    "at_bound",
    "small_sample",
    "not_converged",
    "singular_information",
)


@dataclass(frozen=True)
class ItemParameters:
    """An item's discrimination ``a`` and difficulty ``b`` (ability scale) with
    standard errors (None when the estimate sits at a bound or the information
    is singular), and the examinees who had it."""

    item: str
    a: float
    a_se: float | None
    b: float
    b_se: float | None
    n: int


@dataclass(frozen=True)
class PersonAbility:
    """An examinee's EAP ability (posterior mean of θ) and posterior SD, from
    the ``n`` fitted items they had."""

    examinee: str
    theta: float
    theta_sd: float
    n: int


@dataclass(frozen=True)
class ExcludedItem:
    """An item left out of the model and why (``EXCLUSION_CODES``)."""

    item: str
    reason: str


@dataclass(frozen=True)
class Note:
    """Something to know about a fit (``NOTE_CODES``), the items it concerns and
    a number where one applies (e.g. how many examinees)."""

    code: str
    items: tuple[str, ...] = ()
    value: float | None = None


@dataclass(frozen=True)
class TwoPLFit:
    """A 2PL fit: items, abilities, excluded items, the marginal log-likelihood
    at the estimates (None if nothing was fitted), whether the optimiser
    converged, its iterations, and notes."""

    items: tuple[ItemParameters, ...]
    persons: tuple[PersonAbility, ...]
    excluded: tuple[ExcludedItem, ...]
    log_likelihood: float | None
    converged: bool
    iterations: int
    quadrature_points: int
    notes: tuple[Note, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for note in out["notes"]:
            note["items"] = list(note["items"])
        for name in ("items", "persons", "excluded", "notes"):
            out[name] = list(out[name])
        return out


@dataclass(frozen=True)
class Responses:
    """Dichotomous responses ready to fit: ``x`` 0/1 (0 where missing), ``mask``
    1 where the examinee had the item, the item and examinee labels."""

    x: np.ndarray
    mask: np.ndarray
    items: tuple[str, ...]
    examinees: tuple[str, ...]


def quadrature(
    points: int = QUADRATURE_POINTS, bound: float = QUADRATURE_BOUND
) -> tuple[np.ndarray, np.ndarray]:
    """Nodes (evenly spaced on ``[−bound, bound]``) and weights (the standard
    normal density times the spacing, scaled to sum to 1): the trapezoidal rule
    for integrals against N(0, 1)."""
    nodes = np.linspace(-bound, bound, points)
    weights = np.exp(-0.5 * nodes**2)
    return nodes, weights / weights.sum()


def dichotomise(
    scores: pd.DataFrame,
    max_scores: Mapping[str, float],
    min_responses: int = MIN_RESPONSES,
) -> tuple[Responses, list[ExcludedItem]]:
    """The 0/1 responses of ``scores`` (rows examinees, columns items, NaN where
    missing): score = maximum → 1, 0 → 0. Items with any other score, with
    fewer than ``min_responses`` responses, or answered all right or all wrong
    are excluded with the reason; examinees with no remaining item are
    dropped."""
    excluded: list[ExcludedItem] = []
    kept: list[str] = []
    for item in scores.columns:
        column = scores[item].to_numpy(dtype=float)
        seen = column[~np.isnan(column)]
        maximum = float(max_scores[item])
        if seen.size == 0:
            excluded.append(ExcludedItem(str(item), "no_responses"))
        elif not np.all(np.isclose(seen, 0) | np.isclose(seen, maximum)):
            excluded.append(ExcludedItem(str(item), "partial_credit"))
        elif seen.size < min_responses:
            excluded.append(ExcludedItem(str(item), "few_responses"))
        elif np.all(np.isclose(seen, maximum)):
            excluded.append(ExcludedItem(str(item), "all_right"))
        elif np.all(np.isclose(seen, 0)):
            excluded.append(ExcludedItem(str(item), "all_wrong"))
        else:
            kept.append(item)
    values = scores[kept].to_numpy(dtype=float)
    mask = ~np.isnan(values)
    maxima = np.array([float(max_scores[item]) for item in kept])
    x = np.where(mask, np.isclose(np.nan_to_num(values), maxima), False)
    has_any = mask.any(axis=1)
    return (
        Responses(
            x=x[has_any].astype(float),
            mask=mask[has_any].astype(float),
            items=tuple(str(item) for item in kept),
            examinees=tuple(str(row) for row in scores.index[has_any]),
        ),
        excluded,
    )


def _posterior(
    responses: Responses, a: np.ndarray, c: np.ndarray, nodes, weights
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per examinee the log marginal likelihood, the posterior weights of the
    nodes (examinees × nodes) and ``P`` (items × nodes)."""
    z = a[:, None] * nodes[None, :] + c[:, None]
    log_p = -np.logaddexp(0.0, -z)
    log_q = -np.logaddexp(0.0, z)
    joint = (
        responses.x @ log_p + (responses.mask - responses.x) @ log_q + np.log(weights)
    )
    top = joint.max(axis=1, keepdims=True)
    post = np.exp(joint - top)
    total = post.sum(axis=1, keepdims=True)
    post /= total
    return (top + np.log(total))[:, 0], post, np.exp(log_p)


def log_likelihood(
    responses: Responses,
    a: np.ndarray,
    b: np.ndarray,
    points: int = QUADRATURE_POINTS,
) -> np.ndarray:
    """Each examinee's log marginal likelihood at item parameters ``a``, ``b``
    (``quadrature`` with ``points`` nodes)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    nodes, weights = quadrature(points)
    return _posterior(responses, a, -a * b, nodes, weights)[0]


def _gradient(responses: Responses, post, p, nodes) -> tuple[np.ndarray, np.ndarray]:
    """∂ log L / ∂a and ∂c per item (expected right answers minus expected
    presentations × P at each node, as the E-step of Bock–Aitkin)."""
    right = (post.T @ responses.x).T
    presented = (post.T @ responses.mask).T
    residual = right - presented * p
    return residual @ nodes, residual.sum(axis=1)


def _hessian(responses: Responses, post, p, nodes) -> np.ndarray:
    """The Hessian of the marginal log-likelihood in ``(a_1, c_1, a_2, c_2, …)``:
    Σ_i E[H_i(θ)] + E[s_i s_iᵀ] − E[s_i] E[s_i]ᵀ, expectations over each
    examinee's posterior; ``s_i`` and ``H_i`` the gradient and Hessian of
    ``log P(x_i | θ)``."""
    k = p.shape[0]
    basis = np.stack([nodes, np.ones_like(nodes)])  # (2, Q): ∂z/∂a, ∂z/∂c
    outer = basis[:, None, :] * basis[None, :, :]  # (2, 2, Q)
    presented = (post.T @ responses.mask).T
    curvature = presented * p * (1 - p)  # (k, Q)
    hessian = np.zeros((k, 2, k, 2))
    expected_h = -np.einsum("jq,rsq->jrs", curvature, outer)
    hessian[np.arange(k), :, np.arange(k), :] += expected_h
    second = np.zeros((k, k, 2, 2))
    for q in range(len(nodes)):
        u = responses.mask * (responses.x - p[:, q])  # (n, k)
        cross = u.T @ (u * post[:, q : q + 1])
        second += cross[:, :, None, None] * outer[None, None, :, :, q]
    hessian += second.transpose(0, 2, 1, 3)
    mean_c = responses.mask * (responses.x - post @ p.T)
    mean_a = responses.mask * (responses.x * (post @ nodes)[:, None])
    mean_a -= responses.mask * ((post * nodes) @ p.T)
    scores = np.stack([mean_a, mean_c], axis=2).reshape(len(post), 2 * k)
    return hessian.reshape(2 * k, 2 * k) - scores.T @ scores


def _start(responses: Responses) -> np.ndarray:
    presented = responses.mask.sum(axis=0)
    facility = (responses.x.sum(axis=0) + 0.5) / (presented + 1)
    c = np.log(facility / (1 - facility)) * 1.3
    return np.column_stack([np.ones_like(c), c]).ravel()


def fit_2pl(
    scores: pd.DataFrame,
    max_scores: Mapping[str, float],
    *,
    points: int = QUADRATURE_POINTS,
    min_responses: int = MIN_RESPONSES,
) -> TwoPLFit:
    """Fit the 2PL model to ``scores`` (rows examinees, columns items, NaN where
    the examinee did not have the item; each item's maximum in ``max_scores``)
    by marginal maximum likelihood; see the module docstring."""
    responses, excluded = dichotomise(scores, max_scores, min_responses)
    notes: list[Note] = []
    partial = tuple(e.item for e in excluded if e.reason == "partial_credit")
    if partial:
        notes.append(Note("partial_credit", partial))
    constant = tuple(e.item for e in excluded if e.reason in ("all_right", "all_wrong"))
    if constant:
        notes.append(Note("no_variance", constant))
    few = tuple(e.item for e in excluded if e.reason == "few_responses")
    if few:
        notes.append(Note("few_responses", few, float(min_responses)))
    dropped = len(scores.index) - len(responses.examinees)
    if len(responses.items) < MIN_ITEMS or not responses.examinees:
        notes.append(Note("too_few_items", value=float(len(responses.items))))
        return TwoPLFit((), (), tuple(excluded), None, False, 0, points, tuple(notes))
    if dropped:
        notes.append(Note("persons_without_items", value=float(dropped)))
    n = len(responses.examinees)
    if n < SMALL_SAMPLE:
        notes.append(Note("small_sample", value=float(n)))

    nodes, weights = quadrature(points)
    k = len(responses.items)

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        a, c = theta[0::2], theta[1::2]
        log_l, post, p = _posterior(responses, a, c, nodes, weights)
        grad_a, grad_c = _gradient(responses, post, p, nodes)
        grad = np.column_stack([grad_a, grad_c]).ravel()
        return -log_l.sum() / n, -grad / n

    bounds = [(-A_BOUND, A_BOUND), (-C_BOUND, C_BOUND)] * k
    result = optimize.minimize(
        objective,
        _start(responses),
        jac=True,
        method="L-BFGS-B",
        bounds=bounds,
        options={"maxiter": MAX_ITERATIONS, "ftol": 1e-15, "gtol": 1e-9},
    )
    a, c = result.x[0::2], result.x[1::2]
    log_l, post, p = _posterior(responses, a, c, nodes, weights)
    grad_a, grad_c = _gradient(responses, post, p, nodes)
    at_bound = (np.abs(a) >= A_BOUND - 1e-6) | (np.abs(c) >= C_BOUND - 1e-6)
    interior = ~at_bound
    largest = max(
        float(np.abs(grad_a[interior]).max(initial=0.0)),
        float(np.abs(grad_c[interior]).max(initial=0.0)),
    )
    converged = largest / n < GRADIENT_TOLERANCE
    if not converged:
        notes.append(Note("not_converged", value=largest / n))
    if at_bound.any():
        notes.append(Note("at_bound", tuple(np.array(responses.items)[at_bound])))

    covariance = _covariance(responses, post, p, nodes, interior)
    if covariance is None:
        notes.append(Note("singular_information"))
    b = -c / a
    presented = responses.mask.sum(axis=0)
    items = []
    for j, item in enumerate(responses.items):
        a_se = b_se = None
        if covariance is not None and interior[j]:
            var_a, var_c = covariance[2 * j, 2 * j], covariance[2 * j + 1, 2 * j + 1]
            cov_ac = covariance[2 * j, 2 * j + 1]
            db_da, db_dc = c[j] / a[j] ** 2, -1 / a[j]
            var_b = db_da**2 * var_a + db_dc**2 * var_c + 2 * db_da * db_dc * cov_ac
            a_se, b_se = _sqrt(var_a), _sqrt(var_b)
        items.append(
            ItemParameters(
                item, float(a[j]), a_se, float(b[j]), b_se, int(presented[j])
            )
        )
    theta = post @ nodes
    theta_sd = np.sqrt(np.maximum(post @ nodes**2 - theta**2, 0.0))
    counts = responses.mask.sum(axis=1)
    persons = tuple(
        PersonAbility(examinee, float(t), float(s), int(m))
        for examinee, t, s, m in zip(
            responses.examinees, theta, theta_sd, counts, strict=True
        )
    )
    return TwoPLFit(
        tuple(items),
        persons,
        tuple(excluded),
        float(log_l.sum()),
        bool(converged),
        int(result.nit),
        points,
        tuple(notes),
    )


def _covariance(responses, post, p, nodes, interior) -> np.ndarray | None:
    """Inverse observed information over the parameters of items off the
    bounds (full size, zeros elsewhere); None if it is not positive definite."""
    keep = np.repeat(interior, 2)
    information = -_hessian(responses, post, p, nodes)[np.ix_(keep, keep)]
    try:
        inverse = np.linalg.inv(np.linalg.cholesky(information))
    except np.linalg.LinAlgError:
        return None
    out = np.zeros((len(keep), len(keep)))
    out[np.ix_(keep, keep)] = inverse.T @ inverse
    return out


def _sqrt(value: float) -> float | None:
    return float(np.sqrt(value)) if value >= 0 and np.isfinite(value) else None
