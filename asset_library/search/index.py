"""The in-memory index: documents, postings, signals, facets; search and
recommendations."""

import bisect
import math
import time
from collections import Counter
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np

from .query import ParsedQuery, QueryOptions, SynonymTable, TypoIndex, parse_query
from .ranking import VERIFICATION_CODES, Bm25Params, RankingWeights, prior
from .snippets import TermFinder, mark, merge_spans, snippet
from .text import count_terms

FIELDS = ("title", "tags", "summary", "body", "facets")
TEXT_FIELDS = ("title", "summary", "body")
FACETS = ("kind", "industry", "customer_type", "scenario", "language")
#: "Recommended for this situation": points for each matching facet.
RECOMMEND_POINTS = {"scenario": 4.0, "industry": 2.0, "customer_type": 1.0}


def _timestamp(value: object) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.timestamp()
    raise TypeError(f"not a time: {value!r}")


def evidence_strength(evidence: Mapping | None) -> float:
    """Strength 0..1 of an asset's evidence (0 without evidence).

    From ``confidence`` when given (a share, or a percentage above 1); else from
    ``p_value``: 1 - p / 0.1 (p = 0.001 gives 0.99, p = 0.05 gives 0.5, p of
    0.1 or more gives 0); else 0.5. A decision other than "adopt" halves it.
    """
    if not evidence:
        return 0.0
    confidence = evidence.get("confidence")
    p_value = evidence.get("p_value")
    if confidence is not None:
        confidence = float(confidence)
        strength = confidence / 100 if confidence > 1 else confidence
    elif p_value is not None:
        strength = 1 - float(p_value) / 0.1
    else:
        strength = 0.5
    if evidence.get("decision") not in (None, "adopt"):
        strength /= 2
    return min(max(strength, 0.0), 1.0)


@dataclass(frozen=True, slots=True)
class Document:
    """What the index knows of one asset (its current version)."""

    id: Hashable
    title: str
    summary: str = ""
    body: str = ""
    tags: tuple[str, ...] = ()
    kind: str | None = None
    industry: str | None = None
    customer_type: str | None = None
    scenario: str | None = None
    language: str | None = None
    #: 0..1, see ``evidence_strength``.
    evidence_strength: float = 0.0
    #: "verified", "lapsed" or "none".
    verification: str = "none"
    #: Unix time in seconds of the last edit.
    updated_at: float | None = None
    usage_count: int = 0
    #: Average rating 1..5, None when unrated.
    rating: float | None = None

    @classmethod
    def from_mapping(cls, data: Mapping) -> "Document":
        """A document from a plain dict (an import line, a database row).

        ``tags`` may be a list or a comma-separated string; ``updated_at`` a
        datetime, an ISO string or a Unix time; without ``evidence_strength``
        it is derived from ``evidence`` (see ``evidence_strength``).
        """
        tags = data.get("tags") or ()
        if isinstance(tags, str):
            tags = [t for t in (part.strip() for part in tags.split(",")) if t]
        strength = data.get("evidence_strength")
        if strength is None:
            strength = evidence_strength(data.get("evidence"))
        rating = data.get("rating")
        return cls(
            id=data["id"],
            title=data.get("title") or "",
            summary=data.get("summary") or "",
            body=data.get("body") or "",
            tags=tuple(tags),
            **{facet: data.get(facet) or None for facet in FACETS},
            evidence_strength=float(strength),
            verification=data.get("verification") or "none",
            updated_at=_timestamp(data.get("updated_at")),
            usage_count=int(data.get("usage_count") or 0),
            rating=None if rating is None else float(rating),
        )


@dataclass(frozen=True)
class Hit:
    """One result: scores, highlight spans per field, and HTML for display."""

    id: Hashable
    score: float
    text_score: float
    #: field -> merged (start, end) offsets into the original field text
    highlights: dict[str, list[tuple[int, int]]]
    title_html: str
    snippet_html: str
    matched_tags: tuple[str, ...]


