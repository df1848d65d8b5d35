"""Vendor credential rules: tokens with a recognisable prefix, and keys named after a service.

Two families, both written for the keyword prefilter of :mod:`incident_kit.redact`:

* :data:`PREFIXED_RULES`: a token that announces itself (``ghp_``, ``xoxb-``, ``dp.pt.``,
  ``AKIA``...). The prefix is the rule's keyword, so the rule only runs on lines holding it.
* :data:`SERVICE_RULE`: ``<name containing a service word> <separator> <token>``
  (``DATADOG_API_KEY=...``, ``"twitter_secret": "..."``, ``heroku.key: ...``), for the many
  services whose keys have no prefix of their own. The value must look random
  (:func:`token_like`), so ``datadog_site = datadoghq.eu`` stays.
"""

from __future__ import annotations

import re

from .redact_base import NAME_FOLLOW, Rule, shaped_token, token_like

_B64 = r"A-Za-z0-9+/"
_URLSAFE = r"A-Za-z0-9_\-"


def _tok(kind: str, prefix: str, body: str, description: str, *, keywords: tuple[str, ...] | None = None,
         case_keywords: tuple[str, ...] = (), icase: bool = False, boundary: bool = True) -> Rule:
    """A token rule: literal ``prefix`` then ``body``; the prefix (lower-cased) is the keyword."""
    lead = f"(?i:{re.escape(prefix)})" if icase else re.escape(prefix)
    kws = keywords if keywords is not None else (() if case_keywords else (prefix.lower(),))
    return Rule(kind, lead + body, boundary=boundary, description=description,
                keywords=kws, case_keywords=case_keywords, anchored=not case_keywords)


_AWS_PREFIXES = ("AKIA", "ASIA", "ABIA", "ACCA", "AGPA", "AIDA", "AROA", "AIPA", "ANPA", "ANVA", "APKA", "A3T")

