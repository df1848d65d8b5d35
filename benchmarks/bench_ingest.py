"""Log ingestion speed and memory: incident_kit.logs.read against pandas, pyarrow, DuckDB and polars.

Generates (once, cached under .bench/) 1,000,000-line JSON-lines, nginx-combined and logback-pattern corpora,
then, each in a fresh subprocess so peak RSS is its own, times:
  - ``cat file > /dev/null`` (the floor: reading the bytes),
  - each library baseline doing the same parse into a pandas frame with a UTC timestamp column
    (JSON: every field; nginx: the combined fields via the library's regex extraction; log4j: stamp, level,
    thread, logger and message of ``%d{yyyy-MM-dd HH:mm:ss.SSS} %-5level [%thread] %logger - %msg`` by regex),
  - ``incident_kit.logs.read`` producing the canonical logs frame.
Figures: time relative to the fastest baseline (``ingest_*_vs_fastest``, target <= 1.5x; for log4j only polars
and DuckDB, the libraries with a regex extraction into columns);
incident_kit's peak memory (RSS growth over the process after imports) relative to the in-memory
size of that baseline's resulting frame (``ingest_*_mem_vs_fastest``: issue 3's "peak memory no
more than 2x that of the baseline's resulting frame", target <= 2x) and, for orientation, relative
to that baseline's own peak (``ingest_*_peak_vs_fastest_peak``). Last, a five-minute window of the
JSON corpus: its peak memory relative to the file's size (``ingest_window_peak_vs_file``), which
shows memory following the rows kept rather than the file.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".bench"
LINES = int(os.environ.get("BENCH_INGEST_LINES", "1000000"))
RUNS = int(os.environ.get("BENCH_INGEST_RUNS", "2"))

NGINX_RE = (r'^(\S+) \S+ (\S+) \[([^\]]+)\] "([A-Z]+) ([^ "]*) ([^"]*)" (\d{3}) (\d+|-) '
            r'"([^"]*)" "([^"]*)" ([\d.]+)$')
NGINX_NAMES = ["client", "user", "time", "method", "path", "protocol", "status", "bytes", "referer", "user_agent",
               "request_time"]
NGINX_RE_NAMED = (r'^(?P<client>\S+) \S+ (?P<user>\S+) \[(?P<time>[^\]]+)\] "(?P<method>[A-Z]+) (?P<path>[^ "]*) '
                  r'(?P<protocol>[^"]*)" (?P<status>\d{3}) (?P<bytes>\d+|-) "(?P<referer>[^"]*)" "(?P<user_agent>[^"]*)" '
                  r'(?P<request_time>[\d.]+)$')


LOG4J_RE = r'^(\S+ \S+) +([A-Z]+) +\[([^\]]*)\] (\S+) - (.*)$'
LOG4J_NAMES = ["ts", "level", "thread", "logger", "message"]
LOG4J_RE_NAMED = r'^(?P<ts>\S+ \S+) +(?P<level>[A-Z]+) +\[(?P<thread>[^\]]*)\] (?P<logger>\S+) - (?P<message>.*)$'


# the corpora span one hour from BASE_EPOCH (one line every 3.6 ms)
BASE_EPOCH = 1795438800
WINDOW = (time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(BASE_EPOCH + 1800)),
          time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(BASE_EPOCH + 2100)))


def generate_log4j() -> Path:
    """Write the logback-pattern corpus if missing (a service's log: levels, threads, loggers); return its path."""
    CACHE.mkdir(exist_ok=True)
    path = CACHE / f"ingest_{LINES}.log4j.log"
    if path.exists():
        return path
    rnd = random.Random(7)
    loggers = ["com.example.shop.OrderController", "com.zaxxer.hikari.pool.HikariPool", "o.s.web.servlet.DispatcherServlet",
               "com.example.shop.PaymentClient", "org.hibernate.SQL"]
    with open(path, "w") as f:
        for i in range(LINES):
            t = BASE_EPOCH + i * 0.0036
            sec = int(t)
            stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(sec)) + f".{int((t - sec) * 1000):03d}"
            level = "ERROR" if rnd.random() < 0.03 else "WARN" if rnd.random() < 0.05 else "INFO"
            message = (f"order {rnd.randrange(10**6)} failed: HikariPool-1 - Connection is not available" if level == "ERROR"
                       else f"request served in {rnd.randrange(1, 400)} ms for user u{rnd.randrange(10**5)}")
            f.write(f"{stamp} {level:<5} [http-nio-8080-exec-{rnd.randrange(1, 200)}] {rnd.choice(loggers)} - {message}\n")
    return path


