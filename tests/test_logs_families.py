"""format="auto" on every family of issue 14: the loghub sets in place, one sample per family, nothing lost.

Each read must account for every line: rows + rejected + continuation lines == non-blank lines.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from incident_kit.sources import logs
from incident_kit.sources.logs import fields
from incident_kit.sources.logs.formats import REGISTRY

LOGHUB = ["Android", "Apache", "BGL", "HDFS", "Hadoop", "HealthApp", "OpenStack", "Spark", "Windows", "Zookeeper"]


def non_blank_lines(path: Path) -> int:
    return sum(1 for line in path.read_bytes().split(b"\n") if line.strip(b"\r"))


def accounted(df: pd.DataFrame) -> int:
    return len(df) + df.attrs["rejected"] + df.attrs["continuations"]


def share_in_common(ours: list, theirs: list) -> float:
    """Share of ``theirs`` found in ``ours`` as a multiset (rows come out time-sorted, loghub keeps file order)."""
    return sum((Counter(ours) & Counter(theirs)).values()) / len(theirs)


@pytest.mark.parametrize("name", LOGHUB)
def test_loghub_sets_read_whole_without_being_told(shared_dir: Path, name: str) -> None:
    path = shared_dir / "data" / "loghub" / name / f"{name}_2k.log"
    df = logs.read(path, format="auto")
    truth = pd.read_csv(f"{path}_structured.csv", dtype=str, keep_default_na=False)
    assert len(df) == 2000 and df.attrs["rejected"] == 0 and df["ts"].notna().all()
    assert accounted(df) == non_blank_lines(path)
    ours = [str(m).strip() for m in df["message"]]
    theirs = [c.strip() for c in truth["Content"]]
    assert share_in_common(ours, theirs) >= 0.95
    if "Level" in truth:
        levels = [fields.level_value(v) for v in truth["Level"]]
        assert share_in_common(list(zip(ours, df["level"].astype(str))), list(zip(theirs, levels))) >= 0.95
        assert set(df["level"].dropna()) <= set(fields.LEVELS)  # one scale whatever the family
    assert any("sniffed as" in n for n in df.attrs["notes"])


FAMILIES = {
    "log4j": ["2026-10-28 09:26:01.042 WARN  [http-nio-8080-exec-3] com.zaxxer.hikari.pool.HikariPool - HikariPool-1 - "
              "Connection is not available, request timed out after 30000ms.",
              "2026-10-28 09:26:01.043 ERROR [http-nio-8080-exec-3] o.h.e.jdbc.spi.SqlExceptionHelper - pool exhausted",
              "java.sql.SQLTransientConnectionException: HikariPool-1 - Connection is not available",
              "\tat com.zaxxer.hikari.pool.HikariPool.createTimeoutException(HikariPool.java:696)",
              "Caused by: org.postgresql.util.PSQLException: FATAL: too many connections",
              "\t... 42 more",
              "2026-10-28 09:26:02,000 - shop.api - INFO - Python logging layout",
              "2026-10-28T09:26:03.000+01:00  INFO 45469 --- [           main] o.a.c.c.StandardService  : Starting service",
              "[2026-10-28 09:26:04 +0000] [12345] [INFO] Starting gunicorn 21.2.0",
              "2026-10-28 09:26:05,000 shop.worker WARNING Python's '%(asctime)s %(name)s %(levelname)s'"],
    "klog": ["I1014 10:15:30.123456   12345 controller.go:123] Starting controller",
             "E1014 10:15:31.000001   12345 reflector.go:138] failed to list *v1.Pod: connection refused"],
    "log4j_short_year": ["17/06/09 20:10:40 INFO executor.CoarseGrainedExecutorBackend: Registered signal handlers",
                         "17/06/09 20:10:41 ERROR spark.SecurityManager: oops"],
    "logback_time": ["09:26:01.043 [main] INFO  c.e.App - started", "09:26:02.000 [http-1] ERROR c.e.Db - failed"],
    "oslo": ["2017-05-16 00:00:00.008 25746 INFO nova.osapi_compute.wsgi.server [req-38101a0b - - -] 10.11.10.1 GET",
             "2017-05-16 00:00:01.008 25746 ERROR nova.compute.manager [-] Instance failed to spawn",
             "Traceback (most recent call last):", '  File "nova/compute/manager.py", line 1, in spawn',
             "nova.exception.BuildAbortException: aborted"],
    "thunderbird": ["- 1131566461 2005.11.09 dn228 Nov 9 12:01:01 dn228/dn228 crond(pam_unix)[2915]: session closed for user root",
                    "KERNDTLB 1131566463 2005.11.09 tn230 Nov 9 12:01:03 tn230/tn230 kernel: ACPI: SSDT table loaded"],
    "hpc": ["134681 node-246 unix.hw state_change.unavailable 1077804742 1 Component State Change: Component is unavailable",
            "460081 node-70 node boot 1145575015 1 boot (command 1939) Error: couldn't connect to console"],
    "proxifier": ["[10.30 16:49:06] chrome.exe - proxy.cse.cuhk.edu.hk:5070 open through proxy proxy.cse.cuhk.edu.hk:5070 HTTPS",
                  "[10.30 16:49:07] chrome.exe *64 - proxy.cse.cuhk.edu.hk:5070 close, 0 bytes sent, lifetime <1 sec"],
    "syslog": ["Jun 14 15:16:01 combo sshd(pam_unix)[19939]: authentication failure; logname= uid=0 euid=0 tty=NODEVssh",
               "Jul  1 09:02:26 calvisitor-10-105-160-95 com.apple.xpc.launchd[1] (com.apple.xpc.launchd.domain.pid.W.32137): "
               "Service exited with abnormal code: 1",
               "<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8",
               "Jul  3 11:00:01 calvisitor-10-105-160-95 Google Chrome Helper[19736]: Couldn't set background color"],
    "logcat": ["03-17 16:13:38.811  1702  2395 D WindowManager: printFreezingDisplayLogsopening app wtoken",
               "03-17 16:13:38.820  1702  8671 E AndroidRuntime: FATAL EXCEPTION: main"],
    "logcat_time": ["03-17 16:13:38.811 D/WindowManager( 1702): printFreezingDisplayLogs",
                    "03-17 16:13:39.000 F/libc    ( 2000): Fatal signal 11"],
    "windows_cbs": ["2016-09-28 04:30:30, Info                  CBS    Loaded Servicing Stack v6.1.7601.23505",
                    "2016-09-28 04:30:31, Error                 CSI    00000001@2016/9/27:20:30:31.455 WcpInitialize failed"],
    "pipes": ["20171223-22:15:29:606|Step_LSC|30002312|onStandStepChanged 3579", "20171223-22:15:29:6|Step_LSC|30002312|x"],
    "rails": ['I, [2023-10-14T10:15:30.123456 #12345]  INFO -- : [8f3e] Started GET "/" for 127.0.0.1',
              "E, [2023-10-14T10:15:31.123456 #12345] ERROR -- : [8f3e] boom"],
    "golog": ["2009/11/10 23:00:00 listening on :8080", "2009/11/10 23:00:01.123456 main.go:42: [ERROR] failed: x"],
    "heroku": ['2023-10-14T10:15:30.123456+00:00 heroku[router]: at=info method=GET path="/api" host=x fwd="1.2.3.4" '
               'dyno=web.1 connect=0ms service=12ms status=200 bytes=100',
               '2023-10-14T10:15:31.123456+00:00 heroku[router]: at=error code=H12 desc="Request timeout" method=GET '
               'path="/slow" host=x dyno=web.1 connect=0ms service=30000ms status=503 bytes=0',
               "2023-10-14T10:15:32.000000+00:00 app[web.1]: Processing PostController#list"],
    "cri": ["2023-10-14T10:15:30.123456789Z stdout F hello world", "2023-10-14T10:15:31.000000000+00:00 stderr F boom"],
    "docker": ['{"log":"hello\\n","stream":"stdout","time":"2023-10-14T10:15:30.123456789Z"}',
               '{"log":"boom\\n","stream":"stderr","time":"2023-10-14T10:15:31.000000000Z"}'],
    "django": ['[14/Oct/2023 10:15:30] "GET /api/x HTTP/1.1" 200 1234', '[14/Oct/2023 10:15:31] "POST /api/y HTTP/1.1" 500 56'],
    "generic": ["2023-10-14 10:15:30 server started on port 80", "1697278531 something happened",
                "  an indented continuation", "Oct 14 10:15:32 no host here",
                "[2023-10-14T10:15:30,123][WARN ][o.e.c.r.a.DiskThresholdMonitor] [node-1] high disk watermark",
                "1:M 14 Oct 2023 10:15:30.123 * Ready to accept connections"],
    "nginx_error": ['2023/10/14 10:15:30 [error] 1234#1234: *5 connect() failed (111: Connection refused) while connecting '
                    'to upstream, client: 1.2.3.4, server: shop, request: "GET /api/orders HTTP/1.1", upstream: '
                    '"http://127.0.0.1:8080/api/orders", host: "shop"', "2023/10/14 10:15:31 [notice] 1#1: signal process started"],
    "postgres": ["2023-10-14 10:15:30.123 UTC [12345] LOG:  database system is ready to accept connections",
                 "2023-10-14 10:15:31.123 UTC [12346] app@shop ERROR:  deadlock detected",
                 "2023-10-14 10:15:31.123 UTC [12346] app@shop DETAIL:  Process 12346 waits for ShareLock on transaction 1",
                 "\tProcess 12347 waits for ShareLock on transaction 2."],
}


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_every_family_is_recognised_and_every_line_accounted_for(tmp_path: Path, name: str) -> None:
    path = tmp_path / f"{name}.log"
    path.write_text("\n".join(FAMILIES[name]) + "\n")
    df = logs.read(path)
    assert df.attrs["format"] == name
    assert df["ts"].notna().all() and df.attrs["rejected"] == 0
    assert accounted(df) == len(FAMILIES[name])
    assert set(df["level"].dropna()) <= set(fields.LEVELS)
    if name == "syslog":
        chrome = df[df["message"].str.startswith("Couldn't")]
        assert list(chrome["service"]) == ["Google Chrome Helper"] and list(chrome["pid"].astype(str)) == ["19736"]


def test_a_malformed_line_never_takes_its_neighbour(tmp_path: Path) -> None:
    """Between two good lines, a broken one is rejected alone, in every registered line format sampled above."""
    for name, lines in FAMILIES.items():
        if name in ("docker", "generic"):
            continue
        path = tmp_path / f"{name}.log"
        path.write_text("\n".join([lines[0], "1999 this line fits no format", lines[-1]]) + "\n")
        df = logs.read(path, format=name)
        assert accounted(df) == 3, name
        assert df.attrs["rejected"] == 1 and df.attrs["rejected_sample"][0]["line"] == 2, name


def test_unterminated_quote_in_an_access_log_swallows_nothing(tmp_path: Path) -> None:
    lines = [f'10.0.0.{i} - - [22/Nov/2026:13:00:0{i} +0000] "GET /a{i} HTTP/1.1" 200 12 "-" "curl/8"' for i in range(10)]
    lines[6] = '10.0.0.6 - - [22/Nov/2026:13:00:06 +0000] "GET /x HTTP/1.1" 400 0 "-" "Mozilla'
    path = tmp_path / "access.log"
    path.write_text("\n".join(lines) + "\n")
    df = logs.read(path)
    assert accounted(df) == 10 and len(df) == 10
    assert list(df["path"]) == [f"/a{i}" if i != 6 else "/x" for i in range(10)]


def test_equal_timestamps_keep_file_order(tmp_path: Path) -> None:
    lines = [f'10.0.0.1 - - [22/Nov/2026:13:00:0{1 if i % 3 else 0} +0000] "GET /p{i} HTTP/1.1" 200 1 "-" "c"'
             for i in range(9)]
    lines[4] = lines[4].replace('"GET /p4 HTTP/1.1"', '"\\x16\\x03"')  # an odd line read by the regex path
    path = tmp_path / "access.log"
    path.write_text("\n".join(lines) + "\n")
    df = logs.read(path)
    want = [f"/p{i}" for i in range(9) if i % 3 == 0] + [f"/p{i}" if i != 4 else None for i in range(9) if i % 3]
    assert [p if isinstance(p, str) else None for p in df["path"]] == want


def test_stack_traces_stay_with_their_record_across_blocks(tmp_path: Path) -> None:
    record = ["2026-10-28 09:26:01.043 ERROR [exec-{i}] o.h.SqlExceptionHelper - failed {i}",
              "java.sql.SQLTransientConnectionException: Connection is not available",
              "\tat com.zaxxer.hikari.pool.HikariPool.getConnection(HikariPool.java:197)",
              "\t... 42 more"]
    lines = [ln.format(i=i) for i in range(300) for ln in record]
    path = tmp_path / "svc.log"
    path.write_text("\n".join(lines) + "\n")
    df = logs.read(path, chunk_bytes=1000)
    assert len(df) == 300 and df.attrs["rejected"] == 0 and df.attrs["continuations"] == 900
    assert df["exception"].str.count("\n").eq(2).all() and df["exception"].str.endswith("... 42 more").all()


def test_yearless_stamps_take_the_window_year_else_the_file_time(tmp_path: Path) -> None:
    path = tmp_path / "proxifier.log"
    path.write_text("[12.30 23:59:00] a.exe - x\n[01.02 00:01:00] a.exe - y\n")
    df = logs.read(path, start="2024-12-20T00:00:00Z", end="2025-01-05T00:00:00Z")
    assert list(df["ts"]) == [pd.Timestamp("2024-12-30T23:59:00Z"), pd.Timestamp("2025-01-02T00:01:00Z")]
    assert any("no year: taken as 2025 (from the investigation window)" in n for n in df.attrs["notes"])
    os.utime(path, (pd.Timestamp("2019-03-01").timestamp(),) * 2)
    df = logs.read(path)
    assert [t.year for t in df["ts"]] == [2018, 2019]
    assert any("from the file's modification time" in n for n in df.attrs["notes"])
    tz = logs.read(path, timezone="Europe/Paris")
    assert tz["ts"].iloc[0] == pd.Timestamp("2018-12-30T22:59:00Z")
    assert any("times in Europe/Paris" in n for n in tz.attrs["notes"])


def test_formats_can_be_named_and_the_choice_is_recorded(tmp_path: Path) -> None:
    path = tmp_path / "spark.log"
    path.write_text("\n".join(FAMILIES["log4j_short_year"]) + "\n")
    named = logs.read(path, format="spark")  # an alias of the family's format
    assert named.attrs["format"] == "log4j_short_year" and named.attrs["confidence"] == {str(path): 1.0}
    sniffed = logs.read(path)
    assert sniffed.attrs["confidence"] == {str(path): 1.0}
    assert any("format sniffed as log4j_short_year (100% of the first lines match)" in n for n in sniffed.attrs["notes"])


def test_the_registry_declares_each_format_once() -> None:
    assert len({f.name for f in REGISTRY.values()}) == len(REGISTRY) >= 25
    assert all(callable(f.parse) and f.description for f in REGISTRY.values())


# -- lines without a time of their own ------------------------------------------------------------
UVICORN_APP = [
    "INFO:     Started server process [4121]",
    "2026-10-28 09:26:01,042 - shop.api - INFO - application startup complete",
    "INFO:     127.0.0.1:53422 - \"GET /health HTTP/1.1\" 200 OK",
    "2026-10-28 09:26:02,500 - shop.api - ERROR - checkout failed",
    "Traceback (most recent call last):",
    '  File "/app/shop/api.py", line 12, in checkout',
    "    total = order.total * coupon.rate",
    "AttributeError: 'NoneType' object has no attribute 'rate'",
    "INFO:     10.0.0.7:40110 - \"POST /api/checkout HTTP/1.1\" 500 Internal Server Error",
    "ERROR:    Exception in ASGI application",
    "Traceback (most recent call last):",
    '  File "/usr/lib/python3/dist-packages/uvicorn/protocols/http/h11_impl.py", line 408, in run_asgi',
    "RuntimeError: boom",
    "WARNING:  Invalid HTTP request received.",
    "2026-10-28 09:26:05,001 - shop.api - INFO - order 4411 paid",
]


def test_uvicorn_lines_among_an_apps_records_take_the_time_of_the_record_before(tmp_path: Path) -> None:
    path = tmp_path / "app.log"
    path.write_text("\n".join(UVICORN_APP) + "\n")
    df = logs.read(path)
    assert df.attrs["format"] == "log4j" and accounted(df) == len(UVICORN_APP)
    assert df.attrs["inherited_timestamps"] == 4 and df.attrs["continuations"] == 7 and df.attrs["rejected"] == 1
    first = df.attrs["rejected_sample"][0]
    assert first["line"] == 1 and "no timestamp on this line nor on any line before it (uvicorn" in first["reason"]
    rows = df.set_index("message")
    access = rows.loc['10.0.0.7:40110 - "POST /api/checkout HTTP/1.1" 500 Internal Server Error']
    assert (access["ts"], access["status"], access["path"], access["level"]) == (
        pd.Timestamp("2026-10-28T09:26:02.500Z"), 500, "/api/checkout", "info")
    assert rows.loc["Exception in ASGI application", "level"] == "error"
    assert rows.loc["Exception in ASGI application", "exception"].endswith("RuntimeError: boom")
    assert rows.loc["checkout failed", "exception"].startswith("Traceback") and df["ts"].is_monotonic_increasing
    assert list(df["message"]).index("Invalid HTTP request received.") == len(df) - 2  # file order kept
    assert any("4 line(s) without a time of their own (uvicorn) took the time of the record before them" in n
               for n in df.attrs["notes"])
    assert any("1 line(s) without a time (uvicorn) come before the first timestamped record" in n
               for n in df.attrs["notes"])


def test_logcat_brief_lines_in_a_timed_logcat_and_across_blocks(tmp_path: Path) -> None:
    record = ["03-17 16:13:{s:02d}.811  1702  2395 D WindowManager: frame {s}",
              "W/Binder(  612): Caught a RuntimeException from the binder stub {s}",
              "E/AndroidRuntime( 2000): FATAL EXCEPTION: main {s}"]
    lines = [ln.format(s=s) for s in range(40) for ln in record]
    path = tmp_path / "logcat.txt"
    path.write_text("\n".join(lines) + "\n")
    df = logs.read(path, chunk_bytes=500, start="2026-03-17T00:00:00Z", end="2026-03-18T00:00:00Z")
    assert df.attrs["format"] == "logcat" and accounted(df) == len(lines) and df.attrs["rejected"] == 0
    assert df.attrs["inherited_timestamps"] == 80 and len(df) == 120
    brief = df[df["component"] == "AndroidRuntime"]
    assert list(brief["level"].unique()) == ["error"] and brief["pid"].astype(int).eq(2000).all()
    stamp = {int(m.rsplit(" ", 1)[1]): t for m, t in zip(df["message"], df["ts"])}
    assert all(t == pd.Timestamp(f"2026-03-17T16:13:{s:02d}.811Z") for s, t in stamp.items())


@pytest.mark.parametrize("lines, advice", [
    (['INFO:     Started server process [1]', 'INFO:     127.0.0.1:5000 - "GET / HTTP/1.1" 200 OK',
      'ERROR:    Exception in ASGI application', 'Traceback (most recent call last):', 'ValueError: x'],
     "uvicorn --log-config"),
    (["D/dalvikvm( 1234): GC_CONCURRENT freed 2049K", "I/ActivityManager(  612): Start proc com.example",
      "E/AndroidRuntime( 1234): FATAL EXCEPTION: main"], "adb logcat -v threadtime"),
], ids=["uvicorn", "logcat_brief"])
def test_a_file_with_no_timestamp_at_all_is_rejected_with_advice(tmp_path: Path, lines: list[str], advice: str) -> None:
    path = tmp_path / "untimed.log"
    path.write_text("\n".join(lines) + "\n")
    df = logs.read(path)
    assert len(df) == 0 and accounted(df) == len(lines) and df.attrs["inherited_timestamps"] == 0
    assert all("no timestamp on this line nor on any line before it" in r["reason"] for r in df.attrs["rejected_sample"])
    note = next(n for n in df.attrs["notes"] if "no line has a timestamp" in n)
    assert advice in note and "counted as rejected" in note


def test_uvicorn_lines_among_json_records_take_the_time_of_the_record_before(tmp_path: Path) -> None:
    lines = ['INFO:     127.0.0.1:53422 - "GET /health HTTP/1.1" 200 OK',
             '{"timestamp":"2026-10-28T09:26:01.042Z","level":"info","logger":"shop.api","message":"startup complete"}',
             'INFO:     10.0.0.7:40110 - "POST /api/checkout HTTP/1.1" 500 Internal Server Error',
             '{"timestamp":"2026-10-28T09:26:02.500Z","level":"error","logger":"shop.api","message":"checkout failed"}',
             "WARNING:  Invalid HTTP request received."]
    path = tmp_path / "app.jsonl"
    path.write_text("\n".join(lines) + "\n")
    df = logs.read(path)
    assert df.attrs["format"] == "json" and accounted(df) == 5 and df.attrs["inherited_timestamps"] == 2
    assert df.attrs["rejected"] == 1 and df.attrs["rejected_sample"][0]["line"] == 1
    assert list(df["status"].astype("Int64").fillna(0)) == [0, 500, 0, 0]
    assert list(df["ts"]) == [pd.Timestamp("2026-10-28T09:26:01.042Z")] * 2 + [pd.Timestamp("2026-10-28T09:26:02.500Z")] * 2
    assert list(df["level"]) == ["info", "info", "error", "warning"]
