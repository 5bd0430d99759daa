"""The scoring core of the exam engine: item content, answers, scores, cut scores.

Pure Python: no Flask, no database, no I/O. An item version's authored
``content`` is a JSON dict (type, points, stem, options, key, scoring, rubric,
feedback, stimulus); :func:`validate_content` lists what is wrong with one,
:func:`validate_answer` checks what an examinee submits, :func:`score_answer`
scores it, :func:`public_content` strips everything secret (key, feedback,
rubric level descriptions) before an item reaches the browser.

Rubric items (short_text, long_text) are marked by graders: :func:`rubric_points`
turns their ratings into points and :func:`reconcile` settles a second marking.
:func:`angoff` computes modified-Angoff cut scores, :func:`section_result`,
:func:`results_by` and :func:`passes` roll scores up and apply the pass rule.

Shares and cut scores are fractions of the maximum points (0.7 = 70 %).
Functions other than :func:`validate_content` raise ``ValueError`` on content
that does not validate: the database should never hold any.
"""

import copy
import math
import re
import unicodedata
from collections.abc import Hashable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

ITEM_TYPES = (
    "single",
    "multiple",
    "true_false",
    "numeric",
    "ordering",
    "matching",
    "short_text",
    "long_text",
)
#: Types whose options are one list of {"id", "text"}.
OPTION_LIST_TYPES = frozenset({"single", "multiple", "ordering"})
#: Types that may use ``"scoring": "partial"``.
PARTIAL_TYPES = frozenset({"multiple", "ordering", "matching"})
#: Types marked by graders against a rubric instead of a key.
RUBRIC_TYPES = frozenset({"short_text", "long_text"})
SCORING_RULES = ("all_or_nothing", "partial")
TOLERANCE_KINDS = ("absolute", "relative")
#: Longest text answer, in characters.
TEXT_LIMITS = {"short_text": 2_000, "long_text": 20_000}
LANGUAGES = ("zh", "en")
MIN_OPTIONS = 2
MAX_OPTIONS = 12
MAX_ID_LENGTH = 64
#: Slack on numeric comparisons, relative to max(1, |value|): absorbs float
#: representation error (1.1 − 1.0 = 0.10000000000000009) and nothing more.
EPSILON = 1e-9

CONTENT_FIELDS = frozenset(
    {"type", "points", "stem", "options", "key", "scoring", "rubric"}
    | {"feedback", "stimulus"}
)
STIMULUS_FIELDS = {
    "table": frozenset({"kind", "columns", "rows", "caption"}),
    "chart": frozenset(
        {"kind", "chart", "x", "series", "caption", "x_title", "y_title"}
    ),
}
CHART_KINDS = ("bar", "line")


# Results ---------------------------------------------------------------------


@dataclass(frozen=True)
class Score:
    """One answer's score in item points.

    ``correct`` is True only for full marks, False otherwise (partial credit and
    unanswered included), and None for rubric items, which graders mark.
    """

    points: float
    max_points: float
    correct: bool | None

    def to_dict(self) -> dict[str, Any]:
        """The fields as JSON."""
        return {
            "points": self.points,
            "max_points": self.max_points,
            "correct": self.correct,
        }


@dataclass(frozen=True)
class Reconciled:
    """A rubric item's points after second marking; None while the two marks
    disagree by more than the tolerance and a third grader must resolve it."""

    points: float | None
    needs_resolution: bool

    def to_dict(self) -> dict[str, Any]:
        """The fields as JSON."""
        return {"points": self.points, "needs_resolution": self.needs_resolution}


