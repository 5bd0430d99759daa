"""Demo data of the AI-readiness baseline (AI 就绪度基线).

Three sales teams (华东大客户部, 华南渠道部 and a new 华北工业客户部) with a few
extra members, rep ids matching the experiments demo's reps where the names
match; a bilingual AI-readiness exam (six tool-proficiency and six
division-of-work items); attempts in 2026Q3 and 2026Q4; AI-suggestion events
per rep for both quarters, ingested through the experiments pillar; and the two
campaigns, computed: 2026Q3 closed, 2026Q4 open. East and South improve from Q3
to Q4; North lags, so the heat map has a story to tell.

Called by ``assessments.demo``; flushes only, the caller commits.
"""

import random
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app

from assessments import readiness, services
from assessments.models import Exam, ReadinessCampaign
from experiments.ingest import MAX_BATCH_EVENTS, ingest
from proving_ground.auth import services as auth_services
from proving_ground.auth.models import User
from proving_ground.db import db, utcnow

SEED = 20261003
HR = "hr@demo.proving-ground.cn"
EAST = "华东大客户部 East Key Accounts"
SOUTH = "华南渠道部 South Channels"
NORTH = "华北工业客户部 North Industrial"
TEAMS = [EAST, SOUTH, NORTH]
EXAM_KEY = "ai-readiness-2026"
TOOL_TAG, DIVISION_TAG = "ai-tool-proficiency", "ai-division-of-work"
CAMPAIGNS = (
    ("ai-readiness-2026q3", "2026Q3", "closed"),
    ("ai-readiness-2026q4", "2026Q4", "open"),
)
#: Rep ids of existing demo users (experiments demo: rep-01 张伟, rep-03 刘洋).
EXISTING_REPS = {
    "rep.zhang@demo.proving-ground.cn": "rep-01",
    "rep.liu@demo.proving-ground.cn": "rep-03",
}
#: New demo members: e-mail, name, team, region, rep id, locale, roles.
MEMBERS = [
    ("rep.sun", "孙丽 Sun Li", EAST, "华东 East China", "rep-02", "zh_CN"),
    ("rep.chen", "陈晨 Chen Chen", EAST, "华东 East China", "rep-07", "zh_CN"),
    ("rep.huang", "黄俊 Huang Jun", SOUTH, "华南 South China", "rep-04", "zh_CN"),
    ("rep.wu", "Wu Lei 吴磊", SOUTH, "华南 South China", "rep-08", "en"),
    ("rep.zhao", "赵敏 Zhao Min", NORTH, "华北 North China", "rep-05", "zh_CN"),
    ("rep.ma", "马超 Ma Chao", NORTH, "华北 North China", "rep-06", "zh_CN"),
    ("rep.zhou", "周杰 Zhou Jie", NORTH, "华北 North China", "rep-09", "zh_CN"),
    ("manager.north", "何军 He Jun", NORTH, "华北 North China", None, "zh_CN"),
]
#: Per team and quarter: (share of tool items right, share of division items
#: right, AI suggestions accepted / shown). North barely moves.
PROFILE = {
    (EAST, "2026Q3"): (0.55, 0.50, 0.30),
    (EAST, "2026Q4"): (0.85, 0.80, 0.48),
    (SOUTH, "2026Q3"): (0.50, 0.45, 0.32),
    (SOUTH, "2026Q4"): (0.75, 0.75, 0.50),
    (NORTH, "2026Q3"): (0.40, 0.35, 0.22),
    (NORTH, "2026Q4"): (0.45, 0.40, 0.26),
}
#: AI suggestions shown per rep and quarter (a new rep sees few).
SHOWN = {"rep-09": 14}
SHOWN_DEFAULT = 70


def _t(zh: str, en: str) -> dict[str, str]:
    return {"zh": zh, "en": en}


def _options(*texts: tuple[str, str]) -> list[dict[str, Any]]:
    return [{"id": "abcdefgh"[i], "text": _t(*text)} for i, text in enumerate(texts)]


