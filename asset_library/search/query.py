"""From a query string to weighted index terms.

A query is analysed with the same tokenizer as the documents. Each word and each
CJK bigram (or lone CJK character) is a *concept*; a document matches when it
covers enough concepts (see ``QueryOptions.min_should_match``). CJK unigrams of
longer runs are added at a low weight as a fallback and satisfy no concept.

Expansions, at reduced weights, satisfy the concepts they stand for:

* synonyms: a synonym-table member found in the query (as a whole word or
  phrase; inside a CJK run as a substring) adds the group's other members;
* typos: a word of ``typo_min_length`` letters or more that the index does not
  know (or knows only rarely, next to a much commoner neighbour) adds the
  vocabulary words at Damerau-Levenshtein distance 1, found through a
  SymSpell-style deletion index.
"""

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from .text import BIGRAM, UNIGRAM, WORD, Token, tokenize


@dataclass(frozen=True)
class QueryOptions:
    """How queries are expanded and matched."""

    #: Weight of a CJK unigram taken from a run of two or more characters.
    unigram_weight: float = 0.1
    #: Terms weighing no more than that are skipped when more than this share
    #: of the documents has them (they would cost time and add only noise).
    fallback_max_df_share: float = 0.1
    #: Weight of a synonym, relative to the query text it replaces.
    synonym_weight: float = 0.8
    #: Weight of a typo correction, relative to the word it corrects.
    typo_weight: float = 0.6
    #: Words at least this long get typo tolerance.
    typo_min_length: int = 5
    #: A known word counts as a possible typo when at most this many documents
    #: have it and a neighbour is in ``typo_rarity_ratio`` times more documents.
    typo_rare_df: int = 2
    typo_rarity_ratio: int = 20
    #: At most this many corrections per word (the most frequent ones).
    typo_max_candidates: int = 3
    #: In a CJK run of three characters or more, a bigram found in fewer than
    #: this share of the documents having its rarer character is probably not
    #: a word (商月 in 经销商月度) and weighs proportionally less, down to
    #: ``min_bigram_weight``.
    bigram_cohesion: float = 0.3
    min_bigram_weight: float = 0.25
    #: Share of the query's concepts a document must cover to match (rounded
    #: down, at least one).
    min_should_match: float = 0.4


@dataclass
class QueryTerm:
    """An index term of a query, its weight and the concepts it satisfies."""

    term: str
    weight: float
    concepts: set[int] = field(default_factory=set)
    #: Where it came from: "query", "synonym" or "typo".
    origin: str = "query"
    #: Whether snippets mark it (not for CJK unigrams taken from longer runs).
    highlight: bool = True


#: One way of saying part of a query: its terms by index term.
Alternative = dict[str, QueryTerm]


@dataclass
class ParsedQuery:
    """The analysed query: clauses, concepts and how many must match.

    A clause is a list of alternatives (the words typed, their synonyms, their
    typo corrections); a document scores the best alternative of each clause,
    so a document using both a word and its synonym does not score twice.
    """

    text: str
    clauses: list[list[Alternative]]
    n_concepts: int
    required_concepts: int

    @property
    def terms(self) -> dict[str, QueryTerm]:
        """Every term of the query with its highest weight."""
        merged: dict[str, QueryTerm] = {}
        for clause in self.clauses:
            for alternative in clause:
                for term in alternative.values():
                    _add(merged, _copy(term))
        return merged

    def is_empty(self) -> bool:
        return not self.clauses


def _copy(term: QueryTerm) -> QueryTerm:
    return QueryTerm(
        term.term, term.weight, set(term.concepts), term.origin, term.highlight
    )


def _units(tokens: Sequence[Token]) -> list[str]:
    """The comparison units of a token list: CJK characters and word stems."""
    return [t.term for t in tokens if t.kind != BIGRAM]


def damerau_within_one(a: str, b: str) -> bool:
    """Whether ``a`` and ``b`` are at most one edit apart (insertion, deletion,
    substitution or transposition of neighbours)."""
    if a == b:
        return True
    la, lb = len(a), len(b)
    if abs(la - lb) > 1:
        return False
    i = 0
    while i < min(la, lb) and a[i] == b[i]:
        i += 1
    if la == lb:
        if a[i + 1 :] == b[i + 1 :]:
            return True
        return a[i + 2 :] == b[i + 2 :] and a[i] == b[i + 1] and a[i + 1] == b[i]
    if la > lb:
        return a[i + 1 :] == b[i:]
    return a[i:] == b[i + 1 :]


