"""Factories for assessments tests: a small item bank and published exams."""

from collections.abc import Callable

import pytest

from assessments import services
from proving_ground.db import db

SECTIONS = ("interpretation", "attribution", "strategy")


def single_choice(n: int, correct: str = "b") -> dict:
    return {
        "type": "single",
        "points": 1,
        "stem": {
            "zh": f"第 {n} 题：哪个选项正确？",
            "en": f"Question {n}: which is right?",
        },
        "options": [
            {"id": i, "text": {"zh": f"选项 {i}", "en": f"Option {i}"}}
            for i in ("a", "b", "c", "d")
        ],
        "key": {"option": correct},
        "feedback": {"zh": "解析", "en": "Explanation"},
    }


def numeric(value: float = 12.5) -> dict:
    return {
        "type": "numeric",
        "points": 2,
        "stem": {"zh": "转化率是多少（%）？", "en": "What is the conversion rate (%)?"},
        "key": {"value": value, "tolerance": 0.1, "tolerance_kind": "absolute"},
        "stimulus": {
            "kind": "table",
            "columns": ["线索 Leads", "成交 Won"],
            "rows": [[400, 50]],
            "caption": {"zh": "三月数据", "en": "March figures"},
        },
    }


def long_text() -> dict:
    levels = [
        {"points": p, "description": {"zh": f"{p} 分标准", "en": f"{p}-point standard"}}
        for p in (0, 1, 2)
    ]
    return {
        "type": "long_text",
        "stem": {"zh": "该不该全面推广？说明理由。", "en": "Roll it out? Explain why."},
        "rubric": {
            "criteria": [
                {
                    "id": "evidence",
                    "name": {"zh": "证据", "en": "Evidence"},
                    "levels": levels,
                },
                {"id": "risk", "name": {"zh": "风险", "en": "Risk"}, "levels": levels},
            ]
        },
    }


@pytest.fixture
def bank(app) -> dict[str, list[str]]:
    """A framework with three competencies; per competency four single-choice
    items (key "b"), one numeric item (12.5 ± 0.1) and, in strategy, one rubric
    item. Returns item keys per competency."""
    keys: dict[str, list[str]] = {}
    with app.app_context():
        services.create_framework(
            {
                "key": "data-literacy",
                "name": {"zh": "数据素养", "en": "Data literacy"},
                "competencies": [
                    {
                        "key": key,
                        "name": {"zh": f"能力 {key}", "en": f"Competency {key}"},
                        "levels": [{"zh": "入门", "en": "Novice"}],
                    }
                    for key in SECTIONS
                ],
            },
            actor=None,
        )
        for section in SECTIONS:
            contents = [single_choice(i) for i in range(4)] + [numeric()]
            if section == "strategy":
                contents.append(long_text())
            keys[section] = []
            for i, content in enumerate(contents):
                key = f"{section[:3]}-{i:03d}"
                services.create_item(
                    {
                        "key": key,
                        "competency": section,
                        "tags": [section],
                        "status": "active",
                        "content": content,
                    },
                    actor=None,
                )
                keys[section].append(key)
        db.session.commit()
    return keys


@pytest.fixture
def make_exam(app, bank) -> Callable[..., str]:
    """Create and publish an exam drawing from the bank; returns its key.
    ``counts`` gives items per section (default: every item of each)."""

    def make(key: str = "data-literacy-exam", *, counts=None, **settings) -> str:
        counts = counts or {s: len(bank[s]) for s in SECTIONS}
        with app.app_context():
            exam = services.create_exam(
                {
                    "key": key,
                    "title": {"zh": "数据素养考试", "en": "Data literacy exam"},
                    "time_limit_minutes": 30,
                    "max_attempts": 2,
                    "wait_hours": 0,
                    "cut_score": 0.6,
                    "sections": [
                        {
                            "title": {"zh": f"部分 {s}", "en": f"Section {s}"},
                            "competency": s,
                            "item_count": counts[s],
                        }
                        for s in SECTIONS
                        if counts.get(s)
                    ],
                    **settings,
                },
                actor=None,
            )
            services.set_exam_status(exam, "published", actor=None)
            db.session.commit()
        return key

    return make
