"""Hostile requests to both HTTP servers of the ASan build (build-asan/smarttech, or
$SMARTTECH_ASAN_BIN): a job's --metrics endpoint (silver, draining a backlog) and the dashboard.

Every hostile request gets a 4xx and neither process crashes (AddressSanitizer and UBSan would
abort it; their report would be in its stderr): path traversal (plain and percent-encoded), a 1 MiB
header, methods other than GET/HEAD, bad query parameters, missing or wrong tokens, an open address
without a token, 50 clients that never read their answers, and 1,000 concurrent idle connections. With those connections open, /metrics still answers and the data path
keeps its rate: silver's drain rate is measured without and with them (printed; the only bound is a
generous sanity one, speed belongs to benchmarks).
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from conftest import REPO

EVENTS = 60_000
TRAVERSALS = ["/../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/..%2f..%2fetc%2fpasswd", "//etc/passwd",
              "/vendor/uplot/../../../../etc/passwd", "/vendor/uplot/%2e%2e%2f%2e%2e%2fCMakeLists.txt",
              "/%00", "/metrics/../../etc/shadow", "/.%2e/.%2e/proc/self/environ", "/api/../../etc/hosts"]
METHODS = ["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT", "PROPFIND", "FOO"]


def asan_bin() -> Path:
    env = os.environ.get("SMARTTECH_ASAN_BIN")
    p = Path(env) if env else REPO / "build-asan" / "smarttech"
    if not os.access(p, os.X_OK):
        pytest.skip("no ASan binary: build build-asan (make asan) or set SMARTTECH_ASAN_BIN")
    return p


ASAN_ENV = dict(os.environ, ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:exitcode=99",
                UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def raw(port: int, data: bytes, timeout: float = 10) -> bytes:
    """Sends raw bytes, returns everything the server answers before it closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may stop reading an oversized request and answer at once
        out = b""
        try:
            while chunk := s.recv(65536):
                out += chunk
        except (ConnectionResetError, socket.timeout):
            pass
        return out


def status(resp: bytes) -> int:
    return int(resp.split(b" ", 2)[1]) if resp.startswith(b"HTTP/1.") else -1


def get(port: int, path: str, method: str = "GET", headers: str = "") -> tuple[int, bytes]:
    r = raw(port, f"{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{headers}\r\n".encode())
    return status(r), r.split(b"\r\n\r\n", 1)[-1]


def hostile_battery(port: int, known: str) -> dict:
    """Every hostile request must give a 4xx; returns what was seen, for the report."""
    seen = {}
    for p in TRAVERSALS:
        code, body = get(port, p)
        assert 400 <= code < 500, (p, code)
        assert b"root:" not in body and b"cmake_minimum_required" not in body and b"PATH=" not in body
        seen[p] = code
    for m in METHODS:
        code, _ = get(port, known, method=m)
        assert 400 <= code < 500, (m, code)
        seen[m] = code
    big = b"GET " + known.encode() + b" HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (1 << 20) + b"\r\n\r\n"
    code = status(raw(port, big))
    assert 400 <= code < 500, code
    seen["1 MiB header"] = code
    code = status(raw(port, b"GET /" + b"a" * (1 << 20) + b" HTTP/1.1\r\nHost: x\r\n\r\n"))
    assert 400 <= code < 500, code
    seen["1 MiB URL"] = code
    code = status(raw(port, b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + os.urandom(64) + b"\r\n\r\n"))
    assert code == -1 or 400 <= code < 500, code  # a TLS hello: closed or 400
    seen["TLS hello"] = code
    return seen


class IdleConnections:
    """n sockets connected to port and left idle (half of them with an unfinished request line)."""

    def __init__(self, port: int, n: int):
        self.socks = []
        for i in range(n):
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            if i % 2:
                s.sendall(b"GET /metr")
            self.socks.append(s)

    def close(self):
        for s in self.socks:
            s.close()


def cpu_over(pid: int, seconds: float) -> float:
    """CPU seconds (user + system) process pid used during the next `seconds`."""
    def cpu():
        f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
    c0 = cpu()
    time.sleep(seconds)
    return cpu() - c0


