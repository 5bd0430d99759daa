"""Assessments demo data: the data-literacy certification (数据素养认证).

``proving-ground demo load`` sends ``demo_data_requested``; :func:`load_demo`
answers it with the capability map, the bilingual item bank of
``demo_content.json`` (three sections: 数据解读, 归因分析, 策略推演, with table and
chart stimuli and rubric items), the published exam, an Angoff panel of three
judges, the certification and a promotion track, and a few attempts: one passed
and certified, one failed, and case-analysis answers waiting to be marked.
"""

import json
import random
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from assessments import (
    demo_item_analysis,
    demo_readiness,
    demo_simulations,
    services,
)
from assessments.models import Attempt, Framework
from proving_ground.db import db, utcnow
from proving_ground.signals import demo_data_loaded, demo_data_requested

CONTENT = Path(__file__).with_name("demo_content.json")
SEED = 20261127
HR = "hr@demo.proving-ground.cn"
ADMIN = "admin@demo.proving-ground.cn"
JUDGES = (HR, "manager.east@demo.proving-ground.cn", ADMIN)
#: Demo examinees: e-mail → (share of objective items answered right, days ago).
EXAMINEES = {
    "rep.zhang@demo.proving-ground.cn": (0.9, 6),
    "rep.liu@demo.proving-ground.cn": (0.35, 4),
    "manager.south@demo.proving-ground.cn": (0.8, 1),
}
#: Sits the case-analysis exam; the answers wait for marking.
CASE_EXAMINEE = "rep.zhang@demo.proving-ground.cn"
#: Rubric level chosen by both markers for the demo's graded answers.
MARKED_LEVEL = {
    "rep.zhang@demo.proving-ground.cn": -1,
    "rep.liu@demo.proving-ground.cn": 0,
}


def _right(content: dict[str, Any]) -> Any:
    key = content.get("key") or {}
    return {
        "single": lambda: key["option"],
        "multiple": lambda: key["options"],
        "true_false": lambda: key["value"],
        "numeric": lambda: key["value"],
        "ordering": lambda: key["order"],
        "matching": lambda: key["pairs"],
    }[content["type"]]()


def _wrong(content: dict[str, Any], rng: random.Random) -> Any:
    right = _right(content)
    kind = content["type"]
    if kind == "single":
        return next(o["id"] for o in content["options"] if o["id"] != right)
    if kind == "multiple":
        return [o["id"] for o in content["options"] if o["id"] not in right][:1] or None
    if kind == "true_false":
        return not right
    if kind == "numeric":
        return round(right * 1.5 + 7, 2)
    if kind == "ordering":
        return list(reversed(right))
    pairs = dict(right)  # matching: swap two pairs
    lefts = list(pairs)
    pairs[lefts[0]], pairs[lefts[1]] = pairs[lefts[1]], pairs[lefts[0]]
    return pairs


ESSAY = {
    "zh": "建议先在华东区扩大试点：主要指标的置信区间不含 0，但退款率这一护栏指标"
    "还需再观察两周；同时核对样本比例，避免分组偏差。",
    "en": "Extend the pilot in East China first: the primary metric's interval "
    "excludes zero, but the refund guardrail needs two more weeks; check the "
    "sample ratio to rule out an assignment problem.",
}


def _sit(
    attempt: Attempt, share_right: float, rng: random.Random, language: str
) -> None:
    start = attempt.started_at
    for row in attempt.items:
        content = row.version.content
        if content["type"] in ("short_text", "long_text"):
            answer = ESSAY["en" if language == "en" else "zh"]
        elif rng.random() < share_right:
            answer = _right(content)
        else:
            answer = _wrong(content, rng)
        at = start + timedelta(minutes=row.position)
        services.save_answer(attempt, row.position, answer, now=at)
    services.submit_attempt(
        attempt, now=start + timedelta(minutes=len(attempt.items) + 3)
    )


