"""Asset search: a pure, in-memory engine (no Flask, no database), so that the
same assets give the same results whatever database stores them.

Text analysis (``text``): NFKC, lowercase; CJK runs become character unigrams
and bigrams; other words are Snowball-stemmed. Queries (``query``) use the same
analysis, then add synonyms from a bilingual table and corrections of one typo
at reduced weights.

Text score, BM25F over the fields title, tags, summary, body and facets (the
facet values and their labels)::

    tf~(t, d) = sum over fields f of  w_f * tf_f(t, d) / B_f(d)
    B_f(d)    = 1 - b_f + b_f * len_f(d) / avglen_f
    s(t, d)   = q_t * idf * tf~ * (k1 + 1) / (k1 + tf~)
    T(d)      = sum over clauses c of  max over alternatives a of c of
                sum over terms t of a of  s(t, d)
    idf       = ln(1 + (N - df + 0.5) / (df + 0.5))

A clause is a word or CJK bigram typed together with its synonyms and typo
corrections (the alternatives); the main terms of a clause of several
alternatives share the idf of its commonest alternative (Lucene's SynonymQuery
idea), other terms use their own df. ``q_t`` is the query weight of the term: 1
for words and bigrams typed, less for CJK unigram fallbacks, for bigrams of a
long CJK run that are rarely seen together (probably not a word), for synonyms
and typo corrections (see ``QueryOptions``). Field weights and ``b`` are in
``Bm25Params``. A document matches when it covers at least ``min_should_match``
of the query's concepts (words, bigrams).

Final score (weights ``RankingWeights``)::

    score(d) = T(d) * (1 + P(d))
    P(d) = w_evidence * evidence_strength            (0..1)
         + w_verified * [verified] + w_lapsed * [lapsed]
         + w_freshness * 2 ** (-age_days / half_life_days)
         + w_usage * min(1, ln(1 + uses) / ln(1 + usage_saturation))
         + w_rating * (average_rating - 3) / 2       (0 when unrated)

so text relevance comes first and the signals lift it by at most
``sum(w)`` (53% by default). An empty query browses: ``T = 1``. Scores are
rounded to 9 decimals and ties go to the smaller id.
"""

from .index import (
    FACETS,
    Document,
    Hit,
    IndexStats,
    Recommendation,
    SearchIndex,
    SearchResult,
    evidence_strength,
)
from .query import ParsedQuery, QueryOptions
from .ranking import Bm25Params, RankingWeights
from .snippets import find_terms, highlight_spans, mark, snippet
from .text import Token, tokenize

__all__ = [
    "FACETS",
    "Bm25Params",
    "Document",
    "Hit",
    "IndexStats",
    "ParsedQuery",
    "QueryOptions",
    "RankingWeights",
    "Recommendation",
    "SearchIndex",
    "SearchResult",
    "Token",
    "evidence_strength",
    "find_terms",
    "highlight_spans",
    "mark",
    "snippet",
    "tokenize",
]
