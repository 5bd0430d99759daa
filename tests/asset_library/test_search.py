"""The search engine, on a small hand-made corpus (no app, no database)."""

import importlib.util
import math
from pathlib import Path

import pytest

from asset_library.search import (
    Document,
    QueryOptions,
    RankingWeights,
    SearchIndex,
    tokenize,
)

NOW = 1_750_000_000.0
SYNONYMS = [
    ["话术", "销售话术", "script", "pitch"],
    ["集采", "带量采购", "VBP", "centralized procurement"],
    ["续约", "续签", "renewal", "renew"],
    ["异议", "objection"],
]
CORPUS = [
    {
        "id": "a1",
        "title": "集采降价谈判话术",
        "summary": "面对带量采购后的医院采购科，如何守住价格底线。",
        "body": "第一步：确认集采中标价格。第二步：强调配送与服务。<b>不要</b>先让价。",
        "kind": "script",
        "industry": "pharma",
        "customer_type": "hospital",
        "scenario": "negotiation",
        "language": "zh",
        "tags": ["集采", "价格"],
    },
    {
        "id": "a2",
        "title": "回款管理清单",
        "summary": "逾期应收款的催收步骤与对账节奏。",
        "body": "每周对账；逾期 30 天升级到财务；回款计划写进合同。",
        "kind": "checklist",
        "industry": "industrial",
        "customer_type": "soe",
        "scenario": "collections",
        "language": "zh",
        "tags": ["回款"],
    },
    {
        "id": "a3",
        "title": "SaaS renewal playbook",
        "summary": "Renewing enterprise contracts 90 days before the end date.",
        "body": "Start the renewal conversation early. Handle objections about price "
        "with usage data. Renewals succeed when the champion is engaged.",
        "kind": "playbook",
        "industry": "saas",
        "customer_type": "private",
        "scenario": "renewal",
        "language": "en",
        "tags": ["renewal", "SaaS"],
    },
    {
        "id": "a4",
        "title": "CRM 续约提醒模板",
        "summary": "在 CRM 里提前 90 天提醒续约，附客户健康度。",
        "body": "模板字段：客户、合同到期日、使用率、续约负责人。",
        "kind": "template",
        "industry": "saas",
        "customer_type": "smb",
        "scenario": "renewal",
        "language": "mixed",
        "tags": ["CRM", "续约"],
    },
    {
        "id": "a5",
        "title": "价格异议处理",
        "summary": "客户说太贵时的三种回应。",
        "body": "先认同，再拆分总拥有成本，最后给出分期方案。",
        "kind": "script",
        "industry": "industrial",
        "customer_type": "private",
        "scenario": "objection-handling",
        "language": "zh",
        "tags": ["异议"],
    },
    {
        "id": "a6",
        "title": "First visit checklist",
        "summary": "What to prepare before meeting a hospital director.",
        "body": "Research the hospital, bring a one-page pitch, agree next steps.",
        "kind": "checklist",
        "industry": "pharma",
        "customer_type": "hospital",
        "scenario": "first-visit",
        "language": "en",
        "tags": ["visit"],
    },
]


def build(documents=CORPUS, **kwargs) -> SearchIndex:
    return SearchIndex.build(documents, synonyms=SYNONYMS, **kwargs)


def ids(result) -> list:
    return [hit.id for hit in result.hits]


@pytest.fixture(scope="module")
def index() -> SearchIndex:
    return build()


# ------------------------------------------------------------------ tokenizer


def test_tokens_carry_offsets_into_the_original_text():
    text = "CRM 续约，ＡＢＣ Renewals!"
    tokens = [(t.term, t.start, t.end) for t in tokenize(text)]
    assert tokens == [
        ("crm", 0, 3),
        ("续", 4, 5),
        ("续约", 4, 6),
        ("约", 5, 6),
        ("abc", 7, 10),
        ("renew", 11, 19),
    ]
    assert [text[start:end] for _term, start, end in tokens][-2:] == [
        "ＡＢＣ",
        "Renewals",
    ]


def test_english_words_are_stemmed_and_digits_kept():
    terms = [t.term for t in tokenize("Renewing the renewals in 2025, B2B")]
    assert terms == ["renew", "renew", "2025", "b2b"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [("集采", "a1"), ("回款", "a2"), ("话术", "a1"), ("价", "a1"), ("对账", "a2")],
)
def test_one_and_two_character_chinese_queries_find_documents(index, query, expected):
    assert expected in ids(index.search(query, now=NOW))