#: Tokens that carry their vendor's prefix. The earliest rule names a span (see redact_rules).
PREFIXED_RULES: tuple[Rule, ...] = (
    Rule("aws_access_key_id", r"(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|APKA|A3T[A-Z0-9])[A-Z0-9]{16}(?![A-Za-z0-9])",
         boundary=True, case_keywords=_AWS_PREFIXES, description="AWS access key IDs"),
    _tok("aws_bedrock_key", "ABSK", rf"[{_B64}]{{100,400}}={{0,2}}", "Amazon Bedrock long-lived API keys", case_keywords=("ABSK",)),
    _tok("aws_bedrock_key", "bedrock-api-key-", rf"[{_B64}=]{{20,4096}}", "Amazon Bedrock short-lived API keys"),
    _tok("onepassword_key", "A3-", r"[A-Z0-9]{6}-(?:[A-Z0-9]{11}|[A-Z0-9]{6}-[A-Z0-9]{5})-[A-Z0-9]{5}-[A-Z0-9]{5}-[A-Z0-9]{5}",
         "1Password secret keys", icase=True),
    _tok("onepassword_key", "ops_eyJ", rf"[{_B64}]{{100,8192}}={{0,3}}", "1Password service account tokens"),
    _tok("adobe_secret", "p8e-", r"[A-Za-z0-9]{32}", "Adobe client secrets", icase=True),
    _tok("airtable_token", "pat", r"[A-Za-z0-9]{14}\.[a-f0-9]{64}", "Airtable personal access tokens"),
    _tok("alibaba_key", "LTAI", r"[A-Za-z0-9]{20}", "Alibaba Cloud access key IDs", icase=True),
    _tok("anthropic_key", "sk-ant-", r"(?:api|admin)\d\d-[A-Za-z0-9_\-]{80,200}", "Anthropic API keys"),
    _tok("artifactory_key", "AKCp", r"[A-Za-z0-9]{60,80}", "JFrog Artifactory API keys"),
    _tok("artifactory_key", "cmVmd", r"[A-Za-z0-9]{50,70}", "JFrog Artifactory reference tokens"),
    _tok("atlassian_token", "ATATT3", r"[A-Za-z0-9_\-=]{150,250}", "Atlassian API tokens"),
    Rule("authress_key", r"(?:sc|ext|scauth|authress)_[A-Za-z0-9]{5,30}\.[A-Za-z0-9]{4,6}\.acc[_\-][A-Za-z0-9\-]{10,32}\.[A-Za-z0-9+/_=\-]{30,120}",
         boundary=True, keywords=(".acc_", ".acc-"), description="Authress service client access keys"),
    Rule("azure_client_secret", r"(?<![A-Za-z0-9_~.])[A-Za-z0-9_~.]{3}\dQ~[A-Za-z0-9_~.\-]{31,40}",
         case_keywords=("Q~",), description="Azure AD client secrets"),
    _tok("clickhouse_key", "4b1d", r"[A-Za-z0-9]{38}(?![A-Za-z0-9])", "ClickHouse Cloud API secret keys"),
    _tok("clojars_token", "CLOJARS_", r"[A-Za-z0-9]{60}", "Clojars deploy tokens", icase=True),
    _tok("cloudflare_key", "v1.0-", r"[a-fA-F0-9]{24}-[a-fA-F0-9]{146}", "Cloudflare origin CA keys"),
    _tok("databricks_token", "dapi", r"[a-fA-F0-9]{32}(?:-\d)?(?![A-Za-z0-9])", "Databricks tokens"),
    Rule("digitalocean_token", r"do[por]_v1_[A-Fa-f0-9]{64}", boundary=True, keywords=("_v1_",), icase=False,
         description="DigitalOcean tokens"),
    Rule("doppler_token", r"dp\.(?:pt|st|sa|ct|scim|audit)\.[A-Za-z0-9_\-]{40,64}", boundary=True, keywords=("dp.",),
         description="Doppler tokens"),
    _tok("duffel_token", "duffel_", r"(?:test|live)_[A-Za-z0-9_\-=]{43}", "Duffel API tokens"),
    _tok("dynatrace_token", "dt0c01.", r"[A-Za-z0-9]{24}\.[A-Za-z0-9]{64}", "Dynatrace API tokens"),
    Rule("easypost_token", r"EZ[AT]K[A-Za-z0-9]{54}", boundary=True, keywords=("ezak", "eztk"), description="EasyPost API keys"),
    Rule("facebook_token", r"EAA[MC][A-Za-z0-9]{100,1024}", boundary=True, case_keywords=("EAAM", "EAAC"),
         description="Facebook page access tokens"),
    Rule("facebook_token", r"(?:\|(?<=\d{15}\|)|%(?<=\d{15}%)(?:7[Cc])?)(?P<secret>[0-9A-Za-z\-_]{27,40})",
         case_keywords=("|", "%"), anchored=True, before="0123456789", before_len=15,
         description="Facebook app access tokens (app id|SECRET)"),
    Rule("flutterwave_key", r"FLW(?:SECK|PUBK)(?:_TEST)?-[A-Za-z0-9]{12,32}(?:-X)?", boundary=True, keywords=("flwseck", "flwpubk"),
         icase=False, description="Flutterwave keys"),
    Rule("flyio_token", r"(?:fo1_[\w\-]{43}|fm1[ar]_[A-Za-z0-9+/]{100,4096}={0,3}|fm2_[A-Za-z0-9+/]{100,4096}={0,3})",
         boundary=True, keywords=("fo1_", "fm1a_", "fm1r_", "fm2_"), description="Fly.io tokens"),
    _tok("frameio_token", "fio-u-", r"[A-Za-z0-9\-_=]{64}", "Frame.io API tokens"),
    _tok("google_api_key", "AIza", r"[\w\-]{35}", "Google API keys"),
    _tok("google_oauth", "GOCSPX-", r"[A-Za-z0-9_\-]{28}", "Google OAuth client secrets"),
    _tok("google_oauth", "ya29.", r"[0-9A-Za-z_\-]{20,2048}", "Google OAuth access tokens"),
    Rule("github_token", r"(?:gh[pousr]_[A-Za-z0-9]{30,255}+|github_pat_\w{22,255}+)", boundary=True,
         keywords=("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"), description="GitHub tokens"),
    Rule("gitlab_token",
         r"gl(?:pat|dt|rt|ptt|ft|soat|cbt|oas|imt|agent|ffct)-[A-Za-z0-9_\-]{20,300}+(?:\.[0-9a-z]{9})?",
         boundary=True, keywords=("glpat-", "gldt-", "glrt-", "glptt-", "glft-", "glsoat-", "glcbt-", "gloas-", "glimt-",
                                  "glagent-", "glffct-"), description="GitLab tokens"),
    _tok("gitlab_token", "GR1348941", r"[\w\-]{20,255}", "GitLab runner registration tokens"),
    _tok("gitlab_token", "_gitlab_session=", r"[0-9A-Za-z]{32}", "GitLab session cookies", boundary=False),
    Rule("grafana_token", r"gl(?:sa|c)_[A-Za-z0-9_=+/\-]{32,512}", boundary=True, keywords=("glsa_", "glc_"),
         description="Grafana service-account and cloud tokens"),
    _tok("grafana_token", "eyJrIjoi", r"[A-Za-z0-9]{60,400}={0,3}", "Grafana API keys"),
    Rule("harness_token", r"(?:pat|sat)\.[A-Za-z0-9_\-]{22}\.[A-Za-z0-9]{24}\.[A-Za-z0-9]{20}", boundary=True,
         keywords=("pat.", "sat."), description="Harness API keys"),
    Rule("terraform_token", r"[A-Za-z0-9]{14}\.atlasv1\.[A-Za-z0-9\-_=]{60,70}", boundary=True, keywords=("atlasv1",),
         description="HashiCorp Terraform API tokens"),
    _tok("heroku_key", "HRKU-AA", r"[0-9A-Za-z_\-]{58}", "Heroku API keys (v2)"),
    _tok("huggingface_token", "hf_", r"[A-Za-z]{34}(?![A-Za-z0-9])", "Hugging Face tokens"),
    _tok("huggingface_token", "api_org_", r"[A-Za-z]{34}(?![A-Za-z0-9])", "Hugging Face organization tokens"),
    _tok("infracost_token", "ico-", r"[A-Za-z0-9]{32}", "Infracost API tokens"),
    _tok("intra42_secret", "s-s4t2", r"(?:ud|af)-[A-Fa-f0-9]{64}", "42 Intra client secrets"),
    Rule("jwt", r"ey[A-Za-z0-9_\-]{10,512}+\.ey[A-Za-z0-9_/\\\-]{10,8192}+(?:\.[A-Za-z0-9_/\\\-]{0,4096}+={0,2})?",
         boundary=True, keywords=(".ey",), description="JSON Web Tokens"),
    _tok("jwt", "ZXlK", r"[A-Za-z0-9/\\_+\-]{40,8192}+={0,2}", "Base64-encoded JSON Web Tokens"),
    _tok("linear_key", "lin_api_", r"[A-Za-z0-9]{40}", "Linear API keys"),
    Rule("lob_key", r"(?:live|test)_(?:pub_)?[A-Fa-f0-9]{31,35}(?![A-Za-z0-9])", boundary=True, keywords=("live_", "test_"),
         description="Lob API keys"),
    Rule("maxmind_key", r"[A-Za-z0-9]{6}_[A-Za-z0-9]{29}_mmk", boundary=True, keywords=("_mmk",),
         description="MaxMind license keys"),
    Rule("teams_webhook", r"\.webhook\.office\.com/webhookb2/[A-Za-z0-9\-@/]{20,400}", keywords=("webhook.office.com",),
         description="Microsoft Teams incoming webhook URLs"),
    _tok("newrelic_key", "NR", r"(?:AK|II|JS)-[A-Za-z0-9\-]{19,32}+", "New Relic keys", keywords=("nrak-", "nrii-", "nrjs-")),
    _tok("notion_token", "ntn_", r"[0-9]{11}[A-Za-z0-9]{35}", "Notion API tokens"),
    _tok("npm_token", "npm_", r"[A-Za-z0-9]{36}(?![A-Za-z0-9])", "npm access tokens", icase=True),
    Rule("octopus_key", r"API-[A-Z0-9]{26}(?![A-Za-z0-9])", boundary=True, case_keywords=("API-",),
         description="Octopus Deploy API keys"),
    Rule("openai_key",
         r"sk-(?:(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{20,200}T3BlbkFJ[A-Za-z0-9_\-]{20,200}|(?:proj|svcacct|admin)-[A-Za-z0-9_\-]{40,300})",
         boundary=True, keywords=("sk-",), description="OpenAI API keys"),
    _tok("openshift_token", "sha256~", r"[\w\-]{43}", "OpenShift user tokens"),
    _tok("perplexity_key", "pplx-", r"[A-Za-z0-9]{48}", "Perplexity API keys"),
    Rule("planetscale_token", r"pscale_(?:tkn|oauth|pw)_[\w=.\-]{32,64}", boundary=True,
         keywords=("pscale_tkn_", "pscale_oauth_", "pscale_pw_"), description="PlanetScale tokens and passwords"),
    _tok("postman_key", "PMAK-", r"[A-Fa-f0-9]{24}-[A-Fa-f0-9]{34}", "Postman API keys", icase=True),
    _tok("prefect_token", "pnu_", r"[A-Za-z0-9]{36}", "Prefect API tokens"),
    _tok("pulumi_token", "pul-", r"[a-fA-F0-9]{40}", "Pulumi API tokens"),
    _tok("pypi_token", "pypi-AgE", r"[A-Za-z0-9_\-]{50,1024}", "PyPI API tokens"),
    _tok("readme_token", "rdme_", r"[A-Za-z0-9]{70}", "ReadMe API tokens"),
    _tok("rubygems_token", "rubygems_", r"[a-fA-F0-9]{48}", "RubyGems API tokens"),
    _tok("scalingo_token", "tk-us-", r"[\w\-]{48}", "Scalingo API tokens"),
    _tok("sendgrid_key", "SG.", r"[A-Za-z0-9=_\-.]{60,80}", "SendGrid API keys"),
    _tok("sendinblue_key", "xkeysib-", r"[a-fA-F0-9]{64}-[A-Za-z0-9]{16}", "Brevo (Sendinblue) API keys"),
    _tok("sentry_token", "sntrys_eyJ", r"[A-Za-z0-9+/=_]{60,1200}", "Sentry organization tokens"),
    _tok("sentry_token", "sntryu_", r"[a-fA-F0-9]{64}", "Sentry user tokens"),
    Rule("settlemint_token", r"sm_(?:aat|pat|sat)_[A-Za-z0-9]{16}", boundary=True, keywords=("sm_aat_", "sm_pat_", "sm_sat_"),
         description="SettleMint access tokens"),
    _tok("shippo_token", "shippo_", r"(?:live|test)_[A-Fa-f0-9]{40}", "Shippo API tokens"),
    Rule("shopify_token", r"shp(?:at|ss|ca|pa)_[a-fA-F0-9]{32}", boundary=True, keywords=("shpat_", "shpss_", "shpca_", "shppa_"),
         description="Shopify tokens"),
    Rule("slack_token", r"xox(?:[abposre]-|e\.xox[bp]-)[0-9a-z\-]{8,250}", boundary=True, keywords=("xox",), icase=True, anchored=True,
         description="Slack tokens"),
    _tok("slack_token", "xapp-", r"\d-[A-Za-z0-9]{1,64}-\d{1,32}-[A-Za-z0-9]{1,200}", "Slack app-level tokens", icase=True),
    Rule("slack_webhook", r"hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9+/_\-]{20,200}", keywords=("hooks.slack.com",),
         description="Slack incoming webhook URLs"),
    Rule("sourcegraph_token", r"sgp_(?:[a-fA-F0-9]{16}|local)_[a-fA-F0-9]{40}|sgp_[a-fA-F0-9]{40}", boundary=True,
         keywords=("sgp_",), description="Sourcegraph access tokens"),
    Rule("sourcegraph_token", r"(?<![A-Za-z0-9])[a-fA-F0-9]{40}(?![A-Za-z0-9])", keywords=("sourcegraph", "sgp_"), near=True,
         description="Sourcegraph access tokens (40 hex digits on a line naming Sourcegraph)"),
    Rule("square_token", r"(?:EAAA|sq0atp-)[\w\-+]{22,80}|sq0csp-[0-9A-Za-z_\-]{43}", boundary=True,
         keywords=("sq0atp-", "sq0csp-"), case_keywords=("EAAA",), description="Square tokens and secrets"),
    *(_tok("stripe_key", f"{p}_", r"(?:live|test|prod)_[0-9A-Za-z]{10,99}+", "Stripe API keys") for p in ("sk", "rk", "pk")),
    _tok("stripe_webhook_secret", "whsec_", r"[0-9A-Za-z+/=]{20,100}", "Stripe webhook secrets"),
    Rule("telegram_bot_token", r":A(?<=\d:A)[0-9A-Za-z_\-]{34}(?![0-9A-Za-z_\-])",
         case_keywords=(":A",), description="Telegram bot tokens (the secret half after the bot id)"),
    Rule("twilio_key", r"SK[0-9a-fA-F]{32}(?![0-9A-Za-z])", boundary=True, case_keywords=("SK",), description="Twilio API keys"),
    _tok("typeform_token", "tfp_", r"[A-Za-z0-9\-_.=]{59}", "Typeform API tokens"),
    Rule("vault_token", r"hv[sbr]\.[A-Za-z0-9_\-]{24,512}", boundary=True, keywords=("hvs.", "hvb.", "hvr."),
         description="HashiCorp Vault tokens"),
    Rule("vault_token", r"s\.[A-Za-z0-9]{24}(?![A-Za-z0-9])", boundary=True,
         case_keywords=tuple(c + "s." for c in " \t\"'=:([{<>,;|`\n"), check=lambda s, g: token_like(s, min_len=20, min_entropy=3.0),
         description="HashiCorp Vault legacy service tokens (s. + 24 characters)"),
    _tok("age_secret_key", "AGE-SECRET-KEY-1", r"[0-9A-Z]{58}", "age encryption secret keys"),
    Rule("mailgun_key", r"(?:key|pubkey)-[0-9a-fA-F]{32}(?![0-9A-Za-z])", boundary=True, keywords=("key-",),
         description="Mailgun API keys"),
    Rule("mailchimp_key", r"-us(?<=(?<![0-9A-Za-z])(?P<secret>[0-9a-fA-F]{32})-us)\d{1,2}(?![0-9A-Za-z])", keywords=("-us",),
         description="Mailchimp API keys (the 32 hex digits before -usN)"),
    _tok("newrelic_key", "NRJS-", r"[a-fA-F0-9]{19}", "New Relic browser keys"),
)

