"""Text analysis shared by indexing, querying and highlighting.

Text is NFKC-normalised (full-width letters, digits and punctuation become their
half-width forms) and lowercased. Runs of CJK characters become character
unigrams and bigrams (the approach of Lucene's CJK analyser), so one- and
two-character words match and a longer phrase matches as a chain of bigrams.
Runs of other letters and digits become words: purely alphabetic words are
Snowball-stemmed (English) and a few English stop words are dropped; words with
digits are kept as they are.
"""

import re
import unicodedata
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache

import snowballstemmer

CJK_CHARS = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af"
TOKEN_RE = re.compile(f"([{CJK_CHARS}]+)|([^\\W_{CJK_CHARS}]+)")
CJK_RE = re.compile(f"[{CJK_CHARS}]+")
WORD_RE = re.compile(f"[^\\W_{CJK_CHARS}]+")

_STOP_WORDS_TEXT = """
a an and are as at be but by for from has have how i if in into is it its me my
not of on or our s so such t that the their then there these they this to was we
what when which who will with you your
"""
STOP_WORDS = frozenset(_STOP_WORDS_TEXT.split())

#: Kinds of term: a CJK unigram, a CJK bigram, a (stemmed) word.
UNIGRAM, BIGRAM, WORD = "uni", "bi", "word"

_stemmer = snowballstemmer.stemmer("english")


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    """The index form of one lowercased word: its Snowball stem, or the word
    itself when it holds digits; "" for stop words and single letters."""
    if word in STOP_WORDS or (len(word) == 1 and not word.isdigit()):
        return ""
    if not word.isalpha() or not word.isascii():
        return word
    return _stemmer.stemWord(word)


def normalise(text: str) -> str:
    """NFKC-normalised, lowercased text (the form every term is taken from)."""
    return unicodedata.normalize("NFKC", text).lower()


def count_terms(text: str) -> tuple[Counter[str], list[str]]:
    """Terms of ``text`` with their counts, and its alphabetic surface words.

    The fast path used at indexing time: no offsets are kept.
    """
    terms: list[str] = []
    words: list[str] = []
    for cjk, word in TOKEN_RE.findall(normalise(text)):
        if cjk:
            terms.extend(cjk)
            terms.extend(map(str.__add__, cjk, cjk[1:]))
        elif term := stem(word):
            terms.append(term)
            if word.isalpha():
                words.append(word)
    return Counter(terms), words


@dataclass(frozen=True, slots=True)
class Token:
    """One term of a text, with ``start``/``end`` offsets into the original."""

    term: str
    kind: str
    start: int
    end: int
    #: The normalised word before stemming (for words); the term otherwise.
    surface: str


def normalised_with_offsets(text: str) -> tuple[str, Sequence[int]]:
    """The normalised text and, for each of its characters, the offset of the
    original character it came from (plus one final entry for the end)."""
    if unicodedata.is_normalized("NFKC", text):
        normal = text.lower()
    else:
        normal = normalise(text)
    if len(normal) == len(text):
        return normal, range(len(text) + 1)
    pieces, origin = [], []
    for offset, char in enumerate(text):
        piece = normalise(char)
        pieces.append(piece)
        origin.extend([offset] * len(piece))
    origin.append(len(text))
    return "".join(pieces), origin


def tokenize(text: str) -> Iterator[Token]:
    """Tokens of ``text`` in order, with offsets into the original text.

    A CJK run yields, at each character, its unigram and then the bigram that
    starts there; a word yields its stem (stop words yield nothing).
    """
    normal, origin = normalised_with_offsets(text)
    for match in TOKEN_RE.finditer(normal):
        start, end = match.span()
        if match.group(1):
            run = match.group(1)
            for i, char in enumerate(run):
                at = start + i
                yield Token(char, UNIGRAM, origin[at], origin[at] + 1, char)
                if i + 1 < len(run):
                    bigram = run[i : i + 2]
                    end_at = origin[at + 1] + 1
                    yield Token(bigram, BIGRAM, origin[at], end_at, bigram)
        else:
            word = match.group(2)
            term = stem(word)
            if term:
                yield Token(term, WORD, origin[start], origin[end - 1] + 1, word)
