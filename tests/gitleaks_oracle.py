"""gitleaks' default rule set as a test oracle: fresh samples of every rule, in realistic context.

The rules are read from ``../shared/data/gitleaks/gitleaks.toml`` (MIT, never copied into the
package). For each rule a small generator walks the parse tree of its regular expression (Go RE2
syntax translated for Python's parser: mid-pattern ``(?i)``, POSIX classes, ``\\z``) and draws a
random string, preferring realistic characters where a class is broad. The sample counts only if
gitleaks itself would report it: RE2 (the ``re2`` module, the engine gitleaks' Go regexp follows)
must find it *in the planted context line*, the secret must reach the rule's entropy, and no
global or rule allowlist (regexes, stopwords) may excuse it. A line gets one of the rule's
keywords when the sample holds none, as gitleaks needs one in the text.
"""

from __future__ import annotations

import functools
import math
import os
import random
import secrets
import re
import string
import tomllib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from re import _constants as C  # noqa: PLC2701 - the parse tree of a pattern, to generate from it
from re import _parser as sre_parse  # noqa: PLC2701

import re2

PRINTABLE = [chr(c) for c in range(32, 127)]
ALNUM = set(string.ascii_letters + string.digits)

#: Realistic places a secret shows up in an incident's inputs; ``{s}`` is the planted sample.
CONTEXTS = {
    "log": "2026-11-22T14:03:07.123Z ERROR shop-api request to upstream failed: {s} (attempt 2/3)",
    "logfmt": 'ts=2026-11-22T14:03:07Z level=error service=shop-api msg="config reload" detail="{s}"',
    "stack": '  File "/srv/shop/clients/vendor.py", line 88, in connect\n    raise AuthError("rejected {s} ")',
    "commit_subject": "hotfix: stop logging {s} on startup",
    "commit_body": "Rotate vendor credentials\n\nThe old value ({s} ) was printed by the debug handler.",
    "alert": "annotations: description=Upstream auth failures; last error {s} ; runbook=https://wiki/auth",
    "sql": "UPDATE integrations SET note = 'migrated {s} ' WHERE id = 42",
    "probe": 'HTTP 401 from https://api.partner.test/v2/health body={"error":"invalid","detail":"{s} "}',
    "param": "incident-kit run triage -p vendor_note={s} -p window=2h",
    "env": "{s}",
}


@dataclass(frozen=True)
class Sample:
    """One planted secret: the gitleaks ``rule`` id, the ``secret`` gitleaks reports and the
    context ``line`` that holds it (``context`` names the template)."""

    rule: str
    secret: str
    line: str
    context: str


@functools.lru_cache(maxsize=4)
def _config(shared_dir: Path) -> dict:
    return tomllib.loads((shared_dir / "data" / "gitleaks" / "gitleaks.toml").read_text(encoding="utf-8"))


def load_rules(shared_dir: Path) -> list[dict]:
    """Return gitleaks' rules that have a regex (path-only rules match file names, not text)."""
    data = _config(shared_dir)
    load_rules.allowlist = data.get("allowlist", {})  # type: ignore[attr-defined]
    return [r for r in data["rules"] if r.get("regex")]


def global_allowlist(shared_dir: Path) -> dict:
    """Return the config's global allowlist (regexes and stopwords that excuse any secret)."""
    return _config(shared_dir).get("allowlist", {})


@functools.lru_cache(maxsize=None)
def _re2(pattern: str):
    """Return ``pattern`` compiled by RE2, once (the module's own cache is small)."""
    return re2.compile(pattern)


def to_python(go: str) -> str:
    """Return ``go`` (an RE2 pattern) in a form Python's parser accepts, meaning the same."""
    out = go.replace("[[:alnum:]]", "[A-Za-z0-9]").replace("[:alnum:]", "A-Za-z0-9").replace(r"\z", r"\Z")
    # a flag group in the middle applies to the rest of its enclosing group: make that a scoped group
    while True:
        k = _mid_flag(out)
        if k < 0:
            return out
        end = _group_end(out, k)
        out = out[:k] + "(?i:" + out[k + 4:end] + ")" + out[end:]


def _mid_flag(p: str) -> int:
    i, in_class = 0, False
    while i < len(p):
        c = p[i]
        if c == "\\":
            i += 2
            continue
        if in_class:
            in_class = c != "]"
        elif c == "[":
            in_class = True
            if p[i + 1:i + 2] == "]":
                i += 1
        elif p.startswith("(?i)", i) and i > 0:
            return i
        i += 1
    return -1