#: Words naming a service whose keys have no prefix of their own (lower case).
SERVICE_WORDS = (
    "adafruit", "adobe", "airtable", "algolia", "alibaba", "asana", "atlassian", "confluence", "jira", "beamer",
    "bitbucket", "bittrex", "meraki", "cloudflare", "codecov", "cohere", "co_api_key", "coinbase", "confluent",
    "contentful", "datadog", "dnkey", "discord", "droneci", "dropbox", "etsy", "facebook", "fastly", "finicity",
    "finnhub", "flickr", "freshbooks", "gitter", "gocardless", "heroku", "hubspot", "intercom", "jfrog",
    "artifactory", "bintray", "xray", "kraken", "kucoin", "launchdarkly", "linear", "linkedin", "linked_in",
    "linked-in", "looker", "mailchimp", "mailgun", "mapbox", "mattermost", "messagebird", "message_bird",
    "message-bird", "netlify", "newrelic", "new_relic", "new-relic", "nytimes", "newyorktimes", "new-york-times,", "new-york-times",
    "okta", "plaid", "privateai", "private_ai", "private-ai", "rapidapi", "sendbird", "sentry", "snyk", "sonar",
    "squarespace", "sumo", "telegr", "travis", "twitch", "twitter", "typeform", "yandex", "zendesk", "contribsys",
    "sourcegraph", "sidekiq", "pagerduty", "opsgenie", "segment", "mixpanel", "auth0", "firebase", "supabase",
)
_SERVICE_VALUE = r"[A-Za-z0-9_\-.+/=~:|%]{8,400}+"


