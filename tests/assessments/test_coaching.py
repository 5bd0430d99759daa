"""The pure coaching module: scenario validation, the path, public views without
truth, signal-detection scores and the AI collaboration style.

Expected d′ and c are computed here by hand from the counts with
``scipy.stats.norm.ppf`` (the formulas of the issue), independently of the
module's code path."""

import copy

import pytest
from scipy.stats import norm

from assessments import coaching
from assessments.coaching import Judgement, Tally


def bi(en: str, zh: str | None = None) -> dict:
    return {"zh": zh or f"中文：{en}", "en": en}


def suggestion(sid: str, sound: bool, *flaws: str) -> dict:
    out = {
        "id": sid,
        "text": bi(f"Suggestion {sid}"),
        "sound": sound,
        "explanation": bi(f"Why {sid} is {'sound' if sound else 'flawed'}"),
    }
    if flaws:
        out["flaws"] = list(flaws)
    return out


def scenario_content(*, rubric: bool = False) -> dict:
    """Four turns, eight suggestions (four flawed); accepting the flawed s2 at
    the first turn branches to t2b instead of t2; both lead to t3, the end."""
    content = {
        "persona": {
            "industry": "medical-devices",
            "name": bi("Director Wang", "王主任"),
            "role": bi("Head of procurement", "采购处处长"),
            "organisation": bi("City hospital", "市医院"),
            "situation": bi("Renewing the imaging contract", "影像设备合同续约"),
        },
        "start": "t1",
        "turns": [
            {
                "id": "t1",
                "customer": bi("Your price is too high."),
                "context": bi("List price 1.2 m; floor 1.1 m."),
                "suggestions": [
                    suggestion("s1", True),
                    suggestion("s2", False, "wrong_price"),
                ],
                "next": "t2",
                "branches": [{"suggestion": "s2", "decision": "accept", "next": "t2b"}],
            },
            {
                "id": "t2",
                "customer": bi("What about uptime?"),
                "suggestions": [
                    suggestion("s3", True),
                    suggestion("s4", False, "invented_fact", "non_compliant_promise"),
                ],
                "next": "t3",
            },
            {
                "id": "t2b",
                "customer": bi("So you can go lower still?"),
                "suggestions": [
                    suggestion("s5", False, "biased_assumption"),
                    suggestion("s6", True),
                ],
                "next": "t3",
            },
            {
                "id": "t3",
                "customer": bi("Send me the offer."),
                "suggestions": [
                    suggestion("s7", True),
                    suggestion("s8", False, "ignores_need"),
                ],
            },
        ],
    }
    if rubric:
        levels = [{"points": p, "description": bi(f"{p} points")} for p in (0, 1, 2)]
        content["note_rubric"] = {
            "criteria": [
                {"id": "specific", "name": bi("Specific"), "levels": levels},
                {"id": "kind", "name": bi("Constructive"), "levels": levels},
            ]
        }
    return content


# --- validation ------------------------------------------------------------------


def test_the_factory_scenario_is_valid():
    assert coaching.validate_content(scenario_content(rubric=True)) == {}


def broken(change) -> dict[str, str]:
    content = copy.deepcopy(scenario_content())
    change(content)
    return coaching.validate_content(content)


def test_duplicate_ids_are_named():
    def dup_turn(c):
        c["turns"][2]["id"] = "t2"

    def dup_suggestion(c):
        c["turns"][1]["suggestions"][0]["id"] = "s1"

    assert "turns.2.id" in broken(dup_turn)
    assert broken(dup_suggestion)["turns.1.suggestions.0.id"].startswith("duplicate")


def test_start_next_and_branch_targets_must_exist():
    def bad_start(c):
        c["start"] = "nowhere"

    def bad_next(c):
        c["turns"][1]["next"] = "nowhere"

    def bad_branch(c):
        c["turns"][0]["branches"][0] |= {"next": "x", "suggestion": "s3"}

    assert "start" in broken(bad_start)
    assert "turns.1.next" in broken(bad_next)
    problems = broken(bad_branch)
    assert "turns.0.branches.0.next" in problems
    assert "turns.0.branches.0.suggestion" in problems  # s3 is another turn's


def test_branch_decision_must_be_known():
    def bad(c):
        c["turns"][0]["branches"][0]["decision"] = "maybe"

    def not_accept(c):
        c["turns"][0]["branches"][0]["decision"] = "not_accept"

    assert "turns.0.branches.0.decision" in broken(bad)
    assert broken(not_accept) == {}


def test_flaws_must_match_soundness():
    def flawed_without(c):
        del c["turns"][0]["suggestions"][1]["flaws"]

    def sound_with(c):
        c["turns"][0]["suggestions"][0]["flaws"] = ["other"]

    def unknown(c):
        c["turns"][0]["suggestions"][1]["flaws"] = ["rude"]

    assert "turns.0.suggestions.1.flaws" in broken(flawed_without)
    assert "turns.0.suggestions.0.flaws" in broken(sound_with)
    assert "turns.0.suggestions.1.flaws" in broken(unknown)


