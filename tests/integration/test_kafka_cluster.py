"""Past one broker (issue 15): the pipeline on the local 3-node KRaft cluster of
`scripts/kafka-local start --nodes 3` (conftest's kafka_cluster).

- topics with replication factor 3 and min.insync.replicas 2, checked by an independent admin
  client (confluent-kafka);
- simulate (acks=all, idempotent) -> silver --once: every valid event exactly once, against the
  simulator's manifest (test_silver.check_exactly_once);
- kill -9 of the broker leading a partition mid-stream, then its restart: the producer reports no
  loss, Silver holds every valid event once, the group's lag returns to 0;
- SASL_SSL (SCRAM-SHA-512, the cluster's test CA) end to end: simulate -> silver -> gold;
- a wrong password and an unverified certificate (another CA) fail fast, exit 1, with the reason.
"""
from __future__ import annotations

import json
import re
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from conftest import REPO, smarttech_path
from test_gold_stream import gold_args, read_rows
from test_silver import Silver, check_exactly_once, read_table

# Bound on a command that must fail fast: long enough for a loaded 2-core machine, far below the
# 15 s admin timeout and the 5 min producer timeout that a retry-forever bug would run into.
FAIL_FAST_S = 60


def unique(prefix: str) -> str:
    return f"{prefix}_{time.strftime('%H%M%S')}_{uuid.uuid4().hex[:8]}"


def smarttech(*args, timeout=600, check=True) -> subprocess.CompletedProcess:
    cp = subprocess.run([str(smarttech_path()), *map(str, args)], cwd=REPO, capture_output=True, text=True,
                        timeout=timeout)
    if check:
        assert cp.returncode == 0, f"smarttech {' '.join(map(str, args[:2]))} exited {cp.returncode}\n{cp.stderr[-4000:]}"
    return cp


def simulate_args(brokers, topic, manifest, count, seed, *extra, faults="0.05"):
    return ["simulate", "--brokers", brokers, "--topic", topic, "--count", count, "--seed", seed,
            "--faults", faults, "--manifest", manifest, "--quiet", *extra]


def delivered(stderr: str) -> tuple[int, int]:
    """(delivered, failed) from simulate's output summary line."""
    m = re.search(r"topic \S+: (\d+) delivered, (\d+) failed, (\d+) never queued", stderr)
    assert m, stderr[-3000:]
    return int(m.group(1)), int(m.group(2)) + int(m.group(3))


def committed_rows(table: Path) -> int:
    """Rows in a Delta table so far (0 while it has no commit)."""
    if not (table / "_delta_log").exists():
        return 0
    return len(read_table(table, ["offset"]))


def group_lag(cluster, topic, group) -> int:
    cp = smarttech("topic", "describe", "--brokers", cluster.bootstrap, "--topic", topic, "--group", group)
    return int(re.search(r"group \S+ lag: (-?\d+)", cp.stdout).group(1))


@pytest.fixture(scope="module")
def cluster(kafka_cluster):
    """The cluster, and the topics this module made deleted afterwards (the cluster may outlive
    the session when it was running before)."""
    made = []
    kafka_cluster.made = made
    yield kafka_cluster
    if made:
        for f in kafka_cluster.admin().delete_topics(made, operation_timeout=30).values():
            try:
                f.result(timeout=60)
            except Exception:
                pass


def create_topic(cluster, *extra, sasl=False) -> str:
    t = unique("cluster")
    cluster.made.append(t)
    brokers = cluster.sasl_bootstrap if sasl else cluster.bootstrap
    cp = smarttech("topic", "create", "--brokers", brokers, "--topic", t, "--partitions", "3",
                   "--replication-factor", "3", "--min-insync-replicas", "2", *extra)
    assert f"created topic {t}" in cp.stdout and "replication 3, min.insync.replicas 2" in cp.stdout, cp.stdout
    return t


