"""`smarttech bronze` exactly once across kill -9 (issue 3, test 3): 200 files arrive while
the job is killed at 10 random moments and restarted each time, with no clean-up; every
valid record must end in Bronze exactly once, every invalid one in quarantine exactly once."""
from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

from bronze_rules import check_tables, processed_names, read_table, wait_for

FILES = 200
EVENTS_PER_FILE = 400
KILLS = 10


def test_kill9_at_random_moments(smarttech_bin, run_smarttech, tmp_path):
    staging, inp = tmp_path / "staging", tmp_path / "input"
    inp.mkdir()
    run_smarttech("simulate", "--files", staging, "--count", FILES * EVENTS_PER_FILE, "--events-per-file",
                  EVENTS_PER_FILE, "--faults", "0.05", "--seed", "11", "--no-fsync", "--quiet", timeout=120)
    sources = sorted(staging.glob("events-*.json"))
    assert len(sources) == FILES
    out, quar, ck = tmp_path / "bronze_output", tmp_path / "quarantine_delta", tmp_path / "ck"
    cmd = [str(smarttech_bin), "bronze", "--input", str(inp), "--output", str(out), "--quarantine", str(quar),
           "--checkpoint", str(ck), "--trigger", "100ms", "--settle", "200ms", "--max-files-per-batch", "15"]
    rng = random.Random(int(os.environ.get("BRONZE_CRASH_SEED", "20261126")))

    def feed():  # ~25 files/s; every third one written in place, the others renamed into place
        for i, f in enumerate(sources):
            if i % 3 == 0:
                shutil.copyfile(f, inp / f.name)
            else:
                shutil.copyfile(f, inp / (f.name + ".tmp"))
                os.rename(inp / (f.name + ".tmp"), inp / f.name)
            time.sleep(0.04)

    feeder = threading.Thread(target=feed)
    feeder.start()
    logs = []
    try:
        for k in range(KILLS):
            log = tmp_path / f"run-{k}.log"
            with open(log, "wb") as f:
                p = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT)
            time.sleep(rng.uniform(0.25, 1.2))
            p.send_signal(signal.SIGKILL)
            p.wait(timeout=30)
            logs.append(log.read_text())
    finally:
        feeder.join()
    # the last run drains what is left and exits
    cp = run_smarttech(*cmd[1:], "--once", timeout=120)
    logs.append(cp.stdout)
    all_logs = "\n".join(logs)
    batches = all_logs.count("bronze: batch ")
    recovered = all_logs.count("(recovered)")
    print(f"{batches} batch lines over {KILLS + 1} runs, {recovered} batches finished after a kill")

    inputs = sorted(inp.glob("events-*.json"))
    assert len(inputs) == FILES
    names = processed_names(ck)
    assert sorted(names) == sorted(f.name for f in inputs), "processed index != input files"
    bronze, quarantine = read_table(out), read_table(quar)
    check_tables(inputs, bronze, quarantine)  # each valid record exactly once, each invalid once
    assert len(bronze) + len(quarantine) >= FILES * EVENTS_PER_FILE * 0.99

    # and a restart after all that commits nothing
    from bronze_rules import table_version
    v = (table_version(out), table_version(quar))
    cp = run_smarttech(*cmd[1:], "--once", timeout=120)
    assert "0 batches" in cp.stdout, cp.stdout
    assert (table_version(out), table_version(quar)) == v