@dataclass(frozen=True)
class AngoffResult:
    """A modified-Angoff panel's cut scores, as shares of the maximum points.

    ``judge_cuts``: each complete judge's cut; ``panel_cut``: their mean;
    ``standard_error``: sample SD of the judge cuts / √judges (None with one
    judge); ``judges``/``items``: how many judges and items counted;
    ``incomplete``: ids of judges left out because they did not rate every item.
    """

    judge_cuts: dict[Hashable, float]
    panel_cut: float
    standard_error: float | None
    judges: int
    items: int
    incomplete: tuple[Hashable, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The fields as JSON (judge ids as strings)."""
        return {
            "judge_cuts": {str(k): v for k, v in self.judge_cuts.items()},
            "panel_cut": self.panel_cut,
            "standard_error": self.standard_error,
            "judges": self.judges,
            "items": self.items,
            "incomplete": [str(judge) for judge in self.incomplete],
        }


@dataclass(frozen=True)
class SectionResult:
    """Points, maximum points and their share (0..1; 0 when the maximum is 0)
    of a group of scores. Unpacks as ``points, max_points, share``."""

    points: float
    max_points: float
    share: float

    def __iter__(self) -> Iterator[float]:
        return iter((self.points, self.max_points, self.share))

    def to_dict(self) -> dict[str, float]:
        """The fields as JSON."""
        return {
            "points": self.points,
            "max_points": self.max_points,
            "share": self.share,
        }


@dataclass(frozen=True)
class FailReason:
    """Why an attempt failed: the overall cut (``section`` None) or a section
    minimum was not reached. ``share`` is None for a section with no result."""

    section: Hashable | None
    share: float | None
    required: float

    @property
    def message(self) -> str:
        """The reason in plain English (the UI translates from the fields)."""
        if self.section is None:
            return (
                f"overall score {_percent(self.share)} is below the cut score "
                f"{_percent(self.required)}"
            )
        if self.share is None:
            return f"section {self.section} has no result"
        return (
            f"section {self.section} score {_percent(self.share)} is below its "
            f"minimum {_percent(self.required)}"
        )

    def to_dict(self) -> dict[str, Any]:
        """The fields and the English message as JSON."""
        return {
            "section": None if self.section is None else str(self.section),
            "share": self.share,
            "required": self.required,
            "message": self.message,
        }


@dataclass(frozen=True)
class PassDecision:
    """The pass rule's verdict and every reason it failed (empty when passed).
    Unpacks as ``passed, reasons``."""

    passed: bool
    reasons: tuple[FailReason, ...]

    def __iter__(self) -> Iterator[Any]:
        return iter((self.passed, list(self.reasons)))

    def to_dict(self) -> dict[str, Any]:
        """The fields as JSON."""
        return {
            "passed": self.passed,
            "reasons": [reason.to_dict() for reason in self.reasons],
        }


def _percent(share: float | None) -> str:
    return "none" if share is None else f"{share * 100:.1f}%"


# Small checks ----------------------------------------------------------------


def _is_number(value: Any) -> bool:
    """True for a finite int or float (bool excluded)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def _is_id(value: Any) -> bool:
    return isinstance(value, str) and 0 < len(value.strip()) <= MAX_ID_LENGTH


def _check_text(
    problems: dict[str, str], path: str, value: Any, *, required: bool = True
) -> None:
    """Check a bilingual text {"zh", "en"}; ``required``: one must be non-empty."""
    if not isinstance(value, dict):
        problems.setdefault(path, 'must be an object with "zh" and "en" texts')
        return
    for language in value:
        if language not in LANGUAGES:
            problems.setdefault(
                f"{path}.{language}", 'unknown language: use "zh" or "en"'
            )
    for language in LANGUAGES:
        if language in value and not isinstance(value[language], str):
            problems.setdefault(f"{path}.{language}", "must be a string")
    if required and not any(
        isinstance(value.get(language), str) and value[language].strip()
        for language in LANGUAGES
    ):
        problems.setdefault(path, "needs a text in at least one language")


def _check_unknown(
    problems: dict[str, str], prefix: str, value: dict, allowed: Iterable[str]
) -> None:
    for field in value:
        if field not in allowed:
            problems.setdefault(f"{prefix}{field}", "unknown field")


# Content validation ----------------------------------------------------------


def validate_content(content: Any) -> dict[str, str]:
    """Every problem with an item version's content, keyed by dotted field path
    ("key.option", "options.2.id", "rubric.criteria.0.levels") with a plain
    English message; an empty dict when the content is valid. Never raises."""
    problems: dict[str, str] = {}
    if not isinstance(content, dict):
        return {"": "item content must be an object"}
    item_type = content.get("type")
    if item_type not in ITEM_TYPES:
        problems["type"] = "must be one of " + ", ".join(ITEM_TYPES)
    _check_unknown(problems, "", content, CONTENT_FIELDS)
    if "points" in content and (
        not _is_number(content["points"]) or content["points"] <= 0
    ):
        problems["points"] = "must be a positive number"
    _check_text(problems, "stem", content.get("stem"))
    if "feedback" in content:
        _check_text(problems, "feedback", content["feedback"], required=False)
    if "stimulus" in content:
        _check_stimulus(problems, content["stimulus"])
    if item_type not in ITEM_TYPES:
        return problems

    scoring = content.get("scoring", "all_or_nothing")
    if scoring not in SCORING_RULES:
        problems["scoring"] = 'must be "all_or_nothing" or "partial"'
    elif scoring == "partial" and item_type not in PARTIAL_TYPES:
        problems["scoring"] = (
            "partial scoring is only for multiple, ordering and matching items"
        )

    if item_type in OPTION_LIST_TYPES:
        ids = _check_option_list(problems, "options", content.get("options"))
    elif item_type == "matching":
        ids = _check_matching_options(problems, content.get("options"))
    else:
        ids = None
        if "options" in content:
            problems["options"] = f"not used by {item_type} items"

    if item_type in RUBRIC_TYPES:
        if "key" in content:
            problems["key"] = f"not used by {item_type} items: they use a rubric"
        _check_rubric(problems, content.get("rubric"))
        return problems
    if "rubric" in content:
        problems["rubric"] = f"not used by {item_type} items: they use a key"
    key = content.get("key")
    if not isinstance(key, dict):
        problems["key"] = "required: an object"
        return problems
    if ids is None and item_type in OPTION_LIST_TYPES | {"matching"}:
        return problems  # the options are broken: the key cannot be checked
    _KEY_CHECKS[item_type](problems, key, ids)
    return problems


def _check_option_list(problems: dict[str, str], path: str, options: Any) -> Any:
    """Check a list of {"id", "text"}; return the list of ids, or None if the
    list itself is unusable."""
    if not isinstance(options, list):
        problems[path] = "required: a list of options"
        return None
    if not MIN_OPTIONS <= len(options) <= MAX_OPTIONS:
        problems[path] = f"needs {MIN_OPTIONS} to {MAX_OPTIONS} options"
    ids: list[str] = []
    for index, option in enumerate(options):
        where = f"{path}.{index}"
        if not isinstance(option, dict):
            problems[where] = 'must be an object with "id" and "text"'
            continue
        _check_unknown(problems, f"{where}.", option, ("id", "text"))
        option_id = option.get("id")
        if not _is_id(option_id):
            problems[f"{where}.id"] = (
                f"must be a non-empty string of at most {MAX_ID_LENGTH} characters"
            )
        elif option_id in ids:
            problems[f"{where}.id"] = f"duplicate option id {option_id!r}"
        else:
            ids.append(option_id)
        _check_text(problems, f"{where}.text", option.get("text"))
    return ids


def _check_matching_options(problems: dict[str, str], options: Any) -> Any:
    """Check {"left": [...], "right": [...]}; return (left ids, right ids)."""
    if not isinstance(options, dict):
        problems["options"] = 'required: an object with "left" and "right" lists'
        return None
    _check_unknown(problems, "options.", options, ("left", "right"))
    left = _check_option_list(problems, "options.left", options.get("left"))
    right = _check_option_list(problems, "options.right", options.get("right"))
    if left is None or right is None:
        return None
    if len(right) < len(left):
        problems.setdefault(
            "options.right", "needs at least as many options as the left column"
        )
    for index, option in enumerate(options["right"]):
        if isinstance(option, dict) and option.get("id") in left:
            problems.setdefault(
                f"options.right.{index}.id",
                f"id {option['id']!r} is already used in the left column",
            )
    return left, right


def _check_single_key(problems: dict[str, str], key: dict, ids: list[str]) -> None:
    _check_unknown(problems, "key.", key, ("option",))
    if key.get("option") not in ids:
        problems["key.option"] = "must be the id of one of the options"


def _check_multiple_key(problems: dict[str, str], key: dict, ids: list[str]) -> None:
    _check_unknown(problems, "key.", key, ("options",))
    chosen = key.get("options")
    if not isinstance(chosen, list) or not chosen:
        problems["key.options"] = "must list at least one correct option id"
        return
    seen: set[str] = set()
    for index, option_id in enumerate(chosen):
        if not isinstance(option_id, str) or option_id not in ids:
            problems[f"key.options.{index}"] = "is not the id of an option"
        elif option_id in seen:
            problems[f"key.options.{index}"] = f"duplicate option id {option_id!r}"
        else:
            seen.add(option_id)


def _check_true_false_key(problems: dict[str, str], key: dict, _ids: Any) -> None:
    _check_unknown(problems, "key.", key, ("value",))
    if not isinstance(key.get("value"), bool):
        problems["key.value"] = "must be true or false"


def _check_numeric_key(problems: dict[str, str], key: dict, _ids: Any) -> None:
    _check_unknown(problems, "key.", key, ("value", "tolerance", "tolerance_kind"))
    if not _is_number(key.get("value")):
        problems["key.value"] = "must be a finite number"
    tolerance = key.get("tolerance", 0)
    if not _is_number(tolerance) or tolerance < 0:
        problems["key.tolerance"] = "must be a number ≥ 0"
    if key.get("tolerance_kind", "absolute") not in TOLERANCE_KINDS:
        problems["key.tolerance_kind"] = 'must be "absolute" or "relative"'


def _check_ordering_key(problems: dict[str, str], key: dict, ids: list[str]) -> None:
    _check_unknown(problems, "key.", key, ("order",))
    order = key.get("order")
    if not isinstance(order, list) or not _is_permutation(order, ids):
        problems["key.order"] = "must list every option id exactly once"


def _check_matching_key(
    problems: dict[str, str], key: dict, ids: tuple[list[str], list[str]]
) -> None:
    _check_unknown(problems, "key.", key, ("pairs",))
    left, right = ids
    pairs = key.get("pairs")
    if not isinstance(pairs, dict):
        problems["key.pairs"] = "must map every left id to a right id"
        return
    for left_id, right_id in pairs.items():
        if left_id not in left:
            problems[f"key.pairs.{left_id}"] = "is not the id of a left option"
        elif right_id not in right:
            problems[f"key.pairs.{left_id}"] = "must be the id of a right option"
    missing = [left_id for left_id in left if left_id not in pairs]
    if missing:
        problems.setdefault(
            "key.pairs", "has no match for left id(s) " + ", ".join(missing)
        )


_KEY_CHECKS = {
    "single": _check_single_key,
    "multiple": _check_multiple_key,
    "true_false": _check_true_false_key,
    "numeric": _check_numeric_key,
    "ordering": _check_ordering_key,
    "matching": _check_matching_key,
}


def _check_rubric(problems: dict[str, str], rubric: Any) -> None:
    if not isinstance(rubric, dict):
        problems["rubric"] = 'required: an object with "criteria"'
        return
    _check_unknown(problems, "rubric.", rubric, ("criteria",))
    criteria = rubric.get("criteria")
    if not isinstance(criteria, list) or not criteria:
        problems["rubric.criteria"] = "must list at least one criterion"
        return
    ids: set[str] = set()
    total = 0.0
    for index, criterion in enumerate(criteria):
        where = f"rubric.criteria.{index}"
        if not isinstance(criterion, dict):
            problems[where] = 'must be an object with "id", "name" and "levels"'
            continue
        _check_unknown(problems, f"{where}.", criterion, ("id", "name", "levels"))
        criterion_id = criterion.get("id")
        if not _is_id(criterion_id):
            problems[f"{where}.id"] = (
                f"must be a non-empty string of at most {MAX_ID_LENGTH} characters"
            )
        elif criterion_id in ids:
            problems[f"{where}.id"] = f"duplicate criterion id {criterion_id!r}"
        else:
            ids.add(criterion_id)
        _check_text(problems, f"{where}.name", criterion.get("name"))
        levels = criterion.get("levels")
        if not isinstance(levels, list) or len(levels) < 2:
            problems[f"{where}.levels"] = "needs at least two levels"
            continue
        best = 0.0
        for number, level in enumerate(levels):
            at = f"{where}.levels.{number}"
            if not isinstance(level, dict):
                problems[at] = 'must be an object with "points" and "description"'
                continue
            _check_unknown(problems, f"{at}.", level, ("points", "description"))
            points = level.get("points")
            if not _is_number(points) or points < 0:
                problems[f"{at}.points"] = "must be a number ≥ 0"
            else:
                best = max(best, float(points))
            _check_text(problems, f"{at}.description", level.get("description"))
        total += best
    if total <= 0 and not any(key.startswith("rubric.") for key in problems):
        problems["rubric.criteria"] = "the rubric must be worth more than 0 points"


def _check_stimulus(problems: dict[str, str], stimulus: Any) -> None:
    if not isinstance(stimulus, dict):
        problems["stimulus"] = 'must be an object with "kind" "table" or "chart"'
        return
    kind = stimulus.get("kind")
    if not isinstance(kind, str) or kind not in STIMULUS_FIELDS:
        problems["stimulus.kind"] = 'must be "table" or "chart"'
        return
    _check_unknown(problems, "stimulus.", stimulus, STIMULUS_FIELDS[kind])
    if "caption" in stimulus:
        _check_text(problems, "stimulus.caption", stimulus["caption"], required=False)
    if kind == "table":
        _check_table(problems, stimulus)
    else:
        _check_chart(problems, stimulus)


def _check_table(problems: dict[str, str], stimulus: dict) -> None:
    columns = stimulus.get("columns")
    if not isinstance(columns, list) or not columns:
        problems["stimulus.columns"] = "must list at least one column name"
        columns = None
    else:
        for index, column in enumerate(columns):
            if not isinstance(column, str) or not column.strip():
                problems[f"stimulus.columns.{index}"] = "must be a non-empty string"
    rows = stimulus.get("rows")
    if not isinstance(rows, list) or not rows:
        problems["stimulus.rows"] = "must list at least one row"
        return
    for index, row in enumerate(rows):
        where = f"stimulus.rows.{index}"
        if not isinstance(row, list):
            problems[where] = "must be a list of cells"
            continue
        if columns is not None and len(row) != len(columns):
            problems[where] = f"has {len(row)} cells, expected {len(columns)}"
        for number, cell in enumerate(row):
            if cell is not None and not isinstance(cell, str) and not _is_number(cell):
                problems[f"{where}.{number}"] = "must be text, a number or empty"


def _check_chart(problems: dict[str, str], stimulus: dict) -> None:
    if stimulus.get("chart") not in CHART_KINDS:
        problems["stimulus.chart"] = 'must be "bar" or "line"'
    x = stimulus.get("x")
    if not isinstance(x, list) or not x:
        problems["stimulus.x"] = "must list at least one label"
        x = None
    else:
        for index, label in enumerate(x):
            if not isinstance(label, str) and not _is_number(label):
                problems[f"stimulus.x.{index}"] = "must be text or a number"
    for title in ("x_title", "y_title"):
        if title in stimulus and not isinstance(stimulus[title], str):
            _check_text(problems, f"stimulus.{title}", stimulus[title], required=False)
    series = stimulus.get("series")
    if not isinstance(series, list) or not series:
        problems["stimulus.series"] = "must list at least one series"
        return
    for index, line in enumerate(series):
        where = f"stimulus.series.{index}"
        if not isinstance(line, dict):
            problems[where] = 'must be an object with "name" and "values"'
            continue
        _check_unknown(problems, f"{where}.", line, ("name", "values"))
        name = line.get("name")
        if not isinstance(name, str) or not name.strip():
            problems[f"{where}.name"] = "must be a non-empty string"
        values = line.get("values")
        if not isinstance(values, list) or not all(map(_is_number, values)):
            problems[f"{where}.values"] = "must be a list of finite numbers"
        elif x is not None and len(values) != len(x):
            problems[f"{where}.values"] = (
                f"has {len(values)} values, expected {len(x)} (one per x label)"
            )


def _is_permutation(values: list, ids: list[str]) -> bool:
    return (
        len(values) == len(ids)
        and all(isinstance(v, str) for v in values)
        and sorted(values) == sorted(ids)
    )


def _valid(content: Any) -> dict:
    """The content itself, or ValueError naming its first problem."""
    problems = validate_content(content)
    if problems:
        path, message = next(iter(problems.items()))
        raise ValueError(f"invalid item content: {path or 'content'}: {message}")
    return content


# Facts about an item ---------------------------------------------------------


def max_points(content: dict) -> float:
    """The item's maximum points: ``points`` (default 1) for automatically scored
    items, the sum over criteria of the best level's points for rubric items."""
    _valid(content)
    if content["type"] in RUBRIC_TYPES:
        return float(
            sum(
                max(level["points"] for level in criterion["levels"])
                for criterion in content["rubric"]["criteria"]
            )
        )
    return float(content.get("points", 1))


def is_auto_scored(content: dict) -> bool:
    """True when a key scores the item, False for rubric items (short_text,
    long_text) that go to the grading queue."""
    return _valid(content)["type"] not in RUBRIC_TYPES


def option_ids(content: dict) -> list[str]:
    """The ids a caller may shuffle, in authored order: the options of single,
    multiple and ordering items, the left then the right ids of matching items
    (unique across both columns), and [] for the other types."""
    _valid(content)
    options = content.get("options")
    if content["type"] in OPTION_LIST_TYPES:
        return [option["id"] for option in options]
    if content["type"] == "matching":
        return [option["id"] for option in options["left"] + options["right"]]
    return []


def shuffled_options(content: dict, order: list[str]) -> list[dict] | dict:
    """The options as {"id", "text"} in ``order``: a list, or for matching
    {"left": [...], "right": [...]}. ``order`` is a permutation of
    :func:`option_ids`; for matching each column follows the relative order of
    its ids in it, or ``order`` may list only the right ids (the left column
    then keeps its authored order). ValueError for any other ``order``."""
    ids = option_ids(content)
    if content["type"] == "matching" and isinstance(order, list):
        left = [option["id"] for option in content["options"]["left"]]
        right = [option["id"] for option in content["options"]["right"]]
        if _is_permutation(order, right):
            order = left + order
    if not isinstance(order, list) or not ids or not _is_permutation(order, ids):
        raise ValueError("order must list every option id exactly once")
    position = {option_id: index for index, option_id in enumerate(order)}

    def arranged(options: list[dict]) -> list[dict]:
        ranked = sorted(options, key=lambda option: position[option["id"]])
        return [{"id": option["id"], "text": dict(option["text"])} for option in ranked]

    options = content["options"]
    if content["type"] == "matching":
        return {"left": arranged(options["left"]), "right": arranged(options["right"])}
    return arranged(options)


# Answers ---------------------------------------------------------------------

_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_GROUPED = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d*)?")
_MAX_NUMBER_TEXT = 64