def drain(binary, kafka_broker, topic, tmp, port, idle: int):
    """silver --once over the topic with --metrics on port; idle connections opened once the
    endpoint is up. Returns (events/s from assignment to the last batch, stderr, /metrics status
    while the idle connections were open)."""
    out = tmp / f"run{idle}_{time.monotonic_ns()}"
    p = subprocess.Popen([binary, "silver", "--brokers", kafka_broker, "--topic", topic, "--group", f"{topic}_{out.name}",
                          "--output", out / "silver", "--bronze", out / "bronze", "--quarantine", out / "q",
                          "--checkpoint", out / "ck", "--trigger", "200ms", "--once", "--metrics", f"127.0.0.1:{port}"],
                         cwd=REPO, stderr=subprocess.PIPE, text=True, env=ASAN_ENV)
    lines, t_assigned, t_last, conns, scrape = [], None, None, None, None
    try:
        for line in p.stderr:
            lines.append(line)
            now = time.monotonic()
            if "metrics on http" in line and idle:
                conns = IdleConnections(port, idle)
                code, _ = get(port, "/metrics")
                scrape = code
            if "assigned" in line and t_assigned is None:
                t_assigned = now
            if line.startswith("silver: batch "):
                t_last = now
        p.wait(timeout=300)
    finally:
        if conns:
            conns.close()
        if p.poll() is None:
            p.kill()
    err = "".join(lines)
    assert p.returncode == 0, err[-3000:]
    assert "ERROR: AddressSanitizer" not in err and "runtime error" not in err, err[-3000:]
    return EVENTS / (t_last - t_assigned), err, scrape


def test_dashboard_refuses_an_open_address_without_a_token(tmp_path):
    binary = asan_bin()
    for args, why in ((["--listen", "0.0.0.0:0"], "give --token"), (["--listen", "0.0.0.0:0", "--token", "short"],
                                                                    "at least 8")):
        cp = subprocess.run([binary, "dashboard", "--data", tmp_path, *args], capture_output=True, text=True,
                            timeout=60, env=ASAN_ENV)
        assert cp.returncode == 2 and why in cp.stderr, cp.stderr


