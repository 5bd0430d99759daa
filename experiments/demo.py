"""Experiments demo data: the metric catalogue, a running A/B test of a
price-objection script on 4,000 leads with their tracked events, and a draft.

``proving-ground demo load`` sends ``demo_data_requested``; :func:`load_demo`
answers it. The data is simulated from a fixed seed around a known truth, so the
analysis pages have something real to find:

* the value-reframing script lifts conversion from about 12 % to about 14 %, deal
  values are alike, AI suggestions are accepted slightly more often and discounts
  are given slightly less often;
* reps differ in skill (conversion) and activity (touchpoints), so attribution
  by rep has signal;
* a latent lead quality drives both the 30 days before exposure and the outcome
  after it, so CUPED has a covariate;
* ten leads were also exposed to the other variant (multiple exposures).

Exposures spread over the 14 days before loading; no event lies in the future.
"""

import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import sqlalchemy as sa

from experiments import services
from experiments.ingest import MAX_BATCH_EVENTS, ingest
from experiments.models import Exposure
from proving_ground.db import db, utcnow
from proving_ground.signals import demo_data_requested

EXPERIMENT_KEY = "price-objection-script"
DRAFT_KEY = "ai-followup-cadence"
OWNER = "manager.east@demo.proving-ground.cn"
DRAFT_OWNER = "manager.south@demo.proving-ground.cn"
SEED = 20261127
LEADS = 4000
CUSTOMERS = 2800
#: Days over which leads were first exposed, ending at the time of loading.
DAYS = 14
#: Days of history before each lead's exposure (the CUPED lookback).
LOOKBACK_DAYS = 30
CONTROL_CONVERSION = 0.12
TREATMENT_CONVERSION = 0.14
#: Days from exposure to a won deal: gamma(shape, scale), mean 5 days.
DEAL_DELAY_SHAPE, DEAL_DELAY_SCALE = 2.0, 2.5
#: Median won deal before segment multipliers; won deals' median is about 80,000.
MEDIAN_DEAL_CNY = 70_000
MULTIPLE_EXPOSURES = 10
#: The demo experiment's assignment salt, fixed so that every load splits the
#: leads alike and shows the same results.
SALT = f"demo-{SEED}"
BEIJING = timezone(timedelta(hours=8))

EAST, SOUTH, NORTH = "华东 East China", "华南 South China", "华北 North China"


@dataclass(frozen=True)
class Rep:
    id: str
    name: str
    region: str
    #: Multiplies the chance that the rep's leads convert.
    skill: float
    #: Multiplies the rep's number of touchpoints.
    activity: float
    #: The chance that the rep accepts an AI suggestion (control script).
    ai_acceptance: float


REPS = (
    Rep("rep-01", "张伟 Zhang Wei", EAST, 1.30, 1.15, 0.45),
    Rep("rep-02", "孙丽 Sun Li", EAST, 0.95, 1.00, 0.38),
    Rep("rep-03", "刘洋 Liu Yang", SOUTH, 1.15, 1.20, 0.50),
    Rep("rep-04", "黄俊 Huang Jun", SOUTH, 0.80, 0.90, 0.30),
    Rep("rep-05", "赵敏 Zhao Min", NORTH, 1.05, 0.95, 0.42),
    Rep("rep-06", "马超 Ma Chao", NORTH, 0.75, 0.85, 0.28),
)
#: Region → share of customers.
REGIONS = {EAST: 0.45, SOUTH: 0.33, NORTH: 0.22}
#: Industry → (share of customers, conversion multiplier, deal value multiplier).
INDUSTRIES = {
    "制造业 Manufacturing": (0.35, 1.00, 1.00),
    "医疗 Healthcare": (0.20, 0.85, 1.30),
    "零售 Retail": (0.25, 1.15, 0.70),
    "软件 Software": (0.20, 1.00, 1.20),
}
#: Customer type → (share of customers, conversion multiplier, value multiplier).
CUSTOMER_TYPES = {
    "大客户 Key account": (0.25, 0.80, 2.20),
    "中小企业 SMB": (0.75, 1.07, 0.75),
}

