"""The exam engine's scoring core: content validation, answers, scores, the
public view of an item, rubric marking, second marking, Angoff and pass rules."""

import copy
import json
import math

import numpy as np
import pytest

from assessments.scoring import (
    AngoffResult,
    FailReason,
    Reconciled,
    Score,
    SectionResult,
    angoff,
    is_auto_scored,
    max_points,
    option_ids,
    parse_number,
    passes,
    public_content,
    reconcile,
    results_by,
    rubric_points,
    score_answer,
    section_result,
    shuffled_options,
    validate_answer,
    validate_content,
)

SECRET = "SECRET-NOTE"


def bi(en: str, zh: str | None = None) -> dict:
    return {"zh": zh if zh is not None else f"{en}（中）", "en": en}


def options(*ids: str) -> list[dict]:
    return [{"id": option_id, "text": bi(f"Option {option_id}")} for option_id in ids]


FEEDBACK = bi(f"{SECRET} feedback")
TABLE = {
    "kind": "table",
    "columns": ["Region", "Revenue"],
    "rows": [["East", 120], ["West", 95.5], ["North", None]],
    "caption": bi("Revenue by region"),
}
CHART = {
    "kind": "chart",
    "chart": "bar",
    "x": ["Q1", "Q2", "Q3"],
    "series": [{"name": "Leads", "values": [10, 12, 9.5]}],
    "caption": bi("Leads per quarter"),
    "x_title": "Quarter",
    "y_title": bi("Leads"),
}

ITEMS = {
    "single": {
        "type": "single",
        "points": 2,
        "stem": bi("Which region grew most?"),
        "options": options("a", "b", "c"),
        "key": {"option": "b"},
        "feedback": FEEDBACK,
        "stimulus": TABLE,
    },
    "multiple": {
        "type": "multiple",
        "points": 4,
        "stem": bi("Which are leading indicators?"),
        "options": options("a", "b", "c", "d"),
        "key": {"options": ["a", "c"]},
        "scoring": "partial",
        "feedback": FEEDBACK,
    },
    "true_false": {
        "type": "true_false",
        "stem": bi("Correlation implies causation."),
        "key": {"value": False},
        "feedback": FEEDBACK,
    },
    "numeric": {
        "type": "numeric",
        "stem": bi("What is the conversion rate in %?"),
        "key": {"value": 12.5, "tolerance": 0.5, "tolerance_kind": "absolute"},
        "feedback": FEEDBACK,
        "stimulus": CHART,
    },
    "ordering": {
        "type": "ordering",
        "points": 4,
        "stem": bi("Order the funnel stages."),
        "options": options("a", "b", "c", "d"),
        "key": {"order": ["c", "a", "d", "b"]},
        "scoring": "partial",
        "feedback": FEEDBACK,
    },
    "matching": {
        "type": "matching",
        "points": 3,
        "stem": bi("Match each metric to its definition."),
        "options": {"left": options("l1", "l2", "l3"), "right": options(*"wxyz")},
        "key": {"pairs": {"l1": "x", "l2": "y", "l3": "w"}},
        "scoring": "partial",
        "feedback": FEEDBACK,
    },
    "short_text": {
        "type": "short_text",
        "stem": bi("Name one confounder."),
        "rubric": {
            "criteria": [
                {
                    "id": "accuracy",
                    "name": bi("Accuracy"),
                    "levels": [
                        {"points": 0, "description": bi(f"{SECRET} wrong")},
                        {"points": 2, "description": bi(f"{SECRET} partly")},
                        {"points": 4, "description": bi(f"{SECRET} right")},
                    ],
                },
                {
                    "id": "clarity",
                    "name": bi("Clarity"),
                    "levels": [
                        {"points": 0, "description": bi(f"{SECRET} unclear")},
                        {"points": 1, "description": bi(f"{SECRET} clear")},
                        {"points": 2, "description": bi(f"{SECRET} crisp")},
                    ],
                },
            ]
        },
        "feedback": FEEDBACK,
    },
}
ITEMS["long_text"] = {**copy.deepcopy(ITEMS["short_text"]), "type": "long_text"}


def item(name: str, change=None) -> dict:
    """A fresh copy of a sample item, changed in place by ``change`` if given."""
    content = copy.deepcopy(ITEMS[name])
    if change is not None:
        change(content)
    return content


def all_or_nothing(content: dict) -> None:
    content["scoring"] = "all_or_nothing"


# Content validation ----------------------------------------------------------


@pytest.mark.parametrize("name", ITEMS)
def test_sample_items_are_valid(name):
    assert validate_content(item(name)) == {}