def generate() -> tuple[Path, Path]:
    """Write the corpora if missing; return their paths."""
    CACHE.mkdir(exist_ok=True)
    jpath, npath = CACHE / f"ingest_{LINES}.jsonl", CACHE / f"ingest_{LINES}.nginx.log"
    if jpath.exists() and npath.exists():
        return jpath, npath
    rnd = random.Random(42)
    paths = ["/api/checkout", "/api/products", "/api/cart", "/healthz", "/api/login", "/static/app.js"]
    methods = ["GET", "GET", "GET", "POST", "PUT"]
    agents = ["Mozilla/5.0 (X11; Linux x86_64)", "curl/8.5.0", "kube-probe/1.29", "python-httpx/0.27.0"]
    base = BASE_EPOCH
    months = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()
    with open(jpath, "w") as jf, open(npath, "w") as nf:
        for i in range(LINES):
            t = base + i * 0.0036
            sec = int(t)
            ms = int((t - sec) * 1000)
            tm = time.gmtime(sec)
            status = 500 if rnd.random() < 0.03 else 200
            method, path = rnd.choice(methods), rnd.choice(paths)
            client = f"203.0.113.{rnd.randrange(256)}"
            dur = round(rnd.expovariate(1 / 40), 3)
            iso = time.strftime("%Y-%m-%dT%H:%M:%S", tm) + f".{ms:03d}Z"
            jf.write(json.dumps({
                "timestamp": iso, "level": "error" if status >= 500 else "info", "service": "shop-api",
                "method": method, "path": path, "status": status, "duration_ms": dur, "client": client,
                "user_id": f"u{rnd.randrange(100000)}", "request_id": f"{rnd.getrandbits(64):016x}",
                "message": "request failed" if status >= 500 else "request served"}) + "\n")
            local = f"{tm.tm_mday:02d}/{months[tm.tm_mon - 1]}/{tm.tm_year}:{tm.tm_hour:02d}:{tm.tm_min:02d}:{tm.tm_sec:02d} +0000"
            nf.write(f'{client} - - [{local}] "{method} {path} HTTP/1.1" {status} {rnd.randrange(100, 9000)} '
                     f'"-" "{rnd.choice(agents)}" {dur / 1000:.3f}\n')
    return jpath, npath


