"""Shared pytest harness for the integration tests (real broker, real binaries, independent readers).

Fixtures (use them as arguments of a test):
  smarttech_bin   Path of the smarttech binary: $SMARTTECH_BIN, else <repo>/build/smarttech.
  run_smarttech   run_smarttech(*args, check=True, timeout=300, **popen_kw) -> CompletedProcess
                  (text mode, stdout/stderr captured; check=True fails the test with both printed).
  kafka_broker    bootstrap address ("localhost:9092"). Session-scoped: starts the project's own
                  broker with `scripts/kafka-local start` when none answers, and stops it after the
                  session if this harness started it and no other pytest session still uses it.
  unique_topic    unique_topic(prefix="t") -> fresh topic name; those topics are deleted at the
                  end of the session.
  kafka_consume   kafka_consume(topic, timeout=120) -> list of Record(partition, offset, key, value,
                  timestamp) with every message of the topic up to its current end offsets, read by
                  an independent client (confluent-kafka) without a consumer group.
  kafka_admin     a confluent_kafka AdminClient on the broker.
  kafka_cluster   the local 3-node cluster (`scripts/kafka-local start --nodes 3`, beside the single
                  broker): a KafkaCluster with .bootstrap (PLAINTEXT), .sasl_bootstrap (SASL_SSL),
                  .sasl (librdkafka properties of the SCRAM user, with ssl.ca.location),
                  .sasl_args(**override) (-X options for smarttech), .node_pid(i), .leader_of(topic, p),
                  .restart() (starts whatever node is down and waits for all 3). Session-scoped,
                  started only by tests that use it and stopped after the session if this harness
                  started it and no other pytest session still uses it.
  s3_local        the local S3 server (`scripts/s3-local start`): an S3Local with .endpoint,
                  .bucket ("smarttech"), .env (the AWS_* variables `scripts/s3-local env` prints).
                  Session-scoped and stopped like kafka_cluster.
Module-level helpers: REPO, BROKERS, kafka_local(action, *args), s3_local_cmd(action), broker_answers(),
end_offsets(topic), other_broker_users(), event_id_parts(event_id), corpus_dir(corpus).
"""
from __future__ import annotations

import fcntl
import os
import re
import socket
import subprocess
import time
import uuid
from collections import namedtuple
from contextlib import contextmanager
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BROKERS = os.environ.get("SMARTTECH_BROKERS", "localhost:9092")
KAFKA_LOCAL = REPO / "scripts" / "kafka-local"
HARNESS_DIR = REPO / "kafka" / "logs" / "harness"  # git-ignored: who uses the local broker

Record = namedtuple("Record", "partition offset key value timestamp")


# ----------------------------------------------------------------------------- binary

def smarttech_path() -> Path:
    env = os.environ.get("SMARTTECH_BIN")
    p = Path(env) if env else REPO / "build" / "smarttech"
    return p if p.is_absolute() else (REPO / p)


@pytest.fixture(scope="session")
def smarttech_bin() -> Path:
    p = smarttech_path()
    if not os.access(p, os.X_OK):
        pytest.fail(f"smarttech binary not found at {p}: run `make build` or set SMARTTECH_BIN")
    return p


@pytest.fixture(scope="session")
def run_smarttech(smarttech_bin):
    def run(*args, check=True, timeout=300, **kw):
        kw.setdefault("cwd", REPO)
        cp = subprocess.run([str(smarttech_bin), *map(str, args)], capture_output=True, text=True,
                            timeout=timeout, **kw)
        if check and cp.returncode != 0:
            pytest.fail(f"smarttech {' '.join(map(str, args))} exited {cp.returncode}\n"
                        f"--- stdout\n{cp.stdout[-4000:]}\n--- stderr\n{cp.stderr[-4000:]}")
        return cp
    return run


# ----------------------------------------------------------------------------- conformance corpora

