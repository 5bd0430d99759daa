"""Simulations demo data: three AI-coaching scenarios and attempts that tell a story.

``demo_simulations.json`` holds the bilingual scenarios (medical-device hospital
procurement, SaaS renewal, FMCG distributor), each with twelve suggestions, half
flawed, a branch where the customer catches an invented fact, and a rubric for
coaching notes. :func:`load` imports and publishes them, creates the AI coaching
certification (the data-literacy exam and all three scenarios) when the
assessments demo's exam exists, and sits four attempts in the past few days: a
calibrated manager (notes marked by HR), an over-reliant manager, an
over-sceptical rep, and coaching notes still waiting for a grader.
"""

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from assessments import services, simulations
from assessments.models import Exam
from proving_ground.db import db, utcnow

CONTENT = Path(__file__).with_name("demo_simulations.json")
HR = "hr@demo.proving-ground.cn"
#: The data-literacy exam of the assessments demo (``demo_content.json``): a
#: certification needs at least one exam, so the AI coaching certification
#: builds on it and is created only when that exam exists.
EXAM_KEY = "data-literacy-2026"
CERTIFICATION = {
    "key": "ai-coaching-2026",
    "name": {"zh": "AI 辅导认证", "en": "AI Coaching Certification"},
    "description": {
        "zh": "通过数据素养认证考试，并在三个 AI 辅导模拟中都做到辨别力 d′ ≥ 1.0、"
        "过度依赖不超过 25%：采纳可靠的 AI 建议，识别有缺陷的建议。",
        "en": "Pass the data literacy certification exam and reach d′ ≥ 1.0 with "
        "over-reliance at most 25% in all three AI-coaching simulations: accept "
        "sound AI suggestions and catch flawed ones.",
    },
    "validity_months": 12,
}


def _accept() -> dict[str, Any]:
    return {"decision": "accept"}


def _reject(*flaws: str, note: str | None = None) -> dict[str, Any]:
    return {"decision": "reject", "flaws": list(flaws), "note": note}


def _edit(text: str, *flaws: str, note: str | None = None) -> dict[str, Any]:
    return {"decision": "edit", "edited_text": text, "flaws": list(flaws), "note": note}


#: Demo sittings: who, which scenario, when (hours ago), seconds spent per turn,
#: the decision on every suggestion they meet (the path follows from them), and
#: the HR marks on the coaching notes (None: the notes wait for a grader).
SITTINGS: list[dict[str, Any]] = [
    {
        # Calibrated: every flaw caught, one sound suggestion edited needlessly.
        "email": "manager.east@demo.proving-ground.cn",
        "scenario": "sim-hospital-procurement",
        "hours_ago": 4 * 24 + 3,
        "turn_seconds": 150,
        "responses": {
            "s1": _accept(),
            "s2": _reject(
                "non_compliant_promise",
                note="控标和承诺中标都违反招标投标法和公司合规政策，王主任也刚说过"
                "她什么都保证不了。只提供注册证和白皮书，演示经设备科安排。",
            ),
            "s3": _accept(),
            "s4": _edit(
                "在我的权限内可以优惠 5%，两台合计 319.2 万元，在预算以内；最终价格以"
                "投标报价为准。",
                "wrong_price",
                note="336 万打九折是 302.4 万，不是 290 万；而且 10% 超出了你 8% 的"
                "折扣权限，要走价格委员会。",
            ),
            "s5": _reject(
                "invented_fact",
                note="已审批的证据只有那项 120 例的单中心研究，没有多中心研究，也不能"
                "说北京的医院。医生会查文献。",
            ),
            "s6": _accept(),
            "s9": _reject(
                "non_compliant_promise",
                note="合同只有 3 年保修、24 小时到场；赞助和中标挂钩是商业贿赂风险，"
                "招标期间不能赞助。",
            ),
            "s10": _edit(
                "保修可以在投标中延长到五年，每台加收 20.16 万元。我们的标准是 4 小时"
                "远程响应、24 小时到场，4 小时到场是硬性要求吗？学术支持在招标结束后"
                "可以通过公司正式流程向医院申请，与本次采购无关。"
            ),
            "s11": _reject(
                "biased_assumption",
                "ignores_need",
                note="王主任自己谈了预算、招标和保修，不能因为她是临床专家就假定她"
                "不关心；设备科负责招标文件和评标。",
            ),
            "s12": _accept(),
        },
        "marks": {"precision": 2, "better-move": 2, "compliance": 1},
        "comment": "缺陷指得准，改写可直接用；合规风险可以再说清对医院的后果。",
    },
    {
        # Over-reliant: five of six flawed suggestions go through, the invented
        # certifications included, so the CIO catches them (branch t4b).
        "email": "manager.south@demo.proving-ground.cn",
        "scenario": "sim-saas-renewal",
        "hours_ago": 2 * 24 + 6,
        "turn_seconds": 45,
        "responses": {
            "s1": _accept(),
            "s2": _accept(),
            "s3": _accept(),
            "s4": _accept(),
            "s5": _reject("wrong_price"),
            "s6": _accept(),
            "s7": _accept(),
            "s8": _accept(),
            "s9": _accept(),
            "s10": _accept(),
            "s11": _accept(),
            "s12": _accept(),
        },
    },
    {
        # Over-sceptical: every flaw caught, but four of five sound
        # suggestions thrown away too.
        "email": "rep.zhang@demo.proving-ground.cn",
        "scenario": "sim-fmcg-distributor",
        "hours_ago": 3 * 24 + 1,
        "turn_seconds": 100,
        "responses": {
            "s1": _reject(),
            "s2": _reject("wrong_price"),
            "s3": _reject("wrong_price"),
            "s4": _reject("non_compliant_promise"),
            "s5": _reject("invented_fact"),
            "s6": _reject("ignores_need"),
            "s9": _reject("ignores_need"),
            "s10": _accept(),
            "s11": _reject(),
            "s12": _reject("other"),
        },
    },
    {
        # Calibrated with one slip (the confidential terms sheet); the coaching
        # notes wait for a grader.
        "email": "manager.east@demo.proving-ground.cn",
        "scenario": "sim-fmcg-distributor",
        "hours_ago": 5,
        "turn_seconds": 130,
        "responses": {
            "s1": _accept(),
            "s2": _reject(
                "wrong_price",
                note="标准毛利是 12%，区域经理无权调整；能谈的是达到 946 万后的 2 个点"
                "增长返利。",
            ),
            "s3": _accept(),
            "s4": _reject(
                "non_compliant_promise",
                "wrong_price",
                note="给采购经理现金是商业贿赂；进场费我们只承担 50%，每年上限 8 万。",
            ),
            "s5": _reject(
                "invented_fact",
                "non_compliant_promise",
                note="他去年 8 月和 11 月两次逾期，不能说记录一直很好；45 天还要"
                "信用保险，不能当场答应。",
            ),
            "s6": _accept(),
            "s9": _reject(
                "ignores_need", note="赵总刚说要的是乡镇网点的支持，不是超市。"
            ),
            "s10": _accept(),
            "s11": _accept(),
            "s12": _accept(),
        },
    },
]