TOOL_ITEMS: list[dict[str, Any]] = [
    {
        "type": "single",
        "points": 1,
        "stem": _t(
            "演示结束后，你想让 AI 助手起草一封跟进邮件。"
            "哪条提示词最可能得到能直接修改使用的草稿？",
            "After a product demo you ask the AI assistant to draft a follow-up "
            "e-mail. Which prompt is most likely to give a draft you can use?",
        ),
        "options": _options(
            ("写一封邮件。", "Write an e-mail."),
            (
                "给华东医院采购部李女士写一封跟进邮件：感谢她参加昨天的演示，概括她问到的三点"
                "（灭菌周期、售后响应时间、培训安排），"
                "提议下周二通电话；150 字，正式语气。",
                "Write a follow-up e-mail to Ms Li (procurement, Huadong Hospital): "
                "thank her for yesterday's demo, sum up the three points she asked "
                "about (sterilisation cycle, service response time, training) and "
                "propose a call next Tuesday; 150 words, formal.",
            ),
            ("写得好一点、有说服力一点。", "Make it good and persuasive."),
            (
                "写一封长邮件，把我们产品的所有优点都写进去。",
                "Write a long e-mail covering everything good about our product.",
            ),
        ),
        "key": {"option": "b"},
        "feedback": _t(
            "好的提示词说明对象、目的、要点、篇幅和语气。",
            "A good prompt names the reader, the purpose, the points, the length "
            "and the tone.",
        ),
    },
    {
        "type": "true_false",
        "points": 1,
        "stem": _t(
            "判断：AI 助手根据通话录音生成的会议纪要，可以不经核对直接发给客户。",
            "True or false: a meeting summary the AI assistant generated from the "
            "call recording can be sent to the customer without checking it.",
        ),
        "key": {"value": False},
        "feedback": _t(
            "纪要可能漏掉或曲解承诺、价格和时间，发给客户前必须核对。",
            "Summaries can miss or distort commitments, prices and dates; check "
            "them before they reach the customer.",
        ),
    },
    {
        "type": "multiple",
        "points": 2,
        "scoring": "partial",
        "stem": _t(
            "把客户资料粘贴进外部 AI 工具前，必须确认哪些事项？（多选）",
            "Before pasting customer material into an external AI tool, what must "
            "you check? (Choose all that apply.)",
        ),
        "options": _options(
            (
                "公司政策允许用该工具处理这类数据",
                "Company policy allows this tool for this data",
            ),
            (
                "已去掉手机号、身份证号等个人信息",
                "Personal data such as phone and ID numbers is removed",
            ),
            (
                "不含合同价格和保密条款",
                "No contract prices or confidential terms are included",
            ),
            ("工具的界面语言是中文", "The tool's interface is in Chinese"),
            ("工具是免费的", "The tool is free"),
        ),
        "key": {"options": ["a", "b", "c"]},
        "feedback": _t(
            "合规、个人信息和商业机密是三道关；界面语言和价格无关。",
            "Policy, personal data and trade secrets are the three gates; the "
            "interface language and price are beside the point.",
        ),
    },
    {
        "type": "ordering",
        "points": 2,
        "scoring": "partial",
        "stem": _t(
            "用 AI 助手准备一份竞品对比摘要，按正确顺序排列步骤。",
            "Put the steps of preparing a competitor summary with the AI assistant "
            "in order.",
        ),
        "options": _options(
            (
                "说明要回答的问题和要比较的竞品",
                "State the question and the competitors",
            ),
            (
                "提供资料来源（官网、行业报告）",
                "Give the AI your sources (websites, analyst reports)",
            ),
            (
                "要求按表格对比并注明出处",
                "Ask for a table with the source of each point",
            ),
            ("逐项对照原始资料核实数字", "Check every figure against its source"),
            ("分享给团队", "Share it with the team"),
        ),
        "key": {"order": ["a", "b", "c", "d", "e"]},
        "feedback": _t(
            "先定问题和资料，再让 AI 结构化输出，核实后才能分享。",
            "Question and sources first, then a structured output, and verify "
            "before sharing.",
        ),
    },
    {
        "type": "single",
        "points": 1,
        "stem": _t(
            "AI 给出了一个客户的年营收数字，你在任何公开资料里都找不到。你应该怎么做？",
            "The AI gives you a customer's annual revenue, a figure you cannot find "
            "anywhere. What do you do?",
        ),
        "options": _options(
            ("直接使用，AI 通常是对的", "Use it; the AI is usually right"),
            (
                "要求 AI 给出来源并核实，核实不了就不用",
                "Ask for its source and verify it; leave it out if you can't",
            ),
            ("四舍五入后使用", "Round it and use it"),
            ("写进方案并注明“AI 估算”", "Put it in the proposal marked 'AI estimate'"),
        ),
        "key": {"option": "b"},
        "feedback": _t(
            "找不到出处的数字可能是 AI 虚构的事实。",
            "A figure without a source may be an invented fact.",
        ),
    },
    {
        "type": "matching",
        "points": 2,
        "scoring": "partial",
        "stem": _t(
            "把每项任务与最合适的 AI 助手功能配对。",
            "Match each task to the AI assistant feature that suits it.",
        ),
        "options": {
            "left": [
                {
                    "id": "l1",
                    "text": _t("概括 40 页的招标文件", "Summarise a 40-page tender"),
                },
                {
                    "id": "l2",
                    "text": _t(
                        "把通话笔记整理成 CRM 字段", "Turn call notes into CRM fields"
                    ),
                },
                {
                    "id": "l3",
                    "text": _t(
                        "把产品单页翻译成英文", "Translate a product sheet into English"
                    ),
                },
                {
                    "id": "l4",
                    "text": _t(
                        "起草三个备选邮件标题", "Draft three subject lines to test"
                    ),
                },
            ],
            "right": [
                {"id": "r1", "text": _t("长文档摘要", "Long-document summary")},
                {"id": "r2", "text": _t("结构化信息提取", "Structured extraction")},
                {"id": "r3", "text": _t("翻译", "Translation")},
                {"id": "r4", "text": _t("文本生成", "Text generation")},
                {"id": "r5", "text": _t("图像识别", "Image recognition")},
            ],
        },
        "key": {"pairs": {"l1": "r1", "l2": "r2", "l3": "r3", "l4": "r4"}},
        "feedback": _t(
            "图像识别与这些任务无关。", "Image recognition fits none of these tasks."
        ),
    },
]

