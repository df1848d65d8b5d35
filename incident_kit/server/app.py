"""The Starlette application of ``incident-kit serve``: webhooks, runs API, reports, OpenAPI.

Webhook requests are authenticated, size-limited and validated before anything is recorded;
a refused request gets a one-line JSON reason (``{"error": ...}``) and a row in the ledger's
``refusals``. Ledger work runs in the thread pool so ``/healthz`` never waits behind it.
"""

from __future__ import annotations

import json
import logging
import time
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any, AsyncIterator

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.schemas import SchemaGenerator
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

from .. import __version__
from ..alerts import PayloadError, parse
from ..errors import IncidentKitError
from .auth import Refused, check_bearer, check_signature
from .config import ServeConfig
from .intake import ingest
from .ledger import STATES, Ledger
from .queue import Sweeper, make_queue

log = logging.getLogger("incident_kit.serve")
KINDS = ("alertmanager", "grafana", "generic")

schemas = SchemaGenerator({"openapi": "3.0.0", "info": {"title": "incident-kit serve", "version": __version__}})


class ReportFiles(StaticFiles):
    """Read-only reports: GET/HEAD only, and nothing under a dot-directory (the ledger lives there)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if any(part.startswith(".") for part in path.split("/") if part):
            await JSONResponse({"error": "not found"}, status_code=404)(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


class _Scenarios:
    """Known scenario names (from the catalog), cached for a few seconds."""

    def __init__(self) -> None:
        self.names: set[str] = set()
        self.at = 0.0

    def check(self, name: str) -> None:
        if time.monotonic() - self.at > 5:
            from .. import catalog

            self.names, self.at = set(catalog.scenarios()), time.monotonic()
        if name not in self.names:
            raise PayloadError(f"unknown scenario {name!r}; available: {', '.join(sorted(self.names)) or 'none'}")


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise Refused(400, "content-length is not a number")
        if int(declared) > limit:
            raise Refused(413, f"body of {declared} bytes is over the limit of {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise Refused(413, f"body is over the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def build_app(config: ServeConfig, ledger: Ledger | None = None) -> Starlette:
    """Return the ASGI app for ``config`` (the ledger is opened here unless given)."""
    ledger = ledger or Ledger(config.ledger_url)
    scenarios = _Scenarios()
    state: dict[str, Any] = {}

    async def refuse(request: Request, status: int, reason: str) -> JSONResponse:
        client = request.client.host if request.client else None
        await run_in_threadpool(ledger.record_refusal, request.url.path, status, reason, client)
        return JSONResponse({"error": reason}, status_code=status)

    async def receive_alerts(request: Request) -> Response:
        """
        summary: Receive an alert webhook (kind is alertmanager, grafana or generic)
        parameters:
          - {name: kind, in: path, required: true, schema: {type: string, enum: [alertmanager, grafana, generic]}}
        requestBody: {required: true, content: {application/json: {schema: {type: object}}}}
        security: [{bearer: []}, {hmac: []}]
        responses:
          202: {description: "accepted: per-alert actions (started, attached, resolved, unmatched) and run ids"}
          400: {description: body is not JSON}
          401: {description: missing or wrong token or signature}
          404: {description: unknown webhook kind}
          413: {description: body over the size limit}
          422: {description: payload not of the expected form, or unknown scenario}
        """
        kind = request.path_params["kind"]
        if kind not in KINDS:
            return await refuse(request, 404, f"unknown webhook kind {kind[:40]!r}; use one of {', '.join(KINDS)}")
        try:
            authenticated = check_bearer(request.headers, config.token, config.auth_mode)
            body = await _read_body(request, config.max_body)
            if not authenticated and config.token is not None:
                check_signature(request.headers, body, config.token, config.auth_mode)
        except Refused as r:
            return await refuse(request, r.status, r.reason)
        # Decoding and parsing run in the thread pool too: the event loop only routes, so /healthz
        # answers at once even while large bodies are being read.
        try:
            payload = await run_in_threadpool(json.loads, body)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            return await refuse(request, 400, f"body is not JSON ({getattr(exc, 'msg', 'bad encoding')})")
        except RecursionError:
            return await refuse(request, 400, "body is not JSON this server reads (nested too deeply)")
        try:
            items = await run_in_threadpool(parse, payload, kind)
            result = await run_in_threadpool(ingest, ledger, items, config.routes, period_s=config.dedup_period_s,
                                             check_scenario=scenarios.check)
        except PayloadError as exc:
            return await refuse(request, 422, str(exc))
        queue = state["queue"]
        if result.new_runs or result.resolved_runs:
            await _submit(queue, result.new_runs, result.resolved_runs)
        return JSONResponse({"accepted": len(items), "alerts": result.actions}, status_code=202)

    async def healthz(request: Request) -> Response:
        """
        summary: Liveness (answers without touching the ledger)
        responses: {200: {description: "status ok, queue kind, version"}}
        """
        return JSONResponse({"status": "ok", "queue": state["queue"].kind, "version": __version__})

    async def list_runs(request: Request) -> Response:
        """
        summary: Runs, newest first
        parameters:
          - {name: state, in: query, schema: {type: string}, description: "one state or several, comma-separated"}
          - {name: scenario, in: query, schema: {type: string}}
          - {name: group_key, in: query, schema: {type: string}}
          - {name: since, in: query, schema: {type: string}, description: "ISO 8601 creation time lower bound"}
          - {name: limit, in: query, schema: {type: integer, default: 100, maximum: 10000}}
          - {name: offset, in: query, schema: {type: integer, default: 0}}
        responses: {200: {description: "{runs: [...], counts: {...}}"}, 400: {description: bad filter}}
        """
        q = request.query_params
        try:
            limit, offset = int(q.get("limit", 100)), int(q.get("offset", 0))
            if not (1 <= limit <= 10000 and offset >= 0):
                raise ValueError
        except ValueError:
            return JSONResponse({"error": "limit must be 1..10000 and offset 0 or more"}, status_code=400)
        if q.get("state") and any(s not in STATES for s in q["state"].split(",")):
            return JSONResponse({"error": f"state must be among {', '.join(STATES)}"}, status_code=400)
        since = None
        if q.get("since"):
            try:
                since = datetime.fromisoformat(q["since"].replace("Z", "+00:00"))
            except ValueError:
                return JSONResponse({"error": "since is not an ISO 8601 time"}, status_code=400)
        rows = await run_in_threadpool(ledger.list_runs, state=q.get("state"), scenario=q.get("scenario"),
                                       group_key=q.get("group_key"), since=since, limit=limit, offset=offset)
        counts = await run_in_threadpool(ledger.counts)
        return JSONResponse({"runs": rows, "counts": counts})

    async def get_run(request: Request) -> Response:
        """
        summary: One run with the alerts attached to it
        parameters: [{name: run_id, in: path, required: true, schema: {type: string}}]
        responses: {200: {description: the run}, 404: {description: no such run}}
        """
        run_id = request.path_params["run_id"]
        run = await run_in_threadpool(ledger.get, run_id)
        if run is None:
            return JSONResponse({"error": f"no run {run_id[:120]!r}"}, status_code=404)
        run["alerts"] = await run_in_threadpool(ledger.alerts_of, run_id)
        return JSONResponse(run)

    async def openapi(request: Request) -> Response:
        """
        summary: This OpenAPI document
        responses: {200: {description: OpenAPI 3 document}}
        """
        doc = schemas.get_schema(routes=request.app.routes)
        doc.setdefault("components", {})["securitySchemes"] = {
            "bearer": {"type": "http", "scheme": "bearer"},
            "hmac": {"type": "apiKey", "in": "header", "name": "X-Incident-Kit-Signature",
                     "description": "sha256=<hex HMAC-SHA256 of the raw body keyed with the token>"},
        }
        return JSONResponse(doc)

    async def root(request: Request) -> Response:
        return RedirectResponse("/reports/index.html")

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # Warm up before the first webhook: parsing times imports pandas (seconds), which must
        # not happen on the event loop while /healthz is being asked.
        parse({"name": "warm-up", "starts_at": "2026-01-01T00:00:00Z"}, "generic")
        queue = make_queue(config.queue, config.exec, ledger, config.workers)
        state["queue"] = queue
        again = await run_in_threadpool(ledger.recover, config.exec.stale_after_s, _local_dead)
        for run_id in dict.fromkeys([*again, *await run_in_threadpool(ledger.queued)]):
            queue.submit(run_id)
        sweeper = Sweeper(ledger, queue, config.exec)
        sweeper.start()
        log.info("incident-kit serve on %s:%s (queue %s, %d workers)", config.host, config.port, queue.kind, config.workers)
        try:
            yield
        finally:
            sweeper.stop_event.set()
            queue.close()
            ledger.dispose()

    routes = [
        Route("/alerts/{kind}", receive_alerts, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/runs", list_runs, methods=["GET"]),
        Route("/runs/{run_id}", get_run, methods=["GET"]),
        Route("/openapi.json", openapi, methods=["GET"], include_in_schema=False),
        Route("/", root, methods=["GET"], include_in_schema=False),
        Mount("/reports", app=ReportFiles(directory=str(config.out_dir), html=True), name="reports"),
    ]
    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers={IncidentKitError: _one_line})
    app.state.ledger = ledger
    return app


async def _submit(queue: Any, new_runs: list[str], resolved_runs: list[str]) -> None:
    """Enqueue runs and resolutions (in a thread when the queue is remote)."""
    def submit() -> None:
        for run_id in new_runs:
            queue.submit(run_id)
        for run_id in resolved_runs:
            queue.submit_resolution(run_id)

    if queue.kind == "local":
        submit()  # ThreadPoolExecutor.submit: no I/O
    else:
        await run_in_threadpool(submit)


def _local_dead(worker: str) -> bool:
    from .ledger import local_worker_dead

    return local_worker_dead(worker)


async def _one_line(request: Request, exc: Exception) -> Response:
    return JSONResponse({"error": str(exc)}, status_code=500)


__all__ = ["build_app", "ReportFiles"]