def test_topic_create_replication_3_min_isr_2(cluster):
    from confluent_kafka.admin import ConfigResource
    t = create_topic(cluster)
    again = smarttech("topic", "create", "--brokers", cluster.bootstrap, "--topic", t, "--replication-factor", "3",
                      "--min-insync-replicas", "2")
    assert "already exists" in again.stdout
    admin = cluster.admin()
    # Each broker learns of a new topic from the controller's metadata log on its own time: the
    # admin client's broker may answer "unknown topic" for a moment after the create returned.
    deadline = time.monotonic() + 60
    while True:
        md = admin.list_topics(t, timeout=30).topics[t]
        if (len(md.partitions) == 3 and all(len(p.isrs) == 3 for p in md.partitions.values())) \
                or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert len(md.partitions) == 3, md
    for p in md.partitions.values():
        assert sorted(p.replicas) == [1, 2, 3] and sorted(p.isrs) == [1, 2, 3] and p.leader in (1, 2, 3)
    res = ConfigResource(ConfigResource.Type.TOPIC, t)
    cfg = admin.describe_configs([res])[res].result(timeout=30)
    assert cfg["min.insync.replicas"].value == "2"
    # more replicas than brokers: the broker's reason, exit 1
    bad = smarttech("topic", "create", "--brokers", cluster.bootstrap, "--topic", unique("rf4"),
                    "--replication-factor", "4", check=False)
    assert bad.returncode == 1 and "replication" in bad.stderr.lower(), bad.stderr


def test_simulate_then_silver_exactly_once(cluster, tmp_path):
    t = create_topic(cluster)
    manifest, total = tmp_path / "manifest.csv", 100_000
    sim = smarttech(*simulate_args(cluster.bootstrap, t, manifest, total, 71))
    assert delivered(sim.stderr) == (total, 0)
    s = Silver(tmp_path / "out", t)
    s.run_once("--brokers", cluster.bootstrap)
    check_exactly_once(s, manifest, total)