def test_a_longer_chinese_phrase_ranks_the_document_containing_it_first(index):
    assert ids(index.search("价格异议处理", now=NOW))[0] == "a5"


def test_mixed_query(index):
    assert ids(index.search("CRM 续约", now=NOW))[0] == "a4"


def test_full_width_text_is_normalised(index):
    assert ids(index.search("ＣＲＭ　续约", now=NOW))[0] == "a4"


def test_facet_labels_are_searchable_in_both_languages():
    labels = {"scenario": {"negotiation": ["商务谈判", "Negotiation"]}}
    index = build(facet_labels=labels)
    assert ids(index.search("negotiation", now=NOW)) == ["a1"]
    assert "a1" in ids(index.search("商务谈判", now=NOW))


def test_stemming_matches_other_forms(index):
    assert "a3" in ids(index.search("renewing", now=NOW))


# ------------------------------------------------------------------ expansion


def test_a_typo_in_a_long_word_is_tolerated(index):
    assert ids(index.search("renwal", now=NOW))[0] == "a3"
    terms = index.parse("renwal").terms
    assert terms["renew"].origin == "typo"
    assert terms["renew"].weight < 1


def test_no_typo_expansion_for_words_under_five_letters(index):
    parsed = index.parse("vist")
    assert list(parsed.terms) == ["vist"]
    assert index.search("vist", now=NOW).total == 0


def test_synonyms_take_an_english_query_to_chinese_assets(index):
    assert ids(index.search("VBP", now=NOW)) == ["a1"]
    assert "a1" in ids(index.search("sales script", now=NOW))


def test_synonyms_take_a_chinese_query_to_english_assets(index):
    found = ids(index.search("续约", now=NOW))
    assert set(found) >= {"a3", "a4"}
    assert found[0] == "a4"


def test_a_document_using_a_word_and_its_synonym_does_not_score_twice(index):
    both = SearchIndex.build(
        [
            {"id": "plain", "title": "renewal 其他"},
            {"id": "mixed", "title": "renewal 续约"},
        ],
        synonyms=SYNONYMS,
    )
    hits = both.search("renewal", now=NOW).hits
    assert [hit.id for hit in hits] == ["mixed", "plain"]
    assert hits[0].text_score == hits[1].text_score


def test_the_synonym_table_can_be_replaced_without_reindexing():
    index = build()
    assert index.search("dunning", now=NOW).total == 0
    index.set_synonyms([*SYNONYMS, ["催收", "dunning"]])
    assert ids(index.search("dunning", now=NOW)) == ["a2"]


def test_synonyms_weigh_less_than_the_words_typed(index):
    parsed = index.parse("续约")
    assert parsed.terms["续约"].weight == 1
    assert 0 < parsed.terms["renew"].weight < 1


# ------------------------------------------------------------------ facets


def test_facet_counts_apply_the_other_filters_but_not_their_own(index):
    result = index.search("", filters={"industry": "saas"}, now=NOW)
    assert result.total == 2
    assert result.facets["industry"] == {"industrial": 2, "pharma": 2, "saas": 2}
    assert result.facets["kind"] == {"playbook": 1, "template": 1}
    text = index.search("续约", filters={"kind": "template"}, now=NOW)
    assert ids(text) == ["a4"]
    assert text.facets["kind"] == {"playbook": 1, "template": 1}


def test_filters_take_several_values_of_a_facet(index):
    result = index.search("", filters={"kind": ["script", "template"]}, now=NOW)
    assert sorted(ids(result)) == ["a1", "a4", "a5"]


# ------------------------------------------------------------------ ranking


def twins(**signals) -> list[Document]:
    """Documents with the same text and different ids and signals."""
    base = {"title": "招投标 checklist", "summary": "标书", "body": "评分标准"}
    return [
        Document.from_mapping({"id": f"t{i}", **base, **extra})
        for i, extra in enumerate(signals.values())
    ]


