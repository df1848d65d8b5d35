"""The built-in redaction rules: what a credential looks like in logs, queries, errors and HTML.

Each :class:`Rule` is a regular expression with a ``kind`` (the ``[REDACTED:kind]`` label).
When the pattern has groups named ``secret`` (or ``secret_<anything>``), only the text of
those groups is replaced and the context (``password=``, ``Bearer ``, ``user:``...) is kept;
otherwise the whole match is replaced. An optional ``check(secret, groups) -> bool`` rejects
matches that only look like secrets (``password: true``, ``token_count=12``, ``Bearer of``).

Speed: every rule is run on its own, so a pattern that *starts with a literal* is found at
memchr speed (Python's ``re`` skips ahead to that literal). ``icase=True`` rules are run on a
lower-cased copy of the text (write them in lower case). A check also sees ``groups["_before"]``, the name characters
(letters, digits, ``_.-``) just before the match. ``boundary=True`` rejects a match
that starts right after a letter, digit or ``_`` (a cheap ``\\b`` that keeps the literal first).
All repetitions are bounded, so no rule can go quadratic on a hostile 1 MB line.
The rules match raw text and its HTML- and JSON-escaped forms.
"""

from __future__ import annotations

import base64
import binascii
import re
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

    @property
    def label(self) -> str:
        """Return the text that replaces a match of this rule."""
        return self.replacement if self.replacement is not None else f"[REDACTED:{self.kind}]"


# Quotes as they appear raw, JSON-escaped and HTML-escaped (lower case: used by icase rules).
_Q = r"""(?:\\?"|'|\\?&quot;|&\#34;|&\#x22;|&\#39;|&\#x27;|&apos;)"""

#: Words that, inside a variable/key/field name, say its value is a secret (case-insensitive).
SECRET_NAME_WORDS = (
    r"passw(?:or)?d|passphrase|pwd|secret|token|api[_.\-]?key|apikey|private[_.\-]?key|"
    r"credentials?|access[_.\-]?key|auth[_.\-]?key|account[_.\-]?key|shared[_.\-]?access[_.\-]?key|"
    r"session[_.\-]?(?:id|key|token)|signing[_.\-]?key|encryption[_.\-]?key|master[_.\-]?key|"
    r"client[_.\-]?secret|webhook[_.\-]?url|cookie"
)
_NAME_RE = re.compile(rf"(?i)(?:{SECRET_NAME_WORDS})")

