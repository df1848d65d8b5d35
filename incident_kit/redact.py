"""The one redaction pass: credentials in run outputs become ``[REDACTED:kind]``.

Every file a run writes (``notebook.ipynb``, ``summary.json``, ``report.html``) goes through a
:class:`Redactor` before it is left on disk. A redactor combines

1. the exact values of the secrets the run resolved (``env:``/``file:`` parameter references,
   secret-named environment variables, passwords inside URLs), in their raw, URL-, JSON- and
   HTML-escaped forms, replaced as ``[REDACTED:secret]``;
2. the built-in rules of :mod:`incident_kit.redact_rules` (passwords in URLs, bearer tokens,
   cloud and SaaS keys, JWTs, private keys, values of keys named like SECRET/TOKEN/PASSWORD...);
3. a team's own rules from ``parameters/redaction.yaml``::

       rules:                      # extra rules, tried after the built-in ones
         - kind: ticket_token      # label: [REDACTED:ticket_token]
           pattern: 'TKT-[0-9a-f]{16}'
           replacement: '[ticket]' # optional; a named group (?P<secret>...) limits what is replaced
       disable: [mailchimp_key]    # built-in rules to turn off (by kind)
       env: [VENDOR_KEY]           # environment variables whose values are secrets
       min_value_length: 6         # shorter exact values are not redacted (too many false hits)

Every pattern is compiled once per redactor; the exact values form one alternation; each rule
runs on its own (a rule starting with a literal is found at memchr speed) and the spans of all
rules are merged, so overlapping matches never leave a piece of a secret behind. Inline
``data:...;base64,`` images are never altered.
"""

from __future__ import annotations

import bisect
import json
import os
import re
from itertools import repeat
from pathlib import Path
from typing import Any, Iterable, Mapping

from .errors import ConfigError
from .redact_config import (
    RedactionConfig,
    find_config,
    load_config,
    secret_values,
    value_variants,
)
from .redact_rules import BUILTIN_RULES, Rule, secret_name, secret_value
from .redact_scan import KeywordIndex

_DATA_URI = r"data:[A-Za-z0-9.+\-]+/[A-Za-z0-9.+\-]+(?:;[A-Za-z0-9=.\-]+)*;base64,[A-Za-z0-9+/=]+"
_DATA_URI_RE = re.compile(_DATA_URI)
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_BINARY_MIME = re.compile(r"^(?:image/(?!svg)|audio/|video/|application/(?:pdf|octet-stream))")
_TEXT_SUFFIXES = {".html", ".htm", ".txt", ".log", ".md", ".csv", ".tsv", ".svg", ".xml", ".yaml", ".yml", ".py", ".tex"}
SECRET_LABEL = "[REDACTED:secret]"
FIELD_LABEL = "[REDACTED:secret_field]"
DEFAULT_MIN_VALUE_LENGTH = 6