def test_both_languages_are_required():
    def no_en(c):
        c["turns"][0]["customer"]["en"] = " "

    def no_zh_explanation(c):
        del c["turns"][3]["suggestions"][1]["explanation"]["zh"]

    assert "turns.0.customer.en" in broken(no_en)
    assert "turns.3.suggestions.1.explanation.zh" in broken(no_zh_explanation)


def test_unreachable_turns_and_cycles_are_refused():
    def orphan(c):
        c["turns"][0]["branches"] = []  # t2b is reached only by the branch

    def loop(c):
        c["turns"][3]["next"] = "t1"

    assert broken(orphan) == {"turns.2.id": "no path from the start reaches this turn"}
    assert "turns.3.next" in broken(loop)


def test_both_kinds_of_suggestion_are_needed():
    def all_sound(c):
        for t in c["turns"]:
            for s in t["suggestions"]:
                s["sound"] = True
                s.pop("flaws", None)
        c["turns"][0]["branches"] = []
        c["turns"][1]["next"] = "t2b"

    assert "turns" in broken(all_sound)


def test_note_rubric_problems_are_named_under_note_rubric():
    content = scenario_content(rubric=True)
    content["note_rubric"]["criteria"][0]["levels"] = [content["note_rubric"]]
    problems = coaching.validate_content(content)
    assert any(path.startswith("note_rubric.criteria.0") for path in problems)
    assert coaching.validate_content({**scenario_content(), "note_rubric": 3}) == {
        "note_rubric": 'required: an object with "criteria"'
    }


def test_garbage_never_raises():
    for content in (None, [], {"turns": "x"}, {"turns": [1, {"id": 3}]}):
        assert coaching.validate_content(content)


# --- the path and public views ------------------------------------------------------


def test_next_turn_follows_branches_then_next():
    content = scenario_content()
    assert coaching.next_turn(content, "t1", {"s1": "accept", "s2": "accept"}) == "t2b"
    assert coaching.next_turn(content, "t1", {"s1": "accept", "s2": "edit"}) == "t2"
    assert coaching.next_turn(content, "t3", {"s7": "accept"}) is None
    content["turns"][0]["branches"][0]["decision"] = "not_accept"
    assert coaching.next_turn(content, "t1", {"s2": "reject"}) == "t2b"
    assert coaching.next_turn(content, "t1", {"s2": "accept"}) == "t2"


def test_public_turn_has_no_truth():
    view = coaching.public_turn(scenario_content(), "t1", "en", 1)
    assert view == {
        "id": "t1",
        "number": 1,
        "customer": "Your price is too high.",
        "context": "List price 1.2 m; floor 1.1 m.",
        "suggestions": [
            {"id": "s1", "text": "Suggestion s1"},
            {"id": "s2", "text": "Suggestion s2"},
        ],
    }
    zh = coaching.public_turn(scenario_content(), "t1", "zh_CN", 1)
    assert zh["customer"] == "中文：Your price is too high."
    persona = coaching.public_persona(scenario_content(), "en")
    assert persona["name"] == "Director Wang"


# --- scoring -----------------------------------------------------------------------


def judgements(spec: str) -> list[Judgement]:
    """``spec``: one letter per suggestion: F flawed / S sound, then a/e/r."""
    out = []
    for pair in spec.split():
        out.append(
            Judgement(
                sound=pair[0] == "S",
                true_flaws=() if pair[0] == "S" else ("wrong_price",),
                decision={"a": "accept", "e": "edit", "r": "reject"}[pair[1]],
            )
        )
    return out


def by_hand(hits, flawed, false_alarms, sound):
    """d′ and c straight from the issue's formulas."""
    h = (hits + 0.5) / (flawed + 1)
    f = (false_alarms + 0.5) / (sound + 1)
    return norm.ppf(h) - norm.ppf(f), -(norm.ppf(h) + norm.ppf(f)) / 2


def test_counts_rates_and_sdt_match_hand_computation():
    # 4 flawed: 3 not accepted (hits), 1 accepted; 4 sound: 1 edited, 1 rejected.
    scores = coaching.score(coaching.tally(judgements("Fr Fe Fr Fa Sa Sa Se Sr")))
    assert (scores.hits, scores.misses) == (3, 1)
    assert (scores.false_alarms, scores.correct_rejections) == (2, 2)
    assert scores.hit_rate == pytest.approx(3.5 / 5, abs=1e-12)
    assert scores.false_alarm_rate == pytest.approx(2.5 / 5, abs=1e-12)
    d, c = by_hand(3, 4, 2, 4)
    assert scores.d_prime == pytest.approx(d, abs=1e-9)
    assert scores.criterion == pytest.approx(c, abs=1e-9)
    # Literal values: z(0.7) = 0.5244005127, z(0.5) = 0.
    assert scores.d_prime == pytest.approx(0.5244005127080407, abs=1e-9)
    assert scores.criterion == pytest.approx(-0.26220025635402035, abs=1e-9)
    assert scores.over_reliance == 0.25
    # An edited sound suggestion is a false alarm but not under-reliance.
    assert scores.under_reliance == 0.25