def test_more_evidence_ranks_higher_among_equal_text_scores():
    docs = twins(
        weak={"evidence_strength": 0.2},
        none={},
        strong={"evidence_strength": 0.9},
        middle={"evidence_strength": 0.5},
    )
    result = SearchIndex.build(docs).search("招投标", now=NOW)
    assert ids(result) == ["t2", "t3", "t0", "t1"]
    assert len({hit.text_score for hit in result.hits}) == 1
    scores = [hit.score for hit in result.hits]
    assert scores == sorted(scores, reverse=True)


def test_verification_freshness_and_usage_each_lift_a_document():
    year = 365 * 86_400
    docs = twins(
        plain={"updated_at": NOW - 3 * year},
        verified={"updated_at": NOW - 3 * year, "verification": "verified"},
        fresh={"updated_at": NOW},
        used={"updated_at": NOW - 3 * year, "usage_count": 500},
    )
    result = SearchIndex.build(docs).search("checklist", now=NOW)
    assert ids(result)[-1] == "t0"


def test_ties_are_broken_by_id_whatever_the_insertion_order():
    docs = twins(**{str(i): {} for i in range(6)})
    for shuffled in (docs, docs[::-1], docs[3:] + docs[:3]):
        found = ids(SearchIndex.build(shuffled).search("标书", now=NOW))
        assert found == ["t0", "t1", "t2", "t3", "t4", "t5"]


def test_ties_stay_in_id_order_through_many_incremental_additions():
    index = SearchIndex.build([{"id": "a", "title": "同"}, {"id": "b", "title": "同"}])
    added = ["a" + "0" * k + "1" for k in range(1, 70)]
    for doc_id in added:
        index.add({"id": doc_id, "title": "同"})
    index.remove("a01")
    found = ids(index.search("同", per_page=100, now=NOW))
    assert found == sorted(["a", "b", *added[1:]])


def test_browse_ranks_by_signals_and_zero_weights_leave_ids():
    docs = twins(a={}, b={"evidence_strength": 1.0})
    index = SearchIndex.build(docs)
    assert ids(index.search("", now=NOW)) == ["t1", "t0"]
    flat = RankingWeights(evidence=0, verified=0, lapsed=0, freshness=0, usage=0)
    assert ids(index.search("", weights=flat, now=NOW)) == ["t0", "t1"]


def test_paging(index):
    everything = ids(index.search("", per_page=100, now=NOW))
    pages = [ids(index.search("", page=p, per_page=4, now=NOW)) for p in (1, 2)]
    assert pages[0] + pages[1] == everything
    assert len(everything) == len(CORPUS)


def test_recommendations_weigh_the_scenario_most():
    docs = [
        {"id": "r1", "title": "x", "industry": "pharma", "customer_type": "hospital"},
        {"id": "r2", "title": "x", "scenario": "negotiation"},
        {"id": "r3", "title": "x", "scenario": "negotiation", "industry": "pharma"},
        {"id": "r4", "title": "x", "scenario": "negotiation", "evidence_strength": 1},
        {"id": "r5", "title": "x", "industry": "saas"},
    ]
    found = SearchIndex.build(docs).recommend(
        industry="pharma", customer_type="hospital", scenario="negotiation", now=NOW
    )
    assert [r.id for r in found] == ["r3", "r4", "r2", "r1"]
    assert found[0].matched == ("industry", "scenario")


# ------------------------------------------------------------------ snippets


def test_snippets_mark_the_original_text_and_escape_html(index):
    hit = index.search("不要 集采", now=NOW).hits[0]
    assert hit.id == "a1"
    assert "<mark>集采</mark>" in hit.snippet_html
    assert "&lt;b&gt;<mark>不要</mark>&lt;/b&gt;" in hit.snippet_html
    assert hit.title_html == "<mark>集采</mark>降价谈判话术"
    assert hit.matched_tags == ("集采",)


def test_snippets_mark_stemmed_and_synonym_hits_in_their_original_form(index):
    hit = index.search("renewing", now=NOW).hits[0]
    assert "<mark>Renewing</mark>" in hit.snippet_html
    title = index.get("a3").title
    assert [title[s:e] for s, e in hit.highlights["title"]] == ["renewal"]
    synonym_hit = index.search("VBP", now=NOW).hits[0]
    assert "<mark>带量采购</mark>" in synonym_hit.snippet_html