def _deletes(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


class TypoIndex:
    """SymSpell-style index of surface words for edit-distance-1 look-ups."""

    def __init__(self, min_length: int = 4):
        self.min_length = min_length
        self._by_key: dict[str, set[str]] = {}

    def add(self, word: str) -> None:
        if len(word) < self.min_length:
            return
        for key in _deletes(word) | {word}:
            self._by_key.setdefault(key, set()).add(word)

    def neighbours(self, word: str) -> set[str]:
        """Indexed words within one edit of ``word`` (``word`` excluded)."""
        found: set[str] = set()
        for key in _deletes(word) | {word}:
            found |= self._by_key.get(key, set())
        found.discard(word)
        return {w for w in found if damerau_within_one(word, w)}


class SynonymTable:
    """Groups of equivalent terms in any language."""

    def __init__(self, groups: Iterable[Sequence[str]] = ()):
        #: first unit -> [(member units, group * 10000 + member position)]
        self._by_first: dict[str, list[tuple[list[str], int]]] = {}
        self.groups: list[list[tuple[str, list[Token]]]] = []
        for members in groups:
            group = []
            for member in dict.fromkeys(m.strip() for m in members if m.strip()):
                tokens = list(tokenize(member))
                if _units(tokens):
                    group.append((member, tokens))
            if len(group) < 2:
                continue
            index = len(self.groups)
            self.groups.append(group)
            for position, (_member, tokens) in enumerate(group):
                units = _units(tokens)
                self._by_first.setdefault(units[0], []).append(
                    (units, index * 10_000 + position)
                )

    def matches(self, units: Sequence[str]) -> list[tuple[int, int, int]]:
        """Members found in ``units``: (group * 10000 + member, start, end)."""
        found = []
        for start, unit in enumerate(units):
            for member_units, key in self._by_first.get(unit, ()):
                end = start + len(member_units)
                if list(units[start:end]) == member_units:
                    found.append((key, start, end))
        return found


def _add(terms: dict[str, QueryTerm], new: QueryTerm) -> None:
    old = terms.get(new.term)
    if old is None:
        terms[new.term] = new
        return
    if new.weight > old.weight:
        old.weight, old.origin = new.weight, new.origin
    old.concepts |= new.concepts
    old.highlight |= new.highlight


def _weighted(
    tokens: Sequence[Token], options: QueryOptions
) -> list[tuple[str, float]]:
    """Terms of a token list with their query weights, in order."""
    out = []
    for i, token in enumerate(tokens):
        in_run = token.kind == UNIGRAM and (
            (i + 1 < len(tokens) and tokens[i + 1].kind == BIGRAM)
            or (i > 0 and tokens[i - 1].kind == BIGRAM)
        )
        out.append((token.term, options.unigram_weight if in_run else 1.0))
    return out


def _cohesion_weight(
    bigram: str, term_df: Callable[[str], int], options: QueryOptions
) -> float:
    """Weight of a bigram of a longer CJK run (see ``QueryOptions``)."""
    rarer = min(term_df(bigram[0]), term_df(bigram[1]))
    if rarer == 0:
        return 1.0
    cohesion = term_df(bigram) / rarer / options.bigram_cohesion
    return min(1.0, max(options.min_bigram_weight, cohesion))


def parse_query(
    text: str,
    options: QueryOptions,
    synonyms: SynonymTable,
    word_df: Callable[[str], int],
    typo_index: TypoIndex,
    term_df: Callable[[str], int] = lambda term: 0,
) -> ParsedQuery:
    """Analyse ``text`` into clauses of weighted terms (see the module docstring).

    ``word_df(word)`` and ``term_df(term)`` give the number of live documents
    with that surface word, index term.
    """
    tokens = list(tokenize(text))
    units: list[str] = []
    unit_concepts: list[set[int]] = []
    unit_word: list[Token | None] = []
    #: the terms typed, each with the units it spans
    typed: list[tuple[int, int, QueryTerm]] = []
    bigram_concept: dict[int, int] = {}
    n_concepts = 0
    weighted = zip(_weighted(tokens, options), tokens, strict=True)
    for position, ((term, weight), token) in enumerate(weighted):
        if token.kind == BIGRAM:
            at = len(units) - 1
            in_long_run = (
                position + 2 < len(tokens) and tokens[position + 2].kind == BIGRAM
            ) or (position >= 2 and tokens[position - 2].kind == BIGRAM)
            if in_long_run:
                weight = _cohesion_weight(term, term_df, options)
            bigram_concept[at] = n_concepts
            typed.append((at, at + 2, QueryTerm(term, weight, {n_concepts})))
            n_concepts += 1
            continue
        own = set() if weight < 1.0 else {n_concepts}
        n_concepts += len(own)
        at = len(units)
        units.append(term)
        unit_concepts.append(own)
        unit_word.append(token if token.kind == WORD else None)
        typed.append(
            (at, at + 1, QueryTerm(term, weight, set(own), highlight=weight == 1.0))
        )

    corrections: dict[int, list[QueryTerm]] = {}
    corrected = list(units)
    for i, token in enumerate(unit_word):
        if token is None or not token.surface.isalpha():
            continue
        if len(token.surface) < options.typo_min_length:
            continue
        df = word_df(token.surface)
        if df > options.typo_rare_df:
            continue
        neighbours = sorted(
            (-word_df(w), w) for w in typo_index.neighbours(token.surface)
        )
        threshold = 1 if df == 0 else df * options.typo_rarity_ratio
        chosen = [w for minus_df, w in neighbours if -minus_df >= threshold]
        for word in chosen[: options.typo_max_candidates]:
            term = next(tokenize(word)).term
            if term != token.term:
                corrections.setdefault(i, []).append(
                    QueryTerm(term, options.typo_weight, set(unit_concepts[i]), "typo")
                )
        if df == 0 and chosen:
            corrected[i] = next(tokenize(chosen[0])).term

    found: dict[tuple[int, int, int], float] = {}
    sequences = [(units, 1.0)]
    if corrected != units:
        sequences.append((corrected, options.typo_weight))
    for sequence, factor in sequences:
        for key, start, end in synonyms.matches(sequence):
            found.setdefault((key, start, end), factor)
    spans: list[tuple[int, int, int, float]] = []
    for (key, start, end), factor in sorted(
        found.items(), key=lambda item: (item[0][1] - item[0][2], item[0][1])
    ):
        if all(end <= s or start >= e for _k, s, e, _f in spans):
            spans.append((key, start, end, factor))

    clauses: list[list[Alternative]] = []
    used: set[int] = set()
    for key, start, end, factor in sorted(spans, key=lambda span: span[1]):
        inside = [i for i, (s, e, _t) in enumerate(typed) if start <= s and e <= end]
        used.update(inside)
        original: Alternative = {}
        for i in inside:
            term = typed[i][2]
            if term.highlight:
                # a synonym-table entry is a word: no cohesion discount
                term = QueryTerm(term.term, 1.0, term.concepts, term.origin)
            _add(original, term)
        clause = [original]
        for i in range(start, end):
            clause.extend({t.term: t} for t in corrections.pop(i, []))
        covered = set().union(*(typed[i][2].concepts for i in inside))
        mass = sum(1.0 for i in inside if typed[i][2].highlight)
        group, member = divmod(key, 10_000)
        for position, (_text, alt_tokens) in enumerate(synonyms.groups[group]):
            if position == member:
                continue
            weighted = _weighted(alt_tokens, options)
            scale = options.synonym_weight * factor * mass
            scale /= sum(w for _t, w in weighted if w == 1.0) or 1.0
            alternative: Alternative = {}
            for term, weight in weighted:
                _add(
                    alternative,
                    QueryTerm(
                        term, weight * scale, set(covered), "synonym", weight == 1.0
                    ),
                )
            clause.append(alternative)
        clauses.append(clause)
    for i, (start, _end, term) in enumerate(typed):
        if i in used:
            continue
        clause = [{term.term: term}]
        if unit_word[start] is not None:
            clause.extend({t.term: t} for t in corrections.pop(start, []))
        clauses.append(clause)
    required = max(1, int(options.min_should_match * n_concepts)) if n_concepts else 0
    required = min(required, 64)  # concepts are bits of a 64-bit mask
    return ParsedQuery(text, _without_repeats(clauses), n_concepts, required)


def _without_repeats(clauses: list[list[Alternative]]) -> list[list[Alternative]]:
    """The clauses, a clause repeated (a word typed twice) kept once, with the
    concepts of its repeats."""
    kept: dict[tuple, list[Alternative]] = {}
    for clause in clauses:
        key = tuple(tuple(sorted(alternative)) for alternative in clause)
        if key not in kept:
            kept[key] = clause
            continue
        for alternative, repeat in zip(kept[key], clause, strict=True):
            for term, query_term in repeat.items():
                alternative[term].concepts |= query_term.concepts
    return list(kept.values())