METRICS: list[dict[str, Any]] = [
    {
        "key": "converted",
        "name": {"zh": "成交转化", "en": "Converted"},
        "description": {
            "zh": "曝光后观察窗口内赢单（deal_won）的线索占比。",
            "en": "Share of leads with a won deal (deal_won) within the window.",
        },
        "kind": "proportion",
        "event_type": "deal_won",
        "cuped_lookback_days": LOOKBACK_DAYS,
    },
    {
        "key": "deal_value",
        "name": {"zh": "成交金额", "en": "Deal value"},
        "description": {
            "zh": "每条线索赢单金额之和（元），按 99 分位封顶。",
            "en": "Won deal value per lead (CNY), capped at the 99th percentile.",
        },
        "kind": "mean",
        "event_type": "deal_won",
        "aggregate": "sum",
        "capping": {"kind": "percentile", "value": 0.99},
        "cuped_lookback_days": LOOKBACK_DAYS,
    },
    {
        "key": "calls_per_lead",
        "name": {"zh": "每线索通话数", "en": "Calls per lead"},
        "description": {
            "zh": "每条线索的电话次数。",
            "en": "Number of calls per lead.",
        },
        "kind": "mean",
        "event_type": "call",
        "cuped_lookback_days": LOOKBACK_DAYS,
    },
    {
        "key": "visit_rate",
        "name": {"zh": "拜访率", "en": "Visit rate"},
        "description": {
            "zh": "至少有一次上门拜访的线索占比。",
            "en": "Share of leads visited at least once.",
        },
        "kind": "proportion",
        "event_type": "visit",
        "cuped_lookback_days": LOOKBACK_DAYS,
    },
    {
        "key": "ai_acceptance",
        "name": {"zh": "AI 建议采纳率", "en": "AI suggestion acceptance"},
        "description": {
            "zh": "采纳的 AI 建议数除以展示的 AI 建议数。",
            "en": "AI suggestions accepted over AI suggestions shown.",
        },
        "kind": "ratio",
        "event_type": "ai_suggestion_accepted",
        "denominator": {"event_type": "ai_suggestion_shown", "aggregate": "count"},
    },
    {
        "key": "discount_given",
        "name": {"zh": "折扣金额", "en": "Discount given"},
        "description": {
            "zh": "护栏指标：每条线索让出的折扣金额（元），不应上升。",
            "en": "Guardrail: discount given per lead (CNY); it should not rise.",
        },
        "kind": "mean",
        "event_type": "discount",
        "aggregate": "sum",
        "direction": "decrease",
    },
]

EXPERIMENT: dict[str, Any] = {
    "key": EXPERIMENT_KEY,
    "name": "价格异议应对话术 A/B 测试 Price-objection script",
    "hypothesis": {
        "if": (
            "销售代表在客户提出价格异议时使用新的价值重构话术 / "
            "reps answer price objections with the new value-reframing script"
        ),
        "then": (
            "更多线索成交，成交转化率提高，且不靠更多折扣 / "
            "more leads convert, without giving more discount"
        ),
        "because": (
            "话术把讨论从单价引向总体拥有成本和业务收益，客户更少把价格当作拒绝理由 / "
            "the script moves the talk from unit price to total cost and business "
            "value, so price stops being the reason to say no"
        ),
    },
    "unit_type": "lead",
    "randomisation": "unit",
    "variants": [
        {
            "key": "control",
            "name": "现有话术 Current script",
            "description": (
                "按现行手册应对价格异议 / Price objections per the current playbook"
            ),
            "weight": 0.5,
        },
        {
            "key": "new_script",
            "name": "价值重构话术 Value-reframing script",
            "description": (
                "先量化客户收益，再谈价格 / "
                "Quantify the customer's gain first, then price"
            ),
            "weight": 0.5,
        },
    ],
    "primary_metrics": ["converted"],
    "secondary_metrics": ["deal_value", "calls_per_lead", "ai_acceptance"],
    "guardrail_metrics": ["discount_given"],
    "analysis": {
        "alpha": 0.05,
        "power": 0.8,
        "mde": 0.1,
        "cuped": True,
        "sequential": False,
    },
    "planned_duration_days": DAYS,
    "decision_criteria": {
        "success": (
            "成交转化率显著提升（p < 0.05）且折扣金额未显著上升："
            "采纳新话术，写入打法手册。/ "
            "Conversion rises significantly (p < 0.05) and discount given does not "
            "rise significantly: adopt the script and add it to the playbook."
        ),
        "early_stop": (
            "折扣金额显著上升超过 10%，或成交转化率显著下降：提前停止。/ "
            "Discount given rises significantly by more than 10%, or conversion "
            "falls significantly: stop early."
        ),
    },
}

