"""ik.logs.read: JSON lines, field aliases, window, filters, rejected lines, files and errors."""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path

import pandas as pd
import pytest

from incident_kit import frames
from incident_kit.errors import ConfigError, SourceError
from incident_kit.sources import logs

DATA = Path(__file__).parent / "data" / "logs"

DEMO_LINES = [
    {"timestamp": "2026-11-22T13:00:01.123Z", "level": "info", "service": "shop-api", "method": "POST",
     "path": "/api/checkout", "status": 500, "duration_ms": 12.5, "client": "203.0.113.7", "user_id": "u1234",
     "request_id": "9f1c01", "message": "payment failed"},
    {"timestamp": "2026-11-22T13:00:00.000Z", "level": "INFO", "service": "shop-api", "method": "GET",
     "path": "/api/products", "status": 200, "duration_ms": 3, "client": "203.0.113.8", "user_id": "u1",
     "request_id": "9f1c02", "message": "ok"},
    {"timestamp": "2026-11-22T13:30:00Z", "level": "error", "service": "shop-worker", "logger": "jobs.mail",
     "message": "smtp timeout"},
]


def write_jsonl(path: Path, rows: list[dict], extra_lines: tuple[str, ...] = ()) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + "".join(ln + "\n" for ln in extra_lines))
    return path


def test_json_lines_give_the_canonical_frame(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "app.jsonl", DEMO_LINES)
    df = logs.read(path)
    assert frames.check(df, "logs") == []
    assert list(df.columns[:10]) == list(frames.SCHEMAS["logs"])
    assert {"user_id", "request_id", "logger"} <= set(df.columns)  # extra fields kept
    assert list(df["ts"]) == sorted(df["ts"])  # time order
    first = df.iloc[1]
    assert first["ts"] == pd.Timestamp("2026-11-22T13:00:01.123Z")
    assert first["status"] == 500 and first["latency_ms"] == 12.5 and first["method"] == "POST"
    assert first["path"] == "/api/checkout" and first["client"] == "203.0.113.7" and first["user_id"] == "u1234"
    assert df.iloc[0]["level"] == "info"  # INFO normalised
    assert set(df["source"]) == {str(path)}
    assert df.attrs["format"] == "json" and df.attrs["rejected"] == 0 and df.attrs["truncated"] is False
    assert df.attrs["source"] == str(path)
    assert any("sniffed as json" in n for n in df.attrs["notes"])


def test_filters_and_window(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "app.jsonl", DEMO_LINES)
    assert list(logs.read(path, service="shop-api")["request_id"]) == ["9f1c02", "9f1c01"]
    # a filter judges only the rows that carry its field: the worker's line has no status and is kept
    assert list(logs.read(path, status=500)["message"]) == ["payment failed", "smtp timeout"]
    assert list(logs.read(path, status="500")["message"]) == ["payment failed", "smtp timeout"]
    assert list(logs.read(path, level="ERROR")["message"]) == ["smtp timeout"]
    assert len(logs.read(path, service=["shop-api", "shop-worker"])) == 3
    assert len(logs.read(path, service="shop-api", level="error")) == 0
    assert len(logs.read(path, service="", level=None)) == 3  # empty parameters do not filter
    window = logs.read(path, start="2026-11-22T13:00:01Z", end="2026-11-22T13:10:00Z")
    assert list(window["request_id"]) == ["9f1c01"]
    relative = logs.read(path, start="-10m", end="2026-11-22T13:30:00Z")  # start relative to end
    assert list(relative["message"]) == ["smtp timeout"]
    unjudged = logs.read(path, tenant="acme")  # no row carries the field: all kept, with a note naming the file
    assert len(unjudged) == 3
    assert any(n.startswith("filter tenant='acme' not applied to") and str(path) in n for n in unjudged.attrs["notes"])
    nothing = logs.read(path, service="shop")
    assert len(nothing) == 0 and any("filter service='shop' matched nothing" in n for n in nothing.attrs["notes"])


def test_a_filter_keeps_the_files_that_lack_its_field(tmp_path: Path) -> None:
    """issue 13: service= on an access log (no service field) and an app log keeps the access log's rows, and says so."""
    app = write_jsonl(tmp_path / "app.jsonl", DEMO_LINES)
    access = tmp_path / "access.log"
    access.write_text('203.0.113.7 - - [22/Nov/2026:13:00:01 +0000] "POST /api/orders HTTP/1.1" 500 12 "-" "curl/8"\n')
    df = logs.read([app, access], service="shop-api")
    assert sorted(df["source"].astype(str)) == sorted([str(app)] * 2 + [str(access)])
    assert [n for n in df.attrs["notes"] if n.startswith("filter service=")] == [
        f"filter service='shop-api' not applied to {access}: no service field there, its rows are kept"]
    # ...and the investigation carries the note to the report's data completeness
    from incident_kit.investigation import Investigation

    inv = Investigation("test", output_dir=tmp_path / "run")
    inv.collect("access and app logs", logs.read, [app, access], service="shop-api")
    assert any(n.startswith("access and app logs: filter service='shop-api' not applied to") for n in inv.data["notes"])


