"""The shapes every redaction rule shares: :class:`Rule`, the quote forms, secret-like names and
values, and the randomness test (:func:`token_like`) the value checks use.

A rule's ``keywords`` (lower case, matched case-insensitively) and ``case_keywords`` (matched as
written) are literals of which every match holds at least one: the redactor runs a rule only on
the lines where one occurs (one Aho-Corasick pass finds them all), and ``reach`` characters past
such a line (a private key's body spans lines); nearby ranges are searched as one, unless ``near``
(the keyword must be on the match's own line: a 40-hex token only next to "sourcegraph"). An
``anchored`` rule's matches start with one of its keywords: it is tried only where they start
(one match call each; what keeps case-insensitive rules fast). A rule with neither runs on the
whole text. ``before``/``after`` name the characters of which one stands just before/after the
keyword in every match (``before_len``: each of that many characters before it; letters in either
case; non-ASCII characters always pass): other hits are dropped before any regex runs (``"/api/"``
is no ``api_key=``, ``"key":`` no ``api_key``).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from typing import Callable

Check = Callable[[str, "dict[str, str | None]"], bool]


@dataclass(frozen=True)
class Rule:
    """One redaction rule: ``kind`` label, regex ``pattern`` and options (see the module doc).

    ``replacement`` defaults to ``[REDACTED:<kind>]``.
    """

    kind: str
    pattern: str
    replacement: str | None = None
    check: Check | None = None
    icase: bool = False
    boundary: bool = False
    description: str = ""
    keywords: tuple[str, ...] = ()
    case_keywords: tuple[str, ...] = ()
    reach: int = 0
    near: bool = False
    anchored: bool = False
    before: str = ""
    after: str = ""
    before_len: int = 1

    @property
    def label(self) -> str:
        """Return the text that replaces a match of this rule."""
        return self.replacement if self.replacement is not None else f"[REDACTED:{self.kind}]"


#: What can follow a secret-like word inside a name before its value: more name characters, the
#: quotes and spaces of ``AROUND`` and the separators (``=``, ``:``, ``=>``, ``,``, ``?=``, ``||``, ``&gt;``).
NAME_FOLLOW = "abcdefghijklmnopqrstuvwxyz0123456789_.-" + " \t'\"`\\&" + "=:>,?|"

# Quotes as they appear raw, JSON-escaped and HTML-escaped (lower case: used by icase rules).
Q = r"""(?:\\?"|'|\\?&quot;|&\#34;|&\#x22;|&\#39;|&\#x27;|&apos;)"""

#: Words that, inside a variable/key/field name, say its value is a secret (case-insensitive).
SECRET_NAME_WORDS = (
    r"passw(?:or)?d|passphrase|pwd|secret|token|api[_.\-]?key|apikey|private[_.\-]?key|"
    r"credentials?|access[_.\-]?key|auth[_.\-]?key|account[_.\-]?key|shared[_.\-]?access[_.\-]?key|"
    r"session[_.\-]?(?:id|key|token)|signing[_.\-]?key|encryption[_.\-]?key|master[_.\-]?key|"
    r"client[_.\-]?secret|webhook[_.\-]?url|cookie"
)
SECRET_NAME_RE = re.compile(rf"(?i)(?:{SECRET_NAME_WORDS})")

# Name endings that say the value is *about* a secret, not the secret itself.
NOT_SECRET_SUFFIX = re.compile(
    r"(?i)(?:^|[_.\-])(?:count|counts|len|length|size|limit|max|min|type|types|kind|expires?|expiry|"
    r"expires_at|expires_in|ttl|age|at|ref|file|path|dir|name|env|header|policy|algo|algorithm|"
    r"hash|required|set|changed|reset|timeout|enabled|rotation|rotated|version|usage|used|"
    r"endpoint|uri|source|format|prompt|field|label|hint|strength|attempts?|error|errors|status)$"
)
_HARMLESS_VALUE = re.compile(
    r"(?i)^(?:|true|false|yes|no|on|off|none|null|nil|undefined|n/?a|\*+|x+|<[^>]*>|\$\{?[\w.]+\}?|"
    r"%\([\w]+\)s|%s|0x[0-9a-f]{1,32}|(?:/[\w.\-:]{1,64}){2,16}/?|[a-z_][\w$]*(?:\.[a-z_][\w$]*)+@[0-9a-f]{1,16}|\{\{?[^}]*\}?\}|\[REDACTED[^\]]*\]?|(?:env|file):[^\s]+|\d{1,4}|-?\d+\.\d+|"
    r"string|redacted|masked|hidden|required|missing|invalid|expired|set|unset|"
    r"\$[\w{}.:$\-]+|\[[A-Za-z_ .\-]+\]|pass|password|passwd|secret|token|changeme|example|"
    r"your[_\-]?[a-z_\-]+|my[_\-]?[a-z_\-]+|"
    r"str|int|float|bool|bytes|any|dict|list|tuple|object|optional|mapping|sequence|callable|"  # type hints
    r"[a-z]{1,4}|"  # prose: "credentials: if the provider..."
    r"(?:self|cls)\.\w+|[a-z_]\w*(?:\.[a-z_]\w*)+|"  # code: self.token, os.environ, env.workdir
    r"(?=[a-z_]*_)[a-z_]*(?:secret|token|pass|pwd|key|credential)[a-z_]*)$"  # code: token_secret = token_secret
)


def secret_name(name: str) -> bool:
    """Return True when a variable/key/field ``name`` says its value is a secret (``PWD``/``OLDPWD``,
    the shell's working directories, are not)."""
    if name.lower() in ("pwd", "oldpwd"):
        return False
    return bool(SECRET_NAME_RE.search(name)) and not NOT_SECRET_SUFFIX.search(name)


def secret_value(value: str) -> bool:
    """Return True when ``value`` could be a secret (not empty, a flag, a placeholder or a reference)."""
    return not _HARMLESS_VALUE.match(value.strip().strip("\"'"))


def entropy(text: str) -> float:
    """Return the Shannon entropy of ``text`` in bits per character (0.0 for empty text)."""
    if not text:
        return 0.0
    n = len(text)
    return -sum(c / n * math.log2(c / n) for c in Counter(text).values())


_NOT_TOKEN = re.compile(
    r"(?i)^(?:[a-z_.\-]+|[\d.:\-/]+|0x[0-9a-f]+|/[\w./\-]*|~/[\w./\-]*|\w+://.*|[\w\-]+(?:\.[\w\-]+)+\.[a-z]{2,6})$"
)


def token_like(value: str, *, min_len: int = 14, min_entropy: float = 2.5, mixed_case: bool = False) -> bool:
    """Return True when ``value`` looks like a generated credential: long enough, not a word,
    number, hex address, path, URL or host name, and random enough (Shannon entropy). With
    ``mixed_case`` a value of letters only counts when its case looks random."""
    value = value.strip("\"'`")
    if value.isdigit():
        return len(value) >= max(min_len, 14) and entropy(value) >= 1.5
    if len(value) < min_len or math.log2(len(set(value))) < min_entropy:
        return False  # entropy is at most log2(number of distinct characters)
    if _NOT_TOKEN.match(value) and not (mixed_case and _random_case(value)):
        return False
    return entropy(value) >= min_entropy


_CHUNK = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")
_VOWELLESS_WORDS = re.compile(r"(?i)^(?:https?|sql|xml|rpc|grpc|tcp|udp|dns|jwt|pkcs|rsa|ssh|tls|cdn|svc|ctx|cfg|msg|src|dst|std)$")
_SHAPE_NOT_TOKEN = re.compile(r"(?i)^(?:[\d.:\-/]+|0x[0-9a-f]+|\w+://.*|[\w\-]+(?:\.[\w\-]+)+\.[a-z]{2,6})$")


def wordlike(value: str) -> bool:
    """Return True when every letter run of ``value`` (split at case changes, digits and
    punctuation) reads like a word: short, or with a vowel and no four consonants in a row
    (``AppWindowToken``, ``sentry_dsn_env``; not ``suXoqzntaDljqj``)."""
    parts = [p for p in re.split(r"[_.\-]", value) if not (len(p) <= 4 and (p.islower() or p.isupper()))]
    chunks = [c for p in parts for c in _CHUNK.findall(p)]  # "dsn" in sentry_dsn_env, "Http" stand alone
    letters = [c for c in chunks if not c.isdigit()]
    if not parts:
        return True
    if not letters or sum(len(c) for c in chunks if c.isdigit()) > 4:
        return False
    if sum(map(len, letters)) < 3 * len(letters):
        return False  # random case splits into chunks of one or two letters (TVUbXp)
    return all(len(c) == 1 or (c.isupper() and len(c) <= 4) or _VOWELLESS_WORDS.match(c)  # "a", "DB", "Http"
               or (c.lower() in _SHORT_WORDS if len(c) == 2 else _readable(c)) for c in letters)


#: Two-letter chunks that occur in names (getIdForUser, isUpToDate); random case makes others (Ii, Ub).
_SHORT_WORDS = frozenset("id is to by of in on at up db io ui ok or no my an as be do go he if it me so we us os vm ip".split())
_UNREADABLE = re.compile(r"(?i)[bcdfghjklmnpqrstvwxz]{4}|[aeiou]{3}|q(?!u)")


def _readable(chunk: str) -> bool:
    """A chunk of three or more letters that could be a word: a vowel, no four consonants or three
    vowels in a row, no q without u."""
    return not _UNREADABLE.search(chunk) and _vowels(chunk) >= (0.3 if len(chunk) >= 8 else 0.01)


def _vowels(chunk: str) -> float:
    return sum(c in "aeiouyAEIOUY" for c in chunk) / len(chunk)


def pathlike(value: str) -> bool:
    """Return True for a file path whose segments read like words or numbers (``/var/lib/app``,
    ``~/.ssh/config``; not ``/8Xp11TVUb/BRxh``)."""
    if not value.startswith(("/", "~/", "./")):
        return False
    parts = [p for p in re.split(r"[/._\-~]", value) if p]
    return all(len(p) <= 3 or p.isdigit() or wordlike(p) or re.fullmatch(r"[0-9a-f]{1,16}", p) for p in parts)


def shaped_token(value: str, *, min_len: int = 8, min_entropy: float = 2.5) -> bool:
    """Return True when ``value`` could be the credential a shape-fixed rule expects (a value
    after a service name, under a Kubernetes ``data:``, in a curl key header): long and random
    enough, and not a number, URL, host name, word-like name or word-like path. Unlike
    :func:`token_like`, letters-only and slash-holding values count when they do not read as words."""
    value = value.strip("\"'`")
    if token_like(value, min_len=min_len, min_entropy=min_entropy, mixed_case=True):
        return True
    if value.isdigit() or len(value) < min_len or math.log2(len(set(value))) < min_entropy:
        return False
    if _SHAPE_NOT_TOKEN.match(value) or wordlike(value) or pathlike(value):
        return False
    return entropy(value) >= min_entropy


def _random_case(value: str) -> bool:
    """Letters in random case (``ymAeUrFmrgifDf``), not a CamelCase word (``AppWindowToken``)."""
    if not value.isalpha():
        return False
    upper = sum(c.isupper() for c in value)
    return upper >= 3 and 0.25 <= upper / len(value) <= 0.75


__all__ = ["Rule", "Check", "Q", "NAME_FOLLOW", "SECRET_NAME_WORDS", "SECRET_NAME_RE", "NOT_SECRET_SUFFIX", "secret_name", "secret_value", "entropy", "token_like", "shaped_token", "wordlike", "pathlike"]