@dataclass(frozen=True)
class SearchResult:
    total: int
    hits: list[Hit]
    #: facet -> {value: count}, most frequent first
    facets: dict[str, dict[str, int]]
    query: ParsedQuery | None = None


@dataclass(frozen=True)
class Recommendation:
    id: Hashable
    score: float
    #: The facets that matched the situation.
    matched: tuple[str, ...]


@dataclass(frozen=True)
class IndexStats:
    documents: int
    terms: int
    postings: int
    #: Bytes held in numpy arrays (postings, lengths, signals, facets).
    array_bytes: int
    build_seconds: float


@dataclass
class _Analysed:
    term_ids: np.ndarray
    #: term frequencies, one row per term, one column per field
    tfs: np.ndarray
    lengths: np.ndarray
    words: set[str] = field(default_factory=set)


class _Growable:
    """A numpy array that grows along its first axis."""

    def __init__(self, dtype, width: int | None = None, fill=0):
        shape = (1024,) if width is None else (1024, width)
        self.data = np.full(shape, fill, dtype=dtype)
        self.fill = fill

    def ensure(self, n: int) -> np.ndarray:
        if n > len(self.data):
            size = max(n, 2 * len(self.data))
            grown = np.full((size, *self.data.shape[1:]), self.fill, self.data.dtype)
            grown[: len(self.data)] = self.data
            self.data = grown
        return self.data