def test_aliases_and_units(tmp_path: Path) -> None:
    rows = [
        {"@timestamp": "2026-11-22T13:00:00+01:00", "msg": "a", "status_code": "503", "duration": 0.25, "app": "x"},
        {"time": 1795352400.5, "message": "b", "request_time": "1.5", "severity": "WARN", "service.name": "y"},
        {"ts": 1795352400123, "log": "c", "latency": "12ms", "remote_addr": "10.0.0.1", "http_method": "GET"},
        {"timestamp": "2026-11-22 12:00:00", "text": "d", "elapsed_us": 2500, "url": "/u"},
    ]
    df = logs.read(write_jsonl(tmp_path / "a.jsonl", rows))
    by_message = df.set_index("message")
    assert by_message.loc["a", "ts"] == pd.Timestamp("2026-11-22T12:00:00Z")
    assert by_message.loc["a", "status"] == 503 and by_message.loc["a", "latency_ms"] == 250.0
    assert by_message.loc["a", "service"] == "x"
    assert by_message.loc["b", "ts"] == pd.Timestamp("2026-11-22T13:00:00.5Z")  # epoch seconds
    assert by_message.loc["b", "latency_ms"] == 1500.0 and by_message.loc["b", "level"] == "warning"
    assert by_message.loc["b", "service"] == "y"
    assert by_message.loc["c", "ts"] == pd.Timestamp("2026-11-22T13:00:00.123Z")  # epoch milliseconds
    assert by_message.loc["c", "latency_ms"] == 12.0 and by_message.loc["c", "client"] == "10.0.0.1"
    assert by_message.loc["c", "method"] == "GET"
    assert by_message.loc["d", "ts"] == pd.Timestamp("2026-11-22T12:00:00Z")  # naive taken as UTC
    assert by_message.loc["d", "latency_ms"] == 2.5 and by_message.loc["d", "path"] == "/u"
    # overrides: a custom field becomes the timestamp, another latency in seconds, one alias removed
    custom = [{"when": "2026-11-22T13:00:00Z", "took": 2, "msg": "x", "app": "keep-me"}]
    df = logs.read(write_jsonl(tmp_path / "b.jsonl", custom),
                   aliases={"when": "ts", "took": ("latency_ms", "s"), "app": None})
    assert df["ts"][0] == pd.Timestamp("2026-11-22T13:00:00Z") and df["latency_ms"][0] == 2000.0
    assert pd.isna(df["service"][0]) and df["app"][0] == "keep-me"
    with pytest.raises(ConfigError, match="unit 'parsec'"):
        logs.read(tmp_path / "b.jsonl", aliases={"took": ("latency_ms", "parsec")})


def test_nested_json_and_type_clashes(tmp_path: Path) -> None:
    rows = [{"time": "2026-11-22T13:00:00Z", "msg": "a", "http": {"status": 200, "route": "/a"}, "n": 1}]
    rows += [{"time": f"2026-11-22T13:00:{i % 60:02d}Z", "msg": "b", "n": i} for i in range(150)]
    rows += [{"time": "2026-11-22T13:01:00Z", "msg": "c", "n": "not a number"}]
    df = logs.read(write_jsonl(tmp_path / "n.jsonl", rows))
    assert len(df) == 152 and df.attrs["rejected"] == 0
    assert "http.route" in df.columns and df["http.route"].dropna().tolist() == ["/a"]
    assert "not a number" in set(df["n"].astype(str))