DIVISION_ITEMS: list[dict[str, Any]] = [
    {
        "type": "single",
        "points": 1,
        "stem": _t(
            "哪项任务风险低，可以交给 AI、只做简单检查？",
            "Which task is low-risk enough to hand to the AI with a light check?",
        ),
        "options": _options(
            ("起草活动邀请邮件模板", "Drafting an event invitation e-mail template"),
            ("决定大客户的折扣", "Deciding a key account's discount"),
            ("谈判付款条件", "Negotiating payment terms"),
            ("向客户承诺交货日期", "Promising a delivery date to a customer"),
        ),
        "key": {"option": "a"},
        "feedback": _t(
            "模板出错代价小，容易发现；其余三项都是对客户的承诺。",
            "A template's mistakes are cheap and easy to spot; the other three "
            "commit you to the customer.",
        ),
    },
    {
        "type": "single",
        "points": 1,
        "stem": _t(
            "经销商续约时，AI 建议给 12% 的折扣。人和 AI 应该怎么分工？",
            "For a distributor renewal the AI suggests a 12% discount. How should "
            "the work be divided?",
        ),
        "options": _options(
            ("直接采纳，AI 看到的数据更多", "Accept it; the AI sees more data"),
            (
                "当作中风险建议：对照价格政策和毛利核实，由你决定并负责",
                "Treat it as a medium-risk suggestion: check it against the pricing "
                "policy and margin; you decide and own it",
            ),
            ("完全不看 AI 的价格建议", "Ignore AI pricing suggestions entirely"),
            ("让 AI 直接把报价发给客户", "Let the AI send the quote directly"),
        ),
        "key": {"option": "b"},
        "feedback": _t(
            "价格建议有参考价值，但必须经人按政策核实。",
            "Pricing suggestions help, but a person checks them against policy.",
        ),
    },
    {
        "type": "matching",
        "points": 2,
        "scoring": "partial",
        "stem": _t(
            "为每项任务选择合适的人机分工。",
            "Choose the right division of work for each task.",
        ),
        "options": {
            "left": [
                {
                    "id": "l1",
                    "text": _t(
                        "基于公开资料的竞品摘要",
                        "Competitor summary from public sources",
                    ),
                },
                {
                    "id": "l2",
                    "text": _t("价格与折扣建议", "Pricing and discount suggestions"),
                },
                {
                    "id": "l3",
                    "text": _t("大客户谈判演练", "Key-account negotiation rehearsal"),
                },
                {
                    "id": "l4",
                    "text": _t(
                        "客户拜访后的感谢邮件", "Thank-you e-mail after a visit"
                    ),
                },
            ],
            "right": [
                {
                    "id": "r1",
                    "text": _t(
                        "低风险：AI 起草，快速检查",
                        "Low risk: the AI drafts, a quick check",
                    ),
                },
                {
                    "id": "r2",
                    "text": _t(
                        "中风险：AI 提议，人按政策核实后决定",
                        "Medium risk: the AI proposes, a person verifies and decides",
                    ),
                },
                {
                    "id": "r3",
                    "text": _t(
                        "高风险：人主导，AI 只用于陪练和准备",
                        "High risk: people lead; the AI only helps practise "
                        "and prepare",
                    ),
                },
                {"id": "r4", "text": _t("完全不能使用 AI", "Never use AI")},
            ],
        },
        "key": {"pairs": {"l1": "r1", "l2": "r2", "l3": "r3", "l4": "r1"}},
        "feedback": _t(
            "风险越高，人越要主导；但即使高风险任务，AI 也能帮忙演练。",
            "The higher the risk, the more a person leads; even then the AI can "
            "help you rehearse.",
        ),
    },
    {
        "type": "true_false",
        "points": 1,
        "stem": _t(
            "判断：大客户谈判前，让 AI 扮演客户、和你演练可能的异议，是合理的做法。",
            "True or false: before a key-account negotiation it is sensible to let "
            "the AI play the customer and rehearse likely objections with you.",
        ),
        "key": {"value": True},
        "feedback": _t(
            "演练是 AI 在高风险任务中的合适角色：决定仍由人做。",
            "Rehearsal is a fitting role for the AI in a high-risk task: people "
            "still make the decisions.",
        ),
    },
    {
        "type": "multiple",
        "points": 2,
        "scoring": "partial",
        "stem": _t(
            "哪些事应由人而不是 AI 决定？（多选）",
            "Which should a person, not the AI, decide? (Choose all that apply.)",
        ),
        "options": _options(
            ("大客户的最终价格", "A key account's final price"),
            ("合同中的交货承诺", "A contractual delivery commitment"),
            ("会议提醒的措辞", "The wording of a meeting reminder"),
            (
                "是否升级医院院长的投诉",
                "Whether to escalate a hospital director's complaint",
            ),
            ("竞品摘要的初稿", "The first draft of a competitor summary"),
        ),
        "key": {"options": ["a", "b", "d"]},
        "feedback": _t(
            "价格、承诺和关键客户关系由人负责；措辞和初稿可以交给 AI。",
            "Prices, commitments and key relationships are a person's call; "
            "wording and first drafts can go to the AI.",
        ),
    },
    {
        "type": "single",
        "points": 1,
        "stem": _t(
            "一位新销售采纳了 95% 的 AI 建议，包括价格建议。最好的辅导是什么？",
            "A new rep accepts 95% of AI suggestions, pricing ones included. What "
            "is the best coaching?",
        ),
        "options": _options(
            ("表扬其采纳率高", "Praise the high adoption"),
            ("让其停用 AI", "Tell them to stop using the AI"),
            (
                "按风险分层：低风险草稿可采纳，中风险对照政策核实，高风险决定自己做",
                "Sort suggestions by risk: take low-risk drafts, check medium-risk "
                "ones against policy, keep high-risk decisions",
            ),
            ("换一个 AI 工具", "Switch to another AI tool"),
        ),
        "key": {"option": "c"},
        "feedback": _t(
            "采纳率高不等于用得好：这是过度依赖的信号。",
            "High adoption is not the same as good use: this signals over-reliance.",
        ),
    },
]


