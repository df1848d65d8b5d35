"""The built-in redaction rules: what a credential looks like in logs, queries, errors and HTML.

Each :class:`~incident_kit.redact_base.Rule` is a regular expression with a ``kind`` (the
``[REDACTED:kind]`` label). When the pattern has groups named ``secret`` (or ``secret_<anything>``),
only the text of those groups is replaced and the context (``password=``, ``Bearer ``, ``user:``...)
is kept; otherwise the whole match is replaced. An optional ``check(secret, groups) -> bool`` rejects
matches that only look like secrets (``password: true``, ``token_count=12``, ``Bearer of``).

Rules here are the generic ones (headers, URLs, assignments, private keys, curl options, the
entropy test next to secret-like words); vendor tokens are in :mod:`incident_kit.redact_vendors`.
Speed: a rule runs only on the lines holding one of its keywords, and a pattern *starting with a
literal* is found at memchr speed. ``icase=True`` rules match case-insensitively (write them in
lower case). A check also sees ``groups["_before"]``, the name characters (letters, digits,
``_.-``) just before the match. ``boundary=True`` rejects a match that starts right after a letter,
digit or ``_`` (a cheap ``\\b`` that keeps the literal first). All repetitions are bounded, so no rule
can go quadratic on a hostile 1 MB line. The rules match raw text and its HTML- and JSON-escaped forms.
"""

from __future__ import annotations

import base64
import binascii
import re

from .redact_base import (
    NAME_FOLLOW,
    NOT_SECRET_SUFFIX,
    Q,
    SECRET_NAME_RE,
    SECRET_NAME_WORDS,
    Rule,
    secret_name,
    secret_value,
    shaped_token,
    token_like,
)
from .redact_vendors import AROUND, PREFIXED_RULES, SEP, SERVICE_RULES


def _assignment_check(text: str, groups: dict[str, str | None]) -> bool:
    name = groups.get("name") or ""
    if name[:3].lower() == "key":  # "key" alone is too common (cache keys): needs api_key, private-key...
        name = (groups.get("_before") or "") + name
        if not SECRET_NAME_RE.search(name):
            return False
    if NOT_SECRET_SUFFIX.search(name):
        return False
    if _PLURAL.search(name) and text.isalpha() and text.islower():
        return False  # prose about a collection: "secrets: write them...", "tokens: none"
    return secret_value(text)


_PLURAL = re.compile(r"(?i)(?:secret|token|password|credential|key)s$")


def _value_check(text: str, groups: dict[str, str | None]) -> bool:
    return secret_value(text)


def _header_check(text: str, groups: dict[str, str | None]) -> bool:
    """A key header's value: any secret value, and base64 with slashes that only looks like a path."""
    return secret_value(text) or shaped_token(text, min_len=8, min_entropy=2.5)


def _tokenish(text: str, groups: dict[str, str | None]) -> bool:
    """A token, not a word: has a digit, or is long, or an explicit auth scheme preceded it."""
    if not secret_value(text):
        return False
    return bool(groups.get("scheme")) or any(c.isdigit() for c in text) or len(text) >= 20


def _basic_check(text: str, groups: dict[str, str | None]) -> bool:
    try:
        decoded = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        return False
    return b":" in decoded


def _url_password_check(text: str, groups: dict[str, str | None]) -> bool:
    # "user:8080@": a port; six digits or more are a password (Sidekiq's gems.contribsys.com)
    return (not text.isdigit() or len(text) >= 6) and secret_value(text)


_SEP = r"[ \t]{0,16}+(?:=>|=&gt;|:=|=|:)[ \t]{0,16}+"
_VALUE = (
    r"(?:\\\"(?P<secret_e>(?:[^\"\\\r\n]|\\[^\"]){1,512}+)\\\""
    r"|\"(?P<secret_d>(?:[^\"\\\r\n]|\\.){1,512}+)\""
    r"|'(?P<secret_s>[^'\r\n]{1,512}+)'"
    r"|\\?&quot;(?P<secret_h>(?:(?!\\?&quot;)[^<\r\n]){1,512}+)\\?&quot;"
    r"|&\#(?:39|x27);(?P<secret_a>(?:(?!&\#(?:39|x27);)[^<\r\n]){1,512}+)&\#(?:39|x27);"
    r"|(?P<secret_b>[^\s\"'`<>,;&(){}\[\]\\]{1,512}+)(?![(\[{]))"
)


