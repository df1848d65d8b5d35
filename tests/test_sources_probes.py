"""Probes against real servers on loopback: one answers, one slowly, one fails, one resets, one redirects."""

from __future__ import annotations

import http.server
import socket
import ssl
import struct
import subprocess
import threading
import time
from pathlib import Path

import pytest

import incident_kit as ik
from incident_kit import frames
from incident_kit.demo.pgcluster import free_port

pytestmark = pytest.mark.slow  # real services on loopback


class _Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:  # keep test output clean
        pass

    def do_GET(self) -> None:  # noqa: N802
        if self.path == "/slow":
            time.sleep(6)
        if self.path == "/reset":
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            return
        if self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "/ok")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        code = 500 if self.path == "/fail" else 200
        body = b"status: healthy" if code == 200 else b"upstream database unavailable"
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def web():
    http.server.ThreadingHTTPServer.request_queue_size = 64  # the probes arrive all at once
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    server.handle_error = lambda request, address: None  # the slow answer meets a client that left
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_http_ok_slow_fail_reset_redirect(web: str) -> None:
    started = time.monotonic()
    frame = ik.probes.http([f"{web}/ok", f"{web}/slow", f"{web}/fail", f"{web}/reset", f"{web}/redirect",
                            {"url": f"{web}/ok", "contains": "healthy"},
                            {"url": f"{web}/ok", "contains": "nope"}], timeout_s=2)
    elapsed = time.monotonic() - started
    assert elapsed < 5.5  # each probe holds its own 2 s timeout; the slow server answers after 6 s
    assert frames.check(frame, "probes") == []
    rows = {(r.target, i): r for i, r in enumerate(frame.itertuples())}
    by = list(rows.values())
    ok, slow, fail, reset, redirect, contains, missing = by
    assert ok.ok and ok.status == "200" and ok.error == "" and ok.latency_ms > 0
    assert not slow.ok and "timed out after 2s" in slow.error and pd_isna(slow.status)
    assert not fail.ok and fail.status == "500" and "HTTP 500" in fail.error
    assert not reset.ok and reset.error and "\n" not in reset.error
    assert redirect.ok and redirect.status == "200" and f"{web}/redirect -> {web}/ok" in redirect.detail
    assert contains.ok and "body contains 'healthy'" in contains.detail
    assert not missing.ok and "does not contain 'nope'" in missing.error


def pd_isna(v) -> bool:
    import pandas as pd

    return bool(pd.isna(v))


def test_http_rounds_and_expected_status(web: str) -> None:
    frame = ik.probes.http([{"url": f"{web}/fail", "expect_status": 500}], rounds=3, interval_s=0.1, timeout_s=2)
    assert list(frame["round"]) == [1, 2, 3] and frame.ok.all()
    assert frame.ts.is_monotonic_increasing


def test_http_unreachable_is_a_row_not_an_exception() -> None:
    frame = ik.probes.http(f"http://127.0.0.1:{free_port()}/health", timeout_s=1)
    assert len(frame) == 1 and not frame.ok.iloc[0] and "refused" in frame.error.iloc[0].lower()


def test_http_bad_target_is_a_config_error() -> None:
    with pytest.raises(ik.ConfigError, match="target #1"):
        ik.probes.http([42])
    with pytest.raises(ik.ConfigError, match="rounds"):
        ik.probes.http("http://127.0.0.1/", rounds=0)
    with pytest.raises(ik.ConfigError, match="no targets"):
        ik.probes.tcp([])


# -- TCP, DNS, TLS, SQL ------------------------------------------------------------------------
def test_tcp_open_and_refused() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        port = listener.getsockname()[1]
        frame = ik.probes.tcp([f"127.0.0.1:{port}", f"tcp://127.0.0.1:{free_port()}"], timeout_s=1)
    assert frames.check(frame, "probes") == []
    up, down = frame.itertuples()
    assert up.ok and up.status == "open" and f"127.0.0.1:{port}" in up.detail
    assert not down.ok and "refused" in down.error.lower() and "127.0.0.1" in down.error
    with pytest.raises(ik.ConfigError, match="not host:port"):
        ik.probes.tcp("no-port-here")