def test_long_text_snippets_are_a_window_with_ellipses():
    body = "无关内容。" * 60 + "这里讲回款。" + "其他内容。" * 60
    index = SearchIndex.build([{"id": 1, "title": "t", "body": body}])
    text = index.search("回款", now=NOW).hits[0].snippet_html
    assert text.startswith("…") and text.endswith("…")
    assert "<mark>回款</mark>" in text
    assert len(text.replace("<mark>", "").replace("</mark>", "")) <= 122


# ------------------------------------------------------------------ updates


def test_incremental_updates_give_the_same_results_as_a_full_rebuild():
    edited = dict(CORPUS[2], title="SaaS renewal playbook v2", body="集采 renewal")
    extra = dict(CORPUS[0], id="a7", title="新的集采话术")
    incremental = build(CORPUS[:3])
    for document in CORPUS[3:]:
        incremental.add(document)
    incremental.add(edited)
    incremental.add(extra)
    incremental.remove("a5")
    expected = [d for d in CORPUS if d["id"] not in {"a3", "a5"}] + [edited, extra]
    full = build(expected)
    assert len(incremental) == len(full) == 6
    for query in ["集采", "renewal", "话术", "", "CRM 续约", "renwal", "异议"]:
        got, want = incremental.search(query, now=NOW), full.search(query, now=NOW)
        assert ids(got) == ids(want), query
        assert [h.score for h in got.hits] == pytest.approx(
            [h.score for h in want.hits], rel=1e-9
        )
        assert got.facets == want.facets


def test_merging_new_rows_into_the_main_postings_keeps_results(monkeypatch):
    monkeypatch.setattr(SearchIndex, "MERGE_ROWS", 2)
    incremental = build(CORPUS[:1])
    for document in CORPUS[1:]:
        incremental.add(document)
    full = build()
    for query in ["集采", "renewal", "回款 对账", ""]:
        assert ids(incremental.search(query, now=NOW)) == ids(
            full.search(query, now=NOW)
        )


def test_stats_report_size():
    stats = build().stats()
    assert stats.documents == len(CORPUS)
    assert stats.terms > 50 and stats.postings >= stats.terms
    assert stats.array_bytes > 0


def test_query_options_are_configurable():
    strict = build(options=QueryOptions(typo_min_length=7))
    assert strict.search("renwal", now=NOW).total == 0


# ------------------------------------------------------------------ benchmark


def load_quality_benchmark():
    path = Path(__file__).parents[2] / "benchmarks" / "search_quality.py"
    spec = importlib.util.spec_from_file_location("search_quality", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_ndcg_on_a_hand_worked_example():
    quality = load_quality_benchmark()
    judgments = {"a": 3, "b": 2, "c": 0, "d": 1}
    ranking = ["c", "a", "x", "d", "b"]
    # DCG = 0 + 7/log2(3) + 0 + 1/log2(5) + 3/log2(6)
    dcg = 7 / math.log2(3) + 1 / math.log2(5) + 3 / math.log2(6)
    # ideal: 3, 2, 1, 0 → 7/log2(2) + 3/log2(3) + 1/log2(4)
    ideal = 7 + 3 / math.log2(3) + 1 / 2
    assert quality.ndcg(ranking, judgments, 10) == pytest.approx(dcg / ideal)
    assert quality.ndcg(ranking, judgments, 10) == pytest.approx(0.6396123, abs=1e-7)
    assert quality.recall(ranking, judgments, 10) == 1.0
    assert quality.recall(ranking[:3], judgments, 10) == pytest.approx(1 / 3)
    assert quality.reciprocal_rank(ranking, judgments) == 0.5


def test_a_synonym_of_several_words_needs_all_of_them():
    index = SearchIndex.build(
        [
            {"id": 1, "title": "集采报量打法", "body": "带量采购之后的报量"},
            {"id": 2, "title": "Quote based on facts", "body": "Not on guesses."},
            {"id": 3, "title": "Volume-based procurement tender", "body": "VBP."},
            {"id": 4, "title": "政府采购参数建议", "body": "采购人需求论证"},
        ],
        synonyms=[["集采", "带量采购", "volume-based procurement"]],
    )
    found = {hit.id for hit in index.search("集采").hits}
    assert found == {1, 3}  # not "based" alone, not 采购 alone