def _group_end(p: str, k: int) -> int:
    depth, i, in_class = 0, k + 4, False
    while i < len(p):
        c = p[i]
        if c == "\\":
            i += 2
            continue
        if in_class:
            in_class = c != "]"
        elif c == "[":
            in_class = True
        elif c == "(":
            depth += 1
        elif c == ")":
            if depth == 0:
                return i
            depth -= 1
        elif c == "|" and depth == 0:
            return i
        i += 1
    return len(p)


_CLASSES: dict[tuple[int, bool], list[str]] = {}
_PARSED: dict[str, tuple[list, bool]] = {}


class Generator:
    """Random strings of a parsed pattern (realistic characters for broad classes)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self._classes = _CLASSES  # shared by every generator: parsing and classes do not draw
        self._parsed = _PARSED

    def sample(self, pattern: str) -> str:
        if pattern not in self._parsed:
            parsed = sre_parse.parse(pattern)
            self._parsed[pattern] = (list(parsed), bool(parsed.state.flags & C.SRE_FLAG_IGNORECASE))
        items, icase = self._parsed[pattern]
        return self._seq(items, icase)

    def _seq(self, items, icase: bool) -> str:
        return "".join(self._node(op, av, icase) for op, av in items)

    def _node(self, op, av, icase: bool) -> str:
        rng = self.rng
        if op is C.LITERAL:
            return chr(av)
        if op is C.NOT_LITERAL:
            return rng.choice([c for c in string.ascii_letters if ord(c) != av])
        if op is C.ANY:  # mostly an unescaped dot meant as one (hooks.slack.com)
            return "."
        if op is C.IN:
            return self._pick(av, icase)
        if op is C.BRANCH:
            return self._seq(list(rng.choice(av[1])), icase)
        if op is C.SUBPATTERN:
            _, add, dele, sub = av
            if add & C.SRE_FLAG_IGNORECASE:
                icase = True
            if dele & C.SRE_FLAG_IGNORECASE:
                icase = False
            return self._seq(list(sub), icase)
        if op in (C.MAX_REPEAT, C.MIN_REPEAT, C.POSSESSIVE_REPEAT):
            lo, hi, sub = av
            hi = lo + 12 if hi is C.MAXREPEAT else hi
            span = hi - lo
            n = lo + (rng.randint(0, min(span, 6)) if lo == 0 else rng.randint(0, min(span, 24)))
            if len(sub) == 1 and sub[0][0] is C.ANY:  # ".{8,}": any characters, not dots
                return "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(n))
            return "".join(self._seq(list(sub), icase) for _ in range(n))
        if op is C.CATEGORY:
            return self._category(av)
        if op in (C.AT, C.ASSERT, C.ASSERT_NOT):
            return ""
        if op is C.GROUPREF:
            return ""
        raise ValueError(f"cannot generate {op}")

    def _category(self, cat) -> str:
        rng = self.rng
        if cat is C.CATEGORY_DIGIT:
            return rng.choice(string.digits)
        if cat is C.CATEGORY_SPACE:
            return rng.choice(" \t")
        if cat is C.CATEGORY_WORD:
            return rng.choice(string.ascii_letters + string.digits + "_")
        return rng.choice(string.ascii_letters + string.digits)

    def _pick(self, items, icase: bool) -> str:
        key = (id(items), icase)
        chars = self._classes.get(key)
        if chars is None:
            chars = [c for c in PRINTABLE + ["\t", "\n", "\r"] if _in_class(c, items, icase)]
            chars = [c for c in chars if c not in "\r\n"] or chars
            if len(chars) > 64:  # a broad class ([^"], [\s\S]): stay with what a credential is made of
                narrow = [c for c in chars if c in ALNUM or c in "+/=_-"]
                chars = narrow or chars
            spaces = [c for c in chars if c in " \t"]
            if spaces and len(spaces) < len(chars):
                chars = [c for c in chars if c not in " \t"] + [" "]
            self._classes[key] = chars
        c = self.rng.choice(chars)
        if icase and c.isalpha() and self.rng.random() < 0.3:
            c = c.swapcase()
        return c


def _in_class(c: str, items, icase: bool) -> bool:
    negate = False
    hit = False
    o = ord(c)
    for op, av in items:
        if op is C.NEGATE:
            negate = True
        elif op is C.LITERAL:
            hit |= o == av or (icase and c.lower() == chr(av).lower())
        elif op is C.RANGE:
            lo, hi = av
            hit |= lo <= o <= hi or (icase and (lo <= ord(c.lower()) <= hi or lo <= ord(c.upper()) <= hi))
        elif op is C.CATEGORY:
            hit |= _category_has(c, av)
    return hit != negate


def _category_has(c: str, cat) -> bool:
    table = {
        C.CATEGORY_DIGIT: c.isdigit(), C.CATEGORY_NOT_DIGIT: not c.isdigit(),
        C.CATEGORY_SPACE: c in " \t\n\r\f\v", C.CATEGORY_NOT_SPACE: c not in " \t\n\r\f\v",
        C.CATEGORY_WORD: c.isalnum() or c == "_", C.CATEGORY_NOT_WORD: not (c.isalnum() or c == "_"),
    }
    return table.get(cat, False)


def entropy(text: str) -> float:
    """Shannon entropy in bits per character, as gitleaks computes it."""
    n = len(text)
    return -sum(v / n * math.log2(v / n) for v in Counter(text).values()) if n else 0.0


def secret_of(rule: dict, m) -> str:
    """Return what gitleaks reports for match ``m``: the secret group, else the first non-empty
    group, else the whole match."""
    if rule.get("secretGroup"):
        return m.group(rule["secretGroup"]) or ""
    for g in m.groups():
        if g:
            return g
    return m.group(0)


def excused(rule: dict, secret: str, match: str, line: str, allow: dict) -> bool:
    """True when gitleaks would not report ``secret``: too little entropy or an allowlist hit."""
    if rule.get("entropy") and entropy(secret) < rule["entropy"]:
        return True
    for rx in allow.get("regexes", []):
        if _re2(rx).search(secret):
            return True
    if any(w.lower() in secret.lower() for w in allow.get("stopwords", [])):
        return True
    for al in rule.get("allowlists", []):
        target = {"match": match, "line": line}.get(al.get("regexTarget", "secret"), secret)
        if any(_re2(rx).search(target) for rx in al.get("regexes", [])):
            return True
        if any(w.lower() in secret.lower() for w in al.get("stopwords", [])):
            return True
    return False


def samples(shared_dir: Path, *, seed: int | None = None, per_rule: int = 1,
            contexts: dict[str, str] = CONTEXTS) -> tuple[list[Sample], list[str]]:
    """Return ``(samples, failed)``: ``per_rule`` samples of every rule shown in a context line
    that gitleaks' own regex matches, and the ids of rules for which no such line was made."""
    rng = random.Random(seed)
    gen = Generator(rng)
    allow = global_allowlist(shared_dir)
    out: list[Sample] = []
    failed: list[str] = []
    names = list(contexts)
    for rule in load_rules(shared_dir):
        gorx = _re2(rule["regex"])
        pyrx = to_python(rule["regex"])
        made = 0
        for attempt in range(60):
            if made >= per_rule:
                break
            try:
                raw = gen.sample(pyrx)
            except (ValueError, re.error, RecursionError):
                break
            if "\n" in raw.strip("\n") and rule["id"] not in ("private-key", "kubernetes-secret-yaml"):
                continue
            ctx = rng.choice(names)
            kws = [k.lower() for k in rule.get("keywords", [])]
            if kws and not any(k in raw.lower() for k in kws):
                raw = f"{kws[0]} {raw}"  # gitleaks needs a keyword in the text: name the service
            line = contexts[ctx].replace("{s}", raw)
            m = gorx.search(line)
            if m is None:
                continue
            secret = secret_of(rule, m)
            if len(secret) < 4 or excused(rule, secret, m.group(0), line, allow):
                continue
            out.append(Sample(rule["id"], secret, line, ctx))
            made += 1
        if made < per_rule:
            failed.append(rule["id"])
    return out, failed