def _assignment_rules() -> tuple[Rule, ...]:
    """NAME (maybe quoted/escaped) then = : => := then a quoted or bare value, one rule per keyword."""
    keywords = (
        (r"passw(?:or)?d", ("passwd", "password")), ("passphrase", ("passphrase",)), (r"pwd(?!=/)", ("pwd",)),
        ("secret", ("secret",)), ("token", ("token",)), ("credential", ("credential",)),
        (r"key(?<=[a-z_.\-]key)", ("key",)), (r"session[_.\-]?(?:id|key|token)", ("session",)),
        (r"webhook[_.\-]?url", ("webhook",)), ("cookie", ("cookie",)),
    )
    desc = ("value of a variable, key, header, option or JSON field named like SECRET/TOKEN/PASSWORD/"
            "PASSWD/PWD/API_KEY/PRIVATE_KEY/CREDENTIAL/ACCESS_KEY/SESSION_ID/COOKIE")
    return tuple(
        Rule("secret_assignment", rf"(?P<name>{kw}[a-z0-9_.\-]{{0,64}}+){Q}?{_SEP}(?:{Q}(?={Q}))?{_VALUE}",
             check=_assignment_check, icase=True, description=desc, anchored=True, keywords=words,
             after=NAME_FOLLOW, before="abcdefghijklmnopqrstuvwxyz_.-" if kw.startswith("key") else "")
        for kw, words in keywords
    )


_PEM_END = r"-----end[ a-z0-9_\-]{0,100}private key(?: block)?-----"

# Names that hold no secret although a secret-like word is in them (gitleaks' generic rule knows
# the same trap): access ids, api versions, keyspaces, author...
_GENERIC_NAME_STOP = re.compile(
    r"(?i)(?:access(?:ibility|or|[_.\-]?id|[_.\-]?log)|random[_.\-]?access|api[_.\-]?(?:id|name|version|group|level)|rapid|capital|"
    r"author|credentials?[_.\-]?id|withcredentials|(?:bucket|foreign|hot|idx|natural|primary|pub(?:lic)?|schema|sequence|"
    r"partition|cache|sort|shard|routing|row|object|map|hash|group|cluster|table|s3|redis|lookup|dedup|idempotency)"
    r"[_.\-]?key|turkey|monkey|donkey|keying|keyspace|keyboard|keystore|keytab|key[_.\-]?(?:alias|code|frame|id|length|name|pair|"
    r"press|ring|size|type|word|prefix|range|count)|(?:secret|token)[_.\-]?(?:length|name|size|type|id)|csrf[_.\-]?token|"
    r"public[_.\-]?token|(?:key|token)[_.\-]?file|authority|authentication|authorized|authz?[_.\-]?(?:method|type|mode|provider|url|user)|"
    r"api[_.\-]?(?:server|host|port|path|call|request|response|url|uri|endpoint|status|error|gateway))"
)


