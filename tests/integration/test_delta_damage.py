"""Damaged Delta tables give clear errors naming the file; nothing crashes (issue 2, shown 6).

Through the binaries users run (`smarttech table info`, the test writer): a truncated commit
file, a garbage Parquet checkpoint footer, a missing _last_checkpoint (falls back to listing
_delta_log), an unwritable table folder. The same cases run under ASan in tests/unit/test_delta.c.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile

import pytest

from conftest import smarttech_path


def tool(name):
    p = smarttech_path().parent / name
    if not os.access(p, os.X_OK):
        pytest.fail(f"{p} not built: build the tools target (make build)")
    return str(p)


def info(path, *extra):
    return subprocess.run([str(smarttech_path()), "table", "info", str(path), "--json", *extra],
                          capture_output=True, text=True, timeout=120)


def no_crash(cp):
    assert cp.returncode >= 0 and cp.returncode not in (-signal.SIGSEGV, -signal.SIGABRT), cp.stderr
    assert "AddressSanitizer" not in cp.stderr and "runtime error" not in cp.stderr


@pytest.fixture(scope="module")
def base_table(tmp_path_factory):
    d = tmp_path_factory.mktemp("dmg")
    path = d / "t"
    subprocess.run([tool("delta_testwriter"), "create", str(path)], check=True, capture_output=True)
    subprocess.run([tool("delta_testwriter"), "append", str(path), "--commits", "22", "--rows", "5", "--app", "w"],
                   check=True, capture_output=True)
    return path


@pytest.fixture
def table(base_table, tmp_path):
    p = tmp_path / "copy"
    shutil.copytree(base_table, p)
    return p


def test_intact_table_loads_from_checkpoint(table):
    cp = info(table)
    assert cp.returncode == 0, cp.stderr
    j = json.loads(cp.stdout)
    assert j["version"] == 22 and j["checkpoint_version"] == 20 and j["num_rows"] == 110


def test_truncated_commit_file(table):
    f = table / "_delta_log" / f"{22:020d}.json"
    data = f.read_bytes()
    f.write_bytes(data[: len(data) // 2])
    cp = info(table)
    no_crash(cp)
    assert cp.returncode == 1
    assert f"{22:020d}.json" in cp.stderr and "truncated or damaged" in cp.stderr
    # earlier versions stay readable
    assert json.loads(info(table, "--version", "21").stdout)["version"] == 21


def test_garbage_checkpoint_footer(table):
    f = table / "_delta_log" / f"{20:020d}.checkpoint.parquet"
    data = bytearray(f.read_bytes())
    data[-8:] = b"garbage!"
    f.write_bytes(bytes(data))
    cp = info(table)
    no_crash(cp)
    assert cp.returncode == 1
    assert f"{20:020d}.checkpoint.parquet" in cp.stderr
    # the JSON log is intact: a replay without checkpoints still works
    j = json.loads(info(table, "--no-checkpoint").stdout)
    assert j["version"] == 22 and j["num_rows"] == 110


def test_missing_last_checkpoint_falls_back_to_listing(table):
    (table / "_delta_log" / "_last_checkpoint").unlink()
    cp = info(table)
    assert cp.returncode == 0, cp.stderr
    j = json.loads(cp.stdout)
    assert j["version"] == 22 and j["checkpoint_version"] == 20 and j["num_rows"] == 110


def test_missing_commit_in_the_middle(table):
    (table / "_delta_log" / f"{21:020d}.json").unlink()
    cp = info(table)
    no_crash(cp)
    assert cp.returncode == 1 and f"{21:020d}.json" in cp.stderr


def test_not_a_table(tmp_path):
    cp = info(tmp_path / "nothing-here")
    no_crash(cp)
    assert cp.returncode == 1 and "nothing-here" in cp.stderr


def test_unwritable_folder(base_table):
    """As root permissions are not enforced, so the writer runs as nobody on a 0555 copy."""
    d = tempfile.mkdtemp(prefix="smarttech-ro-")
    try:
        os.chmod(d, 0o755)
        ro = os.path.join(d, "t")
        shutil.copytree(base_table, ro)
        for root, dirs, _files in os.walk(ro):
            for x in dirs:
                os.chmod(os.path.join(root, x), 0o555)
        os.chmod(ro, 0o555)
        cmd = [tool("delta_testwriter"), "append", ro, "--commits", "1", "--rows", "3"]
        if os.geteuid() == 0:
            runner = shutil.which("setpriv")
            if not runner:
                pytest.skip("running as root without setpriv: cannot drop privileges")
            cmd = [runner, "--reuid=65534", "--regid=65534", "--clear-groups", *cmd]
        cp = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        no_crash(cp)
        assert cp.returncode == 1
        assert ro in cp.stderr and ("Permission denied" in cp.stderr or "cannot create" in cp.stderr), cp.stderr
        # nothing was committed
        assert json.loads(info(ro).stdout)["version"] == 22
    finally:
        for root, dirs, _files in os.walk(d):
            for x in dirs:
                os.chmod(os.path.join(root, x), 0o755)
        shutil.rmtree(d, ignore_errors=True)
