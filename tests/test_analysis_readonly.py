"""Every public ``ik.analysis`` function on read-only, Arrow-backed frames with NA in every optional column.

The readers hand out frames whose columns are Arrow memory (``string[pyarrow]``, categoricals,
nullable numbers) and pandas' copy-on-write makes every ``to_numpy()`` view read-only, so an
analysis function that changes an array in place crashes on real data ("output array is
read-only"). Each function here runs on the frames as the real log reader returns them and on
the same frames with every column an ``ArrowDtype`` and its numpy buffers made read-only, with a
window that has an end; afterwards its inputs must be unchanged.
"""

from __future__ import annotations

import inspect
import json
from typing import Any, Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import incident_kit as ik
from incident_kit import analysis
from incident_kit.analysis import evidence, synthetic, upstream
from incident_kit.analysis.context import build
from incident_kit.frames import conform

OPTIONAL = ["level", "service", "status", "latency_ms", "method", "path", "client", "message"]


def _with_gaps(logs: pd.DataFrame) -> pd.DataFrame:
    """Return ``logs`` with each optional column missing on every 7th row (a different offset each)."""
    out = logs.copy()
    for k, col in enumerate(OPTIONAL):
        rows = np.arange(len(out)) % 7 == k % 7
        out[col] = out[col].astype("object").where(~rows, None)
    return out


@pytest.fixture(scope="module")
def incident(tmp_path_factory) -> dict[str, Any]:
    """A synthetic incident written as JSON lines and read back by the real reader, with gaps."""
    inc = synthetic.incident(seed=3, hours=1.5, rps=1.0)
    logs = _with_gaps(inc.logs)
    path = tmp_path_factory.mktemp("readonly") / "app.log"
    with path.open("w", encoding="utf-8") as fh:
        for rec in logs.to_dict("records"):
            row = {k: (v.isoformat() if isinstance(v, pd.Timestamp) else v) for k, v in rec.items()
                   if v is not None and not (isinstance(v, float) and np.isnan(v)) and v is not pd.NA}
            fh.write(json.dumps(row, default=str) + "\n")
    read = ik.logs.read([str(path)])
    assert len(read) == len(logs)
    for col in OPTIONAL:
        assert read[col].isna().any(), col
    start = inc.errors_from
    end = inc.errors_from + pd.Timedelta(minutes=12)
    probes = conform(pd.DataFrame({
        "ts": pd.date_range(start - pd.Timedelta(minutes=5), periods=12, freq="1min", tz="UTC"),
        "target": ["http://pay.example.com/health", "tcp://db.internal:5432"] * 6,
        "kind": ["http", "tcp"] * 6, "ok": [True, False] * 6, "status": ["200", None] * 6,
        "latency_ms": [12.0, None] * 6, "error": [None, "connection refused"] * 6, "detail": None}), "probes", source="t")
    probes["layer"] = ["http", "tcp"] * 6
    metric_ts = pd.date_range(start - pd.Timedelta(minutes=30), end + pd.Timedelta(minutes=5), freq="1min", tz="UTC")
    n = len(metric_ts)
    metrics = conform(pd.DataFrame({
        "ts": np.concatenate([metric_ts.to_numpy()] * 4),
        "metric": ["disk_used_percent"] * n + ["cpu_percent"] * n + ["queue_depth"] * n + ["memory_used_percent"] * n,
        "value": np.concatenate([np.linspace(70, 99, n), np.full(n, 40.0), np.linspace(5, 900, n), np.full(n, np.nan)]),
    }), "metrics", source="t")
    metrics["path"] = ["/var"] * n + [None] * 3 * n
    metrics["mountpoint"] = ["/"] * n + [None] * 3 * n
    metrics["key"] = [None] * 2 * n + ["jobs:waiting"] * n + [None] * n
    ages = pd.DataFrame({"key": ["jobs:active", "jobs:waiting"], "age_s": [900.0, None], "depth": [3, 10]})
    activity = inc.db_activity.copy()
    activity.loc[activity.index[::3], "wait_event_type"] = None
    events = conform(pd.DataFrame({"ts": [inc.deploy_at, start + pd.Timedelta(minutes=3), start - pd.Timedelta(hours=1)],
                                   "kind": ["deploy", "deploy", None], "source": ["ci", None, None],
                                   "text": [inc.events["text"].iloc[-1], None, "x"], "ref": [inc.culprit_ref, None, None]}),
                     "events", source="t")
    return {"logs": read, "events": events, "probes": probes, "metrics": metrics, "activity": conform(activity, "db_activity"),
            "ages": ages, "start": start, "end": end}


