"""A corpus of realistic fake credentials, each in the context it shows up in (log line, header,
connection string, JSON field...). Shared by the redaction unit tests and the end-to-end
seeded-secrets test. Every value is fresh random text of the right shape, so a test can grep
for it byte for byte and be sure any hit is a leak, not a coincidence.
"""

from __future__ import annotations

import base64
import random
import string
from dataclasses import dataclass

ALNUM = string.ascii_letters + string.digits
HEX = "0123456789abcdef"
UPPER_NUM = string.ascii_uppercase + string.digits
B64 = ALNUM + "+/"
URLSAFE = ALNUM + "-_"


@dataclass(frozen=True)
class Secret:
    """One planted secret: its ``kind``, the exact ``value`` that must never leak, and a ``line``
    of realistic context that contains it."""

    kind: str
    value: str
    line: str


def _r(rng: random.Random, alphabet: str, n: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def _mixed(rng: random.Random, n: int) -> str:
    """Random alphanumerics with at least one digit, one lower and one upper letter."""
    core = _r(rng, ALNUM, n - 3)
    return core + rng.choice(string.digits) + rng.choice(string.ascii_lowercase) + rng.choice(string.ascii_uppercase)


def _jwt(rng: random.Random) -> str:
    def seg(obj: str) -> str:
        return base64.urlsafe_b64encode(obj.encode()).decode().rstrip("=")
    header = seg('{"alg":"HS256","typ":"JWT"}')
    payload = seg('{"sub":"' + _r(rng, HEX, 12) + '","role":"admin"}')
    return f"{header}.{payload}.{_r(rng, URLSAFE, 43)}"


def _pem(rng: random.Random, label: str) -> tuple[str, str]:
    body = "\n".join(_r(rng, B64, 64) for _ in range(6))
    return body, f"-----BEGIN {label}-----\n{body}\n-----END {label}-----"


def corpus(seed: int | None = None) -> list[Secret]:
    """Return at least 40 secrets of distinct kinds, each with a line of context."""
    rng = random.Random(seed)
    out: list[Secret] = []

    def add(kind: str, value: str, template: str) -> None:
        out.append(Secret(kind, value, template.replace("{s}", value)))

    add("url_password", "Pg-" + _mixed(rng, 14), "connecting to postgresql://shop_app:{s}@db.internal:5432/shop failed: timeout")
    add("redis_url_password", _mixed(rng, 20), "REDIS_URL=redis://:{s}@cache-1.internal:6379/0")
    add("authorization_bearer", _mixed(rng, 32), "upstream request headers: Authorization: Bearer {s}")
    add("bearer_token", _r(rng, URLSAFE, 40) + "9", "retrying with bearer {s} after 401")
    add("basic_auth", base64.b64encode(f"svc-deploy:{_mixed(rng, 16)}".encode()).decode(), "curl -H 'Authorization: Basic {s}' https://api.internal/health")
    add("aws_access_key_id", "AKIA" + _r(rng, UPPER_NUM, 16), "boto3: using access key {s} from instance profile")
    add("aws_secret_access_key", _r(rng, ALNUM + "/+", 40), "aws_secret_access_key = {s}")
    add("stripe_secret_key", "sk_live_" + _mixed(rng, 24), "stripe charge failed key={s} status=402")
    add("stripe_restricted_key", "rk_live_" + _mixed(rng, 24), "payments worker started with {s}")
    add("stripe_webhook_secret", "whsec_" + _mixed(rng, 32), "webhook signing secret loaded: {s}")
    add("slack_bot_token", f"xoxb-{_r(rng, string.digits, 12)}-{_r(rng, string.digits, 13)}-{_mixed(rng, 24)}", "slack notify via {s} returned ok=false")
    add("slack_user_token", f"xoxp-{_r(rng, string.digits, 12)}-{_r(rng, string.digits, 12)}-{_r(rng, string.digits, 13)}-{_r(rng, HEX, 32)}", "legacy token {s} revoked")
    add("slack_webhook", f"T{_r(rng, UPPER_NUM, 8)}/B{_r(rng, UPPER_NUM, 10)}/{_mixed(rng, 24)}", "POST https://hooks.slack.com/services/{s} -> 404")
    add("github_token", "ghp_" + _mixed(rng, 36), "git clone https://github.com/acme/shop.git using {s}")
    add("github_fine_grained", "github_pat_" + _r(rng, ALNUM + "_", 82), "GH_PAT {s} expires soon")
    add("gitlab_token", "glpat-" + _r(rng, URLSAFE, 20), "gitlab api 401 for token {s}")
    add("google_api_key", "AIza" + _r(rng, URLSAFE, 35), "maps geocode called with {s}")
    add("google_oauth_token", "ya29." + _r(rng, URLSAFE, 60), "gcs upload auth {s}")
    add("google_client_secret", "GOCSPX-" + _r(rng, URLSAFE, 28), "oauth client configured ({s})")
    add("twilio_api_key", "SK" + _r(rng, HEX, 32), "twilio sms sid=SM123 api key {s}")
    add("sendgrid_key", f"SG.{_r(rng, URLSAFE, 22)}.{_r(rng, URLSAFE, 43)}", "mailer: sendgrid key {s} rejected")
    add("npm_token", "npm_" + _mixed(rng, 36), "//registry.npmjs.org/:_authToken={s}")
    add("pypi_token", "pypi-AgEIcHlwaS5vcmc" + _r(rng, URLSAFE, 60), "twine upload -p {s}")
    add("jwt", _jwt(rng), "auth middleware: rejected session {s} (expired)")
    body, pem = _pem(rng, "RSA PRIVATE KEY")
    add("pem_rsa_private_key", body, "loaded key:\n" + pem.replace(body, "{s}") + "\nfrom /etc/tls")
    body2, pem2 = _pem(rng, "OPENSSH PRIVATE KEY")
    add("openssh_private_key", body2, "deploy key " + pem2.replace(body2, "{s}"))
    add("libpq_password", _mixed(rng, 16), "conninfo: host=db.internal port=5432 user=shop password={s} dbname=shop sslmode=require")
    add("ado_password", _mixed(rng, 18), "Server=sql.internal;Database=shop;User Id=app;Password={s};Encrypt=true")
    add("json_client_secret", _mixed(rng, 30), '{"client_id": "shop-web", "client_secret": "{s}", "scopes": ["read"]}')
    add("env_db_password", _mixed(rng, 16), "DB_PASSWORD={s}")
    add("yaml_api_key", _mixed(rng, 32), "api_key: {s}")
    add("header_api_key", _mixed(rng, 32), "X-Api-Key: {s}")
    add("cookie_session", _mixed(rng, 40), "Cookie: sessionid={s}; theme=dark")
    add("python_private_key_var", _mixed(rng, 48), 'PRIVATE_KEY = "{s}"')
    add("credentials_field", _mixed(rng, 28), "'credentials': '{s}'")
    add("openai_key", "sk-proj-" + _r(rng, URLSAFE, 48), "llm summariser: openai key {s} quota exceeded")
    add("anthropic_key", "sk-ant-api03-" + _r(rng, URLSAFE, 93) + "AA", "claude client init {s}")
    add("huggingface_token", "hf_" + _r(rng, string.ascii_letters, 34), "model pull with {s}")
    add("digitalocean_token", "dop_v1_" + _r(rng, HEX, 64), "doctl auth init -t {s}")
    add("vault_token", "hvs." + _r(rng, URLSAFE, 90), "VAULT_TOKEN {s} lease renewed")
    add("databricks_token", "dapi" + _r(rng, HEX, 32), "databricks job submit {s}")
    add("shopify_token", "shpat_" + _r(rng, HEX, 32), "shopify admin api {s}")
    add("mailgun_key", "key-" + _r(rng, HEX, 32), "mailgun domain verify with {s}")
    add("mailchimp_key", _r(rng, HEX, 32), "mailchimp list sync {s}-us14 ok")
    add("square_token", "sq0atp-" + _r(rng, URLSAFE, 22), "square payments {s}")
    add("telegram_bot_token", "AA" + _r(rng, URLSAFE, 33), "telegram alert bot 123456789:{s} sent")
    add("newrelic_key", "NRAK-" + _r(rng, UPPER_NUM, 27), "newrelic insert {s}")
    add("grafana_token", "glsa_" + _r(rng, ALNUM, 32) + "_" + _r(rng, HEX, 8), "grafana annotation api {s}")
    add("postman_key", f"PMAK-{_r(rng, HEX, 24)}-{_r(rng, HEX, 34)}", "newman run --postman-api-key {s}")
    add("age_secret_key", "AGE-SECRET-KEY-1" + _r(rng, UPPER_NUM, 58), "sops: age identity {s}")
    add("s3_presigned_signature", _r(rng, HEX, 64), "GET https://bucket.s3.amazonaws.com/x.tar?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature={s}")
    add("cli_password_flag", _mixed(rng, 14), "pg_dump --password {s} shop")
    add("query_token_param", _mixed(rng, 32), "GET /api/export?format=csv&access_token={s} 200")
    return out


__all__ = ["Secret", "corpus"]
