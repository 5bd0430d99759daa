"""AI-coaching simulations: scenario content, the path through it, and scores.

Pure Python: no Flask, no database.

A scenario version's ``content`` (bilingual texts are {"zh": …, "en": …}, both
languages required unless marked optional):

    {
      "persona": {
        "industry": "medical-devices",        # optional facet key
        "customer_type": "key-account",       # optional facet key
        "name": {"zh": "王主任", "en": "Director Wang"},
        "role": {"zh": …, "en": …},
        "organisation": {"zh": …, "en": …},   # optional
        "situation": {"zh": …, "en": …}
      },
      "start": "t1",
      "turns": [
        {
          "id": "t1",
          "customer": {"zh": …, "en": …},     # what the customer says
          "context": {"zh": …, "en": …},      # optional: what the rep knows here
          "suggestions": [                     # one or more AI-assistant suggestions
            {"id": "s1", "text": {…}, "sound": true, "explanation": {…}},
            {"id": "s2", "text": {…}, "sound": false,
             "flaws": ["wrong_price"], "explanation": {…}}
          ],
          "next": "t2",                        # optional; none: the scenario ends
          "branches": [                        # optional; the first match wins
            {"suggestion": "s2", "decision": "accept", "next": "t3b"}
          ]
        }
      ],
      "note_rubric": {"criteria": […]}       # optional; ``scoring`` rubric format
    }

Turn and suggestion ids are unique across the scenario (at most 32 characters).
Every turn is reachable from ``start`` and no path loops, so every path ends.
The scenario holds at least one sound and one flawed suggestion.

Flaw types: ``FLAW_TYPES``. Branch decisions: accept, edit, reject, or
not_accept (edit or reject). ``explanation``, ``sound`` and ``flaws`` are the
ground truth: they never reach the browser before submission.

Scoring (signal detection, per attempt or pooled over attempts)
---------------------------------------------------------------

The signal is a *flawed* suggestion; the response is *not accepting it as is*
(editing or rejecting). So a flawed suggestion edited or rejected is a hit, a
flawed one accepted a miss, a sound one edited or rejected a false alarm and a
sound one accepted a correct rejection. Editing a sound suggestion counts as a
false alarm here (the coach did not trust it as is) but *not* as under-reliance,
which is about throwing good advice away: under-reliance counts rejections only.

- Hit rate H = (hits + 0.5) / (flawed + 1) and false-alarm rate
  F = (false alarms + 0.5) / (sound + 1): the log-linear correction (Hautus
  1995), so that 0 and 100 % stay finite and small counts are shrunk towards ½.
- d′ = z(H) − z(F) and c = −(z(H) + z(F)) / 2, z the standard normal quantile.
  c > 0: too trusting of the AI; c < 0: too sceptical.
- Over-reliance = flawed accepted / flawed; under-reliance = sound rejected /
  sound (None when there was nothing of that kind).
- Flaw-type accuracy: over the hits (flawed suggestions not accepted), the mean
  Jaccard index |marked ∩ true| / |marked ∪ true| of the flaw types the coach
  marked and the authored ones (1: exactly right; 0: none right or none
  marked). None without hits.
- Only answered suggestions count: a turn left unanswered at the deadline is
  not scored.
- Pooled over attempts: the counts (and the Jaccard sum) are added first, then
  the rates are computed from the sums.

AI collaboration style (the first rule that applies):

1. ``disengaged``: the median time per suggestion is under
   ``FAST_SECONDS`` (4 s; nobody reads and weighs a suggestion that fast), or
   d′ < ``MIN_D_PRIME`` (0.5) with |c| < ``BIAS`` (0.5): no discrimination and
   no consistent lean, i.e. decisions unrelated to the suggestions' quality.
2. ``over_reliant``: c ≥ 0.5 or over-reliance ≥ ``RELIANCE`` (0.5): at least
   half of the flawed advice went through, or a lean to accepting that, with
   four flawed and four sound suggestions, means two or more flaws missed.
3. ``over_sceptical``: c ≤ −0.5 or under-reliance ≥ 0.5: the mirror image.
4. ``calibrated`` otherwise: d′ ≥ 0.5, |c| < 0.5 and both reliance rates
   under ½ (e.g. one slip in eight suggestions).

With 4 flawed and 4 sound suggestions: all right gives d′ = 2.56, c = 0
(calibrated); one flaw missed d′ = 1.81, c = 0.38 (calibrated); two missed
c = 0.64 (over-reliant); accepting everything c = 1.28 (over-reliant).
"""