def test_defaults_and_minimal_content_are_valid():
    minimal = {"type": "true_false", "stem": {"zh": "", "en": "Yes?"}}
    minimal["key"] = {"value": True}
    assert validate_content(minimal) == {}
    assert max_points(minimal) == 1.0
    exact = {"type": "numeric", "stem": bi("n"), "key": {"value": 3}}
    assert validate_content(exact) == {}
    assert score_answer(exact, 3).correct is True


@pytest.mark.parametrize("garbage", [None, [], "single", 3, True, {"type": []}])
def test_validate_content_never_raises_on_garbage(garbage):
    problems = validate_content(garbage)
    assert problems
    assert all(isinstance(message, str) and message for message in problems.values())


GARBAGE = [None, [], {}, "x", 0, -1, True, math.nan, [None], {"id": None}, [[]]]


@pytest.mark.parametrize("name", ITEMS)
def test_garbage_in_any_field_is_reported_not_raised(name):
    for field in [*ITEMS[name], "options", "key", "rubric", "stimulus"]:
        for value in GARBAGE:
            content = item(name)
            content[field] = value
            problems = validate_content(content)
            assert isinstance(problems, dict)
            if not problems:  # the few harmless values, e.g. feedback {}
                public_content(content)


def set_in(path: str, value):
    """A change that sets content[path...] = value (path dotted, ints index lists)."""

    def change(content):
        *parents, last = path.split(".")
        target = content
        for part in parents:
            target = target[int(part)] if isinstance(target, list) else target[part]
        if isinstance(target, list):
            target[int(last)] = value
        else:
            target[last] = value

    return change


def drop(path: str):
    """A change that deletes content[path...]."""

    def change(content):
        *parents, last = path.split(".")
        target = content
        for part in parents:
            target = target[int(part)] if isinstance(target, list) else target[part]
        del target[int(last) if isinstance(target, list) else last]

    return change