def _service_check(text: str, groups: dict[str, str | None]) -> bool:
    # the name fixes what the value is: a letters-only value counts unless it reads as words
    return shaped_token(text.rstrip(".,:|"), min_len=14, min_entropy=2.5)


#: Quotes and spaces between a name, its separator and its value, raw, JSON- and HTML-escaped.
AROUND = r"""(?:[ \t'"`]|\\"|&quot;|&\#34;|&\#x22;|&\#39;|&\#x27;|&apos;)"""
SEP = r"(?:=>|=&gt;|:{1,3}=|\?=|\|\||&gt;|[=:>,])"

#: One rule per service word (a literal first: found at memchr speed on the lines holding it).
SERVICE_RULES: tuple[Rule, ...] = tuple(
    Rule("service_credential",
         rf"{re.escape(word)}[\w.\-]{{0,24}}+{AROUND}{{0,12}}+{SEP}(?:{AROUND}|=){{0,16}}+(?P<secret>{_SERVICE_VALUE})",
         check=_service_check, icase=True, keywords=(word,), anchored=True, after=NAME_FOLLOW,
         description="a random-looking value of a key named after a service (DATADOG_API_KEY=..., twitter_secret: ...)")
    for word in SERVICE_WORDS
)

__all__ = ["PREFIXED_RULES", "SERVICE_RULES", "SERVICE_WORDS", "AROUND", "SEP"]
