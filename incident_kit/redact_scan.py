"""The keyword prefilter of the redaction pass: which rules to run on which lines.

Every built-in rule names literals of which each of its matches holds one (``Rule.keywords``,
case-insensitive, and ``Rule.case_keywords``, as written). One Aho-Corasick pass (``ahocorasick_rs``,
a DFA over the lower-cased UTF-8 bytes) finds all of them at once; a rule then runs only
on the lines where one of its keywords occurs, so 200 rules cost about as much as two scans on text
that holds no credential. Rules without keywords run on the whole text.
"""

from __future__ import annotations

from typing import Sequence

import ahocorasick_rs
import numpy as np

from .redact_base import Rule

Region = tuple[int, int]

#: Ranges of one rule closer than this (bytes) are searched as one: a search call costs more
#: than scanning a few kilobytes for a literal.
JOIN_GAP = 4096


def _automaton(words: Sequence[str]) -> ahocorasick_rs.BytesAhoCorasick | None:
    if not words:
        return None
    return ahocorasick_rs.BytesAhoCorasick(
        [w.encode("utf-8") for w in words],
        matchkind=ahocorasick_rs.MatchKind.Standard,
        implementation=ahocorasick_rs.Implementation.DFA,
    )


class KeywordIndex:
    """The keywords of ``rules`` compiled into one automaton over the lower-cased text; exact
    (case-sensitive) keywords are checked against the original bytes where they were found."""

    def __init__(self, rules: Sequence[Rule]) -> None:
        self.always = [i for i, r in enumerate(rules) if not r.keywords and not r.case_keywords]
        self._reach_bytes = [4 * r.reach for r in rules]  # UTF-8: at most 4 bytes a character
        self._near = [r.near for r in rules]
        self._anchored = [r.anchored for r in rules]
        words: dict[str, int] = {}  # every keyword lower-cased: one automaton over the lower-cased text
        icase: list[list[int]] = []
        exact: list[dict[bytes, list[int]]] = []  # per word, its exact spellings and their rules
        def slot(word: str) -> int:
            if word not in words:
                words[word] = len(words)
                icase.append([])
                exact.append({})
            return words[word]
        for i, rule in enumerate(rules):
            for word in rule.keywords:
                icase[slot(word.lower())].append(i)
            for word in rule.case_keywords:
                exact[slot(word.lower())].setdefault(word.encode("utf-8"), []).append(i)
        self._icase_rules = [tuple(r) for r in icase]
        self._exact_rules = [{w: tuple(r) for w, r in e.items()} for e in exact]
        self._automaton = _automaton(list(words))

    def scan(self, text: str) -> tuple[dict[int, list[Region]], dict[int, list[int]]]:
        """Return ``(regions, starts)`` for the rules whose keywords occur in ``text``.

        ``regions``: per rule, the ``(start, end)`` character ranges to search: the lines holding
        one of its keywords (plus its ``reach``), ranges closer than :data:`JOIN_GAP` joined (one
        search instead of many; ``near`` rules: only adjacent lines). ``starts``: per ``anchored``
        rule (every match starts with a keyword), the character offsets where its keywords start:
        the rule is tried there only, one match call each.
        """
        raw = text.encode("utf-8", "surrogatepass")
        if self._automaton is None:
            return {}, {}
        # a leading newline lets a keyword like "\ns." find a token at the very start
        found = self._automaton.find_matches_as_indexes(b"\n" + raw.lower(), overlapping=True)
        if not found:
            return {}, {}
        hits = np.asarray(found, dtype=np.int64)
        order = np.argsort(hits[:, 0], kind="stable")
        kws, first_h, last_h = hits[order, 0], hits[order, 1], hits[order, 2] - 1
        first_pos, last_pos = np.maximum(first_h - 1, 0), np.maximum(last_h - 1, 0)
        cut = np.flatnonzero(np.diff(kws)) + 1
        groups = list(zip(kws[np.r_[0, cut]].tolist(), np.split(first_h, cut), np.split(first_pos, cut),
                          np.split(last_pos, cut)))
        raw_arr = np.frombuffer(b"\n" + raw, dtype=np.uint8)
        parts = []
        for k, k_first_h, k_first, k_last in groups:
            if self._icase_rules[k]:
                parts.append((k_first, k_last, self._icase_rules[k]))
            for spelling, rules in self._exact_rules[k].items():
                want = np.frombuffer(spelling, dtype=np.uint8)
                same = (raw_arr[k_first_h[:, None] + np.arange(len(want))] == want).all(axis=1)
                if same.any():
                    parts.append((k_first[same], k_last[same], rules))
        newlines = np.flatnonzero(np.frombuffer(raw, dtype=np.uint8) == 10)
        per_rule: dict[int, list[np.ndarray]] = {}
        per_anchor: dict[int, list[np.ndarray]] = {}
        for k_first, k_last, rules in parts:
            k_lines = None
            for r in rules:
                if self._anchored[r]:
                    per_anchor.setdefault(r, []).append(k_first)
                else:
                    if k_lines is None:
                        k_lines = np.searchsorted(newlines, k_last)  # the line holding each hit
                    per_rule.setdefault(r, []).append(k_lines)
        ends_all = np.r_[newlines, len(raw)]
        out: dict[int, list[Region]] = {}
        for r, arrays in per_rule.items():
            lines = np.unique(np.concatenate(arrays))
            starts = np.where(lines > 0, ends_all[lines - 1] + 1, 0)
            stops = ends_all[lines] + self._reach_bytes[r]
            stops = np.minimum(np.maximum.accumulate(stops), len(raw))
            gap = 1 if self._near[r] else JOIN_GAP
            new = np.r_[True, starts[1:] > stops[:-1] + gap]
            first = np.flatnonzero(new)
            last = np.r_[first[1:] - 1, len(starts) - 1]
            out[r] = list(zip(starts[first].tolist(), stops[last].tolist()))
        anchors = {r: np.unique(np.concatenate(arrays)).tolist() for r, arrays in per_anchor.items()}
        if not text.isascii():
            chars = _char_offsets(raw, {b for spans in out.values() for span in spans for b in span}
                                  | {b for pos in anchors.values() for b in pos})
            out = {r: [(chars[a], chars[b]) for a, b in spans] for r, spans in out.items()}
            anchors = {r: [chars[b] for b in pos] for r, pos in anchors.items()}
        return out, anchors


def _char_offsets(raw: bytes, offsets: set[int]) -> dict[int, int]:
    """Map byte offsets of ``raw`` to str offsets (one inside a character maps to its start)."""
    def back(b: int) -> int:
        while 0 < b < len(raw) and (raw[b] & 0xC0) == 0x80:
            b -= 1
        return b

    out: dict[int, int] = {}
    last_b = last_c = 0
    for b in sorted(offsets):
        c = back(b)
        if c > last_b:
            last_c += len(raw[last_b:c].decode("utf-8", "surrogatepass"))
            last_b = c
        out[b] = last_c
    return out


__all__ = ["KeywordIndex", "Region"]