def _arrow(frame: pd.DataFrame) -> pd.DataFrame:
    """Return ``frame`` with every column an ``ArrowDtype`` (zero-copy where Arrow can)."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    out = table.to_pandas(types_mapper=pd.ArrowDtype)
    out.attrs.update(frame.attrs)
    return out


def _frozen(frame: pd.DataFrame) -> pd.DataFrame:
    """Return ``frame`` with its numpy-backed columns on read-only buffers."""
    cols = {}
    for name in frame.columns:
        col = frame[name]
        if isinstance(col.dtype, np.dtype):
            values = np.array(col.to_numpy(), copy=True)
            values.flags.writeable = False
            col = pd.Series(values, index=frame.index, name=name, copy=False)
        cols[name] = col
    out = pd.DataFrame(cols, index=frame.index, copy=False)
    out.attrs.update(frame.attrs)
    return out


def _variants(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    frames = {k: v for k, v in data.items() if isinstance(v, pd.DataFrame)}
    return {"reader": {**data, **{k: _frozen(v) for k, v in frames.items()}},
            "arrow": {**data, **{k: _arrow(v) for k, v in frames.items()}}}


def _rates(d: dict[str, Any]) -> pd.DataFrame:
    return analysis.rates(d["logs"])


#: One call per public function: name -> how to call it on the frames of the fixture.
CALLS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "correlate": lambda d: analysis.correlate(ik.steps.metrics_series(d["metrics"]), d["start"]),
    "diff": lambda d: analysis.diff(d["logs"], None, (d["start"], d["end"])),
    "error_mask": lambda d: analysis.error_mask(d["logs"]),
    "hypotheses": lambda d: analysis.hypotheses(window=(d["start"], d["end"]), events=d["events"], logs=d["logs"],
                                                probes=d["probes"], db_activity=d["activity"], metrics=d["metrics"]),
    "impact": lambda d: analysis.impact(d["logs"], d["start"], d["end"]),
    "load_policy": lambda d: analysis.load_policy(),
    "mask": lambda d: analysis.mask(d["logs"]["message"]),
    "mine": lambda d: analysis.mine(d["logs"]["message"]),
    "rates": _rates,
    "severity": lambda d: analysis.severity(error_rate=0.2, probes=d["probes"], p95_ms=900.0, p95_threshold_ms=500.0,
                                            resource_use=evidence.resource_use(d["metrics"])["used_percent"].max()),
    "signature_counts": lambda d: analysis.signature_counts(d["logs"], start=d["start"], end=d["end"]),
    "signatures": lambda d: analysis.signatures(d["logs"]["message"]),
    "timeline": lambda d: analysis.timeline(d["events"], d["logs"], d["probes"], window=(d["start"], d["end"])),
    "top_errors": lambda d: analysis.top_errors(d["logs"], d["start"], d["end"]),
    "window": lambda d: (analysis.window(_rates(d), column="error_rate"), analysis.window(_rates(d), column="p95_ms")),
    "route": lambda d: [evidence.route(p) for p in d["logs"]["path"].head(50)],
    "slow_endpoints": lambda d: evidence.slow_endpoints(d["logs"], (d["start"], d["end"])),
    "auth_failures": lambda d: evidence.auth_failures(d["logs"], (d["start"], d["end"]), login_paths=["/api/cart"]),
    "status_rates": lambda d: evidence.status_rates(d["logs"]),
    "first_failing_layer": lambda d: evidence.first_failing_layer(d["probes"]),
    "providers": lambda d: evidence.providers(d["logs"], (d["start"], d["end"]), names=["payment"]),
    "signals": lambda d: evidence.signals(d["logs"], probes=d["probes"], metrics=[d["metrics"]], names=["payment"]),
    "signal_window": lambda d: evidence.signal_window(evidence.signals(d["logs"], probes=d["probes"]), (d["start"], d["end"])),
    "resource_use": lambda d: evidence.resource_use(d["metrics"]),
    "resource_metrics": lambda d: evidence.resource_metrics(d["metrics"]),
    "queue_trend": lambda d: evidence.queue_trend(d["metrics"]),
    "queue_history": lambda d: evidence.queue_history(d["logs"].assign(waiting=pd.array([1, None] * (len(d["logs"]) // 2)
                                                                                         + [3] * (len(d["logs"]) % 2), dtype="Int64"))),
    "depth_series": lambda d: evidence.depth_series(d["metrics"]),
    "fullest_path": lambda d: evidence.fullest_path(d["metrics"]),
    "stuck_jobs": lambda d: evidence.stuck_jobs(d["ages"], evidence.queue_trend(d["metrics"])),
    "waiting": lambda d: evidence.waiting(d["metrics"].dropna(subset=["key"])),
    "config_changes": lambda d: evidence.config_changes({"A": "1", "B": None}, {"A": "2"}, required=["B"]),
    "config_events": lambda d: evidence.config_events(evidence.config_changes({"A": "1"}, {"A": "2"}), d["start"]),
    "build_failures": lambda d: evidence.build_failures(["ok", "ERROR: failed to compile"]),
    "home_scenario": lambda d: [evidence.home_scenario(h["kind"], h["ref"], h["cause"]) for _, h in analysis.hypotheses(
        window=(d["start"], d["end"]), events=d["events"], logs=d["logs"]).iterrows()],
    "next_scenarios": lambda d: evidence.next_scenarios(
        analysis.hypotheses(window=(d["start"], d["end"]), events=d["events"], logs=d["logs"]), probes=d["probes"]),
    "compose": lambda d: evidence.compose([]),
    "upstream.named": lambda d: [upstream.named(str(m)) for m in d["logs"]["message"].dropna().head(50)],
    "upstream.counts": lambda d: upstream.counts(d["logs"]["message"].dropna()),
    "upstream.noteworthy": lambda d: upstream.noteworthy(d["logs"]),
    "upstream.texts": lambda d: upstream.texts(d["logs"]),
    "upstream.mentions": lambda d: upstream.mentions(d["logs"], np.ones(len(d["logs"]), dtype=bool),
                                                     np.zeros(len(d["logs"]), dtype=bool), names=["payment"]),
    "upstream.hypotheses": lambda d: upstream.hypotheses(build(d["logs"], d["start"], d["end"]), names=["payment"]),
    "people_timeline": lambda d: evidence.people_timeline(["2026-11-22T15:40Z rolled back"]),
    "findings_table": lambda d: evidence.findings_table([]),
    "carried_findings": lambda d: evidence.carried_findings([]),
}


def _public() -> list[str]:
    names = [n for n in analysis.__all__ if inspect.isfunction(getattr(analysis, n))]
    names += [n for n in evidence.__all__ if inspect.isfunction(getattr(evidence, n))]
    names += [f"upstream.{n}" for n in upstream.__all__ if inspect.isfunction(getattr(upstream, n))]
    return names


def test_every_public_function_is_covered():
    missing = sorted(set(_public()) - set(CALLS))
    assert not missing, f"public analysis functions without a read-only call here: {missing}"


def _snapshot(data: dict[str, Any]) -> dict[str, pd.DataFrame]:
    return {k: v.copy(deep=True) for k, v in data.items() if isinstance(v, pd.DataFrame)}


@pytest.fixture(scope="module")
def variants(incident) -> dict[str, tuple[dict[str, Any], dict[str, pd.DataFrame]]]:
    """Both variants with a pristine copy of each (every test checks that it changed nothing)."""
    return {name: (data, _snapshot(data)) for name, data in _variants(incident).items()}


@pytest.mark.parametrize("variant", ["reader", "arrow"])
@pytest.mark.parametrize("name", _public())
def test_runs_on_read_only_arrow_frames_and_leaves_them_unchanged(name, variant, variants):
    data, before = variants[variant]
    CALLS[name](data)
    for key, frame in before.items():
        if data[key].equals(frame) and list(data[key].dtypes) == list(frame.dtypes):
            assert data[key].attrs == frame.attrs, f"{name} changed the attrs of {key}"
            continue
        pd.testing.assert_frame_equal(data[key], frame, check_exact=True, obj=f"{name} changed its input {key}")
        assert data[key].attrs == frame.attrs, f"{name} changed the attrs of {key}"