def test_perfect_coach_is_calibrated():
    scores = coaching.score(coaching.tally(judgements("Fr Fr Fr Fr Sa Sa Sa Sa")))
    d, _c = by_hand(4, 4, 0, 4)
    assert scores.d_prime == pytest.approx(d, abs=1e-9)
    assert scores.d_prime == pytest.approx(2.5631031310892007, abs=1e-9)
    assert scores.criterion == pytest.approx(0.0, abs=1e-12)
    assert scores.style == "calibrated"
    assert (scores.over_reliance, scores.under_reliance) == (0.0, 0.0)


def test_flaw_accuracy_is_mean_jaccard_over_hits():
    items = [
        Judgement(False, ("invented_fact", "wrong_price"), "reject", ("wrong_price",)),
        Judgement(False, ("ignores_need",), "edit", ("ignores_need",)),
        Judgement(False, ("other",), "edit", ()),
        Judgement(False, ("other",), "accept", ("other",)),  # a miss: not counted
        Judgement(True, (), "accept"),
    ]
    scores = coaching.score(coaching.tally(items))
    assert scores.flaw_accuracy == pytest.approx((0.5 + 1 + 0) / 3, abs=1e-12)
    assert coaching.score(coaching.tally(judgements("Fa Sa"))).flaw_accuracy is None


def test_pooling_sums_counts_before_rates():
    first = coaching.tally(judgements("Fr Fr Sa"))
    second = coaching.tally(judgements("Fa Sr Sr Sa"))
    pooled = coaching.pooled([first, second])
    d, c = by_hand(2, 3, 2, 4)
    assert (pooled.hits, pooled.misses, pooled.false_alarms) == (2, 1, 2)
    assert pooled.d_prime == pytest.approx(d, abs=1e-9)
    assert pooled.criterion == pytest.approx(c, abs=1e-9)
    assert pooled.under_reliance == pytest.approx(0.5)
    mean_of_two = (coaching.score(first).d_prime + coaching.score(second).d_prime) / 2
    assert pooled.d_prime != pytest.approx(mean_of_two)


def test_tally_survives_a_json_round_trip():
    counts = coaching.tally(judgements("Fr Fa Se"), turn_seconds=[12.0, 30.5])
    stored = coaching.score(counts).to_dict()
    assert coaching.Tally.from_dict(stored) == counts


def test_nothing_answered_has_no_style():
    scores = coaching.score(Tally())
    assert scores.style is None and scores.over_reliance is None


# --- style boundaries ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("d_prime", "criterion", "over", "under", "seconds", "style"),
    [
        (2.0, 0.0, 0.0, 0.0, None, "calibrated"),
        (2.0, 0.0, 0.0, 0.0, 4.0, "calibrated"),  # exactly FAST_SECONDS: not fast
        (2.0, 0.0, 0.0, 0.0, 3.99, "disengaged"),
        (0.5, 0.0, 0.0, 0.0, None, "calibrated"),  # d′ at the bound
        (0.49, 0.49, 0.0, 0.0, None, "disengaged"),
        (0.49, 0.5, 0.0, 0.0, None, "over_reliant"),  # a lean, not disengaged
        (0.49, -0.5, 0.0, 0.0, None, "over_sceptical"),
        (2.0, 0.49, 0.49, 0.0, None, "calibrated"),
        (2.0, 0.5, 0.0, 0.0, None, "over_reliant"),
        (2.0, 0.0, 0.5, 0.0, None, "over_reliant"),
        (2.0, -0.49, 0.0, 0.49, None, "calibrated"),
        (2.0, -0.5, 0.0, 0.0, None, "over_sceptical"),
        (2.0, 0.0, 0.0, 0.5, None, "over_sceptical"),
        (2.0, 0.0, None, None, None, "calibrated"),
    ],
)
def test_style_boundaries(d_prime, criterion, over, under, seconds, style):
    assert (
        coaching.collaboration_style(d_prime, criterion, over, under, seconds) == style
    )


@pytest.mark.parametrize(
    ("spec", "style"),
    [
        ("Fr Fr Fr Fa Sa Sa Sa Sa", "calibrated"),  # one flaw missed: c = 0.38
        ("Fr Fr Fa Fa Sa Sa Sa Sa", "over_reliant"),  # two missed: c = 0.64
        ("Fa Fa Fa Fa Sa Sa Sa Sa", "over_reliant"),
        ("Fr Fr Fr Fr Sr Sr Sa Sa", "over_sceptical"),
        ("Fr Fr Fr Fr Se Se Se Se", "over_sceptical"),  # edits only: c < 0
        ("Fr Fr Fa Fa Sr Sr Sa Sa", "disengaged"),  # d′ = 0, c = 0
    ],
)
def test_styles_of_typical_coaches(spec, style):
    assert coaching.score(coaching.tally(judgements(spec))).style == style


def test_fast_clicking_is_disengaged_even_when_right():
    counts = coaching.tally(
        judgements("Fr Fr Fr Fr Sa Sa Sa Sa"), turn_seconds=[2.0, 3.0, 1.5, 9.0]
    )
    assert coaching.score(counts).median_seconds == 2.5
    assert coaching.score(counts).style == "disengaged"