def test_rejected_lines_are_counted_and_sampled(tmp_path: Path) -> None:
    good = [{"time": f"2026-11-22T13:00:{i:02d}Z", "msg": str(i)} for i in range(30)]
    bad = [f"garbage {i}" for i in range(25)]
    path = tmp_path / "mixed.jsonl"
    lines = [json.dumps(r) for r in good[:10]] + ["", "[1, 2]", '{"msg": "no time at all"}'] + bad + \
            [json.dumps(r) for r in good[10:]] + ['{"time": "not a time", "msg": "x"}']
    path.write_text("\n".join(lines) + "\n")
    df = logs.read(path)
    assert len(df) == 30
    assert df.attrs["rejected"] == 1 + 1 + 25 + 1  # array, no time, garbage, bad time
    sample = df.attrs["rejected_sample"]
    assert len(sample) == 20  # capped, count still complete
    assert sample[0] == {"source": str(path), "line": 12, "text": "[1, 2]", "reason": "JSON list, not an object"}
    assert sample[1]["line"] == 14 and sample[1]["text"] == "garbage 0"
    texts = {s["text"] for s in sample}
    assert "garbage 18" in texts
    # a bad timestamp in an otherwise fast-parsed file keeps its line number
    clean = tmp_path / "clean.jsonl"
    clean.write_text("\n".join([json.dumps(r) for r in good] + ['{"time": "yesterday-ish", "msg": "x"}']) + "\n")
    df = logs.read(clean)
    assert df.attrs["rejected"] == 1
    assert df.attrs["rejected_sample"][0]["line"] == 31
    assert "yesterday-ish" in df.attrs["rejected_sample"][0]["text"]


def test_malformed_lines_that_look_like_objects_and_clashing_types_in_one_block(tmp_path: Path) -> None:
    """The slowest path: a line shaped like an object that is not JSON, beside a type clash and plain garbage."""
    rows = [json.dumps({"time": f"2026-11-22T13:00:{i:02d}Z", "msg": str(i), "n": i}) for i in range(40)]
    rows[5] = '{"time": "2026-11-22T13:00:05Z", "msg": }'
    rows[7] = "java.lang.NullPointerException"
    rows[9] = json.dumps({"time": "2026-11-22T13:00:09Z", "msg": "9", "n": "nine"})
    df = logs.read(_write_lines(tmp_path, rows))
    assert len(df) == 38 and df.attrs["rejected"] == 2
    assert [s["line"] for s in df.attrs["rejected_sample"]] == [6, 8]
    assert df.attrs["rejected_sample"][0]["reason"].startswith("not JSON: Expecting value")
    assert "nine" in set(df["n"].astype(str))


def _write_lines(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "odd.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_file_without_any_timestamp_field_is_a_one_line_error(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "nots.jsonl", [{"msg": "a", "when_it_happened": "x"}])
    with pytest.raises(SourceError) as err:
        logs.read(path)
    assert str(path) in str(err.value) and "no timestamp field" in str(err.value)
    assert "\n" not in str(err.value)


def test_missing_empty_and_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(SourceError) as err:
        logs.read(tmp_path / "nope.log")
    assert str(err.value) == f"logs {tmp_path / 'nope.log'}: no such file"
    with pytest.raises(SourceError, match="no file matches this glob"):
        logs.read(str(tmp_path / "*.missing"))
    empty = tmp_path / "empty.log"
    empty.write_text("")
    df = logs.read(empty)
    assert len(df) == 0 and frames.check(df, "logs") == [] and df.attrs["format"] == "empty"
    corrupt = tmp_path / "broken.log.gz"
    corrupt.write_bytes(gzip.compress(b'{"time": "2026-11-22T13:00:00Z", "msg": "a"}\n' * 100)[:60])
    with pytest.raises(SourceError) as err:
        logs.read(corrupt, format="json")
    assert str(corrupt) in str(err.value) and "\n" not in str(err.value)
    unknown = tmp_path / "mystery.bin"
    unknown.write_bytes(b"\x00\x01\x02 binary\n\x03\x04 stuff\n")
    with pytest.raises(SourceError, match="cannot tell the log format"):
        logs.read(unknown)
    with pytest.raises(ConfigError, match="format 'yaml' is not known"):
        logs.read(write_jsonl(tmp_path / "x.jsonl", DEMO_LINES), format="yaml")


def test_a_file_of_unknown_format_found_in_a_directory_is_skipped_and_counted(tmp_path: Path) -> None:
    logdir = tmp_path / "logs"
    logdir.mkdir()
    write_jsonl(logdir / "app.jsonl", DEMO_LINES)
    (logdir / "core.dump").write_bytes(b"\x00\x01\x02 binary\n\x03\x04 stuff\n\x05 more\n")
    df = logs.read(logdir)
    assert len(df) == 3 and df.attrs["rejected"] == 3  # the skipped file's lines: not read, not silently lost
    assert df.attrs["formats"][str(logdir / "core.dump")] == "unknown"
    sample = df.attrs["rejected_sample"][0]
    assert sample["source"] == str(logdir / "core.dump") and "not recognised" in sample["reason"]
    assert any("core.dump: skipped, 3 line(s) not read: cannot tell the log format" in n for n in df.attrs["notes"])
    # named on its own, or alone in the directory, it is an error
    with pytest.raises(SourceError, match="cannot tell the log format"):
        logs.read([logdir / "app.jsonl", logdir / "core.dump"])
    (logdir / "app.jsonl").unlink()
    with pytest.raises(SourceError, match="core.dump: cannot tell the log format"):
        logs.read(logdir)


def test_max_rows_sets_truncated(tmp_path: Path) -> None:
    df = logs.read(write_jsonl(tmp_path / "app.jsonl", DEMO_LINES), max_rows=2)
    assert len(df) == 2 and df.attrs["truncated"] is True
    assert list(df["request_id"]) == ["9f1c02", "9f1c01"]


def test_small_chunks_give_the_same_frame_and_stop_past_the_window(tmp_path: Path) -> None:
    rows = [{"time": f"2026-11-22T{h:02d}:{m:02d}:00Z", "msg": f"{h}:{m}", "status": 200 + m % 3}
            for h in range(10, 16) for m in range(60)]
    path = tmp_path / "sorted.jsonl"
    # garbage after the window: a reader that stopped in time never sees it
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + "garbage\n" * 5)
    whole = logs.read(path, start="2026-11-22T11:00Z", end="2026-11-22T11:30Z")
    small = logs.read(path, start="2026-11-22T11:00Z", end="2026-11-22T11:30Z", chunk_bytes=4096)
    assert len(whole) == 31
    pd.testing.assert_frame_equal(whole, small)
    assert small.attrs["rejected"] == 0
    assert any("stopped reading at line" in n for n in small.attrs["notes"])
    everything = logs.read(path, chunk_bytes=4096)
    assert len(everything) == 360 and everything.attrs["rejected"] == 5