class Redactor:
    """A compiled redaction pass: built-in plus extra rules and exact secret values.

    ``rules`` defaults to :data:`~incident_kit.redact_rules.BUILTIN_RULES`; ``values`` are exact
    secrets (shorter than ``min_value_length`` are ignored). Raises :class:`ConfigError` when a
    rule's pattern does not compile.
    """

    def __init__(
        self,
        rules: Iterable[Rule] = BUILTIN_RULES,
        values: Iterable[str] = (),
        *,
        min_value_length: int = DEFAULT_MIN_VALUE_LENGTH,
    ) -> None:
        self.rules: list[Rule] = list(rules)
        self._compiled: list[tuple[re.Pattern[str], list[str]]] = []
        for rule in self.rules:
            try:
                rx = re.compile(rule.pattern, re.IGNORECASE if rule.icase else 0)
            except re.error as exc:
                raise ConfigError(f"redaction rule {rule.kind!r}: bad pattern ({exc})") from None
            secret_groups = [g for g in rx.groupindex if g.startswith("secret")]
            self._compiled.append((rx, secret_groups))
        self._index = KeywordIndex(self.rules, marks=("base64,",))
        variants: set[str] = set()
        for v in values:
            if isinstance(v, str) and len(v) >= min_value_length:
                variants.update(value_variants(v))
        self.values = sorted(variants, key=len, reverse=True)
        self._values_re = re.compile("|".join(map(re.escape, self.values))) if self.values else None

    # -- text ---------------------------------------------------------------------------------
    def spans(self, text: str) -> list[tuple[int, int, str]]:
        """Return the merged ``(start, end, label)`` spans of ``text`` to replace, in order.

        Exact values come first; each rule then contributes the spans of its ``secret`` groups
        (or whole matches) that pass its check. Overlapping spans are merged, labelled by the
        earliest contributor. Spans inside inline ``data:...;base64,`` URIs are dropped.
        """
        found: list[tuple[int, int, int, str]] = []
        if self._values_re is not None:
            found.extend((m.start(), m.end(), -1, SECRET_LABEL) for m in self._values_re.finditer(text))
        regions, anchors, marks = self._index.scan(text)
        whole = [(0, len(text))]
        for order in sorted([*regions, *anchors, *self._index.always]):
            if order in anchors:
                self._run(order, text, [], found, starts=anchors[order])
            else:
                self._run(order, text, regions.get(order, whole), found)
        if not found:
            return []
        found.sort(key=lambda t: (t[0], t[2], -t[1]))
        data_uris = [m.span() for m in _DATA_URI_RE.finditer(text)] if "base64," in marks else []
        merged: list[tuple[int, int, str]] = []
        for a, b, _, label in found:
            if data_uris and _inside(data_uris, a, b):
                continue
            if merged and a < merged[-1][1]:
                if b > merged[-1][1]:
                    merged[-1] = (merged[-1][0], b, merged[-1][2])
                continue
            merged.append((a, b, label))
        return merged

    def _run(self, order: int, text: str, regions: list[tuple[int, int]],
             found: list[tuple[int, int, int, str]], *, starts: list[int] | None = None) -> None:
        """Add the spans rule ``order`` finds inside ``regions`` of ``text`` (or, with ``starts``,
        in matches starting exactly there) to ``found``."""
        rx = self._compiled[order][0]
        verdicts: dict[tuple[Any, ...], bool] = {}  # periodic hostile text repeats the same candidates
        if starts is not None and len(starts) > 256 and starts[-1] - starts[0] < 64 * len(starts):
            regions, starts = [(starts[0], len(text))], None  # dense keywords: one scan beats a call each
        if starts is not None:
            done = 0
            for m in filter(None, map(rx.match, repeat(text), starts)):  # most fail: no Python per start
                if m.start() >= done and self._accept(order, m, text, found, verdicts):
                    done = m.end()
            return
        search = rx.search
        for lo, hi in regions:
            pos = lo
            while pos <= hi:
                m = search(text, pos, hi)
                if m is None:
                    break
                start, end = m.span()
                if self._accept(order, m, text, found, verdicts):
                    pos = end if end > start else start + 1
                elif "name" in rx.groupindex:  # a match can only start again after the failed name
                    pos = max(start + 1, m.end("name"))
                else:
                    pos = start + 1

    def _accept(self, order: int, m: re.Match[str], text: str, found: list[tuple[int, int, int, str]],
                verdicts: dict[tuple[Any, ...], bool]) -> bool:
        """Add the spans of match ``m`` of rule ``order`` to ``found`` if it passes the rule's
        boundary and check; return whether it did."""
        rule = self.rules[order]
        secret_groups = self._compiled[order][1]
        start, end = m.span()
        if rule.boundary and start > 0 and (text[start - 1].isalnum() or text[start - 1] == "_"):
            return False
        spans = [m.span(g) for g in secret_groups if m.start(g) != -1] or [(start, end)]
        if rule.check is not None:
            before = _name_tail(text, start)
            key = (m.group(), before, tuple(b - a for a, b in spans))
            ok = verdicts.get(key)
            if ok is None:
                groups: dict[str, str | None] = m.groupdict()
                groups["_before"] = before
                ok = verdicts[key] = rule.check("".join(text[a:b] for a, b in spans), groups)
            if not ok:
                return False
        found.extend((a, b, order, rule.label) for a, b in spans if b > a and not text.startswith("[REDACTED:", a))
        return True

    def text(self, text: str) -> tuple[str, int]:
        """Return ``(redacted text, number of replacements)``; non-str input is returned as is."""
        if not isinstance(text, str) or not text:
            return text, 0
        spans = self.spans(text)
        if not spans:
            return text, 0
        out: list[str] = []
        done = 0
        for a, b, label in spans:
            out.append(text[done:a])
            out.append(label)
            done = b
        out.append(text[done:])
        return "".join(out), len(spans)

    # -- JSON-like data ------------------------------------------------------------------------
    def obj(self, obj: Any) -> tuple[Any, int]:
        """Return ``(copy of obj with every string redacted, count)``.

        Values of keys named like secrets (``password``, ``api_token``...) are replaced whole.
        """
        if isinstance(obj, str):
            return self.text(obj)
        if isinstance(obj, Mapping):
            out: dict[Any, Any] = {}
            total = 0
            for k, v in obj.items():
                nk, n = self.text(k) if isinstance(k, str) else (k, 0)
                total += n
                if (isinstance(k, str) and secret_name(k) and isinstance(v, (str, int, float))
                        and not isinstance(v, bool) and secret_value(str(v)) and str(v) != FIELD_LABEL):
                    out[nk] = FIELD_LABEL
                    total += 1
                    continue
                out[nk], n = self.obj(v)
                total += n
            return (type(obj)(out) if type(obj) is not dict and _rebuildable(obj) else out), total
        if isinstance(obj, (list, tuple)):
            items, total = [], 0
            for v in obj:
                nv, n = self.obj(v)
                items.append(nv)
                total += n
            return (tuple(items) if isinstance(obj, tuple) else items), total
        return obj, 0

    # -- notebooks ------------------------------------------------------------------------------
    def _field(self, holder: dict[str, Any], key: str, *, ansi: bool = False) -> int:
        value = holder.get(key)
        if isinstance(value, list) and all(isinstance(x, str) for x in value):
            value = "".join(value)
        if not isinstance(value, str):
            return 0
        new, n = self.text(value)
        if ansi and n == 0 and _ANSI.search(value):
            plain, n = self.text(_ANSI.sub("", value))
            new = plain if n else value
        if n:
            holder[key] = new
        return n

    def notebook(self, nb: dict[str, Any]) -> tuple[dict[str, Any], int]:
        """Redact a notebook (nbformat node or plain dict) in place; return ``(nb, count)``.

        Covers cell sources, stream text, every text-like output (text/plain, text/html,
        text/markdown, SVG, JSON...), error names, values and tracebacks (ANSI colours are
        dropped only where a secret hid between them), and all metadata. Binary images and
        attachments are left untouched.
        """
        total = 0
        for cell in nb.get("cells", []):
            total += self._field(cell, "source")
            total += self._metadata(cell)
            for out in cell.get("outputs", []) or []:
                otype = out.get("output_type")
                if otype == "stream":
                    total += self._field(out, "text", ansi=True)
                elif otype == "error":
                    total += self._field(out, "ename") + self._field(out, "evalue", ansi=True)
                    tb = out.get("traceback")
                    if isinstance(tb, list):
                        lines = {str(j): line for j, line in enumerate(tb)}
                        n = sum(self._field(lines, str(j), ansi=True) for j in range(len(tb)))
                        if n:
                            out["traceback"] = [lines[str(j)] for j in range(len(tb))]
                        total += n
                data = out.get("data")
                if isinstance(data, dict):
                    for mime in list(data):
                        if _BINARY_MIME.match(mime):
                            continue
                        if isinstance(data[mime], (str, list)) and not _is_structured_list(data[mime]):
                            total += self._field(data, mime, ansi=mime == "text/plain")
                        else:
                            data[mime], n = self.obj(data[mime])
                            total += n
                total += self._metadata(out)
        total += self._metadata(nb)
        return nb, total

    def _metadata(self, holder: dict[str, Any]) -> int:
        meta = holder.get("metadata")
        if not isinstance(meta, dict) or not meta:
            return 0
        new, n = self.obj(meta)
        if n:
            meta.clear()
            meta.update(new)
        return n

    # -- files ----------------------------------------------------------------------------------
    def file(self, path: str | Path) -> int:
        """Redact one file in place (atomically); return the number of replacements.

        ``.ipynb`` files are redacted as notebooks, ``.json`` as JSON data (falling back to a
        text pass when they do not parse), anything else as text (invalid UTF-8 bytes kept).
        Raises OSError when the file cannot be read or written.
        """
        p = Path(path)
        raw = p.read_bytes()
        text = raw.decode("utf-8", errors="surrogateescape")
        suffix = p.suffix.lower()
        new: str | None = None
        if suffix in (".ipynb", ".json"):
            try:
                data = json.loads(text)
            except ValueError:
                data = None
            if data is not None:
                if suffix == ".ipynb" and isinstance(data, dict):
                    data, n = self.notebook(data)
                else:
                    data, n = self.obj(data)
                if n:
                    indent = 1 if suffix == ".ipynb" else 2
                    new = json.dumps(data, indent=indent, ensure_ascii=False, sort_keys=suffix == ".ipynb") + "\n"
                return _write(p, new, n)
        new, n = self.text(text)
        return _write(p, new if n else None, n)

    def directory(self, path: str | Path, *, skip: Iterable[str] = ()) -> int:
        """Redact every text, JSON and notebook file under ``path`` (but the top-level names in
        ``skip``); return the total count."""
        total = 0
        root = Path(path)
        skipped = {root / name for name in skip}
        for p in sorted(root.rglob("*")):
            if p not in skipped and p.is_file() and not p.is_symlink() and (
                p.suffix.lower() in _TEXT_SUFFIXES or p.suffix.lower() in (".json", ".ipynb")
            ):
                total += self.file(p)
        return total


