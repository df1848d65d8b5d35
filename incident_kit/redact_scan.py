"""The keyword prefilter of the redaction pass: which rules to run on which lines.

Every built-in rule names literals of which each of its matches holds one (``Rule.keywords``,
case-insensitive, and ``Rule.case_keywords``, as written). One Aho-Corasick pass per case
(``ahocorasick_rs``, a DFA over the UTF-8 bytes) finds all of them at once; a rule then runs only
on the lines where one of its keywords occurs, so 200 rules cost about as much as two scans on text
that holds no credential. Rules without keywords run on the whole text.
"""

from __future__ import annotations

from typing import Sequence

import ahocorasick_rs

from .redact_base import Rule

Region = tuple[int, int]


def _automaton(words: Sequence[str]) -> ahocorasick_rs.BytesAhoCorasick | None:
    if not words:
        return None
    return ahocorasick_rs.BytesAhoCorasick(
        [w.encode("utf-8") for w in words],
        matchkind=ahocorasick_rs.MatchKind.Standard,
        implementation=ahocorasick_rs.Implementation.DFA,
    )


class KeywordIndex:
    """The keywords of ``rules`` compiled into two automata (case-insensitive and exact)."""

    def __init__(self, rules: Sequence[Rule]) -> None:
        self.always = [i for i, r in enumerate(rules) if not r.keywords and not r.case_keywords]
        self._reach = [r.reach for r in rules]
        icase: dict[str, list[int]] = {}
        exact: dict[str, list[int]] = {}
        for i, rule in enumerate(rules):
            for word in rule.keywords:
                icase.setdefault(word.lower(), []).append(i)
            for word in rule.case_keywords:
                exact.setdefault(word, []).append(i)
        self._icase_words = list(icase)
        self._icase_rules = [tuple(icase[w]) for w in self._icase_words]
        self._exact_words = list(exact)
        self._exact_rules = [tuple(exact[w]) for w in self._exact_words]
        self._icase = _automaton(self._icase_words)
        self._exact = _automaton(self._exact_words)

    def regions(self, text: str) -> dict[int, list[Region]]:
        """Return, per rule index, the ``(start, end)`` character ranges of ``text`` to search:
        the lines holding one of the rule's keywords, consecutive lines joined."""
        raw = text.encode("utf-8", "surrogatepass")
        hits: list[tuple[int, tuple[int, ...]]] = []
        if self._icase is not None:
            table = self._icase_rules
            hits.extend((end - 1, table[k]) for k, _, end in self._icase.find_matches_as_indexes(raw.lower(), overlapping=True))
        if self._exact is not None:
            table = self._exact_rules
            # A leading newline lets a keyword like "\ns." find a token at the very start.
            hits.extend((end - 2, table[k]) for k, _, end in self._exact.find_matches_as_indexes(b"\n" + raw, overlapping=True))
        if not hits:
            return {}
        hits.sort(key=lambda h: h[0])
        lines: list[tuple[int, int, set[int]]] = []
        line_end = -1
        for pos, rules in hits:
            if pos >= line_end:
                start = raw.rfind(b"\n", 0, pos) + 1
                line_end = raw.find(b"\n", pos)
                if line_end < 0:
                    line_end = len(raw)
                lines.append((start, line_end, set(rules)))
            else:
                lines[-1][2].update(rules)
        if not text.isascii():
            lines = _to_chars(raw, lines)
        out: dict[int, list[Region]] = {}
        size = len(text)
        for start, end, rules in lines:
            for r in rules:
                stop = min(size, end + self._reach[r])
                spans = out.setdefault(r, [])
                if spans and spans[-1][1] + 1 >= start:
                    spans[-1] = (spans[-1][0], max(stop, spans[-1][1]))
                else:
                    spans.append((start, stop))
        return out


def _to_chars(raw: bytes, lines: list[tuple[int, int, set[int]]]) -> list[tuple[int, int, set[int]]]:
    """Turn byte offsets (all at line boundaries, so at character boundaries) into str offsets."""
    out = []
    last_b = last_c = 0
    for start, end, rules in lines:
        s = last_c + len(raw[last_b:start].decode("utf-8", "surrogatepass"))
        e = s + len(raw[start:end].decode("utf-8", "surrogatepass"))
        out.append((s, e, rules))
        last_b, last_c = end, e
    return out


__all__ = ["KeywordIndex", "Region"]