DRAFT: dict[str, Any] = {
    "key": DRAFT_KEY,
    "name": "AI 跟进节奏 AI follow-up cadence",
    "hypothesis": {
        "if": (
            "销售代表按 AI 建议的节奏跟进线索 / "
            "reps follow up leads at the cadence the AI suggests"
        ),
        "then": (
            "更少线索冷却流失，成交转化率提高 / "
            "fewer leads go cold and more of them convert"
        ),
        "because": (
            "AI 根据线索最近的互动判断最佳跟进时机，而不是固定每周一次 / "
            "the AI times each follow-up on the lead's recent interactions instead "
            "of a fixed weekly call"
        ),
    },
    "unit_type": "lead",
    "randomisation": "cluster",
    "cluster_attribute": "rep_id",
    "variants": [
        {
            "key": "control",
            "name": "固定每周跟进 Weekly follow-up",
            "weight": 0.5,
        },
        {
            "key": "ai_cadence",
            "name": "AI 建议节奏 AI-suggested cadence",
            "weight": 0.5,
        },
    ],
    "primary_metrics": ["converted"],
    "secondary_metrics": ["calls_per_lead", "visit_rate", "ai_acceptance"],
    "guardrail_metrics": ["discount_given"],
    "analysis": {
        "alpha": 0.05,
        "power": 0.8,
        "mde": 0.15,
        "cuped": True,
        "sequential": True,
    },
    "planned_duration_days": 28,
    # The early-stop criteria are still to be written: the launch checklist shows it.
    "decision_criteria": {
        "success": (
            "成交转化率显著提升且每线索通话数不增加：推广到全部销售团队。/ "
            "Conversion rises significantly without more calls per lead: roll out "
            "to every sales team."
        ),
    },
}


@dataclass
class Lead:
    id: str
    customer_id: str
    rep: Rep
    industry: str
    customer_type: str
    #: Latent quality on the log scale: drives history, activity and outcome.
    quality: float
    #: Whether the lead has CRM history in the lookback before its exposure.
    has_history: bool
    #: The lead's own random stream, so that one lead's draws never shift
    #: another's whatever the time of loading.
    rng: random.Random
    #: Uniform draws deciding conversion and discount, drawn first so they are
    #: the same whatever the variant and the time of loading.
    converts: float
    discounts: float
    #: Days from exposure to the won deal, if the lead converts.
    deal_delay: float
    exposed_at: datetime
    #: Chance of converting eventually under the control script.
    conversion: float = 0.0
    variant: str = ""

    @property
    def attributes(self) -> dict[str, str]:
        return {
            "rep_id": self.rep.id,
            "rep_name": self.rep.name,
            "region": self.rep.region,
            "industry": self.industry,
            "customer_type": self.customer_type,
        }


@demo_data_requested.connect
def load_demo(sender, *, users, progress: Callable[[str], None], **_) -> int:
    """Add the experiments demo unless its experiment exists; returns how many
    records were created (metrics, experiments, exposures and events). Flushes
    only; the caller commits."""
    if services.get_experiment(EXPERIMENT_KEY) is not None:
        return 0
    owner = users.get(OWNER)
    progress("experiments: metrics")
    created = _create_metrics(owner)
    progress("experiments: experiments")
    experiment = services.create_experiment(EXPERIMENT, actor=owner)
    # A fixed salt (not the random one) so every load splits the leads alike.
    experiment.salt = SALT
    services.transition(experiment, "start", actor=owner)
    created += 1
    if services.get_experiment(DRAFT_KEY) is None:
        services.create_experiment(DRAFT, actor=users.get(DRAFT_OWNER))
        created += 1

    now = utcnow().replace(microsecond=0)
    # The demo experiment has been running for two weeks.
    experiment.started_at = now - timedelta(days=DAYS)
    db.session.flush()
    rng = random.Random(SEED)  # noqa: S311 (simulated demo data)
    leads = _simulate_leads(rng, now)
    progress(f"experiments: assigning {len(leads):,} leads")
    for lead in leads:
        lead.variant = services.assign(
            experiment, lead.id, lead.attributes, at=lead.exposed_at
        )
    events = [event for lead in leads for event in _lead_events(lead, now)]
    events += _multiple_exposures(rng, leads, now)
    events.sort(key=lambda event: event["occurred_at"])
    for event in events:
        event["occurred_at"] = event["occurred_at"].astimezone(BEIJING).isoformat()
    created += _ingest(events, progress)
    created += db.session.scalar(
        sa.select(sa.func.count())
        .select_from(Exposure)
        .where(Exposure.experiment_id == experiment.id)
    )
    return created