@demo_data_requested.connect
def load_demo(sender, *, users, progress: Callable[[str], None], **_) -> int:
    """Add the assessments demo unless its capability map exists; returns how many
    records were created. Flushes only; the caller commits."""
    data = json.loads(CONTENT.read_text(encoding="utf-8"))
    framework = data["framework"]
    if db.session.scalar(
        db.select(Framework.id).where(Framework.key == framework["key"])
    ):
        return 0
    hr = users.get(HR)
    progress("assessments: capability map and item bank")
    services.create_framework(framework, actor=hr)
    for item in data["items"]:
        services.create_item(item, actor=hr)
    spec = data["exam"]
    exam = services.create_exam(
        {
            **{k: v for k, v in spec.items() if k != "sections"},
            "sections": [
                {
                    "title": s["title"],
                    "competency": s["competency"],
                    "item_count": s["item_count"],
                    "min_score": s.get("min_score"),
                }
                for s in spec["sections"]
            ],
        },
        actor=hr,
    )
    services.set_exam_status(exam, "published", actor=hr)
    graders = [users[email] for email in (ADMIN,) if email in users]
    services.set_graders(exam, graders, actor=hr)
    services.create_certification(
        {**data["certification"], "exams": [exam.key]}, actor=hr
    )
    services.create_track(
        {**data["promotion_track"], "certifications": [data["certification"]["key"]]},
        actor=hr,
    )

    progress("assessments: Angoff panel")
    rng = random.Random(SEED)  # noqa: S311 (simulated demo data)
    items = services.angoff_items(exam)
    for email in JUDGES:
        judge = users.get(email)
        if judge is None:
            continue
        services.invite_judge(exam, judge, actor=hr)
        services.rate_items(
            exam,
            judge,
            {
                item.id: round(
                    min(
                        0.95,
                        max(0.2, 0.95 - 0.1 * item.difficulty + rng.gauss(0, 0.06)),
                    ),
                    2,
                )
                for item in items
            },
        )

    cases = services.create_exam(data["case_exam"], actor=hr)
    services.set_exam_status(cases, "published", actor=hr)
    services.set_graders(cases, graders, actor=hr)

    progress("assessments: attempts")
    now = utcnow().replace(microsecond=0)
    for email, (share_right, days_ago) in EXAMINEES.items():
        user = users.get(email)
        if user is None:
            continue
        language = "en" if user.locale == "en" else "zh_CN"
        attempt = services.start_attempt(
            exam, user, language=language, now=now - timedelta(days=days_ago)
        )
        _sit(attempt, share_right, rng, language)
        if email in MARKED_LEVEL:
            _mark(
                attempt,
                [users[e] for e in (HR, ADMIN) if e in users],
                MARKED_LEVEL[email],
            )
    # A case-analysis attempt waiting in the grading queue.
    examinee = users.get(CASE_EXAMINEE)
    if examinee is not None:
        attempt = services.start_attempt(
            cases, examinee, language="zh_CN", now=now - timedelta(hours=3)
        )
        _sit(attempt, 1.0, rng, "zh_CN")
    created = demo_simulations.load(users, progress)
    created += demo_item_analysis.load(users, progress)
    created += demo_readiness.load(users, progress)
    return len(data["items"]) + 7 + len(EXAMINEES) + created


def _mark(attempt: Attempt, markers: list, level: int) -> None:
    """Both markers give every rubric criterion the same level (first or last)."""
    for row in attempt.items:
        if not row.needs_grading:
            continue
        criteria = row.version.content["rubric"]["criteria"]
        levels = {
            c["id"]: (len(c["levels"]) - 1 if level < 0 else level) for c in criteria
        }
        for marker in markers:
            if row.needs_grading:
                services.grade_answer(row, marker, levels, "")


@demo_data_loaded.connect
def compute_demo(sender, *, users, progress: Callable[[str], None], **_) -> int:
    """Figures that read the other pillars' demo (the readiness campaigns)."""
    return demo_readiness.compute(users, progress)