def parse_number(value: Any) -> float | None:
    """A numeric answer as a finite float, or None when it is not one.

    Accepts ints, floats and strings such as "12.5", " -3e2 ", "1,234.5"
    (thousands grouped by commas) and full-width digits ("１２．５"); refuses
    bools, NaN, infinities and anything else.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) if _is_number(value) else None
    if not isinstance(value, str) or len(value) > _MAX_NUMBER_TEXT:
        return None
    text = unicodedata.normalize("NFKC", value).strip().replace("\u2212", "-")
    if _GROUPED.fullmatch(text):
        text = text.replace(",", "")
    if not _NUMBER.fullmatch(text):
        return None
    number = float(text)
    return number if math.isfinite(number) else None


def _is_blank(content: dict, answer: Any) -> bool:
    """True for an answer that means "not answered": None, [], {} or ""."""
    if answer is None:
        return True
    item_type = content["type"]
    if item_type == "multiple":
        return answer == []
    if item_type == "matching":
        return answer == {}
    if item_type == "numeric" or item_type in RUBRIC_TYPES:
        return isinstance(answer, str) and not answer.strip()
    return False


def validate_answer(content: dict, answer: Any) -> str | None:
    """A plain English message saying why ``answer`` is not a possible answer to
    the item, or None when it is. None, [], {} and blank strings mean
    "cleared" and are valid (they score as unanswered)."""
    _valid(content)
    if _is_blank(content, answer):
        return None
    item_type = content["type"]
    options = content.get("options")
    if item_type in {"single", "multiple", "ordering"}:
        ids = [option["id"] for option in options]
    if item_type == "single":
        if not isinstance(answer, str) or answer not in ids:
            return "choose one of the options"
    elif item_type == "multiple":
        if not isinstance(answer, list) or not all(
            isinstance(option_id, str) and option_id in ids for option_id in answer
        ):
            return "choose among the options"
        if len(set(answer)) != len(answer):
            return "an option is chosen twice"
    elif item_type == "true_false":
        if not isinstance(answer, bool):
            return "answer true or false"
    elif item_type == "numeric":
        if parse_number(answer) is None:
            return "enter a finite number"
    elif item_type == "ordering":
        if not isinstance(answer, list) or not _is_permutation(answer, ids):
            return "put every option in order, each exactly once"
    elif item_type == "matching":
        left = {option["id"] for option in options["left"]}
        right = {option["id"] for option in options["right"]}
        if not isinstance(answer, dict):
            return "match left options to right options"
        for left_id, right_id in answer.items():
            if left_id not in left or not isinstance(right_id, str):
                return "match left options to right options"
            if right_id not in right:
                return "match left options to right options"
    else:
        limit = TEXT_LIMITS[item_type]
        if not isinstance(answer, str):
            return "answer with text"
        if len(answer) > limit:
            return f"the answer is longer than {limit:,} characters"
    return None


# Scoring ---------------------------------------------------------------------


def within_tolerance(content: dict, number: float) -> bool:
    """True when ``number`` is within a numeric item's tolerance of its key:
    |number − value| ≤ tolerance (absolute) or ≤ tolerance·|value| (relative),
    plus a slack of 1e-9·max(1, |value|) for float error. With relative
    tolerance and value 0 only (almost exactly) 0 is right."""
    key = _valid(content)["key"]
    value = float(key["value"])
    tolerance = float(key.get("tolerance", 0))
    if key.get("tolerance_kind", "absolute") == "relative":
        tolerance *= abs(value)
    return abs(number - value) <= tolerance + EPSILON * max(1.0, abs(value))


def score_answer(content: dict, answer: Any) -> Score:
    """The answer's :class:`Score` in item points.

    Unanswered (see :func:`validate_answer`) scores 0 with ``correct`` False.
    Rubric items score 0 with ``correct`` None: graders mark them
    (:func:`rubric_points`). Partial scoring: multiple = (correct chosen −
    wrong chosen) / number of correct options, floored at 0; ordering = share
    of options in their right position; matching = share of left options
    matched right; times the item's points. ValueError on an invalid answer.
    """
    maximum = max_points(content)
    item_type = content["type"]
    problem = validate_answer(content, answer)
    if problem is not None:
        raise ValueError(f"invalid answer: {problem}")
    if item_type in RUBRIC_TYPES:
        return Score(0.0, maximum, None)
    if _is_blank(content, answer):
        return Score(0.0, maximum, False)
    key = content["key"]
    partial = content.get("scoring", "all_or_nothing") == "partial"
    if item_type == "single":
        return _full_or_nothing(answer == key["option"], maximum)
    if item_type == "true_false":
        return _full_or_nothing(answer == key["value"], maximum)
    if item_type == "numeric":
        return _full_or_nothing(
            within_tolerance(content, parse_number(answer)), maximum
        )
    if item_type == "multiple":
        right = set(key["options"])
        chosen = set(answer)
        hits = len(chosen & right) - len(chosen - right)
        return _partial(chosen == right, max(hits, 0), len(right), maximum, partial)
    if item_type == "ordering":
        hits = sum(a == b for a, b in zip(answer, key["order"], strict=True))
        total = len(key["order"])
        return _partial(hits == total, hits, total, maximum, partial)
    pairs = key["pairs"]
    hits = sum(answer.get(left_id) == right_id for left_id, right_id in pairs.items())
    return _partial(hits == len(pairs), hits, len(pairs), maximum, partial)


def _full_or_nothing(correct: bool, maximum: float) -> Score:
    return Score(maximum if correct else 0.0, maximum, correct)


def _partial(
    correct: bool, hits: int, total: int, maximum: float, partial: bool
) -> Score:
    if correct or not partial:
        return _full_or_nothing(correct, maximum)
    return Score(maximum * hits / total, maximum, False)


# What an examinee may see ----------------------------------------------------


def public_content(
    content: dict,
    language_independent: bool = True,
    *,
    order: list[str] | None = None,
    language: str | None = None,
) -> dict:
    """What an examinee may see of an item before results are released.

    Keeps type, stem, options ({"id", "text"} only), stimulus, ``max_points``,
    ``scoring`` ("all_or_nothing"/"partial", automatic items), ``max_length``
    (text items) and rubric criteria as {"id", "name", "max_points"}. Drops the
    key, feedback, rubric levels and anything else. Options come in ``order``
    (see :func:`shuffled_options`) when given, else in authored order, which
    for ordering and matching items may be the key order: pass ``order``.
    With ``language_independent`` False every bilingual text becomes the string
    in ``language`` ("zh" or "en"), falling back to the other when empty.
    """
    _valid(content)
    if not language_independent and language not in LANGUAGES:
        raise ValueError('language must be "zh" or "en"')
    item_type = content["type"]
    public: dict[str, Any] = {
        "type": item_type,
        "stem": dict(content["stem"]),
        "max_points": max_points(content),
    }
    if "options" in content:
        public["options"] = shuffled_options(content, order or option_ids(content))
    if item_type in RUBRIC_TYPES:
        public["max_length"] = TEXT_LIMITS[item_type]
        public["rubric"] = {
            "criteria": [
                {
                    "id": criterion["id"],
                    "name": dict(criterion["name"]),
                    "max_points": float(
                        max(level["points"] for level in criterion["levels"])
                    ),
                }
                for criterion in content["rubric"]["criteria"]
            ]
        }
    else:
        public["scoring"] = content.get("scoring", "all_or_nothing")
    if "stimulus" in content:
        public["stimulus"] = copy.deepcopy(content["stimulus"])
    if language_independent:
        return public
    return _in_language(public, language)


def _in_language(value: Any, language: str) -> Any:
    """Replace every bilingual {"zh", "en"} dict by its text in ``language``."""
    if isinstance(value, dict):
        if set(value) <= set(LANGUAGES):
            other = "en" if language == "zh" else "zh"
            return value.get(language) or value.get(other) or ""
        return {field: _in_language(item, language) for field, item in value.items()}
    if isinstance(value, list):
        return [_in_language(item, language) for item in value]
    return value


# Grading ---------------------------------------------------------------------


def rubric_points(content: dict, levels: Mapping[str, int]) -> float:
    """The points of a rubric item rated ``levels`` (criterion id → index of
    the chosen level): the sum of the chosen levels' points. ValueError naming
    the criterion when one is not rated, unknown, or its index is out of range."""
    if _valid(content)["type"] not in RUBRIC_TYPES:
        raise ValueError(f"{content['type']} items have no rubric")
    if not isinstance(levels, Mapping):
        raise ValueError("levels must map criterion ids to level indexes")
    criteria = {c["id"]: c["levels"] for c in content["rubric"]["criteria"]}
    for criterion_id in levels:
        if criterion_id not in criteria:
            raise ValueError(f"unknown criterion {criterion_id!r}")
    total = 0.0
    for criterion_id, options in criteria.items():
        if criterion_id not in levels:
            raise ValueError(f"criterion {criterion_id!r} is not rated")
        index = levels[criterion_id]
        if isinstance(index, bool) or not isinstance(index, int):
            raise ValueError(f"criterion {criterion_id!r}: level must be an integer")
        if not 0 <= index < len(options):
            raise ValueError(
                f"criterion {criterion_id!r}: level {index} is out of range "
                f"0..{len(options) - 1}"
            )
        total += float(options[index]["points"])
    return total


def reconcile(
    first: float, second: float | None, max_points: float, tolerance: float
) -> Reconciled:
    """Settle a rubric item's first and optional second mark (points): no second
    mark → the first; marks at most ``tolerance`` apart → their mean; further
    apart → points None and ``needs_resolution`` True. ValueError on a mark
    outside 0..max_points or a negative tolerance."""
    if not _is_number(max_points) or max_points < 0:
        raise ValueError("max_points must be a number ≥ 0")
    if not _is_number(tolerance) or tolerance < 0:
        raise ValueError("tolerance must be a number ≥ 0")
    for name, mark in (("first", first), ("second", second)):
        if mark is None and name == "second":
            continue
        if not _is_number(mark) or not 0 <= mark <= max_points:
            raise ValueError(f"{name} mark must be a number in 0..{max_points}")
    if second is None:
        return Reconciled(float(first), False)
    if abs(first - second) <= tolerance + EPSILON * max(1.0, max_points):
        return Reconciled((first + second) / 2, False)
    return Reconciled(None, True)


# Cut scores ------------------------------------------------------------------


def angoff(
    ratings: Mapping[Hashable, Mapping[Hashable, float]],
    weights: Mapping[Hashable, float] | None = None,
    *,
    items: Iterable[Hashable] | None = None,
) -> AngoffResult:
    """Modified-Angoff cut scores as shares (0..1) of the maximum points.

    ``ratings``: judge id → item id → probability (0..1) that a minimally
    competent candidate answers the item right. ``weights``: item id → weight
    (the item's points; default 1 each). A judge's cut is the weighted mean of
    their probabilities, i.e. the expected share of points a minimally
    competent candidate earns; the panel cut is the mean of judge cuts and its
    standard error the sample SD of judge cuts (ddof=1) / √judges, None with
    one judge (Cizek & Bunch, "Standard Setting", 2007, ch. 6).

    The items to rate are ``items`` if given, else the keys of ``weights``,
    else every item any judge rated. Only judges who rated every one of them
    count; the others are listed in ``incomplete``. ValueError on a
    probability outside 0..1, a rating of an item not in the set, a weight
    that is not positive, or when no judge is complete.
    """
    if not isinstance(ratings, Mapping) or not all(
        isinstance(rated, Mapping) for rated in ratings.values()
    ):
        raise ValueError("ratings must map judge ids to item id → probability")
    if items is not None:
        item_ids = list(dict.fromkeys(items))
    elif weights is not None:
        item_ids = list(weights)
    else:
        item_ids = list(
            dict.fromkeys(item for rated in ratings.values() for item in rated)
        )
    if not item_ids:
        raise ValueError("there are no items to rate")
    weight = dict.fromkeys(item_ids, 1.0)
    if weights is not None:
        for item in item_ids:
            if item not in weights:
                raise ValueError(f"item {item!r} has no weight")
            if not _is_number(weights[item]) or weights[item] <= 0:
                raise ValueError(f"item {item!r}: weight must be a positive number")
            weight[item] = float(weights[item])
    total_weight = sum(weight.values())

    judge_cuts: dict[Hashable, float] = {}
    incomplete: list[Hashable] = []
    for judge, rated in ratings.items():
        for item, probability in rated.items():
            if item not in weight:
                raise ValueError(f"judge {judge!r} rated unknown item {item!r}")
            if not _is_number(probability) or not 0 <= probability <= 1:
                raise ValueError(
                    f"judge {judge!r}, item {item!r}: probability must be in 0..1"
                )
        if any(item not in rated for item in item_ids):
            incomplete.append(judge)
            continue
        judge_cuts[judge] = (
            math.fsum(weight[item] * rated[item] for item in item_ids) / total_weight
        )
    if not judge_cuts:
        raise ValueError("no judge rated every item")
    cuts = list(judge_cuts.values())
    panel_cut = math.fsum(cuts) / len(cuts)
    standard_error = None
    if len(cuts) > 1:
        variance = math.fsum((cut - panel_cut) ** 2 for cut in cuts) / (len(cuts) - 1)
        standard_error = math.sqrt(variance) / math.sqrt(len(cuts))
    return AngoffResult(
        judge_cuts=judge_cuts,
        panel_cut=panel_cut,
        standard_error=standard_error,
        judges=len(cuts),
        items=len(item_ids),
        incomplete=tuple(incomplete),
    )


# Results and the pass rule ---------------------------------------------------


def section_result(scores: Iterable[Score]) -> SectionResult:
    """The summed points and maximum points of ``scores`` and their share
    (points / max_points, 0 when the maximum is 0)."""
    points = 0.0
    maximum = 0.0
    for score in scores:
        points += score.points
        maximum += score.max_points
    share = points / maximum if maximum > 0 else 0.0
    return SectionResult(points, maximum, min(share, 1.0))


def results_by(
    scored: Iterable[tuple[Hashable, Score]],
) -> dict[Hashable, SectionResult]:
    """A :class:`SectionResult` per group from (group, score) pairs, e.g.
    (section id, score) or (competency id, score), in first-seen order."""
    groups: dict[Hashable, list[Score]] = {}
    for group, score in scored:
        groups.setdefault(group, []).append(score)
    return {group: section_result(scores) for group, scores in groups.items()}


def passes(
    overall_share: float,
    cut: float,
    section_shares: Mapping[Hashable, float] | None = None,
    section_minimums: Mapping[Hashable, float] | None = None,
) -> PassDecision:
    """The pass rule: the overall share reaches ``cut`` and every section with a
    minimum reaches it (all shares 0..1; equality passes, to within 1e-9). A
    section with a minimum but no share fails. Returns a :class:`PassDecision`
    listing every reason it fails."""
    for name, value in (("overall share", overall_share), ("cut", cut)):
        if not _is_number(value) or not 0 <= value <= 1:
            raise ValueError(f"{name} must be a number in 0..1")
    section_shares = section_shares or {}
    reasons: list[FailReason] = []
    if overall_share < cut - EPSILON:
        reasons.append(FailReason(None, float(overall_share), float(cut)))
    for section, minimum in (section_minimums or {}).items():
        if not _is_number(minimum) or not 0 <= minimum <= 1:
            raise ValueError(f"section {section!r}: minimum must be in 0..1")
        share = section_shares.get(section)
        if share is None:
            reasons.append(FailReason(section, None, float(minimum)))
        elif share < minimum - EPSILON:
            reasons.append(FailReason(section, float(share), float(minimum)))
    return PassDecision(not reasons, tuple(reasons))