def test_hostile_requests_and_idle_connections(tmp_path, run_smarttech, kafka_broker, unique_topic):
    binary = asan_bin()
    topic = unique_topic("hostile")
    run_smarttech("topic", "create", "--brokers", kafka_broker, "--topic", topic, "--partitions", "3")
    run_smarttech("simulate", "--brokers", kafka_broker, "--topic", topic, "--count", EVENTS, "--faults", "0.02",
                  "--quiet")

    # the data path, without and with 1,000 idle connections to its metrics endpoint (alternated,
    # twice each: the machine is shared, one pair alone says little)
    plain, idle = [], []
    for _ in range(2):
        plain.append(drain(binary, kafka_broker, topic, tmp_path, free_port(), 0)[0])
        r, _, scrape = drain(binary, kafka_broker, topic, tmp_path, free_port(), 1000)
        idle.append(r)
        assert scrape == 200
    rate_plain, rate_idle = max(plain), max(idle)
    print(f"\nsilver drain (ASan build), best of 2: {rate_plain:,.0f} events/s alone, {rate_idle:,.0f} events/s with "
          f"1,000 idle connections on its metrics endpoint ({rate_idle / rate_plain:.2f}x); "
          f"all runs: alone {[round(x) for x in plain]}, idle {[round(x) for x in idle]}")
    assert rate_idle > 0.25 * rate_plain  # sanity only

    # a long-running job endpoint: the battery, then idle connections, then the battery again
    port = free_port()
    silver = subprocess.Popen([binary, "silver", "--brokers", kafka_broker, "--topic", topic, "--group",
                               f"{topic}_live", "--output", tmp_path / "live" / "silver", "--bronze",
                               tmp_path / "live" / "bronze", "--quarantine", tmp_path / "live" / "q", "--checkpoint",
                               tmp_path / "live" / "ck", "--quiet", "--metrics", f"127.0.0.1:{port}"],
                              cwd=REPO, stderr=subprocess.PIPE, text=True, env=ASAN_ENV)
    dport = free_port()
    token = "s3cret-token-for-tests"
    dash = subprocess.Popen([binary, "dashboard", "--listen", f"0.0.0.0:{dport}", "--token", token,
                             "--data", tmp_path / "live_data", "--gold", tmp_path / "live" / "gold",
                             "--silver", tmp_path / "live" / "silver", "--metrics-url",
                             f"silver=http://127.0.0.1:{port}/metrics"],
                            cwd=REPO, stderr=subprocess.PIPE, text=True, env=ASAN_ENV)
    try:
        for prt in (port, dport):
            deadline = time.monotonic() + 60
            while socket.socket().connect_ex(("127.0.0.1", prt)) and time.monotonic() < deadline:
                time.sleep(0.2)
        # readiness: silver gets its partitions
        deadline = time.monotonic() + 60
        while get(port, "/readyz")[0] != 200 and time.monotonic() < deadline:
            time.sleep(0.3)
        assert get(port, "/readyz")[0] == 200
        assert get(port, "/healthz")[0] == 200
        report = {"metrics": hostile_battery(port, "/metrics")}

        auth = f"Authorization: Bearer {token}\r\n"
        assert get(dport, "/api/state")[0] == 401
        assert get(dport, "/?token=wrong-token-xxxxx")[0] == 401
        assert get(dport, "/api/state", headers="Authorization: Bearer " + token[:-1] + "\r\n")[0] == 401
        assert get(dport, f"/?token={token}")[0] == 200
        assert get(dport, "/api/state", headers=auth)[0] == 200
        assert get(dport, "/healthz")[0] == 200  # no token needed to say it is alive
        for q in ("building=" + "b" * 65 + "&floor=1&room=r01", "building=b01&floor=x&room=r01",
                  "building=b01&floor=1&room=r01&minutes=99999999", "building=b01&floor=1&room=../r01",
                  "building=b01&floor=1e9&room=r01", "building=b01&room=r01", "floor=1&room=r01&building=%00"):
            assert get(dport, "/api/series?" + q, headers=auth)[0] == 400, q
        assert get(dport, "/api/series?building=b01&floor=1&room=r99", headers=auth)[0] == 404
        # its health panel reads silver's endpoint: up, ready, and its lag goes to 0 as it drains
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            jobs = json.loads(get(dport, "/api/state", headers=auth)[1])["health"]["jobs"]
            if jobs[0]["up"] and jobs[0]["ready"] and jobs[0]["lag"] == 0:
                break
            time.sleep(0.5)
        assert jobs[0]["name"] == "silver" and jobs[0]["up"] and jobs[0]["ready"], jobs
        assert jobs[0]["lag"] == 0 and "silver" in jobs[0]["tables"], jobs
        report["dashboard, with the token"] = {p: get(dport, p, headers=auth)[0] for p in TRAVERSALS}
        assert all(c == 404 for c in report["dashboard, with the token"].values()), report
        report["dashboard"] = hostile_battery(dport, "/api/state")

        # slow readers: requests whose answers are never read (a tiny receive buffer) hold only their
        # own connections
        slow = []
        for _ in range(50):
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
            s.connect(("127.0.0.1", dport))
            s.sendall(f"GET /vendor/uplot/uPlot.iife.min.js?token={token} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            slow.append(s)
        try:
            assert get(dport, "/api/state", headers=auth)[0] == 200
            assert get(port, "/metrics")[0] == 200
        finally:
            for s in slow:
                s.close()

        # 1,000 idle connections to each server at once: both still answer, and idle connections
        # cost the server no CPU (the dashboard's own CPU over 3 s, without and with them)
        cpu_alone = cpu_over(dash.pid, 3)
        idle = [IdleConnections(port, 1000), IdleConnections(dport, 1000)]
        try:
            time.sleep(0.5)
            cpu_idle = cpu_over(dash.pid, 3)
            print(f"dashboard CPU over 3 s: {cpu_alone:.2f} s alone, {cpu_idle:.2f} s with 1,000 idle connections")
            assert cpu_idle < 1.0  # sanity: no busy loop over idle connections
            assert get(port, "/metrics")[0] == 200
            assert get(dport, "/api/state", headers=auth)[0] == 200
            hostile_battery(port, "/metrics")
        finally:
            for c in idle:
                c.close()
        assert get(port, "/healthz")[0] == 200 and get(dport, "/healthz")[0] == 200
        print("status codes:", report)
        assert silver.poll() is None and dash.poll() is None
    finally:
        for p in (silver, dash):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        outs = []
        for p in (silver, dash):
            try:
                outs.append(p.communicate(timeout=60)[1])
            except subprocess.TimeoutExpired:
                p.kill()
                outs.append(p.communicate()[1])
    for p, err in zip((silver, dash), outs):
        assert "ERROR: AddressSanitizer" not in err and "runtime error" not in err and "LeakSanitizer" not in err, \
            err[-4000:]
        assert p.returncode == 0, err[-4000:]