# Public corpora written by other implementations, read in place (not in the repository): $SMARTTECH_TESTDATA,
# default ../shared/testdata next to the repository, as CI has it.
TESTDATA_CORPORA = {
    "parquet-testing": "apache/parquet-testing's data/ and bad_data/ folders (https://github.com/apache/parquet-testing)",
    "delta-golden": "Delta's golden tables, delta-io/delta connectors/golden-tables/src/main/resources/golden "
                    "(https://github.com/delta-io/delta)",
}


def corpus_dir(corpus: str) -> Path:
    """The folder of one corpus (a key of TESTDATA_CORPORA) under $SMARTTECH_TESTDATA. Call it at module level:
    when the variable is unset and the default folder is missing, the calling test module is skipped with a reason
    that says what to fetch and where to point the variable; when the variable is set but names no such folder,
    collection fails (a mistyped path must not silently drop the conformance tests)."""
    env = os.environ.get("SMARTTECH_TESTDATA")
    root = Path(env) if env else REPO.parent / "shared" / "testdata"
    folder = root / corpus
    if folder.is_dir():
        return folder
    why = (f"no {corpus} corpus at {folder}: put {TESTDATA_CORPORA[corpus]} in <dir>/{corpus}/ and set "
           f"SMARTTECH_TESTDATA=<dir> (default ../shared/testdata next to the repository)")
    if env:
        pytest.fail(f"SMARTTECH_TESTDATA is set, but {why}", pytrace=False)
    pytest.skip(why, allow_module_level=True)


# ----------------------------------------------------------------------------- simulator

# The simulator's event ids: "<sensor_id>:<boot>:<seq>", boot = 16 hex digits, one per sensor and run.
_EVENT_ID = re.compile(r"(?P<sensor_id>[^:]+):(?P<boot>[0-9a-f]{16}):(?P<seq>[0-9]+)")


def event_id_parts(event_id: str) -> tuple[str, str, int]:
    """(sensor_id, boot, seq) of a simulator event id; fails the test when it has another form."""
    m = _EVENT_ID.fullmatch(event_id)
    assert m, f"event_id {event_id!r} is not <sensor_id>:<16 hex boot>:<seq>"
    return m["sensor_id"], m["boot"], int(m["seq"])


# ----------------------------------------------------------------------------- broker

def kafka_local(action: str, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    """Runs scripts/kafka-local ACTION [ARGS]; fails the test with its output if it fails (not status)."""
    cp = subprocess.run([str(KAFKA_LOCAL), action, *args], cwd=REPO, capture_output=True, text=True,
                        timeout=timeout)
    if action != "status" and cp.returncode != 0:
        pytest.fail(f"scripts/kafka-local {action} {' '.join(args)} exited {cp.returncode}\n{cp.stdout}\n{cp.stderr}")
    return cp


def _port_open(addr: str) -> bool:
    host, port = addr.split(",")[0].rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=2):
            return True
    except OSError:
        return False


def broker_answers(timeout: float = 5.0) -> bool:
    """True when a broker at BROKERS answers a metadata request."""
    if not _port_open(BROKERS):
        return False
    from confluent_kafka.admin import AdminClient
    try:
        AdminClient({"bootstrap.servers": BROKERS}).list_topics(timeout=timeout)
        return True
    except Exception:
        return False


def _live_users(folder: Path = HARNESS_DIR) -> list[Path]:
    users = []
    for f in folder.glob("user-*"):
        try:
            os.kill(int(f.name[5:]), 0)
            users.append(f)
        except (ValueError, ProcessLookupError):
            f.unlink(missing_ok=True)
        except PermissionError:
            users.append(f)
    return users


def other_broker_users() -> list[int]:
    """Pids of other live pytest sessions that use the broker through this harness (a test that
    stops the broker should not run while they do)."""
    return [int(f.name[5:]) for f in _live_users() if f.name != f"user-{os.getpid()}"]