# Each snippet leaves a pandas DataFrame in ``df``. They run in a fresh interpreter.
SNIPPETS: dict[str, dict[str, str]] = {
    "json": {
        "pandas": "import pandas as pd\n"
                  "df = pd.read_json(PATH, lines=True, dtype=False, convert_dates=False)\n"
                  "df['timestamp'] = pd.to_datetime(df['timestamp'], utc=True, format='ISO8601')",
        "pyarrow": "import pyarrow.json as pj, pyarrow as pa\n"
                   "t = pj.read_json(PATH)\n"
                   "t = t.set_column(0, 'timestamp', t.column('timestamp').cast(pa.timestamp('ns', tz='UTC')))\n"
                   "df = t.to_pandas()",
        "duckdb": "import duckdb\n"
                  "df = duckdb.sql(f\"SELECT * REPLACE (CAST(timestamp AS TIMESTAMPTZ) AS timestamp) "
                  "FROM read_json('{PATH}', format='newline_delimited')\").arrow().read_all().to_pandas()",
        "polars": "import polars as pl\n"
                  "df = pl.read_ndjson(PATH).with_columns(pl.col('timestamp').str.to_datetime(time_zone='UTC'))"
                  ".to_pandas()",
        "incident_kit": "import incident_kit.sources.logs as logs\nimport incident_kit.sources.logs.formats.base, polars\n"
                        "df = logs.read(PATH, format='json')",
        # five minutes from the middle of the hour the corpus spans: blocks before are skipped, reading stops after
        "incident_kit_window": "import incident_kit.sources.logs as logs\nimport incident_kit.sources.logs.formats.base, polars\n"
                               "df = logs.read(PATH, format='json', start=WINDOW[0], end=WINDOW[1])",
    },
    "nginx": {
        "pandas": "import pandas as pd\n"
                  "s = pd.read_csv(PATH, sep='\\x01', header=None, names=['line'], dtype=str, quoting=3)['line']\n"
                  "df = s.str.extract(NGINX_RE)\ndf.columns = NGINX_NAMES\n"
                  "df['time'] = pd.to_datetime(df['time'], format='%d/%b/%Y:%H:%M:%S %z', utc=True)",
        "pyarrow": "import pyarrow as pa, pyarrow.compute as pc, pyarrow.csv as pcsv\n"
                   "lines = pcsv.read_csv(PATH, read_options=pcsv.ReadOptions(column_names=['line']),"
                   " parse_options=pcsv.ParseOptions(delimiter='\\x01', quote_char=False)).column('line')\n"
                   "g = pc.extract_regex(lines, NGINX_RE_NAMED)\n"
                   "t = pa.Table.from_struct_array(g.combine_chunks())\n"
                   "t = t.set_column(2, 'time', pc.strptime(t.column('time'), format='%d/%b/%Y:%H:%M:%S %z', unit='ns'))\n"
                   "df = t.to_pandas()",
        "duckdb": "import duckdb\n"
                  "df = duckdb.sql(f\"SELECT regexp_extract(line, '{NGINX_RE}', {NGINX_NAMES}) AS g FROM "
                  "read_csv('{PATH}', columns={{'line': 'VARCHAR'}}, delim='\\x01', quote='', header=false)\""
                  ").select('unnest(g)').select(\"* REPLACE (strptime(time, '%d/%b/%Y:%H:%M:%S %z') AS time)\")"
                  ".arrow().read_all().to_pandas()",
        "polars": "import polars as pl\n"
                  "s = pl.read_csv(PATH, has_header=False, new_columns=['line'], separator='\\x01', quote_char=None)\n"
                  "df = s.select(pl.col('line').str.extract_groups(NGINX_RE_NAMED)).unnest('line')"
                  ".with_columns(pl.col('time').str.to_datetime('%d/%b/%Y:%H:%M:%S %z')).to_pandas()",
        "incident_kit": "import incident_kit.sources.logs as logs\nimport incident_kit.sources.logs.formats.base, pyarrow.csv\n"
                        "df = logs.read(PATH, format='nginx')",
    },
    "log4j": {
        "duckdb": "import duckdb\n"
                  "df = duckdb.sql(f\"SELECT regexp_extract(line, '{LOG4J_RE}', {LOG4J_NAMES}) AS g FROM "
                  "read_csv('{PATH}', columns={{'line': 'VARCHAR'}}, delim='\\x01', quote='', header=false)\""
                  ").select('unnest(g)').select(\"* REPLACE (CAST(ts AS TIMESTAMP) AS ts)\")"
                  ".arrow().read_all().to_pandas()",
        "polars": "import polars as pl\n"
                  "s = pl.read_csv(PATH, has_header=False, new_columns=['line'], separator='\\x01', quote_char=None)\n"
                  "df = s.select(pl.col('line').str.extract_groups(LOG4J_RE_NAMED)).unnest('line')"
                  ".with_columns(pl.col('ts').str.to_datetime('%Y-%m-%d %H:%M:%S%.3f', time_zone='UTC')).to_pandas()",
        # sniffed, as a user would read it
        "incident_kit": "import incident_kit.sources.logs as logs\nimport incident_kit.sources.logs.formats.base, polars\n"
                        "df = logs.read(PATH)",
    },
}

