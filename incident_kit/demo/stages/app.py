"""Stages whose fault lives in the shop service itself: a bad deploy, an unset secret, a rotated
JWT secret, a dead process (and the scenarios that reuse the high_error_rate incident)."""

from __future__ import annotations

import json
import os
import random
import signal
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import shop
from ..faults import Fault, on_paths, quiet, with_endpoint
from .base import Stage

if TYPE_CHECKING:
    from .context import StageContext
    from ..history import Story


class HighErrorRate(Stage):
    """Bad deploy v1.8.0 (the :class:`Stage` defaults): checkout NoneType errors, leaked connections."""


class Triage(Stage):
    """Any alert: the high_error_rate incident, for the triage notebook to route."""

    name = "triage"
    user_knows = ("probe_targets",)
    title = "any alert: the high_error_rate incident (bad deploy v1.8.0), to triage"


class Postmortem(Stage):
    """Composes earlier runs: no live incident of its own, the high_error_rate one is staged."""

    name = "postmortem"
    title = "postmortem of the high_error_rate incident (bad deploy v1.8.0)"


# -- bad_deploy: PAYMENT_API_KEY unset -----------------------------------------------------------
PAYMENT_KEY = "PAYMENT_API_KEY"
REQUIRED_CONFIG = ["DATABASE_URL", PAYMENT_KEY, "JWT_SECRET", "REDIS_URL"]


class BadDeploy(Stage):
    """Deploy v1.9.0 reads the payment key from the environment; a config change removed it.

    Live: the service runs v1.9.0 with ``--payment-key-env PAYMENT_API_KEY`` and that variable
    removed from its environment, so every checkout fails "payment failed: PAYMENT_API_KEY is not
    set". The history has the deploy 20 min ago and the config change 30 s before the errors.
    """

    name = "bad_deploy"
    title = "deploy v1.9.0 + config change: PAYMENT_API_KEY unset, every payment call fails"

    def fault(self, env: "StageContext") -> Fault:
        return Fault(
            name="payment_key", version="v1.9.0",
            fail=on_paths(("/api/checkout",), 0.97, 500,
                          lambda rng: f"payment failed: {PAYMENT_KEY} is not set (order {rng.randint(40000, 99999)})"),
            commit_subject="payments: read the provider key from the environment (#501)",
            commit_files={"shop/payments.py": f'import os\n\nAPI_KEY = os.environ.get("{PAYMENT_KEY}")\n'},
            deploy_ago_min=20.0, errors_after_min=8.0,
            config_text=f"{PAYMENT_KEY} removed from the checkout environment (payment secrets moved to vault)",
            config_ref="cfg-2291")

    def service_args(self, env: "StageContext") -> list[str]:
        return ["--payment-key-env", PAYMENT_KEY]

    def service_env(self, env: "StageContext") -> dict[str, str]:
        return {PAYMENT_KEY: ""}

    def parameters(self, env: "StageContext") -> dict[str, Any]:
        config = env.workdir / "config" / "shop-api.env"
        config.parent.mkdir(exist_ok=True)
        present = [k for k in REQUIRED_CONFIG if k != PAYMENT_KEY]
        config.write_text("".join(f"{k}=<set>\n" for k in present) + "LOG_LEVEL=info\n")
        return {"required_config": REQUIRED_CONFIG, "config_file": str(config),
                "app_logs": [str(env.workdir / "logs" / "app.log")]}

    def inject(self, env: "StageContext") -> None:
        env.story.facts.update(missing_config=PAYMENT_KEY, version="v1.9.0")

    def expected(self, env: "StageContext") -> tuple[str, list[str]]:
        return "config", [PAYMENT_KEY]


# -- auth_failures: JWT secret rotated on one side ------------------------------------------------
def _auth_log_from_access(logdir: Path, story: "Story", rng: random.Random) -> None:
    """Write ``auth.log``: one record per login request of the access log history."""
    with open(logdir / "access.log", encoding="utf-8") as access, open(logdir / "auth.log", "w", encoding="utf-8") as out:
        for line in access:
            rec = json.loads(line)
            if rec.get("path") != "/api/login":
                continue
            msg = rec["message"] if int(rec["status"]) >= 400 else None
            out.write(json.dumps({"timestamp": rec["timestamp"],
                                  **shop.auth_record(int(rec["status"]), msg, rec["client"], rec["user_id"])},
                                 separators=(",", ":")) + "\n")