_STRONG_NAME = re.compile(r"(?i)key|secret|token|passw|pwd|cred")
_ID_VALUE = re.compile(r"(?i)^(?:[a-z]{1,12}[-_:])?[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def _generic_check(text: str, groups: dict[str, str | None]) -> bool:
    name = (groups.get("_before") or "") + (groups.get("name") or "")
    if _GENERIC_NAME_STOP.search(name) or NOT_SECRET_SUFFIX.search(name.rstrip(" \t")):
        return False
    strong = bool(_STRONG_NAME.search(name))
    if not strong and _ID_VALUE.match(text):
        return False  # "nova.osapi_compute.wsgi.server,req-<uuid>": a CSV cell and a request id
    return secret_value(text) and (token_like(text, min_len=10, min_entropy=3.5)
                                   or shaped_token(text, min_len=20, min_entropy=3.5))  # long, random, no words


def _curl_user_check(text: str, groups: dict[str, str | None]) -> bool:
    user, _, password = text.strip("\"'\\").partition(":")
    return bool(_) and not (password or user).startswith("$") and (password or user) not in ("***", "...")


def _k8s_check(text: str, groups: dict[str, str | None]) -> bool:
    return shaped_token(text, min_len=10, min_entropy=2.5)


_CURL_PART = (r"(?:\\?\"[^\"\\\r\n]{0,512}+\\?\"|'[^'\r\n]{0,512}+'|&quot;(?:(?!&quot;)[^\s<]){0,512}+&quot;"
              r"|[^\s\"':\\&]{0,512}+)")
_CURL_VALUE = (rf"(?P<secret>{_CURL_PART}:{_CURL_PART}"
               r"|\\?\"[^\"\\\r\n]{3,512}+\\?\"|'[^'\r\n]{3,512}+'|[^\s\"']{3,512}+)")

#: Rules tried first (their names win overlaps): private keys, URLs, headers, JWTs.
CORE_RULES: tuple[Rule, ...] = (
    Rule("private_key",
         r"-----begin[ a-z0-9_\-]{0,100}private key(?: block)?-----"
         rf"(?:[a-z0-9+/=:,. \t\r\n]|\\[nr]|-(?!----)){{0,20000}}+(?:{_PEM_END})?",
         icase=True, anchored=True, keywords=("-----begin",), reach=21000,
         description="PEM/OpenSSH/PGP private key blocks (also cut-off ones)"),
    Rule("url_password",
         r"://(?<=[A-Za-z0-9+.\-]://)[^\s:/@\"'<>]{0,256}+:(?P<secret>[^\s/\"'<>@]{1,512}+(?:@[^\s/\"'<>@]{1,512}+){0,8})@(?=[^\s/\"'<>@])",
         check=_url_password_check, keywords=("://",), description="password in a URL (scheme://user:PASSWORD@host)"),
    Rule("jwt", r"eyJ(?<![A-Za-z0-9_\-]eyJ)[A-Za-z0-9_\-]{8,300}+\.eyJ[A-Za-z0-9_\-]{8,8192}+\.[A-Za-z0-9_\-]{0,4096}+", boundary=True,
         keywords=("eyj",), description="JSON Web Tokens"),
    Rule("authorization",
         "authorization" + Q + r"?[ \t]{0,5}[:=][ \t]{0,5}" + Q +
         r"?(?:(?P<scheme>basic|bearer|token|digest|negotiate|ntlm|apikey|api-token|sso-key|aws4-hmac-sha256|key)[ \t]{1,5})?"
         r"(?P<secret>[^\s\"'`<>&]{6,1024}(?:,[ \t]{0,2}[a-z]{1,20}=[^\s\"'`<>&]{1,1024}){0,8})",
         check=_tokenish, icase=True, anchored=True, keywords=("authorization",), description="Authorization / Proxy-Authorization header values"),
    Rule("bearer_token", r"bearer[ \t]{1,3}(?P<secret>[a-z0-9\-._~+/]{8,4096}=*)", check=_tokenish, icase=True,
         boundary=True, anchored=True, keywords=("bearer",), description="Bearer tokens"),
    Rule("basic_auth", r"basic[ \t]{1,3}(?P<secret>[a-z0-9+/]{6,2048}+={0,2}+)(?![a-z0-9+/=])",
         check=_basic_check, icase=True, boundary=True, anchored=True, keywords=("basic",),
         description="HTTP Basic credentials (base64 of user:password)"),
    Rule("cookie", r"cookie[ \t]{0,3}:[ \t]{0,3}(?P<secret>[^\r\n\"<>]{4,4096})", icase=True, boundary=True,
         anchored=True, keywords=("cookie",), description="Cookie / Set-Cookie header values"),
)

#: Rules tried after the vendor tokens: values named like secrets, options, curl, entropy.
NAMED_RULES: tuple[Rule, ...] = (
    Rule("url_query_credential",
         r"[?&](?:amp;)?(?:key|sig|auth|signature|x-amz-signature|x-goog-signature|code|apikey)=(?P<secret>[^\s&#\"'<>]{6,2048})",
         icase=True, keywords=("key=", "sig=", "auth=", "signature=", "code="),
         description="credentials in URL query strings (key=, sig=, signature=, X-Amz-Signature=, code=)"),
    *_assignment_rules(),
    Rule("secret_assignment",
         rf"(?P<name>password[\w.\-]{{0,24}}+){AROUND}{{0,12}}+{SEP}(?:{AROUND}|=){{0,16}}{Q}(?P<secret>[a-z0-9=_\-]{{8,64}}){Q}",
         check=_value_check, icase=True, anchored=True, keywords=("password",), after=NAME_FOLLOW,
         description="a quoted password after stray quotes and spaces (Terraform/HCL style)"),
    Rule("cli_password_flag",
         r"-(?<![\w-]-)-?(?:password|passwd|pass|token|api-key|secret|client-secret)(?:=|[ \t]{1,3})"
         r"(?P<secret>[^\s\"'<>\-][^\s\"'<>]{3,512})",
         check=_value_check, icase=True, keywords=("pass", "token", "api-key", "secret"),
         description="command-line options like --password X / --token=X"),
    Rule("curl_credential", r"(?<![\w-])(?:-u|--user)(?:=|[ \t]{0,5})" + _CURL_VALUE, check=_curl_user_check,
         keywords=("curl",), description="user:password given to curl -u/--user"),
    Rule("curl_credential",
         r"(?:-h|--header)(?:=|[ \t]{0,5})" + Q + r"(?:authorization[ \t]{0,5}:[ \t]{0,5}(?:(?:basic|bearer|token|api-token)[ \t]{1,5})?"
         r"|(?:x-(?:[a-z]{1,20}-)?)?(?:api-?)?(?:key|token|secret)[ \t]{0,5}:[ \t]{0,5})(?P<secret>[\w=~@.+/\-]{8,1024})",
         check=_header_check, icase=True, keywords=("curl",), description="key/token headers given to curl -H"),
    Rule("nuget_password",
         r"add key=(?:\\?\"|&quot;)(?:cleartext)?password(?:\\?\"|&quot;)\s{0,8}value=(?:\\?\"|&quot;)"
         r"(?P<secret>(?:(?!&quot;)[^\"\\\r\n]){1,512})",
         icase=True, anchored=True, keywords=("add key=",), description="passwords in NuGet.config"),
    *SERVICE_RULES,
    Rule("kubernetes_secret",
         r"data:(?s:.){0,100}?\s(?P<name>[\w.\-]{1,64}):(?:[ \t]{0,64}+(?:\||>[-+]?|&gt;[-+]?)\s{1,64}+)?[ \t]{0,64}+" + Q + "?"
         r"(?P<secret>[a-z0-9+/]{10,8192}+={0,3})",
         check=_k8s_check, icase=True, anchored=True, keywords=("data:",), reach=400,
         description="values under data: in a Kubernetes Secret (base64)"),
    *(Rule("generic_secret",
           rf"(?P<name>{word}[\w.\-]{{0,24}}+)(?P<pre>{AROUND}{{0,12}}+)(?P<sep>{SEP})(?:{AROUND}|=){{0,16}}+"
           r"(?P<secret>[\w.=\-+/~]{10,150}+)",
           check=_generic_check, icase=True, anchored=True, keywords=(word,), after=NAME_FOLLOW,
           description="a random-looking value (entropy >= 3.5 bits) next to a secret-like word (token=, key:, password...)")
      for word in ("access", "auth", "api", "credential", "creds", "key", "passwd", "password", "secret", "token")),
)

#: The built-in rules. Where spans of several rules overlap, the earliest rule names the union.
BUILTIN_RULES: tuple[Rule, ...] = CORE_RULES + PREFIXED_RULES + NAMED_RULES

__all__ = ["Rule", "BUILTIN_RULES", "CORE_RULES", "NAMED_RULES", "SECRET_NAME_WORDS", "secret_name", "secret_value"]
