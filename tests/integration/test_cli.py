"""The command line every subcommand shares (src/cli/opts.c): the list of commands, usage errors
with exit 2 and a message naming the option, help defaults taken from the library's defaults,
and no test-only hook in a release binary. No broker needed: nothing here reaches Kafka (a
dead address is passed where a command could)."""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import REPO

LEAVES = ["simulate", "mqtt-bridge", "topic create", "topic describe", "bronze", "silver", "gold", "dashboard", "status",
          "table info", "table optimize", "table vacuum", "maintain", "parquet info", "parquet cat", "parquet sum",
          "reset"]
MAINTAINED = ["silver", "gold", "bronze", "maintain"]  # they list the maintenance options
DEAD = "127.0.0.1:1"


def run(binary, *args, cwd=REPO, timeout=60):
    return subprocess.run([str(binary), *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=timeout)


def help_defaults(binary, command) -> dict[str, str]:
    """--option -> the text of its "(default ...)" in `smarttech <command> --help`."""
    cp = run(binary, *command.split(), "--help")
    assert cp.returncode == 0 and cp.stdout.startswith(f"usage: smarttech {command}"), cp.stdout + cp.stderr
    out, current = {}, None
    for line in cp.stdout.splitlines():
        m = re.match(r"\s+(?:-\w, )?(--[\w-]+)", line)
        if m:
            current = m.group(1)
        d = re.search(r"\(default ([^)]*)\)", line)
        if d and current:
            out[current] = d.group(1)
    return out


def seconds(text: str) -> float:
    """A duration as the help prints it ("500ms", "2min") in seconds."""
    m = re.fullmatch(r"(\d+)(us|ms|s|min|h|d)", text)
    assert m, text
    return int(m.group(1)) * {"us": 1e-6, "ms": 1e-3, "s": 1, "min": 60, "h": 3600, "d": 86400}[m.group(2)]


def test_help_lists_every_subcommand(smarttech_bin):
    cp = run(smarttech_bin, "--help")
    assert cp.returncode == 0, cp.stderr
    commands = cp.stdout[cp.stdout.index("commands:"):cp.stdout.index("exit status")]
    listed = [m.group(1).strip() for m in re.finditer(r"^  (\S+(?: \S+)?)\s{2,}\S", commands, re.M)]
    assert listed == LEAVES, listed
    assert "0 done, 1 runtime error, 2 usage error" in cp.stdout
    assert "object storage" in cp.stdout and "-S key=value" in cp.stdout and "--s3-path-style" in cp.stdout
    assert all(k in cp.stdout for k in ("endpoint", "region", "path_style", "part_size"))  # every -S key
    for leaf in LEAVES:  # every one has its own help
        sub = run(smarttech_bin, *leaf.split(), "--help")
        assert sub.returncode == 0 and sub.stdout.startswith(f"usage: smarttech {leaf}"), (leaf, sub.stderr)
        assert "--help" in sub.stdout
    for parent in ("table", "parquet", "topic"):  # a command with actions lists them
        sub = run(smarttech_bin, parent, "--help")
        assert sub.returncode == 0 and all(f"  {l.split()[1]} " in sub.stdout for l in LEAVES if l.startswith(parent))


def test_unknown_or_missing_command_is_a_usage_error(smarttech_bin):
    for args, word in ([], "commands:"), (["frobnicate"], "unknown command 'frobnicate'"), \
                      (["table"], "actions:"), (["table", "frob"], "unknown action 'frob'"):
        cp = run(smarttech_bin, *args)
        assert cp.returncode == 2 and word in cp.stderr, (args, cp.stderr)


def stray_cases(tmp: Path):
    """One command line per leaf that would be valid without the last argument."""
    t = tmp / "t"
    return {
        "simulate": ["simulate", "--count", "1"],
        "mqtt-bridge": ["mqtt-bridge", "--mqtt", "mqtt://127.0.0.1:1", "--brokers", DEAD],
        "topic create": ["topic", "create", "--brokers", DEAD, "--timeout-ms", "1"],
        "topic describe": ["topic", "describe", "--brokers", DEAD, "--timeout-ms", "1"],
        "bronze": ["bronze", "--once", "--input", tmp / "in", "--output", t, "--quarantine", tmp / "q",
                   "--checkpoint", tmp / "ck"],
        "silver": ["silver", "--once", "--brokers", DEAD, "--output", t, "--bronze", tmp / "b", "--quarantine",
                   tmp / "q", "--checkpoint", tmp / "ck"],
        "gold": ["gold", "--once", "--silver", tmp / "s", "--output", t, "--alerts", tmp / "a", "--quarantine",
                 tmp / "q", "--checkpoint", tmp / "ck"],
        "dashboard": ["dashboard", "--listen", "127.0.0.1:0", "--data", tmp],
        "status": ["status", "--brokers", DEAD, "--data", tmp],
        "table info": ["table", "info", t],
        "table optimize": ["table", "optimize", t],
        "table vacuum": ["table", "vacuum", t, "--dry-run"],
        "maintain": ["maintain", "--once", "--table", t],
        "parquet info": ["parquet", "info", tmp / "f.parquet"],
        "parquet cat": ["parquet", "cat", tmp / "f.parquet"],
        "parquet sum": ["parquet", "sum", tmp / "f.parquet", "col"],
        "reset": ["reset", "--data", tmp],
    }


def test_stray_positional_argument_is_a_usage_error(smarttech_bin, tmp_path):
    cases = stray_cases(tmp_path)
    assert sorted(cases) == sorted(LEAVES)
    for leaf, args in cases.items():
        cp = run(smarttech_bin, *args, "stray", timeout=30)
        assert cp.returncode == 2, (leaf, cp.returncode, cp.stderr)
        assert f"smarttech {leaf}: unexpected argument 'stray'" in cp.stderr, (leaf, cp.stderr)
        assert f"usage: smarttech {leaf}" in cp.stderr, (leaf, cp.stderr)
    assert not (tmp_path / "t").exists() and not (tmp_path / "in").exists()  # nothing ran


def test_missing_positional_argument_is_a_usage_error(smarttech_bin):
    for args, what in (["table", "info"], "PATH"), (["parquet", "sum", "f.parquet"], "FILE COLUMN"):
        cp = run(smarttech_bin, *args)
        assert cp.returncode == 2 and f"missing {what}" in cp.stderr, cp.stderr


@pytest.mark.parametrize("args,message", [
    (["silver", "--trigger", "5x"], "smarttech silver: --trigger: '5x' is not a duration (e.g. 500ms, 2s, 1m)"),
    (["bronze", "--settle", "soon"], "smarttech bronze: --settle: 'soon' is not a duration (e.g. 500ms, 2s, 1m)"),
    (["gold", "--window", "0s"], "smarttech gold: --window: '0s' is below the minimum 1us"),
    (["table", "vacuum", "t", "--retain", "a week"], "--retain: 'a week' is not a duration"),
    (["table", "optimize", "t", "--target-size", "12XB"], "--target-size: '12XB' is not a size (e.g. 4096, 64k"),
    (["table", "optimize", "t", "--partition", "=x"], "--partition: '=x' is not COL=VALUE"),
    (["silver", "--max-events-per-batch", "0"], "--max-events-per-batch: '0' is out of range (1 to 100000000)"),
    (["simulate", "--floors", "many"], "--floors: 'many' is not a whole number"),
    (["simulate", "--faults", "1.5"], "--faults: '1.5' is out of range (0 to 1)"),
    (["simulate", "--future-after", "soon"], "--future-after: 'soon' is not an ISO-8601 time"),
    (["silver", "--from", "yesterday"], "--from: 'yesterday' is not earliest, latest or an ISO-8601 time"),
    (["parquet", "cat", "f", "--limit", "-1"], "--limit: '-1' is below the minimum 0"),
    (["silver", "-X", "no-equals-sign"], "-X: "),
    (["gold", "--trigger"], "smarttech gold: --trigger needs a value"),
    (["status", "--what"], "smarttech status: unknown option '--what'"),
    (["simulate", "--files", "d", "--brokers", DEAD], "choose one output: --files, --brokers or --mqtt"),
    (["simulate", "--mqtt", "mqtt://127.0.0.1:1", "--files", "d"], "choose one output: --files, --brokers or --mqtt"),
    (["simulate", "--qos", "2"], "--qos: '2' is out of range (0 to 1)"),
    (["simulate", "--per-room", "17"], "--per-room: '17' is out of range (1 to 16)"),
    (["simulate", "--anomalies", "-1"], "--anomalies: '-1' is out of range (0 to 60)"),
    (["gold", "--anomaly", "no-equals-sign"], "smarttech gold: --anomaly: "),
    (["topic", "create", "--replication-factor", "0"], "--replication-factor: '0' is out of range (1 to 1000)"),
    (["topic", "create", "--min-insync-replicas", "x"], "--min-insync-replicas: 'x' is not a whole number"),
    (["mqtt-bridge"], "smarttech mqtt-bridge: --mqtt URL is required"),
    (["mqtt-bridge", "--mqtt", "mqtt://127.0.0.1:1", "--keepalive", "1"],
     "--keepalive: '1' is out of range (5 to 65535)"),
    (["mqtt-bridge", "--mqtt", "mqtt://127.0.0.1:1", "--max-in-flight", "lots"],
     "--max-in-flight: 'lots' is not a whole number"),
    (["silver", "--metrics-linger", "soon"], "smarttech silver: --metrics-linger: 'soon' is not a duration"),
    (["silver", "--compact-min-files", "1"], "--compact-min-files: '1' is out of range (2 to 1000000)"),
    (["gold", "--target-file-size", "12XB"], "--target-file-size: '12XB' is not a size"),
    (["bronze", "--maintenance-nice", "20"], "--maintenance-nice: '20' is out of range (0 to 19)"),
    (["bronze", "--compact-after", "later"], "--compact-after: 'later' is not a duration"),
    (["silver", "--log-retention", "1h"], "--log-retention 3600000 ms is under 7 days"),
    (["maintain", "--table", "t", "--deleted-file-retention", "1d"], "--allow-short-retention"),
    (["maintain"], "smarttech maintain: no table (--table PATH, repeatable)"),
    (["maintain", "--table", "t", "--no-maintenance"], "--no-maintenance leaves nothing to do"),
    (["dashboard", "--refresh", "10ms"], "--refresh: '10ms' is below the minimum 100ms"),
    (["dashboard", "--metrics-url", "silver"], "--metrics-url: 'silver' is not NAME=URL"),
    (["silver", "-S", "nokey=1"], "smarttech silver: -S nokey: unknown object storage setting"),
    (["table", "info", "t", "-S", "retries"], "-S retries: expected key=value"),
])
def test_bad_value_names_the_option(smarttech_bin, args, message):
    cp = run(smarttech_bin, *args, timeout=30)
    assert cp.returncode == 2, (args, cp.returncode, cp.stderr)
    assert message in cp.stderr, cp.stderr


def test_every_command_takes_the_object_storage_options(smarttech_bin):
    """-S key=value and --s3-path-style are accepted by every command, anywhere among its options
    (they set the s3:// backend process-wide); the commands that take table or checkpoint paths
    list them in their help."""
    for leaf in LEAVES:
        cp = run(smarttech_bin, *leaf.split(), "-S", "region=eu-west-1", "--s3-path-style", "-Sretries=3", "--help")
        assert cp.returncode == 0 and cp.stdout.startswith(f"usage: smarttech {leaf}"), (leaf, cp.stderr)
        cp = run(smarttech_bin, *leaf.split(), "-S", "part_size=1k")  # below the 5 MiB minimum
        assert cp.returncode == 2 and "part_size" in cp.stderr, (leaf, cp.stderr)
    for leaf in ["bronze", "silver", "gold", "dashboard", "status", "table info", "table optimize", "table vacuum",
                 "maintain", "parquet info", "parquet cat", "parquet sum", "reset"]:
        out = run(smarttech_bin, *leaf.split(), "--help").stdout
        assert "-S key=value" in out and "--s3-path-style" in out, leaf


def test_help_defaults_are_the_ones_the_commands_use(smarttech_bin, tmp_path):
    """Help defaults come from the config's _init(): what the commands print when they start
    with no options must be what their help says."""
    gold = help_defaults(smarttech_bin, "gold")
    # gold's banner shows the configuration it runs with (a missing Silver table then stops it)
    cp = run(smarttech_bin, "gold", "--once", cwd=tmp_path)
    assert cp.returncode == 1, cp.stderr
    m = re.search(r"gold: (\S+) -> (\S+), (\S+), (\S+) \(late\), (\S+) \(anomalies\), checkpoint (\S+); "
                  r"window (\d+)s, lateness (\d+)s", cp.stderr)
    assert m, cp.stderr
    assert [gold["--silver"], gold["--output"], gold["--alerts"], gold["--quarantine"], gold["--anomalies"],
            gold["--checkpoint"]] == list(m.groups()[:6])
    assert seconds(gold["--window"]) == int(m.group(7)) and seconds(gold["--lateness"]) == int(m.group(8))
    cp = run(smarttech_bin, "gold", "--once", "--no-anomalies", cwd=tmp_path)
    assert cp.returncode == 1 and "no anomaly detection" in cp.stderr, cp.stderr

    # the bridge's defaults are mqtt_bridge_config_init's: the same Kafka defaults as silver's
    bridge = help_defaults(smarttech_bin, "mqtt-bridge")
    assert bridge["--client-id"] == "smarttech-bridge" and bridge["--qos"] == "1"

    bronze = help_defaults(smarttech_bin, "bronze")
    cp = run(smarttech_bin, "bronze", "--once", cwd=tmp_path)
    assert cp.returncode == 0, cp.stderr
    m = re.search(r"bronze: watching (\S+) -> (\S+) \(quarantine (\S+), checkpoint (\S+)\)", cp.stdout)
    assert m, cp.stdout
    assert [bronze["--input"], bronze["--output"], bronze["--quarantine"], bronze["--checkpoint"]] == list(m.groups())
    assert (tmp_path / bronze["--output"] / "_delta_log").is_dir()  # and that is where it wrote

    # status and topic show the pipeline's Kafka defaults: silver's
    silver = help_defaults(smarttech_bin, "silver")
    status = help_defaults(smarttech_bin, "status")
    topic = help_defaults(smarttech_bin, "topic create")
    for opt in ("--brokers", "--topic"):
        assert silver[opt] == status[opt] == topic[opt] == bridge[opt], opt
    assert silver["--group"] == status["--group"]
    assert seconds(silver["--trigger"]) == 0.5 and seconds(silver["--dedup-window"]) == 600  # README's figures

    # the maintenance options: one source of defaults (maint_config_init) for the jobs and `maintain`
    maint = [help_defaults(smarttech_bin, c) for c in MAINTAINED]
    keys = ["--target-file-size", "--compact-min-files", "--compact-after", "--log-retention",
            "--deleted-file-retention", "--maintenance-interval", "--maintenance-nice"]
    assert all(m[k] == maint[0][k] for m in maint for k in keys), maint
    assert maint[0]["--target-file-size"] == "128MiB" and maint[0]["--compact-min-files"] == "32"
    assert seconds(maint[0]["--compact-after"]) == 600 and seconds(maint[0]["--maintenance-interval"]) == 1


def test_exit_status_runtime_error_is_1(smarttech_bin, tmp_path):
    cp = run(smarttech_bin, "table", "info", tmp_path / "no-table")
    assert cp.returncode == 1 and "not a Delta table" in cp.stderr
    cp = run(smarttech_bin, "parquet", "info", tmp_path / "none.parquet")
    assert cp.returncode == 1 and "none.parquet" in cp.stderr


def test_release_binary_has_no_test_hooks(smarttech_bin):
    """Test hooks (crash points, forced code paths) exist only in a SMARTTECH_TEST_HOOKS build."""
    cache = Path(smarttech_bin).parent / "CMakeCache.txt"
    nm = shutil.which("nm")
    if not nm or not cache.exists():
        pytest.skip("needs nm and the binary's CMake build folder")
    hooks = "SMARTTECH_TEST_HOOKS:BOOL=ON" in cache.read_text()
    symbols = subprocess.run([nm, str(smarttech_bin)], capture_output=True, text=True, check=True).stdout
    strings = Path(smarttech_bin).read_bytes()
    assert ("st_sha256_force_portable" in symbols) == hooks
    assert (b"test crash after the batch log" in strings) == hooks