def study(shared_dir: Path, seeds: tuple[int, ...]) -> tuple[list[Sample], dict[str, list[str]]]:
    """Return ``(samples, failed)`` for ``seeds``: per seed, two samples of every rule in random
    contexts plus one in each context of :data:`CONTEXTS`; ``failed`` maps a context to the ids
    of rules that got no sample there (for some seed)."""
    made: list[Sample] = []
    failed: dict[str, list[str]] = {ctx: [] for ctx in CONTEXTS}
    for seed in seeds:
        made += samples(shared_dir, seed=seed, per_rule=2)[0]
        for i, (ctx, template) in enumerate(CONTEXTS.items()):
            got, missed = samples(shared_dir, seed=seed * 16 + i, per_rule=1, contexts={ctx: template})
            made += got
            failed[ctx] += missed
    return made, failed


def seeds_from_env(default: tuple[int, ...], name: str = "INCIDENT_KIT_GITLEAKS_SEEDS") -> tuple[int, ...]:
    """Return the seeds in environment variable ``name`` (comma-separated integers, or ``random``
    for one fresh seed), else ``default``. Raises ValueError naming the variable for anything else."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if raw == "random":
        return (secrets.randbits(32),)
    try:
        return tuple(int(x) for x in raw.split(",") if x.strip())
    except ValueError:
        raise ValueError(f"{name}={raw!r}: expected comma-separated integer seeds or 'random'") from None


__all__ = ["CONTEXTS", "study", "seeds_from_env", "Sample", "Generator", "load_rules", "samples", "to_python", "entropy", "secret_of"]
