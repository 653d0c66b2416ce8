"""`smarttech dashboard` in a real headless Chromium (Debian's chromium + chromium-driver, driven
by selenium): Silver grows live (tools/silver_fixture, a CO2 episode in room b01/1/r01), a running
`smarttech gold` turns it into windows and alerts, the dashboard follows both tables.

- the page loads and stays free of console errors;
- the CO2 alert shows as open on the page within 10 s of the commit that added it to the alerts
  table (the commit's timestamp in the Delta log), then as closed;
- the room grid shows, for every room and sensor type, the latest Gold window's average, equal to
  DuckDB's query over the Gold table;
- screenshot PNGs are saved with the test output: build/test-output/dashboard-open-alert.png while
  the alert is open, build/test-output/dashboard.png at the end (and in the test's tmp_path).
"""
from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request

import pytest

from conftest import REPO

deltalake = pytest.importorskip("deltalake")
duckdb = pytest.importorskip("duckdb")
pytest.importorskip("selenium")
pyarrow_parquet = pytest.importorskip("pyarrow.parquet")

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402

from test_gold_stream import duck_connect, fixture_bin  # noqa: E402

CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(not CHROMIUM or not DRIVER,
                                reason="Debian's chromium and chromium-driver are not installed (scripts/bootstrap)")

START = "2026-01-05T00:00:00Z"
SENSOR = "b01-f1-r01-co2-1"
SHOT = REPO / "build" / "test-output" / "dashboard.png"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def browser(user_dir: str):
    o = webdriver.ChromeOptions()
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
              "--disable-background-networking", "--disable-component-update", "--disable-sync",
              "--window-size=1400,1000", f"--user-data-dir={user_dir}"):
        o.add_argument(a)
    o.binary_location = CHROMIUM
    o.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(DRIVER), options=o)


def console_errors(drv) -> list:
    return [entry for entry in drv.get_log("browser") if entry["level"] == "SEVERE"]