class SearchIndex:
    """An in-memory BM25F index of assets with facets and ranking signals.

    Build it with ``SearchIndex.build(documents)`` (documents or plain dicts),
    keep it current with ``add`` (which also replaces) and ``remove``; results
    do not depend on the order of those calls.
    """

    #: New rows are merged into the main postings past this many (or 5%).
    MERGE_ROWS = 2_000
    #: Scores of terms in at least this many documents are cached, up to this
    #: many terms (the oldest go first).
    CACHE_MIN_ROWS = 2_000
    CACHE_TERMS = 512

    def __init__(
        self,
        synonyms: Iterable[Sequence[str]] = (),
        *,
        bm25: Bm25Params | None = None,
        options: QueryOptions | None = None,
        facet_labels: Mapping[str, Mapping[str, Sequence[str]]] | None = None,
    ):
        self.bm25 = bm25 or Bm25Params()
        self.options = options or QueryOptions()
        self.synonyms = SynonymTable(synonyms)
        self.facet_labels = {f: dict(v) for f, v in (facet_labels or {}).items()}
        self._reset()

    def _reset(self) -> None:
        self.build_seconds = 0.0
        self._vocab: dict[str, int] = {}
        self._df = _Growable(np.int64)
        self._docs: list[Document | None] = []
        self._row: dict[Hashable, int] = {}
        self._alive = _Growable(np.bool_)
        self._lengths = _Growable(np.float64, len(FIELDS))
        self._length_sums = np.zeros(len(FIELDS))
        self._signals = _Growable(np.float64, 5, np.nan)
        self._facet_codes = _Growable(np.int32, len(FACETS), -1)
        self._facet_values: list[dict[str, int]] = [{} for _ in FACETS]
        self._word_df: Counter[str] = Counter()
        self._typos = TypoIndex(self.options.typo_min_length - 1)
        self._indptr = np.zeros(1, np.int64)
        self._post_rows = np.zeros(0, np.int32)
        self._post_tfs = np.zeros((0, len(FIELDS)), np.uint16)
        self._delta: dict[int, list[tuple[int, np.ndarray]]] = {}
        self._delta_rows = 0
        self._cache: dict[str, object] = {}
        #: ids in sorted order (as ``_id_key``), with their rows and ranks; a
        #: row's rank (``_id_ranks``) orders ties. New ids get a rank between
        #: their neighbours', so an edit does not re-sort everything.
        self._order_keys: list[tuple] = []
        self._order_rows: list[int] = []
        self._order_ranks: list[float] = []
        self._id_ranks = _Growable(np.float64)

    # ----------------------------------------------------------- building

    @classmethod
    def build(cls, documents: Iterable[Document | Mapping], **kwargs) -> "SearchIndex":
        """A full index of ``documents`` (``Document`` objects or plain dicts
        for ``Document.from_mapping``); ``kwargs`` as for the constructor."""
        index = cls(**kwargs)
        index.rebuild(documents)
        return index

    def rebuild(self, documents: Iterable[Document | Mapping]) -> None:
        """Replace the whole content of the index by ``documents``."""
        began = time.perf_counter()
        self._reset()
        latest: dict[Hashable, Document] = {}
        for document in documents:
            document = _as_document(document)
            latest.pop(document.id, None)
            latest[document.id] = document
        term_ids, tfs, rows = [], [], []
        for document in latest.values():
            row, analysed = self._store(document)
            term_ids.append(analysed.term_ids)
            tfs.append(analysed.tfs)
            rows.append(np.full(len(analysed.term_ids), row, np.int32))
        if term_ids:
            self._set_postings(
                np.concatenate(term_ids), np.concatenate(rows), np.concatenate(tfs)
            )
        ordered = sorted((_id_key(doc_id), row) for doc_id, row in self._row.items())
        self._order_keys = [key for key, _row in ordered]
        self._order_rows = [row for _key, row in ordered]
        self._renumber()
        self.build_seconds = time.perf_counter() - began

    def add(self, document: Document | Mapping) -> None:
        """Add a document, or replace the one with the same id."""
        document = _as_document(document)
        self.remove(document.id)
        row, analysed = self._store(document)
        self._insert_order(document.id, row)
        for term_id, tf in zip(analysed.term_ids, analysed.tfs, strict=True):
            self._delta.setdefault(int(term_id), []).append((row, tf))
        self._delta_rows += 1
        if self._delta_rows > max(self.MERGE_ROWS, len(self._row) // 20):
            self._merge_delta()

    def remove(self, doc_id: Hashable) -> bool:
        """Remove a document; whether it was there."""
        row = self._row.pop(doc_id, None)
        if row is None:
            return False
        document = self._docs[row]
        analysed = self._analyse(document, grow_vocab=False)
        self._df.data[analysed.term_ids] -= 1
        self._length_sums -= analysed.lengths
        self._word_df.subtract(analysed.words)
        for word in analysed.words:
            if self._word_df[word] <= 0:
                del self._word_df[word]
        self._alive.data[row] = False
        self._docs[row] = None
        self._cache.clear()
        at = bisect.bisect_left(self._order_keys, _id_key(doc_id))
        del self._order_keys[at], self._order_rows[at], self._order_ranks[at]
        return True

    def _renumber(self) -> None:
        """Ranks 0, 1, 2 ... for the ids in order."""
        self._order_ranks = [float(rank) for rank in range(len(self._order_rows))]
        ranks = self._id_ranks.ensure(len(self._docs))
        ranks[self._order_rows] = self._order_ranks

    def _insert_order(self, doc_id: Hashable, row: int) -> None:
        key = _id_key(doc_id)
        at = bisect.bisect_left(self._order_keys, key)
        ranks = self._order_ranks
        low = ranks[at - 1] if at > 0 else (ranks[0] if ranks else 0.0) - 1.0
        high = ranks[at] if at < len(ranks) else low + 2.0
        rank = (low + high) / 2
        self._order_keys.insert(at, key)
        self._order_rows.insert(at, row)
        ranks.insert(at, rank)
        self._id_ranks.ensure(row + 1)[row] = rank
        if not low < rank < high:
            self._renumber()

    def _analyse(self, document: Document, grow_vocab: bool = True) -> _Analysed:
        vocab = self._vocab
        lengths = np.zeros(len(FIELDS))
        words: set[str] = set()
        ids: list[int] = []
        counts: list[int] = []
        per_field = np.zeros(len(FIELDS), np.int64)
        for f, text in enumerate(self._field_texts(document)):
            if not text:
                continue
            field_counts, field_words = count_terms(text)
            words.update(field_words)
            lengths[f] = field_counts.total()
            field_ids = list(map(vocab.get, field_counts))
            if None in field_ids:
                if not grow_vocab:
                    raise KeyError("a term of a stored document is not indexed")
                field_ids = [vocab.setdefault(t, len(vocab)) for t in field_counts]
            ids.extend(field_ids)
            counts.extend(field_counts.values())
            per_field[f] = len(field_ids)
        term_ids, at = np.unique(np.array(ids, np.int64), return_inverse=True)
        tfs = np.zeros((len(term_ids), len(FIELDS)), np.uint16)
        fields = np.repeat(np.arange(len(FIELDS)), per_field)
        tfs[at, fields] = np.minimum(counts, 65_535)
        return _Analysed(term_ids, tfs, lengths, words)

    def _field_texts(self, document: Document) -> list[str]:
        facet_text = []
        for facet in FACETS[:4]:
            value = getattr(document, facet)
            if value:
                facet_text.append(value)
                facet_text.extend(self.facet_labels.get(facet, {}).get(value, ()))
        return [
            document.title,
            "\n".join(document.tags),
            document.summary,
            document.body,
            "\n".join(facet_text),
        ]

    def _store(self, document: Document) -> tuple[int, _Analysed]:
        analysed = self._analyse(document)
        row = len(self._docs)
        self._docs.append(document)
        self._row[document.id] = row
        df = self._df.ensure(len(self._vocab))
        df[analysed.term_ids] += 1
        self._alive.ensure(row + 1)[row] = True
        self._lengths.ensure(row + 1)[row] = analysed.lengths
        self._length_sums += analysed.lengths
        rating = np.nan if document.rating is None else document.rating
        updated = np.nan if document.updated_at is None else document.updated_at
        self._signals.ensure(row + 1)[row] = (
            document.evidence_strength,
            VERIFICATION_CODES.get(document.verification, 0),
            updated,
            document.usage_count,
            rating,
        )
        codes = self._facet_codes.ensure(row + 1)
        for f, facet in enumerate(FACETS):
            value = getattr(document, facet)
            if value:
                values = self._facet_values[f]
                codes[row, f] = values.setdefault(value, len(values))
        for word in analysed.words:
            if word not in self._word_df:
                self._typos.add(word)
        self._word_df.update(analysed.words)
        self._cache.clear()
        return row, analysed

    def _set_postings(
        self, term_ids: np.ndarray, rows: np.ndarray, tfs: np.ndarray
    ) -> None:
        order = np.lexsort((rows, term_ids))
        self._post_rows = rows[order].astype(np.int32)
        self._post_tfs = tfs[order]
        counts = np.bincount(term_ids, minlength=len(self._vocab))
        self._indptr = np.concatenate(([0], np.cumsum(counts)))
        self._delta, self._delta_rows = {}, 0

    def _merge_delta(self) -> None:
        n_main = len(self._indptr) - 1
        main_terms = np.repeat(np.arange(n_main), np.diff(self._indptr))
        parts_terms, parts_rows, parts_tfs = [main_terms], [self._post_rows], []
        parts_tfs.append(self._post_tfs)
        for term_id, entries in self._delta.items():
            parts_terms.append(np.full(len(entries), term_id))
            parts_rows.append(np.array([row for row, _tf in entries], np.int32))
            parts_tfs.append(np.array([tf for _row, tf in entries], np.uint16))
        terms = np.concatenate(parts_terms)
        rows = np.concatenate(parts_rows)
        tfs = np.concatenate(parts_tfs)
        keep = self._alive.data[rows]
        self._set_postings(terms[keep], rows[keep], tfs[keep])

    def set_synonyms(self, groups: Iterable[Sequence[str]]) -> None:
        """Replace the synonym table (used at query time: no re-indexing)."""
        self.synonyms = SynonymTable(groups)

    # ----------------------------------------------------------- reading

    def __len__(self) -> int:
        return len(self._row)

    def __contains__(self, doc_id: Hashable) -> bool:
        return doc_id in self._row

    def get(self, doc_id: Hashable) -> Document:
        return self._docs[self._row[doc_id]]

    def stats(self) -> IndexStats:
        arrays = [
            self._indptr,
            self._post_rows,
            self._post_tfs,
            self._df.data,
            self._alive.data,
            self._lengths.data,
            self._signals.data,
            self._facet_codes.data,
            self._id_ranks.data,
        ]
        return IndexStats(
            documents=len(self),
            terms=len(self._vocab),
            postings=len(self._post_rows)
            + sum(len(entries) for entries in self._delta.values()),
            array_bytes=sum(a.nbytes for a in arrays),
            build_seconds=self.build_seconds,
        )

    def parse(self, query: str) -> ParsedQuery:
        """The analysed and expanded form of ``query``."""
        return parse_query(
            query,
            self.options,
            self.synonyms,
            self._word_df.__getitem__,
            self._typos,
            self._term_df,
        )

    def _term_df(self, term: str) -> int:
        term_id = self._vocab.get(term)
        return 0 if term_id is None else int(self._df.data[term_id])

    def _field_factors(self) -> np.ndarray:
        """Per row and field: field weight / BM25 length normalisation."""
        if "factors" not in self._cache:
            n = len(self._docs)
            live = max(len(self._row), 1)
            average = np.maximum(self._length_sums / live, 1e-9)
            b = np.array([self.bm25.b(f) for f in FIELDS])
            weight = np.array([self.bm25.weight(f) for f in FIELDS])
            norm = 1 - b + b * self._lengths.data[:n] / average
            self._cache["factors"] = (weight / norm).astype(np.float32)
        return self._cache["factors"]

    def _postings(self, term_id: int) -> tuple[np.ndarray, np.ndarray]:
        if term_id < len(self._indptr) - 1:
            start, end = self._indptr[term_id], self._indptr[term_id + 1]
            rows, tfs = self._post_rows[start:end], self._post_tfs[start:end]
        else:
            rows = np.zeros(0, np.int32)
            tfs = np.zeros((0, len(FIELDS)), np.uint16)
        entries = self._delta.get(term_id)
        if entries:
            rows = np.concatenate((rows, [row for row, _tf in entries]))
            tfs = np.concatenate((tfs, [tf for _row, tf in entries]))
        return rows, tfs

    def _idf(self, df: float) -> float:
        live = len(self._row)
        return math.log(1 + (live - df + 0.5) / (df + 0.5))

    def _term_scores(self, term_id: int) -> tuple[np.ndarray, np.ndarray]:
        """Rows having the term and its BM25F score in each, without idf
        (cached for the commonest terms until the index changes)."""
        cache = self._cache.setdefault("term_scores", {})
        if term_id in cache:
            return cache[term_id]
        k1 = self.bm25.k1
        rows, tfs = self._postings(term_id)
        pseudo_tf = np.einsum(
            "ij,ij->i", tfs.astype(np.float32), self._field_factors()[rows]
        )
        found = rows, (k1 + 1) * pseudo_tf / (k1 + pseudo_tf)
        if len(rows) >= self.CACHE_MIN_ROWS:
            if len(cache) >= self.CACHE_TERMS:
                cache.pop(next(iter(cache)))
            cache[term_id] = found
        return found

    def _text_scores(self, parsed: ParsedQuery) -> tuple[np.ndarray, np.ndarray]:
        """Text score per row and whether the row matches the query.

        Each clause scores its best alternative. Within a clause of several
        alternatives the main terms share one idf, that of the commonest
        alternative (as Lucene's SynonymQuery does; an alternative of several
        terms counts as common as its rarest term), so that a rare synonym does
        not outweigh the word typed, nor the other way round.
        """
        n = len(self._docs)
        scores = np.zeros(n)
        covered = np.zeros(n, np.uint64)
        options = self.options
        common = options.fallback_max_df_share * len(self._row)
        df = self._df.data
        for clause in parsed.clauses:
            present = [
                [
                    (query_term, term_id)
                    for query_term in alternative.values()
                    if (term_id := self._vocab.get(query_term.term)) is not None
                    and df[term_id] > 0
                    and (
                        query_term.weight > options.unigram_weight
                        or df[term_id] <= common
                    )
                ]
                for alternative in clause
            ]
            phrase_dfs = [
                min(df[t] for q, t in terms if q.highlight)
                for terms in present
                if any(q.highlight for q, _t in terms)
            ]
            shared_idf = self._idf(max(phrase_dfs)) if phrase_dfs else 0.0
            best = scores if len(clause) == 1 else None
            for alternative, terms in zip(clause, present, strict=True):
                target = scores if best is scores else np.zeros(n)
                inside = self._phrase_rows(alternative, terms)
                for query_term, term_id in terms:
                    rows, values = self._term_scores(term_id)
                    if inside is not None:
                        keep = inside[rows]
                        rows, values = rows[keep], values[keep]
                    if query_term.highlight and len(clause) > 1:
                        idf = shared_idf
                    else:
                        idf = self._idf(df[term_id])
                    target[rows] += query_term.weight * idf * values
                    bits = sum(1 << c for c in query_term.concepts if c < 64)
                    if bits:
                        covered[rows] |= np.uint64(bits)
                if best is not scores:
                    best = target if best is None else np.maximum(best, target)
            if best is not scores and best is not None:
                scores += best
        matches = np.bitwise_count(covered) >= parsed.required_concepts
        return scores, matches & self._alive.data[:n]

    def _phrase_rows(self, alternative, terms) -> np.ndarray | None:
        """For a synonym of several words ("volume-based procurement", 带量采购):
        the rows holding every one of its words, so that one common word of it
        (based, 采购) does not stand for the whole; None for other alternatives."""
        main = [q for q in alternative.values() if q.highlight]
        if len(main) < 2 or any(q.origin != "synonym" for q in main):
            return None
        n = len(self._docs)
        found = [t for q, t in terms if q.highlight]
        if len(found) < len(main):
            return np.zeros(n, bool)  # a word of it is nowhere in the index
        count = np.zeros(n, np.int32)
        for term_id in found:
            count[self._postings(term_id)[0]] += 1
        return count == len(main)

    def _filter_masks(
        self, filters: Mapping[str, str | Sequence[str] | None] | None
    ) -> dict[int, np.ndarray]:
        masks = {}
        for facet, wanted in (filters or {}).items():
            if wanted is None or wanted == "" or wanted == []:
                continue
            f = FACETS.index(facet)
            values = [wanted] if isinstance(wanted, str) else list(wanted)
            codes = [self._facet_values[f].get(v, -2) for v in values]
            masks[f] = np.isin(self._facet_columns()[f], codes)
        return masks

    def _facet_columns(self) -> np.ndarray:
        """Facet codes, one contiguous row per facet (-1: no value)."""
        if "facet_columns" not in self._cache:
            codes = self._facet_codes.data[: len(self._docs)]
            self._cache["facet_columns"] = np.ascontiguousarray(codes.T)
        return self._cache["facet_columns"]

    def _facet_bins(self) -> tuple[np.ndarray, np.ndarray]:
        """Facet codes as bins of one shared bincount: code c of facet f goes
        to bin offsets[f] + c + 1; bin 0 collects rows without a value."""
        if "facet_bins" not in self._cache:
            sizes = [len(values) for values in self._facet_values]
            offsets = np.cumsum([0, *sizes])
            columns = self._facet_columns()
            bins = np.where(columns >= 0, columns + offsets[:-1, None] + 1, 0)
            self._cache["facet_bins"] = offsets, bins.astype(np.int32)
        return self._cache["facet_bins"]

    def _prior(self, weights: RankingWeights, now: float) -> np.ndarray:
        """``P`` of every row for these weights at this time (cached)."""
        key = (weights, now)
        cached = self._cache.get("prior")
        if cached is None or cached[0] != key:
            signals = self._signals.data[: len(self._docs)]
            cached = (key, prior(weights, *signals.T, now=now))
            self._cache["prior"] = cached
        return cached[1]

    def _facet_counts(
        self, base: np.ndarray, masks: dict[int, np.ndarray]
    ) -> dict[str, dict[str, int]]:
        rows = np.flatnonzero(base)
        offsets, bins = self._facet_bins()
        shifted = bins[:, rows]
        within = {f: mask[rows] for f, mask in masks.items()}
        if not within:
            tallies = np.bincount(shifted.ravel(), minlength=offsets[-1] + 1)
        counts = {}
        for f, facet in enumerate(FACETS):
            if within:
                others = [mask for other, mask in within.items() if other != f]
                codes = (
                    shifted[f][np.logical_and.reduce(others)] if others else shifted[f]
                )
                tallies = np.bincount(codes, minlength=offsets[-1] + 1)
            tally = tallies[offsets[f] + 1 : offsets[f + 1] + 1]
            names = list(self._facet_values[f])
            counts[facet] = {
                names[code]: int(tally[code])
                for code in sorted(
                    np.flatnonzero(tally), key=lambda c: (-tally[c], names[c])
                )
            }
        return counts

    def _ranked(
        self, rows: np.ndarray, scores: np.ndarray, limit: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The best ``limit`` of ``rows`` by score (rounded to 9 decimals, so
        float noise does not decide), then id: (order, candidate rows, their
        scores), ``order`` indexing the candidates."""
        scores = np.round(scores, 9)
        if limit <= 0:
            return np.zeros(0, np.int64), rows, scores
        if limit < len(rows):
            threshold = np.partition(-scores, limit - 1)[limit - 1]
            keep = -scores <= threshold
            rows, scores = rows[keep], scores[keep]
        order = np.lexsort((self._id_ranks.data[rows], -scores))
        return order[:limit], rows, scores

    # ----------------------------------------------------------- searching

    def search(
        self,
        query: str = "",
        filters: Mapping[str, str | Sequence[str] | None] | None = None,
        page: int = 1,
        per_page: int = 20,
        weights: RankingWeights | None = None,
        now: datetime | float | None = None,
    ) -> SearchResult:
        """Ranked hits for ``query`` within ``filters`` (facet -> value or
        values: any value of a facet, all facets), one page of them, the total,
        and facet counts over the text matches with the other facets' filters.

        An empty query browses: every document within the filters, ranked by
        the non-text signals. ``now`` (default: the current minute) sets
        freshness.
        """
        weights = weights or RankingWeights()
        now_ts = _timestamp(now) if now is not None else _this_minute()
        n = len(self._docs)
        parsed = self.parse(query) if query.strip() else None
        if parsed is None or parsed.is_empty():
            parsed = None
            text = np.ones(n)
            matches = self._alive.data[:n].copy()
        else:
            text, matches = self._text_scores(parsed)
        masks = self._filter_masks(filters)
        selected = matches.copy()
        for mask in masks.values():
            selected &= mask
        rows = np.flatnonzero(selected)
        blend = text[rows] * (1 + self._prior(weights, now_ts)[rows])
        first = max(page - 1, 0) * per_page
        order, cand_rows, cand_scores = self._ranked(rows, blend, first + per_page)
        finder = TermFinder(
            {t.term for t in parsed.terms.values() if t.highlight} if parsed else ()
        )
        weights = {t.term: t.weight for t in parsed.terms.values()} if parsed else {}
        hits = []
        for i in order[first:]:
            row = int(cand_rows[i])
            text_score = float(text[row]) if parsed else 0.0
            hits.append(
                self._hit(row, float(cand_scores[i]), text_score, finder, weights)
            )
        return SearchResult(
            total=len(rows),
            hits=hits,
            facets=self._facet_counts(matches, masks),
            query=parsed,
        )

    def _hit(
        self,
        row: int,
        score: float,
        text_score: float,
        finder: TermFinder,
        weights: dict[str, float],
    ) -> Hit:
        document = self._docs[row]
        found = {name: finder.find(getattr(document, name)) for name in TEXT_FIELDS}
        highlights = {name: merge_spans(found[name]) for name in TEXT_FIELDS}

        def hit_weight(name: str) -> float:
            return sum(weights[term] for term in {term for *_s, term in found[name]})

        candidates = [name for name in ("summary", "body") if getattr(document, name)]
        if candidates:
            name = max(candidates, key=hit_weight)
            snippet_html = snippet(getattr(document, name), highlights[name])
        else:
            snippet_html = ""
        matched_tags = tuple(tag for tag in document.tags if finder.find(tag))
        return Hit(
            id=document.id,
            score=score,
            text_score=round(text_score, 9),
            highlights=highlights,
            title_html=mark(document.title, highlights["title"]),
            snippet_html=snippet_html,
            matched_tags=matched_tags,
        )

    def recommend(
        self,
        industry: str | None = None,
        customer_type: str | None = None,
        scenario: str | None = None,
        limit: int = 5,
        filters: Mapping[str, str | Sequence[str] | None] | None = None,
        weights: RankingWeights | None = None,
        now: datetime | float | None = None,
    ) -> list[Recommendation]:
        """Documents for a situation, best first: points for each matching
        facet (scenario 4, industry 2, customer type 1, so the scenario counts
        most), then the non-text signals (evidence first; they add less than
        one point). Documents matching none of the given facets are left out.
        """
        weights = weights or RankingWeights()
        now_ts = _timestamp(now) if now is not None else _this_minute()
        n = len(self._docs)
        situation = {
            "industry": industry,
            "customer_type": customer_type,
            "scenario": scenario,
        }
        points = np.zeros(n)
        matched_facets = {}
        for facet, value in situation.items():
            if not value:
                continue
            f = FACETS.index(facet)
            code = self._facet_values[f].get(value, -2)
            hit = self._facet_columns()[f] == code
            points += RECOMMEND_POINTS[facet] * hit
            matched_facets[facet] = hit
        selected = (points > 0) & self._alive.data[:n]
        for mask in self._filter_masks(filters).values():
            selected &= mask
        rows = np.flatnonzero(selected)
        raw_prior = self._prior(weights, now_ts)[rows]
        top = max(sum(_positive_weights(weights)), 1e-9)
        scores = points[rows] + 0.99 * np.clip(raw_prior, 0, None) / top
        order, cand_rows, cand_scores = self._ranked(rows, scores, limit)
        return [
            Recommendation(
                id=self._docs[cand_rows[i]].id,
                score=float(cand_scores[i]),
                matched=tuple(
                    facet for facet, hit in matched_facets.items() if hit[cand_rows[i]]
                ),
            )
            for i in order
        ]


def _this_minute() -> float:
    """The current Unix time, to the minute (keeps the signals cache warm)."""
    return float(int(time.time()) // 60 * 60)


def _positive_weights(weights: RankingWeights) -> list[float]:
    return [
        max(weights.evidence, 0),
        max(weights.verified, weights.lapsed, 0),
        max(weights.freshness, 0),
        max(weights.usage, 0),
        max(weights.rating, 0),
    ]


def _id_key(doc_id: Hashable) -> tuple:
    return (0, doc_id, "") if isinstance(doc_id, int | float) else (1, 0, str(doc_id))


def _as_document(document: Document | Mapping) -> Document:
    return (
        document if isinstance(document, Document) else Document.from_mapping(document)
    )