def scenarios() -> list[dict[str, Any]]:
    """The demo scenarios in the shape ``simulations.create_scenario`` takes."""
    return json.loads(CONTENT.read_text(encoding="utf-8"))["scenarios"]


def _sit(attempt, responses: dict[str, dict], turn_seconds: int) -> None:
    """Answer turn after turn along the path until the scenario ends (which
    submits the attempt), ``turn_seconds`` apart."""
    at: datetime = attempt.started_at
    while (turn := simulations.public_turn(attempt)) is not None:
        at += timedelta(seconds=turn_seconds)
        answers = [
            {"suggestion": s["id"], **responses[s["id"]]} for s in turn["suggestions"]
        ]
        simulations.answer_turn(attempt, turn["id"], answers, now=at)


def load(users: dict, progress: Callable[[str], None]) -> int:
    """Import and publish the demo scenarios, create the AI coaching
    certification and sit the demo attempts, unless the first scenario exists;
    returns how many records were created. Flushes only; the caller commits."""
    records = scenarios()
    if simulations.scenario_by_key(records[0]["key"]) is not None:
        return 0
    hr = users.get(HR)
    progress("assessments: AI-coaching simulations")
    report = simulations.import_scenarios(records, actor=hr)
    if report.errors:
        raise ValueError(f"demo scenarios do not import: {report.errors}")
    by_key = {}
    for record in records:
        scenario = simulations.scenario_by_key(record["key"])
        simulations.set_scenario_status(scenario, "published", actor=hr)
        by_key[record["key"]] = scenario
    created = len(by_key)
    if db.session.scalar(sa.select(Exam.id).where(Exam.key == EXAM_KEY)):
        services.create_certification(
            {**CERTIFICATION, "exams": [EXAM_KEY], "scenarios": list(by_key)},
            actor=hr,
        )
        created += 1

    progress("assessments: simulation attempts")
    now = utcnow().replace(microsecond=0)
    for sitting in SITTINGS:
        user = users.get(sitting["email"])
        if user is None:
            continue
        attempt = simulations.start_attempt(
            by_key[sitting["scenario"]],
            user,
            language="en" if user.locale == "en" else "zh_CN",
            now=now - timedelta(hours=sitting["hours_ago"]),
        )
        _sit(attempt, sitting["responses"], sitting["turn_seconds"])
        created += 1
        if sitting.get("marks") and hr is not None:
            simulations.grade_notes(
                attempt,
                hr,
                sitting["marks"],
                sitting["comment"],
                now=attempt.submitted_at + timedelta(hours=20),
            )
            created += 1
    return created