def _fixed_width_lines(stamps: list[str]) -> str:
    """JSON lines all 100 bytes long, so a chunk_bytes of 4 lines makes blocks of exactly 4 lines."""
    out = []
    for i, stamp in enumerate(stamps):
        line = json.dumps({"time": stamp, "msg": f"line {i + 1}", "pad": ""})
        out.append(line.replace('"pad": ""', '"pad": "' + "x" * (99 - len(line)) + '"') + "\n")
    assert {len(x) for x in out} == {100}
    return "".join(out)


def test_parsing_ahead_never_skips_a_block_the_state_before_it_would_keep(tmp_path: Path) -> None:
    """Blocks are parsed one ahead; a block whose edges are before the window is skipped only on the full state.

    Block 2's first and last lines are before 06:00 but its middle lines are inside the window: only
    block 1 (kept before block 2 is decided) shows the file is not sorted enough to skip it.
    """
    day = "2026-11-22T"
    stamps = ([f"{day}06:10:0{i}Z" for i in range(4)]
              + [f"{day}05:00:00Z", f"{day}06:30:00Z", f"{day}06:31:00Z", f"{day}05:05:00Z"]
              + [f"{day}06:4{i}:00Z" for i in range(4)])
    path = tmp_path / "blocks.jsonl"
    path.write_text(_fixed_width_lines(stamps))
    window = {"start": f"{day}06:00Z", "end": f"{day}07:00Z"}
    ahead = logs.read(path, chunk_bytes=400, **window)
    plain = logs.read(path, chunk_bytes=400, early_stop=False, **window)
    assert list(ahead["message"]) == list(plain["message"]) and len(ahead) == 10
    assert "line 6" in set(ahead["message"]) and "line 7" in set(ahead["message"])


def test_a_sorted_file_in_many_blocks_skips_and_stops_the_same_with_parsing_ahead(tmp_path: Path) -> None:
    stamps = [str(pd.Timestamp("2026-11-22T00:00:00Z") + pd.Timedelta(minutes=i)).replace(" ", "T").replace("+00:00", "Z")
              for i in range(24 * 60)]
    path = tmp_path / "day.jsonl"
    path.write_text(_fixed_width_lines(stamps))
    df = logs.read(path, start="2026-11-22T06:00Z", end="2026-11-22T06:59Z", chunk_bytes=400)
    assert len(df) == 60 and df["message"].iloc[0] == "line 361"
    notes = " ".join(df.attrs["notes"])
    assert "lines 1-" in notes and "stopped reading at line" in notes
    assert int(notes.split("stopped reading at line ")[1].split(",")[0]) < 500