import statistics
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from scipy.stats import norm

from assessments import scoring

FLAW_TYPES = (
    "invented_fact",
    "non_compliant_promise",
    "wrong_price",
    "biased_assumption",
    "ignores_need",
    "other",
)
DECISIONS = ("accept", "edit", "reject")
BRANCH_DECISIONS = (*DECISIONS, "not_accept")
STYLES = ("calibrated", "over_reliant", "over_sceptical", "disengaged")
LANGUAGES = ("zh", "en")
ID_RULE = "must be a string of 1-32 characters without surrounding spaces"

MAX_ID_LENGTH = 32
MAX_TURNS = 50
MAX_SUGGESTIONS = 8
TEXT_LIMIT = 4_000

#: Style thresholds (see the module docstring).
FAST_SECONDS = 4.0
MIN_D_PRIME = 0.5
BIAS = 0.5
RELIANCE = 0.5

CONTENT_FIELDS = ("persona", "start", "turns", "note_rubric")
PERSONA_FIELDS = (
    "industry",
    "customer_type",
    "name",
    "role",
    "organisation",
    "situation",
)
TURN_FIELDS = ("id", "customer", "context", "suggestions", "next", "branches")
SUGGESTION_FIELDS = ("id", "text", "sound", "flaws", "explanation")
BRANCH_FIELDS = ("suggestion", "decision", "next")


# --- validation ------------------------------------------------------------------


def _is_id(value: Any) -> bool:
    return (
        isinstance(value, str)
        and 0 < len(value) <= MAX_ID_LENGTH
        and value.strip() == value
    )


def _check_text(
    problems: dict[str, str], path: str, value: Any, *, required: bool = True
) -> None:
    """A bilingual text: both languages as non-empty strings (``required``), or
    absent."""
    if value is None and not required:
        return
    if not isinstance(value, dict):
        problems[path] = 'must be an object with "zh" and "en" texts'
        return
    for language in value:
        if language not in LANGUAGES:
            problems[f"{path}.{language}"] = 'unknown language: use "zh" or "en"'
    for language in LANGUAGES:
        text = value.get(language)
        if not isinstance(text, str) or not text.strip():
            problems[f"{path}.{language}"] = "give the text in both languages"
        elif len(text) > TEXT_LIMIT:
            problems[f"{path}.{language}"] = f"at most {TEXT_LIMIT} characters"


def _check_unknown(
    problems: dict[str, str], prefix: str, value: dict, allowed: Iterable[str]
) -> None:
    for name in value:
        if name not in allowed:
            problems[f"{prefix}{name}"] = "unknown field"