def _name_tail(text: str, start: int) -> str:
    """Return the name characters (letters, digits, ``_.-``, at most 64) just before ``start``."""
    i, lo = start, max(0, start - 64)
    while i > lo and text[i - 1] in _NAME_CHARS:
        i -= 1
    return text[i:start]


def _inside(ranges: list[tuple[int, int]], a: int, b: int) -> bool:
    """Return True when ``[a, b)`` lies within one of the sorted, disjoint ``ranges``."""
    i = bisect.bisect_right(ranges, (a, float("inf"))) - 1
    return i >= 0 and ranges[i][0] <= a and b <= ranges[i][1]


def _rebuildable(obj: Any) -> bool:
    try:
        type(obj)({})
        return True
    except Exception:  # noqa: BLE001 - a mapping type we cannot rebuild becomes a dict
        return False


def _is_structured_list(value: Any) -> bool:
    return isinstance(value, list) and not all(isinstance(x, str) for x in value)


def _write(p: Path, text: str | None, n: int) -> int:
    if text is not None:
        tmp = p.with_name(f".{p.name}.redact-tmp")
        tmp.write_bytes(text.encode("utf-8", errors="surrogateescape"))
        os.replace(tmp, p)
    return n


def redactor(
    values: Iterable[str] = (),
    *,
    config: str | Path | RedactionConfig | None = None,
    parameters: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Redactor:
    """Return a redactor for one run: built-in rules, the config's rules, and all secret values.

    ``config`` is a ``redaction.yaml`` path or a loaded config; ``None`` means :func:`find_config`.
    ``parameters`` (the run's, references unresolved) and the environment contribute exact
    values through :func:`secret_values`. Raises :class:`ConfigError` for a bad config file.
    """
    cfg = config if isinstance(config, RedactionConfig) else load_config(config if config is not None else find_config())
    rules = [r for r in BUILTIN_RULES if r.kind not in cfg.disable] + cfg.rules
    all_values = list(values) + secret_values(parameters, environ, env_names=cfg.env)
    return Redactor(rules, all_values, min_value_length=cfg.min_value_length)


_DEFAULT: Redactor | None = None


def _default() -> Redactor:
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = Redactor()
    return _DEFAULT


def redact_text(text: str, *, redactor: Redactor | None = None) -> tuple[str, int]:
    """Return ``(text with credentials replaced, count)`` using the built-in rules (or ``redactor``)."""
    return (redactor or _default()).text(text)


def redact_obj(obj: Any, *, redactor: Redactor | None = None) -> tuple[Any, int]:
    """Return ``(redacted copy of JSON-like obj, count)``; see :meth:`Redactor.obj`."""
    return (redactor or _default()).obj(obj)


def redact_notebook(nb: dict[str, Any], *, redactor: Redactor | None = None) -> tuple[dict[str, Any], int]:
    """Redact notebook ``nb`` in place; return ``(nb, count)``; see :meth:`Redactor.notebook`."""
    return (redactor or _default()).notebook(nb)


def redact_file(path: str | Path, *, redactor: Redactor | None = None) -> int:
    """Redact the file at ``path`` in place; return the count; see :meth:`Redactor.file`."""
    return (redactor or _default()).file(path)


__all__ = [
    "Redactor", "RedactionConfig", "Rule", "BUILTIN_RULES", "load_config", "find_config", "secret_values",
    "redactor", "redact_text", "redact_obj", "redact_notebook", "redact_file", "SECRET_LABEL", "FIELD_LABEL",
]