def _exam(hr: User | None) -> Exam:
    for tag, prefix, contents in (
        (TOOL_TAG, "ai-tool", TOOL_ITEMS),
        (DIVISION_TAG, "ai-division", DIVISION_ITEMS),
    ):
        for number, content in enumerate(contents, start=1):
            services.create_item(
                {
                    "key": f"{prefix}-{number:03d}",
                    "tags": [tag, "AI 就绪度"],
                    "difficulty": 2,
                    "status": "active",
                    "content": content,
                },
                actor=hr,
            )
    exam = services.create_exam(
        {
            "key": EXAM_KEY,
            "title": _t("AI 就绪度测评", "AI-readiness check"),
            "description": _t(
                "每季度一次的 AI 就绪度测评：工具熟练度 6 题、人机分工 6 题，"
                "限时 20 分钟。"
                "结果只用于团队基线，不设及格线。",
                "The quarterly AI-readiness check: 6 tool-proficiency and 6 "
                "division-of-work questions in 20 minutes. Results feed the team "
                "baseline; there is no pass mark to worry about.",
            ),
            "time_limit_minutes": 20,
            "max_attempts": 8,
            "wait_hours": 0,
            "cut_score": 0.6,
            "sections": [
                {
                    "title": _t("工具熟练度", "Tool proficiency"),
                    "tag": TOOL_TAG,
                    "item_count": len(TOOL_ITEMS),
                },
                {
                    "title": _t("人机分工", "Division of work"),
                    "tag": DIVISION_TAG,
                    "item_count": len(DIVISION_ITEMS),
                },
            ],
        },
        actor=hr,
    )
    services.set_exam_status(exam, "published", actor=hr)
    return exam