def test_csv_header_from_the_first_block_reaches_every_later_block(tmp_path: Path) -> None:
    path = tmp_path / "requests.csv"
    rows = [f"2026-11-22T13:{i // 60:02d}:{i % 60:02d}Z,{200 + (i % 2) * 300},/api/{i}" for i in range(2000)]
    path.write_text("time,status,path\n" + "\n".join(rows) + "\n")
    small = logs.read(path, format="csv", chunk_bytes=1024)
    whole = logs.read(path, format="csv")
    pd.testing.assert_frame_equal(small.reset_index(drop=True), whole.reset_index(drop=True), check_categorical=False)
    assert len(small) == 2000 and small.attrs["rejected"] == 0 and small["path"].iloc[-1] == "/api/1999"


def test_csv_quoted_newlines_across_block_ends(tmp_path: Path) -> None:
    """A quoted field holding newlines is one record even where a block would end inside it."""
    path = tmp_path / "traces.csv"
    rows = [f'2026-11-22T13:00:{i % 60:02d}Z,{500 if i % 3 == 0 else 200},"line one of {i}\nline two, ""quoted""\nend"'
            for i in range(300)]
    path.write_text("time,status,message\n" + "\n".join(rows) + "\n")
    whole = logs.read(path, format="csv")
    small = logs.read(path, format="csv", chunk_bytes=100)
    assert len(whole) == len(small) == 300 and small.attrs["rejected"] == whole.attrs["rejected"] == 0
    assert list(small["message"]) == list(whole["message"])
    assert small["message"].iloc[-1] == 'line one of 299\nline two, "quoted"\nend'


def test_time_order_across_files_and_sources(tmp_path: Path) -> None:
    a = write_jsonl(tmp_path / "a.jsonl", [{"time": "2026-11-22T13:00:02Z", "msg": "a2"},
                                          {"time": "2026-11-22T13:00:00Z", "msg": "a0"}])
    b = write_jsonl(tmp_path / "b.jsonl", [{"time": "2026-11-22T13:00:01Z", "msg": "b1"}])
    df = logs.read([a, b])
    assert list(df["message"]) == ["a0", "b1", "a2"]
    assert list(df["source"]) == [str(a), str(b), str(a)]
    comma = logs.read(f"{a},{b}")
    assert len(comma) == 3


def test_through_the_package_namespace(tmp_path: Path) -> None:
    import incident_kit as ik

    df = ik.logs.read(write_jsonl(tmp_path / "app.jsonl", DEMO_LINES), format="json", service="shop-api")
    assert len(df) == 2 and df.attrs["format"] == "json"


def test_a_json_field_first_seen_late_in_a_block_is_a_column(tmp_path: Path) -> None:
    """Schema inference sees every row: a field written only on rare warning lines is not dropped."""
    lines = [json.dumps({"ts": f"2026-11-22T13:{i // 60 % 60:02d}:{i % 60:02d}Z", "level": "info", "message": f"ok {i}"})
             for i in range(3000)]
    lines[2500] = json.dumps({"ts": "2026-11-22T13:41:40Z", "level": "warning", "message": "slow", "upstream": "api.pay.example"})
    path = tmp_path / "app.log"
    path.write_text("\n".join(lines) + "\n")
    df = logs.read(path)
    assert len(df) == 3000 and df.attrs["rejected"] == 0
    assert df["upstream"].dropna().tolist() == ["api.pay.example"]


@pytest.mark.parametrize("polars", ["installed", "missing"])
def test_json_times_stay_as_written_wherever_they_appear(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         polars: str) -> None:
    """A "...Z" time is UTC whatever ``tz`` says (Arrow's JSON reader would make it a naive time), and a
    time-like text field, nested or first seen late in a block, stays text, with or without polars (the
    ``logs`` extra)."""
    if polars == "missing":
        monkeypatch.setitem(sys.modules, "polars", None)
    lines = [json.dumps({"ts": f"2026-11-22T13:00:{i % 60:02d}Z", "level": "info", "message": f"ok {i}",
                         "http": {"status": 200, "sent_at": "2026-11-22T12:59:59Z"}}) for i in range(200)]
    lines[150] = json.dumps({"ts": "2026-11-22T13:02:30Z", "level": "warning", "message": "retry",
                             "retry_at": "2026-11-22T13:05:00Z", "http": {"status": 503}})
    path = tmp_path / "app.log"
    path.write_text("\n".join(lines) + "\n")
    for tz in ("UTC", "Europe/Berlin"):
        df = logs.read(path, tz=tz)
        assert len(df) == 200 and df.attrs["rejected"] == 0
        assert df["ts"].min() == pd.Timestamp("2026-11-22T13:00:00Z"), tz
        assert df["retry_at"].dropna().tolist() == ["2026-11-22T13:05:00Z"]
        assert df["http.sent_at"].iloc[0] == "2026-11-22T12:59:59Z"
        assert list(df.columns).index("http.status") < list(df.columns).index("http.sent_at")  # as written