def validate_content(content: Any) -> dict[str, str]:
    """Every problem with a scenario's content, keyed by dotted path
    ("turns.1.suggestions.0.flaws", "note_rubric.criteria.0.levels") with a plain
    English message; an empty dict when the content is valid. Never raises."""
    problems: dict[str, str] = {}
    if not isinstance(content, dict):
        return {"": "scenario content must be an object"}
    _check_unknown(problems, "", content, CONTENT_FIELDS)
    _check_persona(problems, content.get("persona"))
    if "note_rubric" in content:
        _check_note_rubric(problems, content["note_rubric"])
    turns = content.get("turns")
    if not isinstance(turns, list) or not turns:
        problems["turns"] = "needs at least one turn"
        return problems
    if len(turns) > MAX_TURNS:
        problems["turns"] = f"at most {MAX_TURNS} turns"
        return problems
    turn_ids: dict[str, int] = {}
    suggestion_ids: set[str] = set()
    verdicts: set[bool] = set()
    for index, turn in enumerate(turns):
        where = f"turns.{index}"
        if not isinstance(turn, dict):
            problems[where] = 'must be an object with "id", "customer", "suggestions"'
            continue
        _check_unknown(problems, f"{where}.", turn, TURN_FIELDS)
        turn_id = turn.get("id")
        if not _is_id(turn_id):
            problems[f"{where}.id"] = ID_RULE
        elif turn_id in turn_ids:
            problems[f"{where}.id"] = f"duplicate turn id {turn_id!r}"
        else:
            turn_ids[turn_id] = index
        _check_text(problems, f"{where}.customer", turn.get("customer"))
        _check_text(problems, f"{where}.context", turn.get("context"), required=False)
        suggestions = turn.get("suggestions")
        if not isinstance(suggestions, list) or not suggestions:
            problems[f"{where}.suggestions"] = "needs at least one suggestion"
            continue
        if len(suggestions) > MAX_SUGGESTIONS:
            problems[f"{where}.suggestions"] = f"at most {MAX_SUGGESTIONS} suggestions"
        for number, suggestion in enumerate(suggestions):
            verdict = _check_suggestion(
                problems, f"{where}.suggestions.{number}", suggestion, suggestion_ids
            )
            if verdict is not None:
                verdicts.add(verdict)
    if verdicts and verdicts != {True, False}:
        problems.setdefault(
            "turns", "needs at least one sound and one flawed suggestion"
        )
    start = content.get("start")
    if not isinstance(start, str) or start not in turn_ids:
        problems["start"] = "must name a turn"
    linked = _check_links(problems, turns, turn_ids)
    if linked and "start" not in problems and len(turn_ids) == len(turns):
        _check_graph(problems, content)
    return problems


def _check_persona(problems: dict[str, str], persona: Any) -> None:
    if not isinstance(persona, dict):
        problems["persona"] = 'must be an object with "name", "role", "situation"'
        return
    _check_unknown(problems, "persona.", persona, PERSONA_FIELDS)
    for name in ("industry", "customer_type"):
        value = persona.get(name)
        if value is not None and (not isinstance(value, str) or len(value) > 64):
            problems[f"persona.{name}"] = "must be a key of at most 64 characters"
    for name in ("name", "role", "situation"):
        _check_text(problems, f"persona.{name}", persona.get(name))
    _check_text(
        problems, "persona.organisation", persona.get("organisation"), required=False
    )


def _check_note_rubric(problems: dict[str, str], rubric: Any) -> None:
    """The ``scoring`` rubric check, its paths moved under ``note_rubric``."""
    found = scoring.validate_content(
        {"type": "long_text", "stem": {"en": "note"}, "rubric": rubric}
    )
    for path, message in found.items():
        if path == "rubric" or path.startswith("rubric."):
            problems["note_" + path] = message


def _check_suggestion(
    problems: dict[str, str], where: str, suggestion: Any, seen: set[str]
) -> bool | None:
    """Check one suggestion; its authored soundness when readable."""
    if not isinstance(suggestion, dict):
        problems[where] = 'must be an object with "id", "text", "sound"'
        return None
    _check_unknown(problems, f"{where}.", suggestion, SUGGESTION_FIELDS)
    suggestion_id = suggestion.get("id")
    if not _is_id(suggestion_id):
        problems[f"{where}.id"] = ID_RULE
    elif suggestion_id in seen:
        problems[f"{where}.id"] = f"duplicate suggestion id {suggestion_id!r}"
    else:
        seen.add(suggestion_id)
    _check_text(problems, f"{where}.text", suggestion.get("text"))
    _check_text(problems, f"{where}.explanation", suggestion.get("explanation"))
    sound = suggestion.get("sound")
    if not isinstance(sound, bool):
        problems[f"{where}.sound"] = "must be true or false"
        return None
    flaws = suggestion.get("flaws", [])
    if not isinstance(flaws, list) or any(f not in FLAW_TYPES for f in flaws):
        problems[f"{where}.flaws"] = "must list flaw types: " + ", ".join(FLAW_TYPES)
    elif len(set(flaws)) != len(flaws):
        problems[f"{where}.flaws"] = "names a flaw type twice"
    elif sound and flaws:
        problems[f"{where}.flaws"] = "a sound suggestion has no flaws"
    elif not sound and not flaws:
        problems[f"{where}.flaws"] = "a flawed suggestion names at least one flaw type"
    return sound