def _create_metrics(actor) -> int:
    """Create the demo metrics that do not exist yet; returns how many."""
    created = 0
    for spec in METRICS:
        if services.get_metric(spec["key"]) is None:
            services.create_metric(spec, actor=actor)
            created += 1
    return created


def _ingest(events: list[dict[str, Any]], progress: Callable[[str], None]) -> int:
    """Ingest events in batches, reporting progress about every 20 %; returns how
    many were stored."""
    accepted = 0
    step = max(1, len(events) // 5)
    next_report = step
    for start in range(0, len(events), MAX_BATCH_EVENTS):
        batch = events[start : start + MAX_BATCH_EVENTS]
        result = ingest(batch, source="demo")
        if result.rejected:
            raise RuntimeError(f"demo events rejected: {result.rejected[:3]}")
        accepted += result.accepted
        done = start + len(batch)
        if done >= next_report or done == len(events):
            progress(f"experiments: events {done:,} of {len(events):,}")
            next_report += step
    return accepted


# --- simulation -------------------------------------------------------------------


def _choose(rng: random.Random, shares: dict[str, Any]) -> str:
    """A key of ``shares`` drawn with probability given by its value (or the
    value's first item)."""
    keys = list(shares)
    weights = [v[0] if isinstance(v, tuple) else v for v in shares.values()]
    return rng.choices(keys, weights)[0]


def _poisson(rng: random.Random, mean: float) -> int:
    """A Poisson draw (Knuth's method; the means here are small)."""
    limit, count, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


def _deal_delay_cdf(days: float) -> float:
    """P(a won deal arrives within ``days`` of exposure), gamma with shape 2."""
    x = max(days, 0.0) / DEAL_DELAY_SCALE
    return 1 - math.exp(-x) * (1 + x)


def _working_time(rng: random.Random, start: datetime, end: datetime) -> datetime:
    """A whole-second moment in [start, end); on a weekday during office hours in
    Beijing when the range allows it."""
    span = int((end - start).total_seconds())
    if span <= 0:
        return start
    moment = start
    for _attempt in range(4):
        moment = start + timedelta(seconds=rng.randrange(span))
        local = moment.astimezone(BEIJING)
        if local.weekday() >= 5 and rng.random() < 0.75:
            continue
        hour = 8.5 + 10.5 * rng.random()
        office = local.replace(
            hour=int(hour),
            minute=int(hour % 1 * 60),
            second=rng.randrange(60),
            microsecond=0,
        )
        return office if start <= office < end else moment
    return moment


def _simulate_leads(rng: random.Random, now: datetime) -> list[Lead]:
    """Customers, then leads with their rep, segment, quality and exposure time;
    the control conversion chances are scaled so that the share of leads seen to
    convert by ``now`` is about CONTROL_CONVERSION."""
    reps_by_region = {
        region: [r for r in REPS if r.region == region] for region in REGIONS
    }
    customers = []
    for number in range(1, CUSTOMERS + 1):
        region = _choose(rng, REGIONS)
        customers.append(
            (
                f"cust-{number:05d}",
                rng.choice(reps_by_region[region]),
                _choose(rng, INDUSTRIES),
                _choose(rng, CUSTOMER_TYPES),
                rng.gauss(0, 0.45),
            )
        )
    # Key accounts open more leads.
    weights = [2.0 if c[3] == "大客户 Key account" else 1.0 for c in customers]
    first = now - timedelta(days=DAYS)
    leads = []
    for number, customer in enumerate(rng.choices(customers, weights, k=LEADS), 1):
        customer_id, rep, industry, customer_type, customer_quality = customer
        lead_id = f"lead-{number:06d}"
        lead_rng = random.Random(f"{SEED}:{lead_id}")  # noqa: S311 (as above)
        leads.append(
            Lead(
                id=lead_id,
                customer_id=customer_id,
                rep=rep,
                industry=industry,
                customer_type=customer_type,
                quality=customer_quality + rng.gauss(0, 0.35),
                has_history=rng.random() < 0.7,
                rng=lead_rng,
                converts=lead_rng.random(),
                discounts=lead_rng.random(),
                deal_delay=lead_rng.gammavariate(DEAL_DELAY_SHAPE, DEAL_DELAY_SCALE),
                exposed_at=_working_time(lead_rng, first, now),
            )
        )
    scores = [
        lead.rep.skill
        * INDUSTRIES[lead.industry][1]
        * CUSTOMER_TYPES[lead.customer_type][1]
        * math.exp(0.9 * lead.quality)
        for lead in leads
    ]
    seen = sum(
        score * _deal_delay_cdf((now - lead.exposed_at).total_seconds() / 86400)
        for score, lead in zip(scores, leads, strict=True)
    )
    scale = CONTROL_CONVERSION * len(leads) / seen
    for score, lead in zip(scores, leads, strict=True):
        lead.conversion = min(0.7, score * scale)
    return leads


def _event(
    lead: Lead,
    kind: str,
    at: datetime,
    value: float | None = None,
    properties: dict[str, Any] | None = None,
    rng: random.Random | None = None,
) -> dict[str, Any]:
    """An API-shaped event (``occurred_at`` still a datetime, for sorting); its id
    drawn from ``rng``, by default the lead's stream."""
    event: dict[str, Any] = {
        "event_id": f"demo-{(rng or lead.rng).getrandbits(96):024x}",
        "type": kind,
        "unit_id": lead.id,
        "rep_id": lead.rep.id,
        "customer_id": lead.customer_id,
        "occurred_at": at,
    }
    if value is not None:
        event["value"] = value
    if properties:
        event["properties"] = properties
    return event


def _deal_value(lead: Lead) -> float:
    """A won deal's value in CNY: lognormal, its median set by segment and quality."""
    median = (
        MEDIAN_DEAL_CNY
        * INDUSTRIES[lead.industry][2]
        * CUSTOMER_TYPES[lead.customer_type][2]
        * math.exp(0.3 * lead.quality)
    )
    return float(round(lead.rng.lognormvariate(math.log(median), 0.8), -2))


def _touchpoints(
    lead: Lead, start: datetime, end: datetime, scale: float
) -> list[dict[str, Any]]:
    """Calls, e-mails, WeChat messages, visits and demos in [start, end);
    ``scale`` multiplies the expected counts."""
    rng = lead.rng
    activity = lead.rep.activity * scale
    engaged = math.exp(lead.quality)
    means = {
        "call": 3.6 * activity * engaged,
        "email": 2.2 * activity,
        "wechat": 1.5 * activity,
        "visit": 0.4 * activity * engaged,
        "demo": 0.25 * scale * engaged,
    }
    events = []
    for kind, mean in means.items():
        for _ in range(_poisson(rng, mean)):
            at = _working_time(rng, start, end)
            properties = None
            if kind == "call":
                properties = {"duration_min": max(1, round(rng.expovariate(1 / 9)))}
            elif kind == "visit":
                properties = {"with_manager": rng.random() < 0.2}
            events.append(_event(lead, kind, at, properties=properties))
    return events


def _lead_events(lead: Lead, now: datetime) -> list[dict[str, Any]]:
    """One lead's events: history in the lookback, then touchpoints, AI
    suggestions, the deal and its discount after exposure (up to ``now``)."""
    rng = lead.rng
    treated = lead.variant == "new_script"
    events = []
    if lead.has_history:
        before = lead.exposed_at - timedelta(days=LOOKBACK_DAYS)
        events += _touchpoints(lead, before, lead.exposed_at, 0.5)
        if rng.random() < min(0.5, 0.4 * lead.conversion):
            at = _working_time(rng, before, lead.exposed_at)
            value = _deal_value(lead)
            properties = {"currency": "CNY", "order": "earlier"}
            events.append(_event(lead, "deal_won", at, value, properties))

    end = min(now, lead.exposed_at + timedelta(days=30))
    elapsed = (end - lead.exposed_at).total_seconds() / 86400
    ramp = 1 - math.exp(-elapsed / 5)
    events += _touchpoints(lead, lead.exposed_at, end, ramp)

    acceptance = min(0.95, lead.rep.ai_acceptance * (1.1 if treated else 1.0))
    for number in range(_poisson(rng, 2.8 * lead.rep.activity * ramp)):
        shown = _working_time(rng, lead.exposed_at, end)
        suggestion = {"suggestion_id": f"{lead.id}-s{number + 1}"}
        events.append(_event(lead, "ai_suggestion_shown", shown, None, suggestion))
        if rng.random() < acceptance:
            accepted = min(end, shown + timedelta(seconds=rng.randrange(20, 600)))
            events.append(
                _event(lead, "ai_suggestion_accepted", accepted, None, suggestion)
            )

    lift = TREATMENT_CONVERSION / CONTROL_CONVERSION if treated else 1.0
    won_at = lead.exposed_at + timedelta(seconds=int(lead.deal_delay * 86400))
    if lead.converts < min(0.9, lead.conversion * lift) and won_at < end:
        value = _deal_value(lead)
        events.append(_event(lead, "deal_won", won_at, value, {"currency": "CNY"}))
        if lead.discounts < (0.38 if treated else 0.45):
            discount_share = rng.uniform(0.03, 0.12)
            given_at = max(lead.exposed_at, won_at - timedelta(hours=2))
            events.append(
                _event(
                    lead,
                    "discount",
                    given_at,
                    float(round(value * discount_share, -1)),
                    {"percent": round(discount_share * 100, 1)},
                )
            )
    won = any(
        event["type"] == "deal_won" and event["occurred_at"] >= lead.exposed_at
        for event in events
    )
    return _journey(lead, events, won_at if won else None, treated, end)


def _journey(
    lead: Lead,
    events: list[dict[str, Any]],
    won_at: datetime | None,
    treated: bool,
    end: datetime,
) -> list[dict[str, Any]]:
    """Shape the touchpoints before a won deal so that attribution has a story,
    without changing any metric of the demo experiment: under the new script a
    deal mostly closes after a follow-up (second) visit, where the price talk
    happens; under the current one after a call. Visits are added (no metric of
    the experiment reads them), calls only moved in time inside the window;
    every visit after the first in the window is tagged as a follow-up
    (``touchpoint`` property). Draws come from a stream of their own, so every
    other draw of the lead stays as it was."""
    rng = random.Random(f"{SEED}:{lead.id}:journey")  # noqa: S311 (as above)

    def visit(start: datetime, stop: datetime) -> None:
        at = _working_time(rng, start, stop)
        properties = {"with_manager": rng.random() < 0.2}
        events.append(_event(lead, "visit", at, None, properties, rng))

    after = lead.exposed_at
    if won_at is not None and treated and rng.random() < 0.8:
        follow_up_start = max(after, won_at - timedelta(days=1.5))
        visit(follow_up_start, won_at)
        visit(after, max(after + timedelta(seconds=1), follow_up_start))
    elif won_at is not None and not treated and rng.random() < 0.7:
        calls = [
            e for e in events if e["type"] == "call" and e["occurred_at"] >= won_at
        ]
        if calls:
            start = max(after, won_at - timedelta(days=1))
            calls[0]["occurred_at"] = _working_time(rng, start, won_at)
    elif won_at is None and rng.random() < 0.08:
        visit(after, max(after + timedelta(seconds=1), end))
    visits = sorted(
        (e for e in events if e["type"] == "visit" and e["occurred_at"] >= after),
        key=lambda e: e["occurred_at"],
    )
    for follow_up in visits[1:]:
        follow_up["properties"] = {
            **(follow_up.get("properties") or {}),
            "touchpoint": "follow_up_visit",
        }
    return events


def _multiple_exposures(
    rng: random.Random, leads: list[Lead], now: datetime
) -> list[dict[str, Any]]:
    """Exposure events putting a few leads in the other variant too, as when a
    lead is handed to a colleague who uses the other script."""
    candidates = [lead for lead in leads if now - lead.exposed_at > timedelta(days=2)]
    events = []
    for lead in rng.sample(candidates, MULTIPLE_EXPOSURES):
        other = "control" if lead.variant == "new_script" else "new_script"
        at = lead.exposed_at + timedelta(hours=rng.randint(4, 40))
        event = _event(lead, "exposure", at, None, lead.attributes)
        event.update(experiment=EXPERIMENT_KEY, variant=other)
        events.append(event)
    return events