class _HarnessLock:
    """Serialises start/stop decisions between concurrent pytest sessions on this machine."""

    def __init__(self, folder: Path = HARNESS_DIR):
        self.folder = folder

    def __enter__(self):
        self.folder.mkdir(parents=True, exist_ok=True)
        self.f = open(self.folder / ".lock", "w")
        fcntl.flock(self.f, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        fcntl.flock(self.f, fcntl.LOCK_UN)
        self.f.close()


@contextmanager
def _shared_server(folder: Path, running, start, stop):
    """The life of one of the project's local servers in a session fixture: starts it unless
    running() says it is, and at exit stops it when this harness started it and no other live
    pytest session (a user-PID file in folder) still uses it."""
    me = folder / f"user-{os.getpid()}"
    started_mark = folder / "started-by-harness"
    with _HarnessLock(folder):
        me.touch()
        if not running():
            start()
            started_mark.touch()
    yield
    with _HarnessLock(folder):
        me.unlink(missing_ok=True)
        if started_mark.exists() and not _live_users(folder):
            started_mark.unlink(missing_ok=True)
            stop()


@pytest.fixture(scope="session")
def kafka_broker():
    """The broker's bootstrap address, started if needed (see module doc)."""
    def start():
        if BROKERS != "localhost:9092":
            pytest.fail(f"no Kafka broker answers at {BROKERS} (SMARTTECH_BROKERS)")
        kafka_local("start")

    with _shared_server(HARNESS_DIR, broker_answers, start, lambda: kafka_local("stop")):
        yield BROKERS


# ----------------------------------------------------------------------------- topics

@pytest.fixture(scope="session")
def kafka_admin(kafka_broker):
    from confluent_kafka.admin import AdminClient
    return AdminClient({"bootstrap.servers": kafka_broker})


@pytest.fixture(scope="session")
def unique_topic(kafka_admin):
    made: list[str] = []

    def make(prefix: str = "t") -> str:
        name = f"{prefix}_{time.strftime('%H%M%S')}_{uuid.uuid4().hex[:8]}"
        made.append(name)
        return name

    yield make
    if made and broker_answers():
        existing = set(kafka_admin.list_topics(timeout=10).topics)
        doomed = [t for t in made if t in existing]
        if doomed:
            for f in kafka_admin.delete_topics(doomed, operation_timeout=30).values():
                try:
                    f.result(timeout=60)
                except Exception:
                    pass


def end_offsets(topic: str, timeout: float = 30) -> dict[int, tuple[int, int]]:
    """{partition: (low, high)} of topic, via an independent client."""
    from confluent_kafka import Consumer, TopicPartition
    c = Consumer({"bootstrap.servers": BROKERS, "group.id": "smarttech-tests-offsets",
                  "enable.auto.commit": False})
    try:
        md = c.list_topics(topic, timeout=timeout)
        t = md.topics[topic]
        if t.error is not None:
            raise RuntimeError(f"topic {topic}: {t.error}")
        return {p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=timeout)
                for p in sorted(t.partitions)}
    finally:
        c.close()


@pytest.fixture(scope="session")
def kafka_consume(kafka_broker):
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    def consume(topic: str, timeout: float = 120) -> list[Record]:
        ends = end_offsets(topic)
        c = Consumer({"bootstrap.servers": kafka_broker, "group.id": f"smarttech-tests-{uuid.uuid4().hex}",
                      "enable.auto.commit": False, "auto.offset.reset": "earliest",
                      "enable.partition.eof": False})
        out: list[Record] = []
        try:
            want = {p: hi for p, (lo, hi) in ends.items() if hi > lo}
            c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in want])
            pos = {p: ends[p][0] for p in want}
            deadline = time.monotonic() + timeout
            while any(pos[p] < want[p] for p in want):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"read {len(out)} messages of {topic} in {timeout}s; "
                                       f"positions {pos}, ends {want}")
                for m in c.consume(num_messages=10000, timeout=1.0):
                    if m.error():
                        raise RuntimeError(f"consuming {topic}: {m.error()}")
                    if m.offset() < want[m.partition()]:
                        out.append(Record(m.partition(), m.offset(), m.key(), m.value(), m.timestamp()[1]))
                    pos[m.partition()] = m.offset() + 1
        finally:
            c.close()
        return out

    return consume