def _check_links(
    problems: dict[str, str], turns: list, turn_ids: Mapping[str, int]
) -> bool:
    """``next`` and ``branches`` point to existing turns; branches name a
    suggestion of their own turn and a known decision. True when every link
    leads to a turn."""
    linked = True
    for index, turn in enumerate(turns):
        if not isinstance(turn, dict):
            continue
        where = f"turns.{index}"
        if "next" in turn and turn["next"] is not None and turn["next"] not in turn_ids:
            problems[f"{where}.next"] = "must name a turn"
            linked = False
        branches = turn.get("branches", [])
        if not isinstance(branches, list):
            problems[f"{where}.branches"] = "must be a list"
            linked = False
            continue
        suggestions = turn.get("suggestions")
        own = {
            s.get("id")
            for s in (suggestions if isinstance(suggestions, list) else [])
            if isinstance(s, dict)
        }
        for number, branch in enumerate(branches):
            at = f"{where}.branches.{number}"
            if not isinstance(branch, dict):
                problems[at] = 'must be an object with "suggestion", "decision", "next"'
                linked = False
                continue
            _check_unknown(problems, f"{at}.", branch, BRANCH_FIELDS)
            if branch.get("suggestion") not in own:
                problems[f"{at}.suggestion"] = "must name a suggestion of this turn"
            if branch.get("decision") not in BRANCH_DECISIONS:
                problems[f"{at}.decision"] = "must be one of " + ", ".join(
                    BRANCH_DECISIONS
                )
            if branch.get("next") not in turn_ids:
                problems[f"{at}.next"] = "must name a turn"
                linked = False
    return linked


def _successors(turn: dict) -> list[str]:
    out = [b["next"] for b in turn.get("branches") or []]
    if turn.get("next"):
        out.append(turn["next"])
    return out


def _check_graph(problems: dict[str, str], content: dict) -> None:
    """Every turn reachable from the start; no path returns to a turn."""
    turns = {turn["id"]: turn for turn in content["turns"]}
    order = {turn_id: index for index, turn_id in enumerate(turns)}
    state: dict[str, str] = {}  # "open" while on the stack, then "done"

    def visit(turn_id: str) -> None:
        state[turn_id] = "open"
        for successor in _successors(turns[turn_id]):
            if state.get(successor) == "open":
                problems.setdefault(
                    f"turns.{order[turn_id]}.next",
                    f"leads back to turn {successor!r}: a path must end",
                )
            elif successor not in state:
                visit(successor)
        state[turn_id] = "done"

    visit(content["start"])
    for turn_id, index in order.items():
        if turn_id not in state:
            problems[f"turns.{index}.id"] = "no path from the start reaches this turn"


# --- the path --------------------------------------------------------------------


def turn(content: dict, turn_id: str) -> dict:
    """The turn with this id (KeyError when there is none)."""
    for candidate in content["turns"]:
        if candidate["id"] == turn_id:
            return candidate
    raise KeyError(turn_id)


def suggestion_ids(content: dict, turn_id: str) -> list[str]:
    return [s["id"] for s in turn(content, turn_id)["suggestions"]]


def _decision_matches(wanted: str, decision: str) -> bool:
    if wanted == "not_accept":
        return decision in ("edit", "reject")
    return wanted == decision


def next_turn(content: dict, turn_id: str, decisions: Mapping[str, str]) -> str | None:
    """The turn that follows ``turn_id`` given the decisions taken on its
    suggestions (suggestion id → accept/edit/reject): the first matching branch,
    else the turn's ``next``; None when the scenario ends there."""
    current = turn(content, turn_id)
    for branch in current.get("branches") or []:
        decision = decisions.get(branch["suggestion"])
        if decision is not None and _decision_matches(branch["decision"], decision):
            return branch["next"]
    return current.get("next") or None