CASES = [
    # (sample item, change, the field path that must be reported)
    ("single", set_in("type", "essay"), "type"),
    ("single", set_in("points", 0), "points"),
    ("single", set_in("points", -1), "points"),
    ("single", set_in("points", "2"), "points"),
    ("single", set_in("points", True), "points"),
    ("single", set_in("points", math.inf), "points"),
    ("single", drop("stem"), "stem"),
    ("single", set_in("stem", {"zh": " ", "en": ""}), "stem"),
    ("single", set_in("stem.zh", 5), "stem.zh"),
    ("single", set_in("stem.fr", "Bonjour"), "stem.fr"),
    ("single", set_in("socring", "partial"), "socring"),
    ("single", set_in("feedback", "well done"), "feedback"),
    ("single", set_in("scoring", "partial"), "scoring"),
    ("single", set_in("scoring", "half"), "scoring"),
    ("single", set_in("options", "a,b"), "options"),
    ("single", set_in("options", options("a")), "options"),
    ("single", set_in("options", options(*"abcdefghijklm")), "options"),
    ("single", set_in("options.1", "b"), "options.1"),
    ("single", set_in("options.2.id", "a"), "options.2.id"),
    ("single", set_in("options.0.id", ""), "options.0.id"),
    ("single", set_in("options.0.id", 7), "options.0.id"),
    ("single", set_in("options.0.id", "x" * 65), "options.0.id"),
    ("single", drop("options.0.text"), "options.0.text"),
    ("single", set_in("options.1.correct", True), "options.1.correct"),
    ("single", drop("key"), "key"),
    ("single", set_in("key", "b"), "key"),
    ("single", set_in("key.option", "z"), "key.option"),
    ("single", set_in("key.hint", "b"), "key.hint"),
    ("single", set_in("rubric", ITEMS["short_text"]["rubric"]), "rubric"),
    ("multiple", set_in("key.options", []), "key.options"),
    ("multiple", set_in("key.options", "a"), "key.options"),
    ("multiple", set_in("key.options", ["a", "z"]), "key.options.1"),
    ("multiple", set_in("key.options", ["a", "a"]), "key.options.1"),
    ("true_false", set_in("key.value", "yes"), "key.value"),
    ("true_false", set_in("options", options("t", "f")), "options"),
    ("true_false", set_in("scoring", "partial"), "scoring"),
    ("numeric", set_in("key.value", "12.5"), "key.value"),
    ("numeric", set_in("key.value", math.nan), "key.value"),
    ("numeric", set_in("key.tolerance", -0.1), "key.tolerance"),
    ("numeric", set_in("key.tolerance", "1"), "key.tolerance"),
    ("numeric", set_in("key.tolerance_kind", "percent"), "key.tolerance_kind"),
    ("ordering", set_in("key.order", ["c", "a", "d"]), "key.order"),
    ("ordering", set_in("key.order", ["c", "a", "d", "d"]), "key.order"),
    ("ordering", set_in("key.order", ["c", "a", "d", "z"]), "key.order"),
    ("ordering", drop("key.order"), "key.order"),
    ("matching", set_in("options", options("l1", "l2")), "options"),
    ("matching", set_in("options.left", options("l1")), "options.left"),
    ("matching", set_in("options.right", options("x", "y")), "options.right"),
    ("matching", set_in("options.right.0.id", "l1"), "options.right.0.id"),
    ("matching", set_in("options.middle", []), "options.middle"),
    ("matching", drop("key.pairs.l3"), "key.pairs"),
    ("matching", set_in("key.pairs.lx", "w"), "key.pairs.lx"),
    ("matching", set_in("key.pairs.l1", "q"), "key.pairs.l1"),
    ("matching", set_in("key.pairs", [["l1", "x"]]), "key.pairs"),
    ("short_text", drop("rubric"), "rubric"),
    ("short_text", set_in("key", {"option": "a"}), "key"),
    ("short_text", set_in("options", options("a", "b")), "options"),
    ("short_text", set_in("scoring", "partial"), "scoring"),
    ("short_text", set_in("rubric.criteria", []), "rubric.criteria"),
    ("short_text", set_in("rubric.criteria.1", "clarity"), "rubric.criteria.1"),
    ("short_text", set_in("rubric.criteria.1.id", "accuracy"), "rubric.criteria.1.id"),
    ("short_text", drop("rubric.criteria.0.name"), "rubric.criteria.0.name"),
    (
        "short_text",
        set_in("rubric.criteria.0.levels", [{"points": 1, "description": bi("x")}]),
        "rubric.criteria.0.levels",
    ),
    (
        "short_text",
        set_in("rubric.criteria.0.levels.1.points", -1),
        "rubric.criteria.0.levels.1.points",
    ),
    (
        "short_text",
        drop("rubric.criteria.0.levels.0.description"),
        "rubric.criteria.0.levels.0.description",
    ),
    (
        "long_text",
        set_in(
            "rubric.criteria",
            [
                {
                    "id": "c",
                    "name": bi("C"),
                    "levels": [
                        {"points": 0, "description": bi("none")},
                        {"points": 0, "description": bi("still none")},
                    ],
                }
            ],
        ),
        "rubric.criteria",
    ),
    ("single", set_in("stimulus", "table"), "stimulus"),
    ("single", set_in("stimulus.kind", "pie"), "stimulus.kind"),
    ("single", set_in("stimulus.colour", "red"), "stimulus.colour"),
    ("single", set_in("stimulus.columns", []), "stimulus.columns"),
    ("single", set_in("stimulus.columns.1", 3), "stimulus.columns.1"),
    ("single", drop("stimulus.rows"), "stimulus.rows"),
    ("single", set_in("stimulus.rows.1", ["West"]), "stimulus.rows.1"),
    ("single", set_in("stimulus.rows.0.1", {"v": 1}), "stimulus.rows.0.1"),
    ("single", set_in("stimulus.caption", "Revenue"), "stimulus.caption"),
    ("numeric", set_in("stimulus.chart", "pie"), "stimulus.chart"),
    ("numeric", set_in("stimulus.x", []), "stimulus.x"),
    ("numeric", set_in("stimulus.x.0", None), "stimulus.x.0"),
    ("numeric", set_in("stimulus.x_title", 5), "stimulus.x_title"),
    ("numeric", set_in("stimulus.series", []), "stimulus.series"),
    ("numeric", set_in("stimulus.series.0.name", ""), "stimulus.series.0.name"),
    (
        "numeric",
        set_in("stimulus.series.0.values", [1, 2]),
        "stimulus.series.0.values",
    ),
    (
        "numeric",
        set_in("stimulus.series.0.values", [1, "2", 3]),
        "stimulus.series.0.values",
    ),
    (
        "numeric",
        set_in("stimulus.series.0.values", [1, math.nan, 3]),
        "stimulus.series.0.values",
    ),
]


@pytest.mark.parametrize(
    ("name", "change", "path"), CASES, ids=[f"{c[0]}-{c[2]}" for c in CASES]
)
def test_every_malformed_shape_is_reported_at_its_field_path(name, change, path):
    problems = validate_content(item(name, change))
    assert path in problems, problems
    assert isinstance(problems[path], str) and problems[path]


def test_invalid_content_raises_in_every_other_function():
    broken = item("single", set_in("key.option", "z"))
    for call in (
        lambda: max_points(broken),
        lambda: is_auto_scored(broken),
        lambda: validate_answer(broken, "a"),
        lambda: score_answer(broken, "a"),
        lambda: public_content(broken),
        lambda: option_ids(broken),
    ):
        with pytest.raises(ValueError, match=r"key\.option"):
            call()