def _people(users: dict[str, User]) -> tuple[list[User], int]:
    """Set rep ids on the existing demo reps, create the extra members; returns
    everyone in the three teams and how many users were created."""
    created = 0
    taken = set(
        db.session.scalars(sa.select(User.rep_id).where(User.rep_id.is_not(None)))
    )
    for email, rep_id in EXISTING_REPS.items():
        user = users.get(email)
        if user is not None and user.rep_id is None and rep_id not in taken:
            user.rep_id = rep_id
            taken.add(rep_id)
    for name, display, team, region, rep_id, locale in MEMBERS:
        email = f"{name}@demo.proving-ground.cn"
        if auth_services.get_user_by_email(email) is not None:
            continue
        auth_services.create_user(
            email=email,
            display_name=display,
            password=current_app.config["DEMO_PASSWORD"],
            check_password=False,
            roles=["manager"] if name.startswith("manager") else ["member"],
            locale=locale,
            team=team,
            region=region,
            rep_id=rep_id if rep_id not in taken else None,
        )
        created += 1
    db.session.flush()
    members = db.session.scalars(
        sa.select(User).where(User.team.in_(TEAMS), User.active.is_(True))
    ).all()
    return list(members), created


def _answer(content: dict[str, Any], right: bool, rng: random.Random) -> Any:
    """A right or a wrong answer to one of this module's items."""
    key = content["key"]
    kind = content["type"]
    if kind == "single":
        if right:
            return key["option"]
        return rng.choice(
            [o["id"] for o in content["options"] if o["id"] != key["option"]]
        )
    if kind == "multiple":
        return key["options"] if right else key["options"][:1]
    if kind == "true_false":
        return key["value"] if right else not key["value"]
    if kind == "ordering":
        return key["order"] if right else list(reversed(key["order"]))
    pairs = dict(key["pairs"])  # matching: swap the first two pairs when wrong
    if not right:
        first, second = list(pairs)[:2]
        pairs[first], pairs[second] = pairs[second], pairs[first]
    return pairs


def _sit(exam: Exam, user: User, at: datetime, shares: tuple[float, float], rng):
    """One attempt at ``at`` with round(share × items) items of the tool section
    (shares[0]) and of the division section (shares[1]) right, chosen at random."""
    language = "en" if user.locale == "en" else "zh_CN"
    attempt = services.start_attempt(exam, user, language=language, now=at)
    for section, share in zip(exam.sections, shares, strict=True):
        rows = [row for row in attempt.items if row.section_id == section.id]
        right = set(rng.sample(range(len(rows)), round(share * len(rows))))
        for index, row in enumerate(rows):
            answer = _answer(row.version.content, index in right, rng)
            services.save_answer(attempt, row.position, answer, now=at)
    services.submit_attempt(attempt, now=at + timedelta(minutes=14))