def test_leader_killed_mid_stream_and_restarted(cluster, tmp_path):
    t = create_topic(cluster)
    manifest, total = tmp_path / "manifest.csv", 100_000
    sim = subprocess.Popen([str(smarttech_path()), *map(str, simulate_args(cluster.bootstrap, t, manifest, total,
                                                                          73, "--rate", "5000"))],
                           cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    s = Silver(tmp_path / "out", t, group="smarttech-cluster-kill")
    log = open(tmp_path / "silver.log", "w")
    silver = s.start("--brokers", cluster.bootstrap, log=log)
    try:
        # mid-stream: Silver has committed some of the events, the producer is still sending
        deadline = time.monotonic() + 120
        while committed_rows(s.bronze) < 2000:
            assert time.monotonic() < deadline, "Silver committed fewer than 2000 records within 120 s"
            time.sleep(0.5)
        assert sim.poll() is None, "the simulator finished before the broker could be killed"
        victim = cluster.leader_of(t, 0)
        pid = cluster.node_pid(victim)
        assert pid, f"node {victim} (leader of partition 0) has no live pid file"
        subprocess.run(["kill", "-9", str(pid)], check=True)
        # the partition gets a new leader while its old one is dead (fenced after its session timeout)
        deadline = time.monotonic() + 120
        while cluster.leader_of(t, 0) in (victim, -1):
            assert time.monotonic() < deadline, f"partition 0 has no new leader 120 s after node {victim} died"
            time.sleep(0.5)
        cluster.restart()
        _, err = sim.communicate(timeout=600)
        assert sim.returncode == 0, err[-3000:]
        assert delivered(err) == (total, 0)
        deadline = time.monotonic() + 300
        while group_lag(cluster, t, s.group) != 0:
            assert silver.poll() is None, "silver exited before catching up"
            assert time.monotonic() < deadline, f"lag still {group_lag(cluster, t, s.group)} after 300 s"
            time.sleep(1)
    finally:
        if sim.poll() is None:
            sim.kill()
        silver.send_signal(signal.SIGTERM)
        rc = silver.wait(timeout=120)
        log.close()
    assert rc == 0, (tmp_path / "silver.log").read_text()[-3000:]
    check_exactly_once(s, manifest, total)
    assert group_lag(cluster, t, s.group) == 0


def test_sasl_ssl_end_to_end_simulate_silver_gold(cluster, tmp_path):
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
    sasl = cluster.sasl_args()
    t = create_topic(cluster, *sasl, sasl=True)
    manifest, total = tmp_path / "manifest.csv", 30_000
    # daytime event times: occupied rooms, CO2 above the alert threshold in some of them; the
    # future_timestamp faults after now, so that Silver still finds them in the future
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    sim = smarttech(*simulate_args(cluster.sasl_bootstrap, t, manifest, total, 79, "--start-time",
                                   "2026-01-06T09:00:00Z", "--future-after", now, "--sim-rate", "36", *sasl))
    assert delivered(sim.stderr) == (total, 0)
    s = Silver(tmp_path / "silver", t)
    s.run_once("--brokers", cluster.sasl_bootstrap, *sasl)
    valid = check_exactly_once(s, manifest, total)

    d = tmp_path / "gold"
    d.mkdir()
    (d / "silver").symlink_to(s.silver)
    alerts_topic = unique("alerts")
    cluster.made.append(alerts_topic)
    smarttech(*gold_args(d, "--once", "--flush", "--brokers", cluster.sasl_bootstrap, "--alerts-topic",
                         alerts_topic, *sasl))
    gold = read_rows(d / "gold")
    late = read_rows(d / "quarantine") if (d / "quarantine" / "_delta_log").exists() else []
    assert sum(r["count"] for r in gold) + len(late) == len(valid)
    alerts = read_rows(d / "alerts")
    assert alerts, "no alert: the simulated day should raise some (CO2 in occupied rooms)"

    props = {"bootstrap.servers": cluster.sasl_bootstrap, **cluster.sasl, "group.id": f"t-{uuid.uuid4().hex}",
             "enable.auto.commit": False}
    c = Consumer(props)
    try:
        c.assign([TopicPartition(alerts_topic, 0, OFFSET_BEGINNING)])
        msgs, deadline = [], time.monotonic() + 120
        while len(msgs) < len(alerts) and time.monotonic() < deadline:
            for m in c.consume(num_messages=1000, timeout=1.0):
                assert not m.error(), m.error()
                msgs.append(json.loads(m.value()))
    finally:
        c.close()
    assert sorted((m["alert_id"], m["state"]) for m in msgs) == sorted((a["alert_id"], a["state"]) for a in alerts)


def other_ca(tmp_path: Path) -> Path:
    """A CA that did not sign the cluster's certificate."""
    key, pem = tmp_path / "other-ca.key", tmp_path / "other-ca.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                    "/CN=not the SmartTech test CA", "-keyout", key, "-out", pem], check=True, capture_output=True)
    return pem


@pytest.mark.parametrize("case", ["wrong_password", "unknown_ca"])
def test_refused_connection_fails_fast_with_the_reason(cluster, tmp_path, case):
    if case == "wrong_password":
        sasl, reason = cluster.sasl_args(sasl_password="not-the-password"), "invalid credentials"
    else:
        sasl, reason = cluster.sasl_args(ssl_ca_location=str(other_ca(tmp_path))), "certificate verify failed"
    t = create_topic(cluster)  # PLAINTEXT: the topic exists, only the login can fail
    smarttech(*simulate_args(cluster.bootstrap, t, tmp_path / "m.csv", 100, 83))
    b = cluster.sasl_bootstrap
    runs = {
        "topic create": ["topic", "create", "--brokers", b, "--topic", unique("refused"), *sasl],
        "simulate": simulate_args(b, t, tmp_path / "m2.csv", 100, 84, *sasl),
        "silver --once": Silver(tmp_path / "out", t).args("--once", "--brokers", b, *sasl)[1:],
    }
    for name, args in runs.items():
        cp = smarttech(*args, timeout=FAIL_FAST_S, check=False)
        assert cp.returncode == 1, f"{name}: exit {cp.returncode}\n{cp.stderr[-3000:]}"
        assert "refused the connection" in cp.stderr and reason in cp.stderr, f"{name}:\n{cp.stderr[-3000:]}"


def test_demo_on_the_cluster(cluster, tmp_path):
    """`make demo CLUSTER=1`: the demo on the 3-node cluster, its topic replicated 3 times with
    min.insync.replicas 2; every produced event is in bronze_kafka, and Silver + Silver's rejects +
    dropped duplicates account for all of them."""
    from confluent_kafka.admin import ConfigResource
    from test_demo import run_demo
    import deltalake
    topic = unique("demo_cluster")
    cluster.made.extend([topic])
    cp, s, _ = run_demo(tmp_path / "data", topic, DURATION=10, RATE=1000, CLUSTER=1, KEEP_BROKER=1)
    md = cluster.admin().list_topics(topic, timeout=30).topics[topic]
    assert len(md.partitions) == 3 and all(sorted(p.replicas) == [1, 2, 3] for p in md.partitions.values())
    res = ConfigResource(ConfigResource.Type.TOPIC, topic)
    assert cluster.admin().describe_configs([res])[res].result(timeout=30)["min.insync.replicas"].value == "2"
    out = tmp_path / "data" / "output"
    assert deltalake.DeltaTable(str(out / "bronze_kafka")).to_pyarrow_table(columns=[]).num_rows == \
        s["bronze_kafka_rows"] == s["events_produced"] > 0
    rejects = sum(v for k, v in s["quarantined_by_reason"].items() if k != "late")
    assert s["silver_rows"] + rejects + s["duplicates_dropped_this_run"] == s["events_produced"]