# Facts about items -----------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "points", "auto"),
    [
        ("single", 2.0, True),
        ("multiple", 4.0, True),
        ("true_false", 1.0, True),
        ("numeric", 1.0, True),
        ("ordering", 4.0, True),
        ("matching", 3.0, True),
        ("short_text", 6.0, False),  # best levels 4 + 2
        ("long_text", 6.0, False),
    ],
)
def test_max_points_and_auto_scoring(name, points, auto):
    assert max_points(item(name)) == points
    assert is_auto_scored(item(name)) is auto


def test_rubric_items_ignore_points():
    assert max_points(item("short_text", set_in("points", 50))) == 6.0


# Answers ---------------------------------------------------------------------

VALID_ANSWERS = [
    ("single", "a"),
    ("multiple", ["d", "a"]),
    ("true_false", True),
    ("numeric", 12),
    ("numeric", "-3.5e2"),
    ("ordering", ["d", "c", "b", "a"]),
    ("matching", {"l1": "z"}),
    ("matching", {"l1": "x", "l2": "x", "l3": "x"}),
    ("short_text", "x" * 2_000),
    ("long_text", "x" * 20_000),
]
INVALID_ANSWERS = [
    ("single", "z"),
    ("single", 1),
    ("single", ["a"]),
    ("multiple", "a"),
    ("multiple", ["a", "a"]),
    ("multiple", ["a", "z"]),
    ("multiple", [1]),
    ("true_false", "true"),
    ("true_false", 1),
    ("numeric", "nan"),
    ("numeric", "inf"),
    ("numeric", math.inf),
    ("numeric", math.nan),
    ("numeric", "12abc"),
    ("numeric", True),
    ("numeric", [12]),
    ("ordering", ["a", "b", "c"]),
    ("ordering", ["a", "b", "c", "c"]),
    ("ordering", "abcd"),
    ("matching", ["l1", "x"]),
    ("matching", {"lx": "x"}),
    ("matching", {"l1": "q"}),
    ("matching", {"l1": ["x"]}),
    ("short_text", "x" * 2_001),
    ("short_text", 5),
    ("long_text", "x" * 20_001),
]


@pytest.mark.parametrize(("name", "answer"), VALID_ANSWERS)
def test_valid_answers(name, answer):
    assert validate_answer(item(name), answer) is None


@pytest.mark.parametrize(("name", "answer"), INVALID_ANSWERS)
def test_invalid_answers_get_a_message_and_do_not_score(name, answer):
    message = validate_answer(item(name), answer)
    assert isinstance(message, str) and message
    with pytest.raises(ValueError, match="invalid answer"):
        score_answer(item(name), answer)


@pytest.mark.parametrize("name", ITEMS)
@pytest.mark.parametrize("cleared", [None, [], {}, "", "  "])
def test_cleared_answers_are_valid_and_score_nothing(name, cleared):
    content = item(name)
    if validate_answer(content, cleared) is not None:
        # Only the blank form of each type means "cleared" (e.g. [] for multiple).
        assert cleared is not None
        return
    score = score_answer(content, cleared)
    assert score.points == 0.0
    assert score.max_points == max_points(content)
    assert score.correct is (None if name.endswith("_text") else False)


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("12.5", 12.5),
        (" -3e2 ", -300.0),
        (".5", 0.5),
        ("+7", 7.0),
        ("1,234.5", 1234.5),
        ("１２．５", 12.5),  # full-width digits from a Chinese IME
        ("\u22123", -3.0),  # the minus sign
        (4, 4.0),
        (2.5, 2.5),
        ("1,23", None),
        ("1.2.3", None),
        ("12%", None),
        ("", None),
        ("nan", None),
        ("-inf", None),
        ("1e999", None),
        (10**400, None),
        (True, None),
        (None, None),
        ("1" * 65, None),
    ],
)
def test_parse_number(text, number):
    assert parse_number(text) == number


# Scoring ---------------------------------------------------------------------