# Name endings that say the value is *about* a secret, not the secret itself.
_NOT_SECRET_SUFFIX = re.compile(
    r"(?i)(?:^|[_.\-])(?:count|counts|len|length|size|limit|max|min|type|types|kind|expires?|expiry|"
    r"expires_at|expires_in|ttl|age|at|ref|file|path|dir|name|env|header|policy|algo|algorithm|"
    r"hash|required|set|changed|reset|timeout|enabled|rotation|rotated|version|usage|used|"
    r"endpoint|uri|source|format|prompt|field|label|hint|strength|attempts?|error|errors|status)$"
)
_HARMLESS_VALUE = re.compile(
    r"(?i)^(?:|true|false|yes|no|on|off|none|null|nil|undefined|n/?a|\*+|x+|<[^>]*>|\$\{?[\w.]+\}?|"
    r"%\([\w]+\)s|%s|\{\{?[^}]*\}?\}|\[REDACTED[^\]]*\]?|(?:env|file):[^\s]+|\d{1,4}|-?\d+\.\d+|"
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
    return bool(_NAME_RE.search(name)) and not _NOT_SECRET_SUFFIX.search(name)


def secret_value(value: str) -> bool:
    """Return True when ``value`` could be a secret (not empty, a flag, a placeholder or a reference)."""
    return not _HARMLESS_VALUE.match(value.strip().strip("\"'"))


def _assignment_check(text: str, groups: dict[str, str | None]) -> bool:
    name = groups.get("name") or ""
    if name[:3].lower() == "key":  # "key" alone is too common (cache keys): needs api_key, private-key...
        name = (groups.get("_before") or "") + name
        if not _NAME_RE.search(name):
            return False
    if _NOT_SECRET_SUFFIX.search(name):
        return False
    return secret_value(text)


def _value_check(text: str, groups: dict[str, str | None]) -> bool:
    return secret_value(text)


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
    return not text.isdigit() and secret_value(text)


_SEP = r"[ \t]{0,3}(?:=>|:=|=|:)[ \t]{0,3}"
_VALUE = (
    r"(?:\\\"(?P<secret_e>(?:[^\"\\\r\n]|\\[^\"]){1,512}+)\\\""
    r"|\"(?P<secret_d>(?:[^\"\\\r\n]|\\.){1,512}+)\""
    r"|'(?P<secret_s>[^'\r\n]{1,512}+)'"
    r"|\\?&quot;(?P<secret_h>(?:(?!\\?&quot;)[^<\r\n]){1,512}+)\\?&quot;"
    r"|&\#(?:39|x27);(?P<secret_a>(?:(?!&\#(?:39|x27);)[^<\r\n]){1,512}+)&\#(?:39|x27);"
    r"|(?P<secret_b>[^\s\"'`<>,;&(){}\[\]\\]{1,512}+)(?![(\[]))"
)


def _assignment_rules() -> tuple[Rule, ...]:
    """NAME (maybe quoted/escaped) then = : => := then a quoted or bare value, one rule per keyword."""
    keywords = (
        r"passw(?:or)?d", "passphrase", r"pwd(?!=/)", "secret", "token", "credential",
        r"key(?<=[a-z_.\-]key)", r"session[_.\-]?(?:id|key|token)", r"webhook[_.\-]?url", "cookie",
    )
    desc = ("value of a variable, key, header, option or JSON field named like SECRET/TOKEN/PASSWORD/"
            "PASSWD/PWD/API_KEY/PRIVATE_KEY/CREDENTIAL/ACCESS_KEY/SESSION_ID/COOKIE")
    return tuple(
        Rule("secret_assignment", rf"(?P<name>{kw}[a-z0-9_.\-]{{0,64}}+){_Q}?{_SEP}{_VALUE}",
             check=_assignment_check, icase=True, description=desc)
        for kw in keywords
    )


_PEM_END = r"-----END[A-Z0-9 ]{0,30} PRIVATE KEY(?: BLOCK)?-----"

#: The built-in rules. Where spans of several rules overlap, the earliest rule names the union.
BUILTIN_RULES: tuple[Rule, ...] = (
    Rule("private_key",
         r"-----BEGIN[A-Z0-9 ]{0,30} PRIVATE KEY(?: BLOCK)?-----"
         rf"(?:[A-Za-z0-9+/=:,. \t\r\n]|\\[nr]|-(?!----)){{0,20000}}+(?:{_PEM_END})?",
         description="PEM/OpenSSH/PGP private key blocks (also cut-off ones)"),
    Rule("url_password",
         r"://(?<=[A-Za-z0-9+.\-]://)[^\s:/@\"'<>]{0,256}+:(?P<secret>[^\s/\"'<>@]{1,512}+(?:@[^\s/\"'<>@]{1,512}+){0,8})@(?=[^\s/\"'<>@])",
         check=_url_password_check, description="password in a URL (scheme://user:PASSWORD@host)"),
    Rule("jwt", r"eyJ(?<![A-Za-z0-9_\-]eyJ)[A-Za-z0-9_\-]{8,300}+\.eyJ[A-Za-z0-9_\-]{8,8192}+\.[A-Za-z0-9_\-]{0,4096}+", boundary=True,
         description="JSON Web Tokens"),
    Rule("authorization",
         "authorization" + _Q + r"?[ \t]{0,3}[:=][ \t]{0,3}" + _Q +
         r"?(?:(?P<scheme>basic|bearer|token|digest|negotiate|ntlm|apikey|sso-key|aws4-hmac-sha256|key)[ \t]{1,3})?"
         r"(?P<secret>[^\s\"'`<>&]{6,1024}(?:,[ \t]{0,2}[a-z]{1,20}=[^\s\"'`<>&]{1,1024}){0,8})",
         check=_tokenish, icase=True, description="Authorization / Proxy-Authorization header values"),
    Rule("bearer_token", r"bearer[ \t]{1,3}(?P<secret>[a-z0-9\-._~+/]{8,4096}=*)", check=_tokenish, icase=True,
         boundary=True, description="Bearer tokens"),
    Rule("basic_auth", r"basic[ \t]{1,3}(?P<secret>[a-z0-9+/]{6,2048}+={0,2}+)(?![a-z0-9+/=])",
         check=_basic_check, icase=True, boundary=True, description="HTTP Basic credentials (base64 of user:password)"),
    Rule("cookie", r"cookie[ \t]{0,3}:[ \t]{0,3}(?P<secret>[^\r\n\"<>]{4,4096})", icase=True, boundary=True,
         description="Cookie / Set-Cookie header values"),
    Rule("aws_access_key_id", r"(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|APKA)[A-Z0-9]{16}(?![A-Za-z0-9])",
         boundary=True, description="AWS access key IDs"),
    *(Rule("stripe_key", rf"{p}_(?:live|test)_[0-9A-Za-z]{{10,99}}+(?![0-9A-Za-z])", boundary=True,
           description="Stripe API keys") for p in ("sk", "rk", "pk")),
    Rule("stripe_webhook_secret", r"whsec_[0-9A-Za-z+/=]{20,100}", boundary=True, description="Stripe webhook secrets"),
    Rule("slack_token", r"xox[abposre]-[0-9A-Za-z\-]{10,250}", boundary=True, description="Slack tokens"),
    Rule("slack_app_token", r"xapp-\d-[A-Z0-9]{1,20}-\d{1,20}-[a-f0-9]{20,100}", boundary=True,
         description="Slack app-level tokens"),
    Rule("slack_webhook", r"hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9/_\-]{20,200}",
         description="Slack incoming webhook URLs"),
    Rule("github_token", r"(?:gh[pousr]_[A-Za-z0-9]{36,255}+|github_pat_[A-Za-z0-9_]{22,255}+)(?![A-Za-z0-9_])",
         boundary=True, description="GitHub tokens (classic and fine-grained)"),
    Rule("gitlab_token", r"gl(?:pat|dt|rt|ptt|ft|soat|cbt|oas|imt|agent)-[A-Za-z0-9_\-]{20,255}", boundary=True,
         description="GitLab personal, deploy, runner and other tokens"),
    Rule("gitlab_token", r"GR1348941[A-Za-z0-9_\-]{20,255}", boundary=True, description="GitLab runner registration tokens"),
    Rule("google_api_key", r"AIza[0-9A-Za-z_\-]{35}(?![0-9A-Za-z_\-])", boundary=True, description="Google API keys"),
    Rule("google_oauth", r"GOCSPX-[A-Za-z0-9_\-]{28}", boundary=True, description="Google OAuth client secrets"),
    Rule("google_oauth", r"ya29\.[0-9A-Za-z_\-]{20,2048}", boundary=True, description="Google OAuth access tokens"),
    Rule("twilio_key", r"SK[0-9a-fA-F]{32}(?![0-9A-Za-z])", boundary=True, description="Twilio API keys"),
    Rule("sendgrid_key", r"SG\.[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43}(?![A-Za-z0-9_\-])", boundary=True,
         description="SendGrid API keys"),
    Rule("npm_token", r"npm_[A-Za-z0-9]{36}(?![A-Za-z0-9])", boundary=True, description="npm access tokens"),
    Rule("pypi_token", r"pypi-AgE[A-Za-z0-9_\-]{50,1024}", boundary=True, description="PyPI API tokens"),
    Rule("openai_key",
         r"sk-(?:(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{20,200}T3BlbkFJ[A-Za-z0-9_\-]{20,200}|(?:proj|svcacct|admin)-[A-Za-z0-9_\-]{40,300})",
         boundary=True, description="OpenAI API keys"),
    Rule("anthropic_key", r"sk-ant-(?:api|admin)\d\d-[A-Za-z0-9_\-]{80,200}", boundary=True,
         description="Anthropic API keys"),
    Rule("huggingface_token", r"hf_[A-Za-z]{34}(?![A-Za-z0-9])", boundary=True, description="Hugging Face tokens"),
    Rule("digitalocean_token", r"do[por]_v1_[a-f0-9]{64}", boundary=True, description="DigitalOcean tokens"),
    Rule("vault_token", r"hv[sbr]\.[A-Za-z0-9_\-]{24,512}", boundary=True, description="HashiCorp Vault tokens"),
    Rule("databricks_token", r"dapi[a-f0-9]{32}(?:-\d)?(?![A-Za-z0-9])", boundary=True, description="Databricks tokens"),
    Rule("shopify_token", r"shp(?:at|ss|ca|pa)_[a-fA-F0-9]{32}", boundary=True, description="Shopify tokens"),
    Rule("mailgun_key", r"key-[0-9a-f]{32}(?![0-9a-z])", boundary=True, description="Mailgun API keys"),
    Rule("mailchimp_key", r"-us(?<=(?<![0-9A-Za-z])(?P<secret>[0-9a-f]{32})-us)\d{1,2}(?![0-9A-Za-z])",
         description="Mailchimp API keys (the 32 hex digits before -usN)"),
    Rule("square_token", r"sq0(?:atp-[0-9A-Za-z_\-]{22,43}|csp-[0-9A-Za-z_\-]{43})", boundary=True,
         description="Square access tokens and application secrets"),
    Rule("square_token", r"EAAA[A-Za-z0-9_\-+]{60}(?![A-Za-z0-9_\-+])", boundary=True, description="Square access tokens"),
    Rule("telegram_bot_token", r":AA(?<=\d:AA)[0-9A-Za-z_\-]{33}(?![0-9A-Za-z_\-])",
         description="Telegram bot tokens (the secret half after the bot id)"),
    Rule("newrelic_key", r"NR(?:AK|II|JS)-[A-Za-z0-9]{19,32}+(?![A-Za-z0-9])", boundary=True, description="New Relic keys"),
    Rule("grafana_token", r"gl(?:sa|c)_[A-Za-z0-9_=+/\-]{32,512}", boundary=True,
         description="Grafana service-account and cloud tokens"),
    Rule("postman_key", r"PMAK-[a-f0-9]{24}-[a-f0-9]{34}", boundary=True, description="Postman API keys"),
    Rule("age_secret_key", r"AGE-SECRET-KEY-1[0-9A-Z]{58}", boundary=True, description="age encryption secret keys"),
    Rule("url_query_credential",
         r"[?&](?:amp;)?(?:key|sig|auth|signature|x-amz-signature|x-goog-signature|code|apikey)=(?P<secret>[^\s&#\"'<>]{6,2048})",
         icase=True, description="credentials in URL query strings (key=, sig=, signature=, X-Amz-Signature=, code=)"),
    *_assignment_rules(),
    Rule("cli_password_flag",
         r"-(?<![\w-]-)-?(?:password|passwd|pass|token|api-key|secret|client-secret)(?:=|[ \t]{1,3})"
         r"(?P<secret>[^\s\"'<>\-][^\s\"'<>]{3,512})",
         check=_value_check, icase=True, description="command-line options like --password X / --token=X"),
)

__all__ = ["Rule", "BUILTIN_RULES", "SECRET_NAME_WORDS", "secret_name", "secret_value"]