# ----------------------------------------------------------------------------- local cluster

CLUSTER_DIR = REPO / "data" / "kafka-cluster"
CLUSTER_NODES = 3


class KafkaCluster:
    """The local cluster of scripts/kafka-local (node i: PLAINTEXT 19091+i, SASL_SSL 19191+i)."""

    def __init__(self):
        self.nodes = CLUSTER_NODES
        self.bootstrap = ",".join(f"localhost:{19091 + i}" for i in range(1, self.nodes + 1))
        self.sasl_bootstrap = ",".join(f"localhost:{19191 + i}" for i in range(1, self.nodes + 1))

    @property
    def sasl(self) -> dict[str, str]:
        """librdkafka properties of the cluster's SCRAM user (secrets/client.properties)."""
        text = (CLUSTER_DIR / "secrets" / "client.properties").read_text()
        return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)

    def sasl_args(self, **override: str) -> list[str]:
        """-X options for smarttech; keys with '.' are given with '_' (sasl_password="x")."""
        props = self.sasl
        props.update({k.replace("_", "."): v for k, v in override.items()})
        return [a for k, v in props.items() for a in ("-X", f"{k}={v}")]

    def node_pid(self, i: int) -> int | None:
        f = CLUSTER_DIR / "logs" / f"node-{i}.pid"
        try:
            pid = int(f.read_text())
            os.kill(pid, 0)
            return pid
        except (OSError, ValueError):
            return None

    def admin(self):
        """One confluent-kafka AdminClient on the PLAINTEXT listeners (its connection-refused log
        lines while a node is down are silenced)."""
        if getattr(self, "_admin", None) is None:
            from confluent_kafka.admin import AdminClient
            self._admin = AdminClient({"bootstrap.servers": self.bootstrap, "log_level": 0})
        return self._admin

    def leader_of(self, topic: str, partition: int) -> int:
        # A broker may not know a new topic yet (metadata reaches each broker on its own time).
        deadline = time.monotonic() + 60
        while True:
            parts = self.admin().list_topics(topic, timeout=30).topics[topic].partitions
            if partition in parts and parts[partition].leader >= 0 or time.monotonic() > deadline:
                return parts[partition].leader
            time.sleep(0.5)

    def running(self) -> bool:
        return kafka_local("status", "--cluster").returncode == 0

    def restart(self) -> None:
        """Starts every node that is not running and waits until all brokers answer."""
        kafka_local("start", "--nodes", str(self.nodes))


@pytest.fixture(scope="session")
def kafka_cluster():
    c = KafkaCluster()
    with _shared_server(CLUSTER_DIR / "harness", c.running, c.restart, lambda: kafka_local("stop", "--cluster")):
        yield c


# ----------------------------------------------------------------------------- local S3

S3_LOCAL = REPO / "scripts" / "s3-local"


def s3_local_cmd(action: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """Runs scripts/s3-local ACTION; fails the test with its output if it fails (not status)."""
    cp = subprocess.run([str(S3_LOCAL), action], cwd=REPO, capture_output=True, text=True, timeout=timeout)
    if action != "status" and cp.returncode != 0:
        pytest.fail(f"scripts/s3-local {action} exited {cp.returncode}\n{cp.stdout}\n{cp.stderr}")
    return cp


class S3Local:
    def __init__(self):
        self.env = dict(re.findall(r"^export (\w+)=(\S+)$", s3_local_cmd("env").stdout, re.M))
        self.endpoint = self.env["AWS_ENDPOINT_URL"]
        self.bucket = "smarttech"


@pytest.fixture(scope="session")
def s3_local():
    """The local S3 server (see module doc), started if needed."""
    with _shared_server(REPO / "s3" / "logs" / "harness", lambda: s3_local_cmd("status").returncode == 0,
                        lambda: s3_local_cmd("start"), lambda: s3_local_cmd("stop")):
        s3_local_cmd("start")  # on a running server: (re)creates the bucket, which a test may have removed
        yield S3Local()