def in_language(text: Any, language: str) -> str:
    """The ``language`` ("zh"/"en") side of a bilingual text, else the other."""
    if not isinstance(text, dict):
        return ""
    other = "zh" if language == "en" else "en"
    return text.get(language) or text.get(other) or ""


def language_code(language: str) -> str:
    """ "en" for English UI languages, else "zh"."""
    return "en" if str(language).startswith("en") else "zh"


def public_persona(content: dict, language: str) -> dict[str, Any]:
    """The persona in one language (the persona holds no truth)."""
    persona = content.get("persona") or {}
    language = language_code(language)
    return {
        "industry": persona.get("industry"),
        "customer_type": persona.get("customer_type"),
        **{
            name: in_language(persona.get(name), language)
            for name in ("name", "role", "organisation", "situation")
        },
    }


def public_turn(
    content: dict, turn_id: str, language: str, number: int
) -> dict[str, Any]:
    """A turn as the coach sees it before submission: the customer's words, the
    context and the suggestions' texts, without soundness, flaws or
    explanations. ``number``: the turn's place on this attempt's path (1…)."""
    current = turn(content, turn_id)
    language = language_code(language)
    return {
        "id": current["id"],
        "number": number,
        "customer": in_language(current.get("customer"), language),
        "context": in_language(current.get("context"), language),
        "suggestions": [
            {"id": s["id"], "text": in_language(s["text"], language)}
            for s in current["suggestions"]
        ],
    }


def truth(content: dict) -> dict[str, dict]:
    """Suggestion id → its authored truth and text: {"turn", "sound", "flaws",
    "text", "explanation"} (bilingual texts as authored)."""
    return {
        s["id"]: {
            "turn": t["id"],
            "sound": s["sound"],
            "flaws": list(s.get("flaws") or []),
            "text": s["text"],
            "explanation": s["explanation"],
        }
        for t in content["turns"]
        for s in t["suggestions"]
    }


# --- scoring ---------------------------------------------------------------------


@dataclass(frozen=True)
class Judgement:
    """One answered suggestion: its truth and the coach's response."""

    sound: bool
    true_flaws: tuple[str, ...]
    decision: str
    marked_flaws: tuple[str, ...] = ()


def verdict(judgement: Judgement) -> str:
    """hit, miss, false_alarm or correct_rejection (signal = flawed, response =
    not accepted as is)."""
    responded = judgement.decision != "accept"
    if judgement.sound:
        return "false_alarm" if responded else "correct_rejection"
    return "hit" if responded else "miss"


def jaccard(marked: Iterable[str], true: Iterable[str]) -> float:
    """|marked ∩ true| / |marked ∪ true|; 0 when both are empty."""
    marked, true = set(marked), set(true)
    union = marked | true
    return len(marked & true) / len(union) if union else 0.0


