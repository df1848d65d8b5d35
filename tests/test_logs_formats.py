"""ik.logs.read for every format: loghub samples (real data), fixtures, sniffing, rotated and compressed sets."""

from __future__ import annotations

import bz2
import gzip
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from incident_kit import frames
from incident_kit.sources import logs
from incident_kit.sources.logs.formats import access as logaccess
from incident_kit.sources.logs.formats import base as logformats
from incident_kit.sources.logs.formats import lines as loglines
from incident_kit.sources.logs.formats import logfmt

DATA = Path(__file__).parent / "data" / "logs"


def _structured(shared_dir: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(shared_dir / "data" / "loghub" / name / f"{name}_2k.log_structured.csv", dtype=str,
                       keep_default_na=False)


def test_loghub_apache_error_log(shared_dir: Path) -> None:
    path = shared_dir / "data" / "loghub" / "Apache" / "Apache_2k.log"
    df = logs.read(path)
    expected = _structured(shared_dir, "Apache")
    assert df.attrs["format"] == "apache_error" and df.attrs["rejected"] == 0
    assert len(df) == len(expected) == 2000
    assert frames.check(df, "logs") == []
    want_ts = pd.to_datetime(expected["Time"], format="%a %b %d %H:%M:%S %Y").dt.tz_localize("UTC")
    # rows come out time-sorted (stable): compare with the structured file sorted the same way
    order = np.argsort(want_ts.to_numpy(), kind="stable")
    exp = expected.iloc[order].reset_index(drop=True)
    assert (df["ts"] == want_ts.iloc[order].reset_index(drop=True).astype("datetime64[ns, UTC]")).all()
    assert (df["level"].to_numpy() == exp["Level"].str.lower().to_numpy()).all()
    # "[client 1.2.3.4] " leading a message is read into the client column and kept in it, as loghub's Content
    client = exp["Content"].str.extract(r"^\[client ([^\]]+)\] ")[0]
    content = exp["Content"]
    assert (df["message"].to_numpy() == content.to_numpy()).all()
    assert (df["client"].fillna("").to_numpy() == client.fillna("").to_numpy()).all()
    assert df["client"].notna().sum() == 32
    assert set(df["level"]) == {"notice", "error"}


def test_loghub_hdfs_log(shared_dir: Path) -> None:
    path = shared_dir / "data" / "loghub" / "HDFS" / "HDFS_2k.log"
    df = logs.read(path, format="auto")
    expected = _structured(shared_dir, "HDFS")
    assert df.attrs["format"] == "hdfs" and df.attrs["rejected"] == 0
    assert len(df) == len(expected) == 2000
    want_ts = pd.to_datetime(expected["Date"] + " " + expected["Time"].str.zfill(6), format="%y%m%d %H%M%S",
                             utc=True).astype("datetime64[ns, UTC]")
    # rows come out time-sorted (stable): compare with the structured file sorted the same way
    order = np.argsort(want_ts.to_numpy(), kind="stable")
    exp = expected.iloc[order].reset_index(drop=True)
    assert (df["ts"].to_numpy() == want_ts.iloc[order].to_numpy()).all()
    assert (df["pid"].astype(str).to_numpy() == exp["Pid"].to_numpy()).all()
    assert (df["component"].to_numpy() == exp["Component"].to_numpy()).all()
    assert (df["message"].to_numpy() == exp["Content"].to_numpy()).all()
    levels = {"INFO": "info", "WARN": "warning", "ERROR": "error"}
    assert (df["level"].to_numpy() == exp["Level"].map(levels).to_numpy()).all()
    # the same with a window and a filter
    part = logs.read(path, start="2008-11-09T21:00:00Z", end="2008-11-09T22:00:00Z", level="warn")
    in_window = want_ts.between(pd.Timestamp("2008-11-09T21:00:00Z"), pd.Timestamp("2008-11-09T22:00:00Z"))
    assert len(part) == (in_window & (expected["Level"] == "WARN")).sum() > 0
    assert (part["level"] == "warning").all()


def test_nginx_combined_with_request_time() -> None:
    df = logs.read(DATA / "nginx_access.log")
    assert df.attrs["format"] == "combined" and frames.check(df, "logs") == []
    assert df.attrs["rejected"] == 1
    assert df.attrs["rejected_sample"][0]["line"] == 4
    assert df.attrs["rejected_sample"][0]["text"] == "this line is not an access log line"
    assert len(df) == 6
    first = df.iloc[0]
    assert first["ts"] == pd.Timestamp("2026-11-22T13:00:01Z")
    assert (first["client"], first["method"], first["path"], first["status"]) == ("203.0.113.7", "POST", "/api/checkout", 500)
    assert first["latency_ms"] == 125.0 and first["bytes"] == 312 and first["referer"] == "https://shop.example/cart"
    assert first["user_agent"] == "Mozilla/5.0 (X11; Linux x86_64)" and first["message"] == "POST /api/checkout HTTP/1.1"
    by_client = df.set_index("client")
    assert by_client.loc["198.51.100.23", "ts"] == pd.Timestamp("2026-11-22T13:00:03Z")  # +0100 zone
    assert pd.isna(by_client.loc["192.0.2.1", "method"]) and by_client.loc["192.0.2.1", "status"] == 400
    assert by_client.loc["192.0.2.9", "path"] == '/search?q=\\"quoted\\"'  # Apache-style escaped quotes
    assert pd.isna(by_client.loc["192.0.2.9", "latency_ms"])  # "-" request time
    assert df.iloc[-1]["latency_ms"] == 30002.0 and pd.isna(df.iloc[-1]["bytes"])
    assert list(logs.read(DATA / "nginx_access.log", status=503)["path"]) == ["/api/cart/17"]


def test_access_fast_path_agrees_with_the_regex() -> None:
    """The Arrow-CSV split of access logs must give what the regex gives, line for line."""
    block = (DATA / "nginx_access.log").read_bytes() + (DATA / "apache_common.log").read_bytes()
    fmt = loglines.LINE_FORMATS["combined"]
    lines, numbers = logformats.split_lines(block, 1)
    slow = loglines.parse_line_array(lines, numbers, fmt, {})
    fast = logaccess.parse_access(block, 1, line_format=fmt)
    assert fast.rejected == slow.rejected == 1
    key = ["ts", "client", "method", "path", "status", "bytes", "latency_ms", "message", "user"]

    def frame(p: logformats.Parsed) -> pd.DataFrame:
        table = p.table.select(key)
        table = pa.table([c.cast(c.type.value_type) if pa.types.is_dictionary(c.type) else c for c in table.columns],
                         names=key)  # the fast path encodes methods; values must agree
        return table.to_pandas().sort_values(["ts", "client"]).reset_index(drop=True)

    pd.testing.assert_frame_equal(frame(fast), frame(slow))
    # and every row knows its line
    fast_numbers, fast_texts = fast.locate()
    assert sorted(fast_numbers.tolist()) == sorted(slow.locate()[0].tolist())
    assert "this line is not an access log line" not in fast_texts.to_pylist()


def test_clf_time_arithmetic_matches_strptime() -> None:
    rng = np.random.default_rng(7)
    stamps = pd.to_datetime(rng.integers(0, 4_000_000_000, 2000), unit="s", utc=True)
    zones = rng.choice(["+0000", "+0100", "-0730", "+0545", "-1200"], 2000)
    months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    day_time, zone = [], []
    for ts, z in zip(stamps, zones):
        day_time.append(f"[{ts.day:02d}/{months[ts.month - 1]}/{ts.year}:{ts.hour:02d}:{ts.minute:02d}:{ts.second:02d}")
        zone.append(f"{z}]")
    got = logaccess.clf_time(pa.array(day_time), pa.array(zone)).to_pandas()
    sign = np.where(np.char.startswith(zones.astype(str), "-"), -1, 1)
    minutes = np.array([int(z[1:3]) * 60 + int(z[3:5]) for z in zones]) * sign
    want = stamps - pd.to_timedelta(minutes, unit="m")
    assert (got.to_numpy() == want.to_numpy()).all()


def test_apache_common_and_microsecond_request_time() -> None:
    common = logs.read(DATA / "apache_common.log")
    assert common.attrs["format"] == "combined" and len(common) == 2
    assert common["ts"][0] == pd.Timestamp("2000-10-10T20:55:36Z")
    assert common["user"][0] == "frank" and pd.isna(common["bytes"][1]) and common["status"][1] == 404
    apache = logs.read(DATA / "apache_access_D.log", format="apache")
    assert list(apache["latency_ms"]) == [15.3, 60000.123]  # %D is microseconds
    assert logs.read(DATA / "apache_access_D.log", format="nginx")["latency_ms"][0] == 15300000.0


def test_logfmt() -> None:
    df = logs.read(DATA / "app.logfmt")
    assert df.attrs["format"] == "logfmt" and df.attrs["rejected"] == 1
    assert df.attrs["rejected_sample"][0]["line"] == 3
    assert list(df["message"]) == ["charge created", "stripe timeout, retrying", 'escaped "quotes" inside']
    assert list(df["level"]) == ["info", "error", "warning"]
    assert list(df["latency_ms"]) == [42.0, 5001.0, 7.0]  # duration in seconds, latency_ms as is
    assert df["err"][1] == "context deadline exceeded" and df["service"][0] == "billing"


def test_logfmt_vectorised_parse_agrees_with_the_line_by_line_one() -> None:
    block = (DATA / "app.logfmt").read_bytes() + (
        'time=2026-11-22T13:00:09Z msg="back\\\\slash and \\"quote\\"" empty= dup=1 dup=2 caf\u00e9=cr\u00e8me\n'
        "   \n"
        "no pairs here at all\n"
        'time=2026-11-22T13:00:10Z a="x=y" b=plain\n').encode()
    lines, numbers = logformats.split_lines(block, 1)
    fast = logfmt._parse_logfmt_polars(lines, numbers)
    slow = logfmt._parse_logfmt_lines(lines, numbers)
    assert fast.table.to_pylist() == slow.table.to_pylist()
    assert fast.rejected == slow.rejected == 3  # the fixture's garbage line, the spaces, the line without pairs
    assert [r["line"] for r in fast.rejected_sample] == [r["line"] for r in slow.rejected_sample]
    assert fast.locate()[0].tolist() == slow.locate()[0].tolist()
    row = fast.table.to_pylist()[3]
    assert row["msg"] == 'back\\slash and "quote"' and row["empty"] == "" and row["dup"] == "2" and row["caf\u00e9"] == "cr\u00e8me"


def test_syslog_rfc3164() -> None:
    df = logs.read(DATA / "syslog3164.log", end="2026-11-22T14:00:00Z")
    assert df.attrs["format"] == "syslog" and df.attrs["rejected"] == 0 and len(df) == 5
    by_service = df.set_index("service")
    assert by_service.loc["su", "ts"] == pd.Timestamp("2026-10-11T22:14:15Z")
    assert by_service.loc["su", "level"] == "critical" and by_service.loc["su", "facility"] == 4
    assert by_service.loc["sshd", "pid"] == "4242" and by_service.loc["sshd", "host"] == "web-1"
    assert by_service.loc["kernel", "ts"] == pd.Timestamp("2026-11-02T03:04:05Z")
    assert by_service.loc["postgres", "level"] == "error"
    assert by_service.loc["CRON", "ts"] == pd.Timestamp("2026-11-22T13:00:03.25Z")  # RFC 3339 stamp
    # no year in RFC 3164: a date later than the reference belongs to the previous year
    early = logs.read(DATA / "syslog3164.log", end="2026-11-05T00:00:00Z")
    assert early.set_index("service").loc["sshd", "ts"] == pd.Timestamp("2025-11-22T13:00:01Z")


def test_syslog_rfc5424() -> None:
    df = logs.read(DATA / "syslog5424.log")
    assert df.attrs["format"] == "syslog5424"
    assert df.attrs["rejected"] == 1 and df.attrs["rejected_sample"][0]["line"] == 4  # nil timestamp
    by_service = df.set_index("service")
    assert by_service.loc["evntslog", "ts"] == pd.Timestamp("2003-10-11T22:14:15.003Z")
    assert by_service.loc["evntslog", "structured_data"].startswith("[exampleSDID@32473")
    assert by_service.loc["evntslog", "level"] == "notice" and by_service.loc["evntslog", "msgid"] == "ID47"
    assert by_service.loc["myproc", "ts"] == pd.Timestamp("2003-08-24T12:14:15.000003Z")
    assert by_service.loc["myproc", "pid"] == "8710" and by_service.loc["su", "level"] == "critical"


def test_journald_json_export() -> None:
    df = logs.read(DATA / "journal.json")
    assert df.attrs["format"] == "journald" and len(df) == 3
    assert df["ts"][0] == pd.Timestamp(1795438801123456, unit="us", tz="UTC")
    assert list(df["level"]) == ["info", "error", "warning"]
    assert list(df["service"]) == ["nginx", "shop-api", "shop-api"]
    assert df["message"][2] == "binary \ufffd"  # byte-array MESSAGE decoded
    assert df["_HOSTNAME"][0] == "web-1"


def test_csv() -> None:
    df = logs.read(DATA / "requests.csv")
    assert df.attrs["format"] == "csv" and len(df) == 3
    assert df.attrs["rejected"] == 1 and df.attrs["rejected_sample"][0]["line"] == 4
    assert list(df["status"]) == [200, 500, 200] and list(df["latency_ms"]) == [12.5, 250.0, 8.0]
    assert df["message"][1] == "payment failed, upstream 502" and df["message"][2] == "multi\nline"
    semicolons = logs.read(DATA / "requests.csv", format="csv", delimiter=",", level="error")
    assert list(semicolons["path"]) == ["/api/checkout"]


def test_regex_with_named_groups() -> None:
    pattern = r"(?P<ts>\S+ \S+) (?P<level>\w+)\s+\[(?P<thread>[^\]]+)\] (?P<logger>\S+) - (?P<message>.*)"
    df = logs.read(DATA / "custom.log", format=pattern)
    assert df.attrs["format"] == "regex" and df.attrs["rejected"] == 1
    assert list(df["ts"]) == [pd.Timestamp("2026-11-22T13:00:01.123Z"), pd.Timestamp("2026-11-22T13:00:02.456Z")]
    assert list(df["thread"]) == ["main", "pool-1"] and list(df["level"]) == ["info", "error"]
    same = logs.read(DATA / "custom.log", format="regex", regex=pattern, time_format="%Y-%m-%d %H:%M:%S,%f")
    assert len(same) == 2
    from incident_kit.errors import ConfigError

    with pytest.raises(ConfigError, match="no named group"):
        logs.read(DATA / "custom.log", format="regex", regex=r"\S+ (.*)")
    with pytest.raises(ConfigError, match="not a valid RE2 pattern"):
        logs.read(DATA / "custom.log", format=r"(?P<ts>\S+ (?P<x>[)")


def test_auto_sniffing_picks_each_format_and_says_so() -> None:
    expected = {"nginx_access.log": "combined", "apache_common.log": "combined", "app.logfmt": "logfmt",
                "syslog3164.log": "syslog", "syslog5424.log": "syslog5424", "journal.json": "journald",
                "requests.csv": "csv"}
    for name, fmt in expected.items():
        df = logs.read(DATA / name)
        assert df.attrs["format"] == fmt, name
        assert any(f"format sniffed as {fmt}" in n for n in df.attrs["notes"]), name


def _write(path: Path, text: str) -> Path:
    data = text.encode()
    if path.suffix == ".gz":
        data = gzip.compress(data)
    elif path.suffix == ".zst":
        import zstandard

        data = zstandard.ZstdCompressor().compress(data)
    elif path.suffix == ".bz2":
        data = bz2.compress(data)
    path.write_bytes(data)
    return path


def _nginx_line(ts: pd.Timestamp, status: int, path: str) -> str:
    return (f'10.0.0.1 - - [{ts.strftime("%d/%b/%Y:%H:%M:%S")} +0000] "GET {path} HTTP/1.1" {status} 10 '
            f'"-" "curl/8" 0.010\n')


def test_rotated_and_compressed_sets(tmp_path: Path) -> None:
    base = pd.Timestamp("2026-11-22T10:00:00Z")
    names = ["access.log.4.bz2", "access.log.3.zst", "access.log.2.gz", "access.log.1", "access.log"]
    for i, name in enumerate(names):
        _write(tmp_path / name, "".join(_nginx_line(base + pd.Timedelta(hours=i, minutes=m), 200 + i, f"/{i}")
                                        for m in range(0, 60, 10)))
    _write(tmp_path / "other.log", _nginx_line(base, 418, "/teapot"))
    df = logs.read(tmp_path / "access.log")  # the live file brings its rotated set
    assert len(df) == 30 and df.attrs["rejected"] == 0
    assert list(df["ts"]) == sorted(df["ts"])
    assert [Path(s).name for s in dict.fromkeys(df["source"])] == names  # oldest first, each file named
    assert df.attrs["files"] == [str(tmp_path / n) for n in names]
    only_live = logs.read(tmp_path / "access.log", rotated=False)
    assert set(only_live["status"]) == {204}
    window = logs.read(tmp_path / "access.log", start="2026-11-22T12:00:00Z", end="2026-11-22T12:59:59Z")
    assert set(window["path"]) == {"/2"} and len(window) == 6
    assert set(window["source"]) == {str(tmp_path / "access.log.2.gz")}
    everything = logs.read(tmp_path)  # a directory: every file in it
    assert len(everything) == 31 and 418 in set(everything["status"])
    globbed = logs.read(str(tmp_path / "access.log.*"))
    assert len(globbed) == 24


def test_mixed_formats_in_one_read(tmp_path: Path) -> None:
    _write(tmp_path / "app.jsonl.gz", '{"time": "2026-11-22T13:00:00Z", "msg": "json line", "status": 500}\n')
    _write(tmp_path / "access.log.zst", _nginx_line(pd.Timestamp("2026-11-22T13:00:01Z"), 502, "/x"))
    df = logs.read([tmp_path / "app.jsonl.gz", tmp_path / "access.log.zst"])
    assert df.attrs["format"] == "combined,json"
    assert df.attrs["formats"] == {str(tmp_path / "app.jsonl.gz"): "json", str(tmp_path / "access.log.zst"): "combined"}
    assert list(df["status"]) == [500, 502] and frames.check(df, "logs") == []


def test_large_file_in_small_chunks_keeps_line_numbers(tmp_path: Path) -> None:
    base = pd.Timestamp("2026-11-22T00:00:00Z")
    lines = [_nginx_line(base + pd.Timedelta(seconds=i), 200, f"/{i}") for i in range(5000)]
    lines[1234] = "broken line\n"
    lines[4321] = "another broken line\n"
    path = _write(tmp_path / "big.log.gz", "".join(lines))
    df = logs.read(path, chunk_bytes=8192)
    assert len(df) == 4998 and df.attrs["rejected"] == 2
    assert [s["line"] for s in df.attrs["rejected_sample"]] == [1235, 4322]
    assert df["path"].iloc[-1] == "/4999"


def test_window_is_applied_while_reading(tmp_path: Path) -> None:
    """A one-hour window over a long sorted file: rows outside are never accumulated, reading stops past the end."""
    base = pd.Timestamp("2026-11-20T00:00:00Z")
    path = tmp_path / "long.log"
    with open(path, "w") as f:
        for i in range(0, 3 * 86400, 20):  # three days, one line every 20 s
            f.write(_nginx_line(base + pd.Timedelta(seconds=i), 200, "/x"))
    t0 = time.perf_counter()
    df = logs.read(path, start="2026-11-20T06:00:00Z", end="2026-11-20T07:00:00Z", chunk_bytes=64 << 10)
    assert len(df) == 181
    assert any("stopped reading" in n for n in df.attrs["notes"])
    assert time.perf_counter() - t0 < 60  # sanity only, not a benchmark
    stopped_at = int([n for n in df.attrs["notes"] if "stopped reading" in n][0].split("line ")[1].split(",")[0])
    assert stopped_at < 3 * 86400 // 20 // 2  # well before the end of the file
    skipped = [n for n in df.attrs["notes"] if "before the window start and were not parsed" in n]
    assert skipped and int(skipped[0].split("lines 1-")[1].split(" ")[0]) > 700  # the first block: all before 06:00
    # the same window read without the shortcuts gives the same rows
    slow = logs.read(path, start="2026-11-20T06:00:00Z", end="2026-11-20T07:00:00Z", chunk_bytes=64 << 10,
                     early_stop=False)
    pd.testing.assert_frame_equal(df, slow)
    # a file that is not time-sorted is read whole: rows before the "start" are found later in the file
    shuffled = tmp_path / "shuffled.log"
    lines = path.read_text().splitlines(keepends=True)
    shuffled.write_text("".join(lines[5000:] + lines[:5000]))
    again = logs.read(shuffled, start="2026-11-20T06:00:00Z", end="2026-11-20T07:00:00Z", chunk_bytes=64 << 10)
    assert len(again) == 181
    # a sorted file wholly after the window: its first block and its last lines say so, nothing more is read
    before = logs.read(path, start="2026-11-19T00:00:00Z", end="2026-11-19T01:00:00Z", chunk_bytes=64 << 10)
    assert len(before) == 0 and any("stopped reading at line 1," in n for n in before.attrs["notes"])


def test_gzip_detected_by_content_not_name(tmp_path: Path) -> None:
    path = tmp_path / "app.log"
    path.write_bytes(gzip.compress(b'{"time": "2026-11-22T13:00:00Z", "msg": "hidden gzip"}\n'))
    assert logs.read(path)["message"][0] == "hidden gzip"
    assert os.path.getsize(path) < 100