SCORES = [
    # (sample item, change, answer, points, correct)
    ("single", None, "b", 2.0, True),
    ("single", None, "a", 0.0, False),
    ("single", None, None, 0.0, False),
    ("multiple", None, ["c", "a"], 4.0, True),
    ("multiple", None, ["a"], 2.0, False),  # (1 − 0) / 2 · 4
    ("multiple", None, ["a", "b"], 0.0, False),  # (1 − 1) / 2
    ("multiple", None, ["a", "b", "c"], 2.0, False),  # (2 − 1) / 2 · 4
    ("multiple", None, ["b", "d"], 0.0, False),  # (0 − 2) / 2, floored at 0
    ("multiple", None, ["a", "b", "c", "d"], 0.0, False),
    ("multiple", None, [], 0.0, False),
    ("multiple", all_or_nothing, ["a", "c"], 4.0, True),
    ("multiple", all_or_nothing, ["a"], 0.0, False),
    ("true_false", None, False, 1.0, True),
    ("true_false", None, True, 0.0, False),
    ("true_false", None, None, 0.0, False),
    ("numeric", None, "12.5", 1.0, True),
    ("numeric", None, 12, 1.0, True),
    ("numeric", None, " １３ ", 1.0, True),
    ("numeric", None, 13.01, 0.0, False),
    ("numeric", None, "", 0.0, False),
    ("ordering", None, ["c", "a", "d", "b"], 4.0, True),
    ("ordering", None, ["c", "a", "b", "d"], 2.0, False),  # 2 of 4 in place
    ("ordering", None, ["a", "c", "d", "b"], 2.0, False),
    ("ordering", None, ["b", "d", "a", "c"], 0.0, False),
    ("ordering", all_or_nothing, ["c", "a", "b", "d"], 0.0, False),
    ("ordering", all_or_nothing, ["c", "a", "d", "b"], 4.0, True),
    ("matching", None, {"l1": "x", "l2": "y", "l3": "w"}, 3.0, True),
    ("matching", None, {"l1": "x"}, 1.0, False),  # unanswered lefts count wrong
    ("matching", None, {"l1": "x", "l2": "w", "l3": "z"}, 1.0, False),
    ("matching", None, {"l1": "z", "l2": "z", "l3": "z"}, 0.0, False),
    ("matching", None, {}, 0.0, False),
    ("matching", all_or_nothing, {"l1": "x", "l2": "y"}, 0.0, False),
    ("matching", all_or_nothing, {"l1": "x", "l2": "y", "l3": "w"}, 3.0, True),
    ("short_text", None, "Seasonality.", 0.0, None),
    ("long_text", None, "A long essay.", 0.0, None),
]


@pytest.mark.parametrize(("name", "change", "answer", "points", "correct"), SCORES)
def test_score_answer(name, change, answer, points, correct):
    content = item(name, change)
    score = score_answer(content, answer)
    assert score == Score(points, max_points(content), correct)


def test_partial_credit_keeps_thirds_exact():
    content = item("multiple", set_in("key.options", ["a", "b", "c"]))
    content["points"] = 3
    assert score_answer(content, ["a", "b"]).points == pytest.approx(2.0, abs=1e-12)
    assert score_answer(content, ["a"]).points == pytest.approx(1.0, abs=1e-12)


def numeric(value, tolerance, kind="absolute") -> dict:
    key = {"value": value, "tolerance": tolerance, "tolerance_kind": kind}
    return {"type": "numeric", "stem": bi("n"), "key": key}


@pytest.mark.parametrize(
    ("value", "tolerance", "kind", "answer", "correct"),
    [
        # 1.1 − 1.0 is 0.10000000000000009 in floats: the epsilon lets it in.
        (1.1, 0.1, "absolute", 1.0, True),
        (1.1, 0.1, "absolute", 1.2, True),
        (1.1, 0.1, "absolute", 0.9999, False),
        (1.1, 0.1, "absolute", 1.2001, False),
        (0.3, 0, "absolute", 0.1 + 0.2, True),
        (0.3, 0, "absolute", "0.3000001", False),
        (-5, 0.5, "absolute", -5.5, True),
        (-5, 0.5, "absolute", -4.4, False),
        (200, 0.05, "relative", 210, True),
        (200, 0.05, "relative", "190", True),
        (200, 0.05, "relative", 210.01, False),
        (200, 0.05, "relative", 189.99, False),
        (-200, 0.05, "relative", -210, True),  # relative to |value|
        (-200, 0.05, "relative", -211, False),
        (3.3, 0.1, "relative", 3.63, True),
        (3.3, 0.1, "relative", 2.97, True),
        (3.3, 0.1, "relative", 3.6301, False),
        # Relative tolerance around 0 allows nothing but 0 (and float noise).
        (0, 0.1, "relative", 0, True),
        (0, 0.1, "relative", "-0.0", True),
        (0, 0.1, "relative", 1e-12, True),
        (0, 0.1, "relative", 1e-6, False),
        (0, 0.1, "relative", -1e-6, False),
        (0, 0.1, "absolute", 0.1, True),
        (0, 0.1, "absolute", 0.1001, False),
    ],
)
def test_numeric_tolerance_boundaries(value, tolerance, kind, answer, correct):
    assert score_answer(numeric(value, tolerance, kind), answer).correct is correct


# The public view -------------------------------------------------------------

PUBLIC_FIELDS = {
    # item
    "type", "stem", "max_points", "scoring", "options", "max_length", "rubric",
    "stimulus",
    # nested
    "zh", "en", "id", "text", "left", "right", "criteria", "name",
    # stimulus
    "kind", "columns", "rows", "caption", "chart", "x", "series", "values",
    "x_title", "y_title",
}  # fmt: skip