RUNNER = r"""
import os, sys, time, resource, json
NGINX_RE = {nginx_re!r}
NGINX_NAMES = {names!r}
NGINX_RE_NAMED = {nginx_re_named!r}
LOG4J_RE = {log4j_re!r}
LOG4J_NAMES = {log4j_names!r}
LOG4J_RE_NAMED = {log4j_re_named!r}
PATH = {path!r}
WINDOW = {window!r}
def rss():
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE')
{imports}
base = rss()
r0 = resource.getrusage(resource.RUSAGE_SELF)
t0 = time.perf_counter()
{code}
elapsed = time.perf_counter() - t0
r1 = resource.getrusage(resource.RUSAGE_SELF)
cpu = r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
frame = int(df.memory_usage(deep=True).sum())
print(json.dumps({{"seconds": elapsed, "cpu": cpu, "peak_growth": peak - base, "frame_bytes": frame, "rows": len(df)}}))
"""


def run_one(kind: str, name: str, path: Path, timeout: float | None = None) -> dict[str, float]:
    """Run one snippet in a fresh interpreter; return its seconds, peak growth and frame size.

    With ``timeout``, a run still going after that many seconds is stopped and reported as slower.
    """
    code = SNIPPETS[kind][name]
    imports = "\n".join(ln for ln in code.splitlines() if ln.startswith("import "))
    body = "\n".join(ln for ln in code.splitlines() if not ln.startswith("import "))
    script = RUNNER.format(nginx_re=NGINX_RE, nginx_re_named=NGINX_RE_NAMED, names=NGINX_NAMES, path=str(path),
                           log4j_re=LOG4J_RE, log4j_names=LOG4J_NAMES, log4j_re_named=LOG4J_RE_NAMED,
                           window=WINDOW, imports=imports, code=body)
    try:
        proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"seconds": float("inf"), "cpu": float("inf"), "peak_growth": float("nan"), "frame_bytes": float("nan"), "rows": 0,
                "stopped_after": timeout or 0.0}
    if proc.returncode != 0:
        raise RuntimeError(f"{kind}/{name} failed: {proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else proc.returncode}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def cat_seconds(path: Path) -> float:
    """Seconds for ``cat file > /dev/null``."""
    t0 = time.perf_counter()
    subprocess.run(f"cat '{path}' > /dev/null", shell=True, check=True)
    return time.perf_counter() - t0


def summarise(results: list[dict[str, float]]) -> dict[str, float]:
    """Best time, best CPU time and lowest peak of several runs of one snippet."""
    return {"seconds": min(r["seconds"] for r in results), "cpu": min(r["cpu"] for r in results),
            "peak_growth": min(r["peak_growth"] for r in results),
            "frame_bytes": results[0]["frame_bytes"], "rows": results[0]["rows"]}


def best(kind: str, name: str, path: Path, runs: int, timeout: float | None = None) -> dict[str, float]:
    """Best time and lowest peak of ``runs`` runs."""
    results = [run_one(kind, name, path, timeout) for _ in range(runs)]
    if any("stopped_after" in r for r in results):
        return results[0]
    return summarise(results)


def interleaved(kind: str, names: list[str], path: Path, runs: int) -> dict[str, dict[str, float]]:
    """Best of ``runs`` rounds, each round running every snippet once in turn, so a change in the
    machine's load during the benchmark falls on every contender alike. Failed snippets are left out."""
    samples: dict[str, list[dict[str, float]]] = {name: [] for name in names}
    for _ in range(runs):
        for name in names:
            if samples[name] is None:
                continue
            try:
                samples[name].append(run_one(kind, name, path))
            except RuntimeError as exc:
                print(f"[{kind}] {name}: FAILED {exc}")
                samples[name] = None
    return {name: summarise(got) for name, got in samples.items() if got}


def main() -> int:
    """Generate, measure, print details then figures."""
    t0 = time.perf_counter()
    jpath, npath = generate()
    lpath = generate_log4j()
    print(f"corpora: {jpath.name} ({jpath.stat().st_size / 1e6:.0f} MB), {npath.name} ({npath.stat().st_size / 1e6:.0f} MB);"
          f" ready in {time.perf_counter() - t0:.1f}s; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cpus")
    figures: list[str] = []
    for kind, path in (("json", jpath), ("nginx", npath), ("log4j", lpath)):
        cat = min(cat_seconds(path) for _ in range(2))
        print(f"[{kind}] cat > /dev/null: {cat:.3f}s")
        # pandas last and once, stopped once it is slower than the fastest (it cannot be the fastest then)
        order = ["duckdb", "polars", "pyarrow", "incident_kit"]
        results = interleaved(kind, [name for name in order if name in SNIPPETS[kind]], path, RUNS)
        if "pandas" in SNIPPETS[kind]:
            fastest_so_far = min((r["seconds"] for k, r in results.items() if k != "incident_kit"), default=None)
            timeout = fastest_so_far * 1.2 + 10 if fastest_so_far else None
            try:
                results["pandas"] = best(kind, "pandas", path, 1, timeout)
            except RuntimeError as exc:
                print(f"[{kind}] pandas: FAILED {exc}")
        for name, r in list(results.items()):
            if "stopped_after" in r:
                print(f"[{kind}] {name:>12}: stopped after {r['stopped_after']:.0f}s, slower than the fastest baseline")
                del results[name]
                continue
            print(f"[{kind}] {name:>12}: {r['seconds']:6.2f}s (cpu {r['cpu']:5.2f}s)  peak +{r['peak_growth'] / 1e6:7.0f} MB  "
                  f"frame {r['frame_bytes'] / 1e6:6.0f} MB  rows {r['rows']}  ({r['seconds'] / cat:.0f}x cat)")
        ours = results["incident_kit"]
        baselines = {k: v for k, v in results.items() if k != "incident_kit"}
        fastest = min(baselines, key=lambda k: baselines[k]["seconds"])
        fb = baselines[fastest]
        vs_frame, vs_peak = ours["peak_growth"] / fb["frame_bytes"], ours["peak_growth"] / fb["peak_growth"]
        print(f"[{kind}] fastest baseline: {fastest}; incident_kit {ours['seconds'] / fb['seconds']:.2f}x its time "
              f"({ours['cpu'] / fb['cpu']:.2f}x its cpu time)")
        print(f"[{kind}] memory: incident_kit peak +{ours['peak_growth'] / 1e6:.0f} MB = {vs_frame:.2f}x {fastest}'s "
              f"resulting frame ({fb['frame_bytes'] / 1e6:.0f} MB; target <= 2x) and {vs_peak:.2f}x {fastest}'s peak "
              f"(+{fb['peak_growth'] / 1e6:.0f} MB); incident_kit's canonical frame {ours['frame_bytes'] / 1e6:.0f} MB")
        figures.append(f"ingest_{kind}_vs_fastest: {ours['seconds'] / fb['seconds']:.2f}x")
        if kind != "log4j":
            figures.append(f"ingest_{kind}_mem_vs_fastest: {vs_frame:.2f}x")
            figures.append(f"ingest_{kind}_peak_vs_fastest_peak: {vs_peak:.2f}x")
    window = best("json", "incident_kit_window", jpath, RUNS)
    size = jpath.stat().st_size
    print(f"[window] incident_kit, {WINDOW[0]} to {WINDOW[1]} of the JSON corpus: {window['seconds']:.2f}s, "
          f"{window['rows']} rows, peak +{window['peak_growth'] / 1e6:.0f} MB for a {size / 1e6:.0f} MB file "
          f"(frame {window['frame_bytes'] / 1e6:.0f} MB): memory follows the rows kept, not the file")
    figures.append(f"ingest_window_peak_vs_file: {window['peak_growth'] / size:.2f}x")
    print(f"total {time.perf_counter() - t0:.0f}s")
    print("--- figures ---")
    # the four figures last: time, then memory against the fastest baseline's frame
    for line in sorted(figures, key=lambda s: (not s.startswith("ingest_window"), "peak_vs" not in s, "mem" in s, s)):
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