def wait_for(pred, timeout: float, step: float = 0.2, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = pred()
        if got:
            return got
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


# The page redraws its tables and grid as data comes: read them in one script call each, so an
# element never goes stale between two reads.
def open_alerts(drv) -> dict:
    return drv.execute_script(
        "const o = {}; for (const tr of document.querySelectorAll('#open-alerts tbody tr'))"
        " o[tr.dataset.alertId] = tr.textContent; return o;")


def open_alert_ids(drv) -> set:
    return set(open_alerts(drv))


def history(drv) -> set:
    rows = drv.execute_script(
        "return [...document.querySelectorAll('#alert-history tbody tr')].map(tr => [tr.dataset.alertId,"
        " tr.dataset.state]);")
    return {tuple(r) for r in rows}


def commit_of_first(table, state: str):
    """(version, commitInfo.timestamp in s, alert_id) of the first commit adding an alert row of
    that state, read from the Delta log and the files it added (pyarrow)."""
    log = table / "_delta_log"
    for f in sorted(log.glob("*.json")):
        ts, adds = None, []
        for line in f.read_text().splitlines():
            a = json.loads(line)
            if "commitInfo" in a:
                ts = a["commitInfo"]["timestamp"] / 1000
            if "add" in a:
                adds.append(a["add"]["path"])
        for p in adds:
            rows = pyarrow_parquet.read_table(table / p, columns=["alert_id", "state"]).to_pylist()
            for r in rows:
                if r["state"] == state:
                    return int(f.stem), ts, r["alert_id"]
    return None


def grid(drv) -> dict:
    vals = drv.execute_script(
        "const out = []; for (const c of document.querySelectorAll('#grid .room'))"
        " for (const v of c.querySelectorAll('.val'))"
        "  out.push([c.dataset.building, c.dataset.floor, c.dataset.room, v.dataset.sensor, v.dataset.avg]);"
        " return out;")
    return {(b, int(f), r, t): float(a) for b, f, r, t, a in vals}


def duck_latest(gold) -> dict:
    con = duck_connect()
    rows = con.execute(
        f"select building_id, floor, room_id, sensor_type, avg from delta_scan('{gold}') "
        "qualify row_number() over (partition by building_id, floor, room_id, sensor_type "
        "order by window_start desc) = 1").fetchall()
    return {(b, f, r, t): a for b, f, r, t, a in rows}


def test_dashboard_in_chromium(tmp_path, smarttech_bin):
    rules = tmp_path / "co2.conf"
    rules.write_text(next(ln for ln in (REPO / "config" / "alerts.conf").read_text().splitlines()
                          if ln.startswith("co2_high")) + "\n")
    silver, gold_t, alerts = tmp_path / "silver", tmp_path / "gold", tmp_path / "alerts"
    port, gold_port = free_port(), free_port()
    procs = []

    def start(args, **kw):
        p = subprocess.Popen([str(a) for a in args], cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             text=True, **kw)
        procs.append(p)
        return p

    drv = None
    try:
        # 12 sensors, 10 minutes of readings committed as 50 Silver versions over ~20 s;
        # b01-f1-r01-co2-1 reads 1500 ppm from 150 s to 330 s (alert opens at the 180 s window,
        # closes at the 360 s one)
        fixture = start([fixture_bin(smarttech_bin), "--table", silver, "--seed", "9", "--rate", "12",
                         "--events", 12 * 600, "--versions", 50, "--interval-ms", 400, "--start", START,
                         "--co2-episode", f"{SENSOR},150,330,1500"])
        wait_for(lambda: (silver / "_delta_log").is_dir(), 30, what="the Silver table")
        gold = start([smarttech_bin, "gold", "--silver", silver, "--output", gold_t, "--alerts", alerts,
                      "--quarantine", tmp_path / "quarantine", "--checkpoint", tmp_path / "ck", "--rules", rules,
                      "--no-anomalies",  # the episode's constant 1500 ppm would also be a stuck-sensor anomaly
                      "--trigger", "200ms", "--quiet", "--metrics", f"127.0.0.1:{gold_port}"])
        dash = start([smarttech_bin, "dashboard", "--listen", f"127.0.0.1:{port}", "--gold", gold_t,
                      "--alerts", alerts, "--silver", silver, "--quarantine", tmp_path / "quarantine",
                      "--bronze-kafka", tmp_path / "none", "--rules", rules, "--refresh", "500ms"])
        wait_for(lambda: socket.socket().connect_ex(("127.0.0.1", port)) == 0, 30, what="the dashboard port")

        drv = browser(tempfile.mkdtemp(dir=tmp_path))
        drv.get(f"http://127.0.0.1:{port}/")
        assert drv.title.startswith("SmartTech")
        wait_for(lambda: grid(drv), 60, what="the first rooms")

        # the open alert, on the page within 10 s of its commit
        opened = wait_for(lambda: open_alert_ids(drv), 90, step=0.1, what="an open alert on the page")
        seen_at = time.time()
        version, committed_at, alert_id = wait_for(lambda: commit_of_first(alerts, "open"), 10,
                                                   what="the open row in the alerts table")
        assert opened == {alert_id}
        assert alert_id.startswith("co2_high/")
        assert seen_at - committed_at <= 10, (version, committed_at, seen_at)
        print(f"\nopen alert on the page {seen_at - committed_at:.2f} s after its commit (alerts version {version})")
        row = open_alerts(drv).get(alert_id, "")
        assert "co2_high" in row and "r01" in row, row
        SHOT.parent.mkdir(parents=True, exist_ok=True)
        drv.save_screenshot(str(SHOT.with_name("dashboard-open-alert.png")))
        # ... then its close
        wait_for(lambda: (alert_id, "close") in history(drv) and alert_id not in open_alert_ids(drv), 90,
                 what="the alert's close on the page")
        assert commit_of_first(alerts, "close")[2] == alert_id

        # everything written: the grid equals DuckDB's latest window per room and sensor type
        assert fixture.wait(timeout=120) == 0
        silver_v = deltalake.DeltaTable(str(silver)).version()

        def gold_done():
            text = urllib.request.urlopen(f"http://127.0.0.1:{gold_port}/metrics", timeout=5).read().decode()
            return f"\nsmarttech_gold_silver_version {silver_v}\n" in text

        def dashboard_done():
            state = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/api/state", timeout=5).read())
            tables = {t["name"]: t for t in state["health"]["tables"]}
            return tables["gold_room_1m"].get("version") == deltalake.DeltaTable(str(gold_t)).version()

        wait_for(gold_done, 60, step=0.5, what="gold to process the last Silver version")
        wait_for(dashboard_done, 30, step=0.5, what="the dashboard to read the last Gold version")
        want = duck_latest(gold_t)
        assert len(want) == 4 * 3  # 4 rooms x 3 sensor types
        wait_for(lambda: grid(drv) == want, 20, step=0.5, what="the grid to equal DuckDB's latest windows")

        # the selected room's charts: one per sensor type, the last hour of windows
        charts = wait_for(lambda: drv.find_elements(By.CSS_SELECTOR, "#charts .chart canvas"), 10, what="charts")
        assert len(charts) >= 3
        drv.save_screenshot(str(SHOT))
        drv.save_screenshot(str(tmp_path / "dashboard.png"))
        print(f"screenshot: {SHOT}")
        assert console_errors(drv) == []
    finally:
        if drv:
            drv.quit()
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.communicate()
    assert gold.returncode == 0 and dash.returncode == 0, (gold.stderr, dash.stderr)
