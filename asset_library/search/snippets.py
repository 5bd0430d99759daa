"""Highlighting: spans of query terms in the original text, and HTML snippets."""

import re
from collections.abc import Collection
from html import escape

from .text import CJK_RE, WORD_RE, normalised_with_offsets, stem

SNIPPET_WIDTH = 120
#: Characters of context kept before the first hit of a snippet window.
LEAD = 24


class TermFinder:
    """Finds the occurrences of a set of index terms in original texts: CJK
    terms directly (overlapping occurrences included), words by stemming each
    word of the text."""

    def __init__(self, terms: Collection[str]):
        self.terms = set(terms)
        cjk = sorted((t for t in self.terms if CJK_RE.fullmatch(t)), key=len)
        self.cjk_pattern = (
            re.compile(f"(?=({'|'.join(map(re.escape, cjk[::-1]))}))") if cjk else None
        )
        self.has_words = len(cjk) < len(self.terms)

    def find(self, text: str) -> list[tuple[int, int, str]]:
        """(start, end, term) of each occurrence, offsets into ``text``, in
        order."""
        if not text or not self.terms:
            return []
        normal, origin = normalised_with_offsets(text)
        found = []
        if self.cjk_pattern:
            for match in self.cjk_pattern.finditer(normal):
                start, term = match.start(), match.group(1)
                found.append((origin[start], origin[start + len(term) - 1] + 1, term))
        if self.has_words:
            for match in WORD_RE.finditer(normal):
                if (term := stem(match.group())) in self.terms:
                    start, end = match.span()
                    found.append((origin[start], origin[end - 1] + 1, term))
            found.sort()
        return found


def find_terms(text: str, terms: Collection[str]) -> list[tuple[int, int, str]]:
    """(start, end, term) of each occurrence in ``text`` of a term of ``terms``,
    offsets into the original text, in order."""
    return TermFinder(terms).find(text)


def highlight_spans(text: str, terms: Collection[str]) -> list[tuple[int, int]]:
    """Merged (start, end) offsets into ``text`` of the occurrences of ``terms``;
    overlapping or touching spans (a chain of CJK bigrams) merge."""
    return merge_spans(find_terms(text, terms))


def merge_spans(found: list[tuple[int, int, str]]) -> list[tuple[int, int]]:
    """Spans of ``find_terms`` merged where they overlap or touch."""
    spans: list[list[int]] = []
    for start, end, _term in found:
        if spans and start <= spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], end)
        else:
            spans.append([start, end])
    return [(start, end) for start, end in spans]


def mark(text: str, spans: Collection[tuple[int, int]]) -> str:
    """``text`` HTML-escaped, with each span wrapped in ``<mark>``."""
    out, at = [], 0
    for start, end in sorted(spans):
        out.append(escape(text[at:start]))
        out.append(f"<mark>{escape(text[start:end])}</mark>")
        at = end
    out.append(escape(text[at:]))
    return "".join(out)


def best_window(
    text: str, spans: list[tuple[int, int]], width: int = SNIPPET_WIDTH
) -> tuple[int, int, int]:
    """(score, start, end) of the ``width``-character window of ``text`` with
    the most distinct hits (then the most hits, then the earliest)."""
    if not spans:
        return 0, 0, min(len(text), width)
    best = (-1, -1, 0, 0)
    for first, (span_start, _end) in enumerate(spans):
        start = max(0, min(span_start - LEAD, len(text) - width))
        end = min(len(text), start + width)
        inside = [s for s in spans[first:] if s[1] <= end] or [spans[first]]
        distinct = len({text[s:e].lower() for s, e in inside})
        if (distinct, len(inside)) > best[:2]:
            best = (distinct, len(inside), start, end)
    return best[0] * 1000 + best[1], best[2], best[3]


def _snap(text: str, start: int, end: int) -> tuple[int, int]:
    """Move window edges off the middle of a Latin word (by a few characters)."""

    def inside_word(i: int) -> bool:
        return 0 < i < len(text) and text[i - 1].isascii() and text[i - 1].isalnum()

    for step in range(12):
        if not inside_word(start - step):
            start -= step
            break
    for step in range(12):
        if not inside_word(end - step) or end - step <= start:
            end -= step
            break
    return start, end


def snippet(text: str, spans: list[tuple[int, int]], width: int = SNIPPET_WIDTH) -> str:
    """An HTML snippet of about ``width`` characters of ``text`` around its hits,
    hits wrapped in ``<mark>``, with ellipses where the text was cut."""
    _score, start, end = best_window(text, spans, width)
    start, end = _snap(text, start, end)
    inside = [(max(s, start), min(e, end)) for s, e in spans if s < end and e > start]
    body = mark(text[start:end], [(s - start, e - start) for s, e in inside])
    body = " ".join(body.split())
    return ("…" if start > 0 else "") + body + ("…" if end < len(text) else "")