def field_names(value) -> set[str]:
    if isinstance(value, dict):
        return set(value).union(*(field_names(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(field_names(v) for v in value))
    return set()


@pytest.mark.parametrize("name", ITEMS)
@pytest.mark.parametrize("language_independent", [True, False])
def test_public_content_holds_no_secret(name, language_independent):
    content = item(name)
    public = public_content(content, language_independent, language="en")
    text = json.dumps(public, ensure_ascii=False)
    assert SECRET not in text  # feedback, rubric level descriptions
    assert field_names(public) <= PUBLIC_FIELDS
    for secret_field in ("key", "feedback", "levels", "description", "pairs"):
        assert f'"{secret_field}"' not in text
    # The options carry an id and a text, nothing that flags the right ones.
    if isinstance(public.get("options"), list):
        assert all(set(option) == {"id", "text"} for option in public["options"])


def test_public_numeric_item_does_not_show_the_value_or_tolerance():
    public = public_content(item("numeric"))
    text = json.dumps(public)
    assert "12.5" not in text and "tolerance" not in text
    assert public["stimulus"] == CHART
    assert public["scoring"] == "all_or_nothing"


def test_public_single_item_shows_the_key_only_as_an_option():
    public = public_content(item("single"))
    assert [option["id"] for option in public["options"]] == ["a", "b", "c"]
    assert public["max_points"] == 2.0
    assert public["stimulus"] == TABLE


def test_public_ordering_item_follows_the_callers_shuffle():
    content = item("ordering")
    assert option_ids(content) == ["a", "b", "c", "d"]
    shuffle = ["b", "d", "a", "c"]
    public = public_content(content, order=shuffle)
    shown = [option["id"] for option in public["options"]]
    assert shown == shuffle
    assert shown != content["key"]["order"]
    assert public["scoring"] == "partial"


def test_public_matching_item_shuffles_each_column():
    content = item("matching")
    assert option_ids(content) == ["l1", "l2", "l3", "w", "x", "y", "z"]
    order = ["z", "l3", "y", "l1", "x", "w", "l2"]
    public = public_content(content, order=order)
    assert [o["id"] for o in public["options"]["left"]] == ["l3", "l1", "l2"]
    assert [o["id"] for o in public["options"]["right"]] == ["z", "y", "x", "w"]
    # A shuffle of the right column alone keeps the left column as authored.
    public = public_content(content, order=["y", "w", "z", "x"])
    assert [o["id"] for o in public["options"]["left"]] == ["l1", "l2", "l3"]
    assert [o["id"] for o in public["options"]["right"]] == ["y", "w", "z", "x"]
    with pytest.raises(ValueError, match="order"):
        public_content(content, order=["l2", "l1", "l3"])


def test_public_rubric_item_keeps_criteria_names_and_worth():
    public = public_content(item("long_text"))
    assert public["rubric"] == {
        "criteria": [
            {"id": "accuracy", "name": bi("Accuracy"), "max_points": 4.0},
            {"id": "clarity", "name": bi("Clarity"), "max_points": 2.0},
        ]
    }
    assert public["max_length"] == 20_000
    assert public["max_points"] == 6.0
    assert "scoring" not in public


def test_public_content_in_one_language_falls_back_to_the_other():
    content = item("single")
    content["stem"] = {"zh": "哪个区域增长最快？", "en": ""}
    english = public_content(content, language_independent=False, language="en")
    assert english["stem"] == "哪个区域增长最快？"
    assert english["options"][0]["text"] == "Option a"
    chinese = public_content(content, language_independent=False, language="zh")
    assert chinese["options"][0]["text"] == "Option a（中）"
    assert chinese["stimulus"]["caption"] == "Revenue by region（中）"
    with pytest.raises(ValueError, match="language"):
        public_content(content, language_independent=False)


def test_public_content_is_a_copy():
    content = item("single")
    public = public_content(content)
    public["stem"]["en"] = "changed"
    public["options"][0]["text"]["en"] = "changed"
    public["stimulus"]["rows"][0][0] = "changed"
    assert content == ITEMS["single"]


def test_shuffled_options_checks_the_order():
    content = item("single")
    assert shuffled_options(content, ["c", "a", "b"]) == [
        {"id": "c", "text": bi("Option c")},
        {"id": "a", "text": bi("Option a")},
        {"id": "b", "text": bi("Option b")},
    ]
    for order in (["c", "a"], ["c", "a", "a"], ["c", "a", "z"], "cab", None):
        with pytest.raises(ValueError, match="order"):
            shuffled_options(content, order)
    assert option_ids(item("numeric")) == []
    with pytest.raises(ValueError, match="order"):
        shuffled_options(item("numeric"), [])


# Rubric marking and second marking -------------------------------------------


def test_rubric_points_sums_the_chosen_levels():
    content = item("short_text")
    assert rubric_points(content, {"accuracy": 2, "clarity": 1}) == 5.0
    assert rubric_points(content, {"clarity": 0, "accuracy": 0}) == 0.0


@pytest.mark.parametrize(
    ("levels", "named"),
    [
        ({"accuracy": 2}, "clarity"),
        ({"accuracy": 3, "clarity": 0}, "accuracy"),
        ({"accuracy": -1, "clarity": 0}, "accuracy"),
        ({"accuracy": 1, "clarity": True}, "clarity"),
        ({"accuracy": 1, "clarity": "1"}, "clarity"),
        ({"accuracy": 1, "clarity": 1, "style": 0}, "style"),
    ],
)
def test_rubric_points_names_the_criterion_at_fault(levels, named):
    with pytest.raises(ValueError, match=named):
        rubric_points(item("short_text"), levels)


def test_rubric_points_needs_a_rubric_item():
    with pytest.raises(ValueError, match="no rubric"):
        rubric_points(item("single"), {})


@pytest.mark.parametrize(
    ("first", "second", "tolerance", "expected"),
    [
        (3, None, 1, Reconciled(3.0, False)),
        (3, 4, 1, Reconciled(3.5, False)),  # exactly at the tolerance
        (4, 3, 1, Reconciled(3.5, False)),
        (3, 4.5, 1, Reconciled(None, True)),
        (0.3, 0.4, 0.1, Reconciled(0.35, False)),  # 0.4 − 0.3 > 0.1 in floats
        (2, 2, 0, Reconciled(2.0, False)),
        (2, 2.5, 0, Reconciled(None, True)),
        (0, 6, 6, Reconciled(3.0, False)),
    ],
)
def test_reconcile(first, second, tolerance, expected):
    result = reconcile(first, second, 6, tolerance)
    assert result.needs_resolution is expected.needs_resolution
    assert result.points == pytest.approx(expected.points)


@pytest.mark.parametrize(
    ("first", "second", "maximum", "tolerance"),
    [(7, None, 6, 1), (-1, None, 6, 1), (3, 6.5, 6, 1), (3, 3, 6, -1), (3, 3, -6, 1)],
)
def test_reconcile_refuses_impossible_marks(first, second, maximum, tolerance):
    with pytest.raises(ValueError):
        reconcile(first, second, maximum, tolerance)


# Modified Angoff -------------------------------------------------------------


def test_angoff_unweighted_by_hand():
    # Judge cuts 0.6, 0.7, 0.8 (means of their item probabilities): panel cut
    # 0.7, sample SD 0.1, standard error 0.1/√3 = 0.0577350.
    ratings = {
        "ann": {"q1": 0.5, "q2": 0.7},
        "bo": {"q1": 0.6, "q2": 0.8},
        "chen": {"q1": 0.9, "q2": 0.7},
    }
    result = angoff(ratings)
    assert result.judge_cuts == pytest.approx({"ann": 0.6, "bo": 0.7, "chen": 0.8})
    assert result.panel_cut == pytest.approx(0.7, rel=1e-6)
    assert result.standard_error == pytest.approx(0.0577350, rel=1e-6)
    assert (result.judges, result.items, result.incomplete) == (3, 2, ())


WEIGHTS = {"q1": 1, "q2": 1, "q3": 2, "q4": 1, "q5": 3}
PANEL = {
    "J1": [0.6, 0.7, 0.5, 0.8, 0.4],
    "J2": [0.7, 0.8, 0.6, 0.9, 0.5],
    "J3": [0.5, 0.6, 0.55, 0.7, 0.45],
    "J4": [0.8, 0.75, 0.65, 0.85, 0.6],
}


def test_angoff_weighted_panel_pinned():
    ratings = {
        judge: dict(zip(WEIGHTS, values, strict=True))
        for judge, values in PANEL.items()
    }
    ratings["J5"] = {"q1": 0.9, "q2": 0.9}  # did not finish: left out
    result = angoff(ratings, WEIGHTS)
    # Pinned from numpy: np.average(values, weights=[1, 1, 2, 1, 3]) per judge,
    # their mean, and np.std(cuts, ddof=1) / np.sqrt(4). By hand, J1:
    # (0.6 + 0.7 + 2·0.5 + 0.8 + 3·0.4) / 8 = 4.3 / 8 = 0.5375.
    assert result.judge_cuts == pytest.approx(
        {"J1": 0.5375, "J2": 0.6375, "J3": 0.53125, "J4": 0.6875}, rel=1e-6
    )
    assert result.panel_cut == pytest.approx(0.598438, rel=1e-6)
    assert result.standard_error == pytest.approx(0.0383900, rel=1e-5)
    assert (result.judges, result.items, result.incomplete) == (4, 5, ("J5",))
    # The same figures straight from numpy, as an independent check.
    weights = np.array(list(WEIGHTS.values()), dtype=float)
    cuts = np.array([np.average(v, weights=weights) for v in PANEL.values()])
    assert result.panel_cut == pytest.approx(cuts.mean(), rel=1e-12)
    expected_se = cuts.std(ddof=1) / np.sqrt(cuts.size)
    assert result.standard_error == pytest.approx(expected_se, rel=1e-12)
    json.dumps(result.to_dict())


def test_angoff_with_one_judge_has_no_standard_error():
    result = angoff({"ann": {"q1": 0.4, "q2": 0.6}}, items=["q1", "q2"])
    assert result == AngoffResult({"ann": 0.5}, 0.5, None, 1, 2, ())


def test_angoff_items_decide_who_is_complete():
    ratings = {"ann": {"q1": 0.4, "q2": 0.6}, "bo": {"q1": 0.5}}
    assert angoff(ratings).incomplete == ("bo",)  # every item anyone rated
    assert angoff(ratings, items=["q2", "q1"]).judge_cuts == {"ann": 0.5}
    with pytest.raises(ValueError, match="no judge"):
        angoff(ratings, items=["q1", "q2", "q3"])
    with pytest.raises(ValueError, match="unknown item"):
        angoff(ratings, items=["q1"])


@pytest.mark.parametrize(
    ("ratings", "weights", "message"),
    [
        ({"ann": {"q1": 1.2}}, None, "probability"),
        ({"ann": {"q1": -0.1}}, None, "probability"),
        ({"ann": {"q1": "0.5"}}, None, "probability"),
        ({"ann": {"q1": True}}, None, "probability"),
        ({"ann": {"q1": math.nan}}, None, "probability"),
        ({"ann": {"q1": 0.5, "q9": 0.5}}, {"q1": 1}, "unknown item"),
        ({"ann": {"q1": 0.5}}, {"q1": 0}, "weight"),
        ({"ann": {"q1": 0.5}, "bo": {}}, {"q1": 1, "q2": 1}, "no judge"),
        ({}, None, "no items"),
        ({"ann": [0.5]}, None, "ratings"),
    ],
)
def test_angoff_refuses_bad_ratings(ratings, weights, message):
    with pytest.raises(ValueError, match=message):
        angoff(ratings, weights)


# Results and the pass rule ---------------------------------------------------


def test_section_result_sums_and_unpacks():
    scores = [Score(2.0, 2.0, True), Score(1.0, 4.0, False), Score(0.0, 6.0, None)]
    points, maximum, share = section_result(scores)
    assert (points, maximum) == (3.0, 12.0)
    assert share == pytest.approx(0.25)
    assert section_result([]) == SectionResult(0.0, 0.0, 0.0)


def test_results_by_groups_scores():
    scored = [
        ("数据解读", Score(1.0, 1.0, True)),
        ("归因分析", Score(0.0, 2.0, False)),
        ("数据解读", Score(0.5, 1.0, False)),
    ]
    results = results_by(scored)
    assert list(results) == ["数据解读", "归因分析"]
    assert results["数据解读"] == SectionResult(1.5, 2.0, 0.75)
    assert results["归因分析"].share == 0.0


def test_passes_at_exactly_the_cut():
    share = section_result([Score(0.7, 1.0, False)] * 3).share  # 2.1 / 3 in floats
    passed, reasons = passes(share, 0.7, {}, {})
    assert passed and reasons == []


def test_passes_lists_every_failing_reason():
    decision = passes(
        0.65,
        0.7,
        {"data": 0.8, "attribution": 0.4},
        {"data": 0.5, "attribution": 0.5, "strategy": 0.5},
    )
    assert decision.passed is False
    assert decision.reasons == (
        FailReason(None, 0.65, 0.7),
        FailReason("attribution", 0.4, 0.5),
        FailReason("strategy", None, 0.5),
    )
    messages = [reason.message for reason in decision.reasons]
    assert messages == [
        "overall score 65.0% is below the cut score 70.0%",
        "section attribution score 40.0% is below its minimum 50.0%",
        "section strategy has no result",
    ]
    json.dumps(decision.to_dict())


def test_passes_with_section_minimums_met():
    decision = passes(0.9, 0.7, {"data": 0.5}, {"data": 0.5})
    assert decision.passed and decision.reasons == ()


@pytest.mark.parametrize(
    ("overall", "cut", "minimums"),
    [(70, 0.7, {}), (0.7, 1.5, {}), (0.7, 0.7, {"data": 50})],
)
def test_passes_wants_shares(overall, cut, minimums):
    with pytest.raises(ValueError):
        passes(overall, cut, {"data": 0.5}, minimums)


def test_results_serialise():
    assert Score(1.0, 2.0, None).to_dict() == {
        "points": 1.0,
        "max_points": 2.0,
        "correct": None,
    }
    assert Reconciled(None, True).to_dict() == {
        "points": None,
        "needs_resolution": True,
    }
    assert SectionResult(1.0, 2.0, 0.5).to_dict()["share"] == 0.5