@pytest.fixture(scope="module")
def dns_server():
    """A real DNS server on loopback UDP (dnspython wire format) answering for example.test."""
    import dns.message
    import dns.rcode
    import dns.rrset

    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                data, peer = sock.recvfrom(4096)
            except OSError:
                continue
            query = dns.message.from_wire(data)
            response = dns.message.make_response(query)
            q = query.question[0]
            if q.name.to_text() == "api.example.test.":
                response.answer.append(dns.rrset.from_text(q.name, 60, "IN", "A", "10.1.2.3", "10.1.2.4"))
            elif q.name.to_text() == "slow.example.test.":
                continue  # never answers
            else:
                response.set_rcode(dns.rcode.NXDOMAIN)
            sock.sendto(response.to_wire(), peer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{sock.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(2)
        sock.close()


def test_dns_against_a_server_and_the_system_resolver(dns_server: str) -> None:
    frame = ik.probes.dns(["api.example.test", "gone.example.test", "slow.example.test",
                           {"target": "api.example.test", "expect": "10.9.9.9"}], server=dns_server, timeout_s=0.5)
    api, gone, slow, wrong = frame.itertuples()
    assert api.ok and api.status == "NOERROR" and api.detail == "10.1.2.3, 10.1.2.4"
    assert not gone.ok and gone.status == "NXDOMAIN"
    assert not slow.ok and "no answer" in slow.error
    assert not wrong.ok and "expected 10.9.9.9" in wrong.error
    local = ik.probes.dns("localhost")
    assert local.ok.iloc[0] and "127.0.0.1" in local.detail.iloc[0]


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def tls_servers(tmp_path_factory):
    """Two TLS servers on loopback: one with a CA-signed cert valid 90 days, one self-signed valid 3 days."""
    d = tmp_path_factory.mktemp("tls")
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "30",
             "-subj", "/CN=ik test CA", cwd=d)
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "srv.key", "-out", "srv.csr", "-subj", "/CN=localhost",
             cwd=d)
    (d / "ext.cnf").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    _openssl("x509", "-req", "-in", "srv.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out",
             "srv.pem", "-days", "90", "-extfile", "ext.cnf", cwd=d)
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "short.key", "-out", "short.pem", "-days", "3",
             "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost", cwd=d)
    servers, stop = [], threading.Event()
    for cert, key in (("srv.pem", "srv.key"), ("short.pem", "short.key")):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(d / cert, d / key)
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        sock.settimeout(0.2)

        def serve(sock=sock, ctx=ctx) -> None:
            while not stop.is_set():
                try:
                    conn, _ = sock.accept()
                except OSError:
                    continue
                try:
                    with ctx.wrap_socket(conn, server_side=True) as tls_conn:
                        tls_conn.settimeout(1)
                        try:
                            tls_conn.recv(1)
                        except OSError:
                            pass
                except (ssl.SSLError, OSError):
                    pass

        t = threading.Thread(target=serve, daemon=True)
        t.start()
        servers.append((sock, t))
    try:
        yield {"ca": str(d / "ca.pem"), "good": f"localhost:{servers[0][0].getsockname()[1]}",
               "short": f"localhost:{servers[1][0].getsockname()[1]}"}
    finally:
        stop.set()
        for sock, t in servers:
            t.join(2)
            sock.close()


def test_tls_expiry_and_trust(tls_servers) -> None:
    frame = ik.probes.tls([tls_servers["good"], tls_servers["short"]], cafile=tls_servers["ca"], timeout_s=3)
    assert frames.check(frame, "probes") == []
    good, short = frame.itertuples()
    assert good.ok and 88 <= good.days_left <= 90 and good.status == "89" and "verified" in good.detail
    assert not short.ok and "not trusted" in short.error and "certificate expires in" in short.error
    assert 2 < short.days_left <= 3


def test_sql_probe(pg_cluster) -> None:
    frame = ik.probes.sql([pg_cluster.url(), f"postgresql://u:hunter2@127.0.0.1:{free_port()}/x"], timeout_s=2)
    ok, down = frame.itertuples()
    assert ok.ok and ok.status == "ok" and ok.latency_ms > 0
    assert not down.ok and down.error.startswith("sql postgresql://u:***@") and "hunter2" not in down.error
    assert "hunter2" not in down.target