class AuthFailures(Stage):
    """JWT_SECRET rotated on shop-api while the token issuer still signs with the old key.

    Live: the service checks tokens against the new secret (``--jwt-secret-file``); the traffic's
    clients sign with the old one (10% already hold fresh tokens), so most logins get 401
    "login failed: invalid token signature", logged to the access, app and auth logs.
    """

    name = "auth_failures"
    title = "JWT secret rotated on shop-api only: logins fail with 401 invalid token signature"
    endpoints = with_endpoint("POST", "/api/login", 0.15, 35.0)

    def prepare(self, env: "StageContext") -> None:
        secrets = env.workdir / "secrets"
        self.old_secret, self.new_secret = os.urandom(16).hex(), os.urandom(16).hex()
        (secrets / "jwt_secret").write_text(self.new_secret + "\n")

    def fault(self, env: "StageContext") -> Fault:
        return quiet("jwt", on_paths(("/api/login",), 0.9, 401, shop.AUTH_MESSAGE), errors_ago_min=10.0,
                     config_text="JWT_SECRET rotated for login tokens (key id 2026-11); "
                                 "auth.shop.example still signs with the previous key",
                     config_ref="cfg-2307", config_before_errors_min=0.3, endpoints=self.endpoints,
                     extra=_auth_log_from_access,
                     logger=lambda path, msg: "auth" if "login" in path else ("checkout" if "checkout" in path else "http"))

    def service_args(self, env: "StageContext") -> list[str]:
        return ["--jwt-secret-file", str(env.workdir / "secrets" / "jwt_secret"),
                "--auth-log", str(env.workdir / "logs" / "auth.log")]

    def traffic(self, env: "StageContext") -> dict[str, Any]:
        return {"endpoints": self.endpoints, "token_secret": self.old_secret, "fresh_secret": self.new_secret,
                "fresh_share": 0.1}

    def parameters(self, env: "StageContext") -> dict[str, Any]:
        return {"auth_log": [str(env.workdir / "logs" / "auth.log")], "auth_paths": ["/api/login"]}

    def inject(self, env: "StageContext") -> None:
        env.story.facts.update(rotated="JWT_SECRET", login_path="/api/login", fresh_token_share=0.1)

    def expected(self, env: "StageContext") -> tuple[str, list[str]]:
        return "config", ["JWT_SECRET"]


# -- site_outage: the service is dead --------------------------------------------------------------
#: nginx's error for a dead upstream (the access log's message), naming the upstream it tried.
OUTAGE_MESSAGE = ('connect() failed (111: Connection refused) while connecting to upstream, request: "{method} {path} HTTP/1.1", '
                  'upstream: "http://127.0.0.1:{port}{path}"')


def _supervisor_lines(logdir: Path, story: "Story", rng: random.Random) -> None:
    """Append the supervisor's view of the crash to ``app.log`` (sorted back into time order)."""
    from ..history import iso_ms

    app = logdir / "app.log"
    lines = app.read_text(encoding="utf-8").splitlines()
    for i, text in enumerate(["shop-api worker exited: killed by signal 9 (SIGKILL)",
                              "shop-api restarting (attempt 1 of 3)", "shop-api restarting (attempt 2 of 3)",
                              "shop-api restarting (attempt 3 of 3)",
                              "shop-api: restart limit reached, giving up; upstream has no healthy instance"]):
        ts = story.errors_from.replace(microsecond=0) + timedelta(seconds=5 * i)
        lines.append(json.dumps({"timestamp": iso_ms(ts), "level": "error", "service": shop.SERVICE,
                                 "logger": "supervisor", "message": text}, separators=(",", ":")))
    lines.sort(key=lambda line: json.loads(line)["timestamp"])
    app.write_text("\n".join(lines) + "\n", encoding="utf-8")


class SiteOutage(Stage):
    """The shop service is killed (SIGKILL, by pid): every endpoint refuses connections.

    The history is the edge's view (``access.log``): every request answered 502 since
    ``errors_from``; the live service writes its own log to ``logs/service.log`` until it dies.
    """

    name = "site_outage"
    user_knows = ("probe_targets",)
    title = "the shop service is down: connection refused on every endpoint"
    live_access_log = "service.log"

    def fault(self, env: "StageContext") -> Fault:
        port = env.http_port
        return quiet("outage", lambda rng, method, path, lat: (
            502, OUTAGE_MESSAGE.format(method=method, path=path, port=port), round(rng.uniform(0.3, 3.0), 2)),
            errors_ago_min=6.0, extra=_supervisor_lines)

    def inject(self, env: "StageContext") -> None:
        assert env.service is not None
        pid = env.service.pid
        env.service.send_signal(signal.SIGKILL)
        env.service.wait(timeout=10)
        env.story.facts.update(killed_pid=pid, port=env.http_port)

    def expected(self, env: "StageContext") -> tuple[str, list[str]]:
        # Live, the probes name 127.0.0.1:<port>; from the logs alone (a past outage), nginx's errors name the upstream.
        return "dependency", ["127.0.0.1"]


__all__ = ["AuthFailures", "BadDeploy", "HighErrorRate", "Postmortem", "SiteOutage", "Triage"]