@dataclass(frozen=True)
class Tally:
    """Sufficient statistics of one attempt or several: the four SDT counts,
    sound suggestions rejected, the Jaccard sum over hits, and the seconds per
    suggestion of each answered turn."""

    hits: int = 0
    misses: int = 0
    false_alarms: int = 0
    correct_rejections: int = 0
    sound_rejected: int = 0
    flaw_jaccard_sum: float = 0.0
    turn_seconds: tuple[float, ...] = field(default_factory=tuple)

    def __add__(self, other: "Tally") -> "Tally":
        return Tally(
            self.hits + other.hits,
            self.misses + other.misses,
            self.false_alarms + other.false_alarms,
            self.correct_rejections + other.correct_rejections,
            self.sound_rejected + other.sound_rejected,
            self.flaw_jaccard_sum + other.flaw_jaccard_sum,
            self.turn_seconds + other.turn_seconds,
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Tally":
        return cls(
            int(data.get("hits", 0)),
            int(data.get("misses", 0)),
            int(data.get("false_alarms", 0)),
            int(data.get("correct_rejections", 0)),
            int(data.get("sound_rejected", 0)),
            float(data.get("flaw_jaccard_sum", 0.0)),
            tuple(float(s) for s in data.get("turn_seconds", ())),
        )


def tally(judgements: Iterable[Judgement], turn_seconds: Iterable[float] = ()) -> Tally:
    """Count the judgements; ``turn_seconds``: seconds per suggestion of each
    answered turn (from the server's timestamps)."""
    counts = dict.fromkeys(("hit", "miss", "false_alarm", "correct_rejection"), 0)
    rejected, jaccard_sum = 0, 0.0
    for judgement in judgements:
        if judgement.decision not in DECISIONS:
            raise ValueError(f"unknown decision {judgement.decision!r}")
        kind = verdict(judgement)
        counts[kind] += 1
        if judgement.sound and judgement.decision == "reject":
            rejected += 1
        if kind == "hit":
            jaccard_sum += jaccard(judgement.marked_flaws, judgement.true_flaws)
    return Tally(
        counts["hit"],
        counts["miss"],
        counts["false_alarm"],
        counts["correct_rejection"],
        rejected,
        jaccard_sum,
        tuple(float(s) for s in turn_seconds),
    )


@dataclass(frozen=True)
class Scores:
    """Scores from a tally (fractions, not percentages; None where undefined)."""

    hits: int
    misses: int
    false_alarms: int
    correct_rejections: int
    sound_rejected: int
    flaw_jaccard_sum: float
    turn_seconds: tuple[float, ...]
    #: Log-linear corrected rates.
    hit_rate: float
    false_alarm_rate: float
    d_prime: float
    criterion: float
    over_reliance: float | None
    under_reliance: float | None
    flaw_accuracy: float | None
    #: Median seconds per suggestion over the answered turns.
    median_seconds: float | None
    style: str | None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["turn_seconds"] = list(self.turn_seconds)
        return out


def collaboration_style(
    d_prime: float,
    criterion: float,
    over_reliance: float | None,
    under_reliance: float | None,
    median_seconds: float | None = None,
) -> str:
    """calibrated, over_reliant, over_sceptical or disengaged, by the rules in
    the module docstring (the first that applies)."""
    if median_seconds is not None and median_seconds < FAST_SECONDS:
        return "disengaged"
    if d_prime < MIN_D_PRIME and abs(criterion) < BIAS:
        return "disengaged"
    if criterion >= BIAS or (over_reliance or 0.0) >= RELIANCE:
        return "over_reliant"
    if criterion <= -BIAS or (under_reliance or 0.0) >= RELIANCE:
        return "over_sceptical"
    return "calibrated"


def score(counts: Tally) -> Scores:
    """Rates, d′, c, reliance, flaw accuracy and style of a tally (one attempt,
    or several added together). Without any answered suggestion the style is
    None."""
    flawed = counts.hits + counts.misses
    sound = counts.false_alarms + counts.correct_rejections
    hit_rate = (counts.hits + 0.5) / (flawed + 1)
    false_alarm_rate = (counts.false_alarms + 0.5) / (sound + 1)
    z_hit, z_false = float(norm.ppf(hit_rate)), float(norm.ppf(false_alarm_rate))
    d_prime = z_hit - z_false
    criterion = -(z_hit + z_false) / 2 + 0.0  # no negative zero
    over = counts.misses / flawed if flawed else None
    under = counts.sound_rejected / sound if sound else None
    accuracy = counts.flaw_jaccard_sum / counts.hits if counts.hits else None
    median = statistics.median(counts.turn_seconds) if counts.turn_seconds else None
    style = (
        collaboration_style(d_prime, criterion, over, under, median)
        if flawed + sound
        else None
    )
    return Scores(
        counts.hits,
        counts.misses,
        counts.false_alarms,
        counts.correct_rejections,
        counts.sound_rejected,
        counts.flaw_jaccard_sum,
        counts.turn_seconds,
        hit_rate,
        false_alarm_rate,
        d_prime,
        criterion,
        over,
        under,
        accuracy,
        median,
        style,
    )


def pooled(tallies: Iterable[Tally]) -> Scores:
    """Scores over several attempts: counts summed first, then the rates."""
    total = Tally()
    for part in tallies:
        total = total + part
    return score(total)