def _events(rep_id: str, start: datetime, end: datetime, rate: float, rng) -> list:
    """AI suggestions shown to a rep between start and end, each accepted with
    probability ``rate``."""
    events = []
    span = (end - start).total_seconds()
    for number in range(SHOWN.get(rep_id, SHOWN_DEFAULT)):
        at = start + timedelta(seconds=int(rng.random() * span))
        base = {
            "unit_id": f"demo-lead-{rep_id}-{start:%Y%m}-{number}",
            "rep_id": rep_id,
            "occurred_at": at.isoformat(),
            "properties": {"suggestion_id": f"r-{rep_id}-{start:%Y%m}-{number}"},
        }
        events.append(
            {
                **base,
                "event_id": f"readiness-{rep_id}-{start:%Y%m}-{number}-shown",
                "type": "ai_suggestion_shown",
            }
        )
        if rng.random() < rate:
            accepted = min(end, at + timedelta(seconds=rng.randrange(20, 300)))
            events.append(
                {
                    **base,
                    "occurred_at": accepted.isoformat(),
                    "event_id": f"readiness-{rep_id}-{start:%Y%m}-{number}-accepted",
                    "type": "ai_suggestion_accepted",
                }
            )
    return events


def load(users: dict[str, User], progress: Callable[[str], None]) -> int:
    """Add the readiness demo unless its exam exists; returns how many records
    were created (users, items, exam, attempts, events, campaigns)."""
    if db.session.scalar(sa.select(Exam.id).where(Exam.key == EXAM_KEY)):
        return 0
    hr = users.get(HR)
    progress("assessments: AI-readiness team members")
    members, created = _people(users)
    progress("assessments: AI-readiness exam")
    exam = _exam(hr)
    created += len(TOOL_ITEMS) + len(DIVISION_ITEMS) + 1
    rng = random.Random(SEED)  # noqa: S311 (simulated demo data)
    now = utcnow().replace(microsecond=0)
    quarters = []
    for key, quarter, status in CAMPAIGNS:
        start, end = readiness.quarter_bounds(quarter)
        if start + timedelta(days=14) < now:
            quarters.append((key, quarter, status, start, min(end, now)))

    progress("assessments: AI-readiness attempts and AI-suggestion events")
    events: list[dict[str, Any]] = []
    skills: dict[int, float] = {}
    for _key, quarter, _status, start, end in quarters:
        for user in members:
            if user.team not in TEAMS or user.email.startswith("manager."):
                continue
            tool, division, rate = PROFILE[(user.team, quarter)]
            skill = skills.setdefault(user.id, rng.uniform(-0.12, 0.12))
            tool = min(1.0, max(0.0, tool + skill))
            division = min(1.0, max(0.0, division + skill))
            day = rng.randrange(3, max(4, min(60, (end - start).days - 2)))
            at = start + timedelta(days=day, hours=rng.randrange(1, 9))
            _sit(exam, user, at, (tool, division), rng)
            created += 1
            if user.rep_id:
                events += _events(user.rep_id, start, end, rate, rng)
    for first in range(0, len(events), MAX_BATCH_EVENTS):
        result = ingest(events[first : first + MAX_BATCH_EVENTS], source="demo")
        if result.rejected:
            raise RuntimeError(f"readiness demo events rejected: {result.rejected[:3]}")
        created += result.accepted

    progress("assessments: AI-readiness campaigns")
    sections = exam.sections
    for key, quarter, _status, _start, _end in quarters:
        readiness.create_campaign(
            {
                "key": key,
                "quarter": quarter,
                "title": _t(
                    f"{quarter[:4]} 年第 {quarter[-1]} 季度 AI 就绪度基线",
                    f"AI-readiness baseline {quarter}",
                ),
                "teams": TEAMS,
                "exam": EXAM_KEY,
                "tool_section": sections[0].id,
                "division_section": sections[1].id,
                "status": "open",
            },
            actor=hr,
        )
        created += 1
    return created


def compute(users: dict[str, User], progress: Callable[[str], None]) -> int:
    """Compute the demo campaigns never computed yet, then close the past ones.
    Runs once every pillar's demo exists: the quarter's adoption counts include
    the experiments demo's AI-suggestion events."""
    hr = users.get(HR)
    now = utcnow().replace(microsecond=0)
    for key, _quarter, status in CAMPAIGNS:
        campaign = db.session.scalar(
            sa.select(ReadinessCampaign).where(ReadinessCampaign.key == key)
        )
        if campaign is None or campaign.computed_at is not None:
            continue
        progress(f"assessments: computing {campaign.quarter}")
        _start, end = readiness.quarter_bounds(campaign.quarter)
        readiness.compute_campaign(campaign, now=min(now, end), actor=hr)
        if status != "open":
            readiness.set_status(campaign, status, actor=hr)
    return 0
