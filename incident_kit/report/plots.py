"""Static plots for notebooks and reports (PNG via matplotlib; they survive HTML export).

Each function returns a closed matplotlib Figure: shown once as an image when it is a cell's
last expression, never re-drawn by the inline backend.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

_SIZE = (9.0, 3.2)


def _new(nrows: int = 1, height: float = _SIZE[1]) -> tuple[Any, Any]:
    import matplotlib

    matplotlib.rcParams.update({"figure.dpi": 100, "axes.spines.top": False, "axes.spines.right": False,
                                "axes.grid": True, "grid.alpha": 0.3, "font.size": 9})
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(nrows, 1, figsize=(_SIZE[0], height), sharex=True, layout="constrained")
    plt.close(fig)
    return fig, ax


def _mark_events(ax: Any, events: pd.DataFrame | None, window_start: Any = None) -> None:
    if events is not None and len(events):
        lo, hi = ax.get_xlim()
        import matplotlib.dates as mdates

        for _, e in events.iterrows():
            x = mdates.date2num(pd.Timestamp(e["ts"]).tz_convert("UTC").tz_localize(None))
            if lo <= x <= hi:
                ax.axvline(x, color="#6b46c1", linestyle="--", linewidth=1.2)
                label = str(e.get("ref") or "")[:8] or str(e.get("kind") or "event")
                ax.annotate(f"{e.get('kind', 'event')} {label}", (x, 1), xycoords=("data", "axes fraction"),
                            rotation=90, va="top", ha="right", fontsize=8, color="#6b46c1")
    if window_start is not None:
        import matplotlib.dates as mdates

        x = mdates.date2num(pd.Timestamp(window_start).tz_convert("UTC").tz_localize(None))
        ax.axvspan(x, ax.get_xlim()[1], color="#d9480f", alpha=0.08, label="incident window")


def _dates(fig: Any, x: pd.Index) -> None:
    """Label a time axis concisely in UTC (``07:45``, the day once) instead of full stamps."""
    if isinstance(x, pd.DatetimeIndex):
        import matplotlib.dates as mdates

        for ax in fig.axes:
            locator = mdates.AutoDateLocator(maxticks=8)
            ax.xaxis.set_major_locator(locator)
            ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
        fig.axes[-1].set_xlabel("UTC")
    else:
        fig.autofmt_xdate()


def _naive(index: pd.Index) -> pd.Index:
    return index.tz_convert("UTC").tz_localize(None) if getattr(index, "tz", None) is not None else index


def _by_time(frame: pd.DataFrame) -> pd.DataFrame:
    """Return ``frame`` indexed by its ``ts`` column (unchanged when already time-indexed)."""
    return frame.set_index("ts") if "ts" in frame.columns else frame


def error_rate(rates: pd.DataFrame, events: pd.DataFrame | None = None, window_start: Any = None,
               title: str = "Error rate and traffic") -> Any:
    """Return a figure of error rate (%) and requests per bucket, deploys marked, window shaded.

    ``rates`` (from ``analysis.rates``) has a ``ts`` column or time index, ``requests`` and ``error_rate`` (0..1).
    """
    fig, (ax1, ax2) = _new(2, height=4.2)
    rates = _by_time(rates)
    x = _naive(rates.index)
    ax1.plot(x, rates["error_rate"].astype(float) * 100, color="#b00020", linewidth=1.4)
    ax1.set_ylabel("errors %")
    ax1.set_title(title, loc="left", fontsize=10)
    ax2.bar(x, rates["requests"].astype(float), width=(x[1] - x[0]) * 0.9 if len(x) > 1 else 0.0005, color="#4a5568")
    ax2.set_ylabel("requests")
    for ax in (ax1, ax2):
        _mark_events(ax, events if ax is ax1 else None, window_start)
    _dates(fig, x)
    return fig


def latency(rates: pd.DataFrame, events: pd.DataFrame | None = None, window_start: Any = None) -> Any:
    """Return a figure of p50/p95/p99 latency (ms) per bucket from ``rates`` (columns p50_ms, p95_ms, p99_ms)."""
    fig, ax = _new()
    rates = _by_time(rates)
    x = _naive(rates.index)
    for col, color in (("p50_ms", "#2f855a"), ("p95_ms", "#b7791f"), ("p99_ms", "#b00020")):
        if col in rates:
            ax.plot(x, rates[col].astype(float), label=col.replace("_ms", ""), color=color, linewidth=1.2)
    ax.set_ylabel("latency ms")
    ax.legend(loc="upper left", fontsize=8)
    _mark_events(ax, events, window_start)
    _dates(fig, x)
    return fig


def bars(counts: pd.Series, title: str, xlabel: str = "") -> Any:
    """Return a horizontal bar chart of ``counts`` (index = labels)."""
    fig, ax = _new(height=max(1.6, 0.35 * len(counts) + 0.8))
    labels = [str(i)[:60] for i in counts.index]
    ax.barh(labels[::-1], counts.values[::-1].astype(float), color="#2d5bd7")
    ax.set_title(title, loc="left", fontsize=10)
    ax.set_xlabel(xlabel)
    return fig


def lines(frame: pd.DataFrame, title: str, ylabel: str = "") -> Any:
    """Return a line chart of every column of ``frame`` against its (time) index."""
    fig, ax = _new()
    frame = _by_time(frame)
    x = _naive(frame.index)
    for col in frame.columns:
        ax.plot(x, frame[col].astype(float), marker="o", markersize=3, linewidth=1.2, label=str(col))
    ax.set_title(title, loc="left", fontsize=10)
    ax.set_ylabel(ylabel)
    if len(frame.columns) > 1:
        ax.legend(loc="upper left", fontsize=8)
    _dates(fig, x)
    return fig


__all__ = ["error_rate", "latency", "bars", "lines"]
