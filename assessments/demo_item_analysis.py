"""Demo data for item analysis: a paper sitting of the data-literacy exam.

80 examinees sat a fixed paper form of 20 objective items of ``data-literacy-2026``
(8 data interpretation, 6 attribution analysis, 6 strategy reasoning). Their scores
come from a seeded two-parameter logistic model (ability ~ N(0, 1), item slopes
0.8–2.0, difficulties from −1.5 to 1.5; two-point items score one point per
threshold passed), imported as external responses of that exam through
``item_analysis.import_responses``. Two items are deliberately poor so the flags
show: one barely related to ability (slope 0.1) and one that stronger examinees
get wrong more often (slope −0.8, its popular distractor drawing the top quarter).
"""

import csv
import io
from collections.abc import Callable

import numpy as np
import sqlalchemy as sa

from assessments import item_analysis, services
from assessments.models import Exam
from proving_ground.db import db

EXAM = "data-literacy-2026"
HR = "hr@demo.proving-ground.cn"
SEED = 20260315
EXAMINEES = 80
#: Items per section on the paper form, in section order.
FORM = (8, 6, 6)
OBJECTIVE = ("single", "true_false", "numeric", "multiple")
#: Positions on the form of the deliberately poor items, and their slopes.
POOR = {5: 0.1, 12: -0.8}


def _form(exam: Exam) -> list:
    """The paper form: per section the first objective items by key."""
    form, taken = [], set()
    for section, count in zip(exam.sections, FORM, strict=True):
        pool = [
            item
            for item in services.section_pool(section)
            if item.current.type in OBJECTIVE and item.id not in taken
        ]
        chosen = sorted(pool, key=lambda item: item.key)[:count]
        taken.update(item.id for item in chosen)
        form.extend(chosen)
    return form


def responses_csv(exam: Exam) -> str:
    """The sitting as CSV ``examinee,item,score,option`` (seeded, the same on
    every run)."""
    rng = np.random.default_rng(SEED)
    items = _form(exam)
    ability = rng.normal(0, 1, EXAMINEES)
    slopes = rng.uniform(0.8, 2.0, len(items))
    difficulty = np.linspace(-1.5, 1.5, len(items))
    rng.shuffle(difficulty)
    for position, slope in POOR.items():
        slopes[position] = slope
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["examinee", "item", "score", "option"])
    for i, theta in enumerate(ability):
        examinee = f"P2026-{i + 1:03d}"
        for j, item in enumerate(items):
            version = item.current
            maximum = int(version.max_points)
            steps = [difficulty[j] - 0.5, difficulty[j] + 0.5][:maximum]
            if maximum == 1:
                steps = [difficulty[j]]
            score = sum(
                rng.random() < 1 / (1 + np.exp(-slopes[j] * (theta - step)))
                for step in steps
            )
            option = ""
            if version.type == "single":
                key = version.content["key"]["option"]
                others = [o["id"] for o in version.content["options"] if o["id"] != key]
                # The first distractor is the plausible one; it draws more.
                weights = np.array([3.0] + [1.0] * (len(others) - 1))
                option = (
                    key if score else str(rng.choice(others, p=weights / weights.sum()))
                )
            elif version.type == "true_false":
                value = bool(version.content["key"]["value"])
                option = str(value if score else not value).lower()
            writer.writerow([examinee, item.key, int(score), option])
    return out.getvalue()


def load(users: dict, progress: Callable[[str], None]) -> int:
    """Import the paper sitting unless the exam already holds imported responses;
    returns the responses created. Flushes only; the caller commits."""
    exam = db.session.scalar(sa.select(Exam).where(Exam.key == EXAM))
    if exam is None:
        return 0
    if item_analysis.response_count(exam)[0]:
        return 0
    progress("assessments: item analysis paper sitting")
    report = item_analysis.import_responses(
        exam, responses_csv(exam), actor=users.get(HR)
    )
    return report.accepted
