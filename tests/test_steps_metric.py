"""steps.metric(): a Prometheus range read with the history window() needs, from a real Prometheus on
loopback serving blocks backfilled with promtool."""

from __future__ import annotations

import contextlib
import subprocess
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd
import pytest

from waiting import stop_process, wait_http

import incident_kit as ik
import incident_kit.analysis as A
from incident_kit.demo.pgcluster import free_port
from incident_kit.investigation import Investigation
from incident_kit.steps import metric
from incident_kit.timeutil import now

pytestmark = pytest.mark.slow


@contextlib.contextmanager
def backfilled(tmp_path: Path, stamps: pd.DatetimeIndex, **gauges: np.ndarray) -> Iterator[str]:
    """Yield the URL of a Prometheus on loopback holding each gauge ``name=values`` at ``stamps``."""
    text = ""
    for name, values in gauges.items():
        text += f"# HELP {name} test gauge\n# TYPE {name} gauge\n"
        text += "".join(f"{name} {v:.3f} {t.timestamp():.0f}\n" for t, v in zip(stamps, values))
    (tmp_path / "metrics.om").write_text(text + "# EOF\n")
    data = tmp_path / "data"
    subprocess.run(["promtool", "tsdb", "create-blocks-from", "openmetrics", str(tmp_path / "metrics.om"), str(data)],
                   check=True, capture_output=True)
    (tmp_path / "prometheus.yml").write_text("global: {scrape_interval: 1m}\n")
    port = free_port()
    proc = subprocess.Popen(["prometheus", f"--config.file={tmp_path / 'prometheus.yml'}", f"--storage.tsdb.path={data}",
                             "--storage.tsdb.retention.time=30d", f"--web.listen-address=127.0.0.1:{port}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_http(f"{url}/-/ready", proc, "prometheus")
        yield url
    finally:
        stop_process(proc)


def test_a_prometheus_range_is_read_with_a_look_back_before_a_tight_start(tmp_path):
    end = now().floor("min") - pd.Timedelta(hours=1)
    onset = end - pd.Timedelta(minutes=20)
    rng = np.random.default_rng(5)
    stamps = pd.date_range(end - pd.Timedelta(hours=3), end, freq="15s", tz="UTC")
    values = 10 + rng.normal(0, 0.5, len(stamps)) + np.where(stamps >= onset, 8.0, 0.0)
    with backfilled(tmp_path, stamps, ik_queue_depth=values) as url:
        start = onset - pd.Timedelta(minutes=2)
        # The user's window alone: 8 points before the change, too few to judge it.
        assert not A.window(ik.prometheus.query_range(url, "ik_queue_depth", start, end, step="15s")).found
        inv = Investigation("resource_pressure", start=start, end=end)
        got = metric(inv, url, "ik_queue_depth", step="15s")
        assert got.incident.found and got.incident.direction == "up"
        assert onset <= got.incident.start <= onset + pd.Timedelta(seconds=30)
        assert got.frame["ts"].min() >= start and len(got.frame) >= 80
        assert "2 days needed" in got.incident.reason  # three hours kept: no daily profile
        # A start inside the change: reported from the start, its own onset kept aside.
        got = metric(Investigation("resource_pressure", start=onset + pd.Timedelta(minutes=5), end=end), url,
                     "ik_queue_depth", step="15s")
        assert got.incident.start == onset + pd.Timedelta(minutes=5)
        assert onset <= got.incident.extra["began"] <= onset + pd.Timedelta(seconds=30)


def test_a_daily_cycle_is_learnt_from_two_days_before_the_start_when_the_server_keeps_them(tmp_path):
    # Requests per second: 40 at night, 160 by day, climbing around 07:00, and a daily job adding 60 from
    # 06:50 to 07:10. The hour asked about (06:30-07:30) holds the job: from the usual look-back alone it
    # is new; against two days of the same hours it is not.
    end = now().floor("h") - pd.Timedelta(hours=2)
    stamps = pd.date_range(end - pd.Timedelta(days=3), end, freq="30s", tz="UTC")
    second = ((stamps - end).total_seconds().to_numpy().astype(np.int64) + 27_000) % 86_400  # end at 07:30
    hour = second / 3600

    def logistic(v: np.ndarray) -> np.ndarray:
        return 1 / (1 + np.exp(-v))

    rng = np.random.default_rng(7)
    quiet = (40 + 120 * logistic((hour - 7) / 0.75) * logistic((22 - hour) / 0.75) + rng.normal(0, 3, len(stamps))
             + np.where((second >= 24_600) & (second < 25_800), 60.0, 0.0))
    onset = end - pd.Timedelta(minutes=20)
    incident = quiet + np.where(stamps >= onset, 15.0, 0.0)
    start = end - pd.Timedelta(hours=1)
    with backfilled(tmp_path, stamps, ik_rps=quiet, ik_rps_incident=incident) as url:
        short = ik.prometheus.query_range(url, "ik_rps", start - pd.Timedelta(hours=1), end, step="15s")
        assert A.window(short, since=start).found  # what the usual look-back alone would report
        got = metric(Investigation("resource_pressure", start=start, end=end), url, "ik_rps")
        assert not got.incident.found and got.incident.extra["seasonality"] == "daily profile removed", got.incident
        assert got.frame["ts"].min() >= start and got.frame.attrs["step"] == "15s"  # the table keeps its step
        got = metric(Investigation("resource_pressure", start=start, end=end), url, "ik_rps_incident")
        assert got.incident.found and got.incident.direction == "up", got.incident.reason
        assert abs(got.incident.start - onset) <= pd.Timedelta(minutes=1), got.incident.start
        assert got.incident.extra["seasonality"] == "daily profile removed"
