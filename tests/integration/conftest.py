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
Module-level helpers: REPO, BROKERS, kafka_local(action), broker_answers(), end_offsets(topic),
other_broker_users().
"""
from __future__ import annotations

import fcntl
import os
import socket
import subprocess
import time
import uuid
from collections import namedtuple
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


# ----------------------------------------------------------------------------- broker

def kafka_local(action: str, timeout: float = 900) -> subprocess.CompletedProcess:
    """Runs scripts/kafka-local ACTION; fails the test with its output if it fails (not status)."""
    cp = subprocess.run([str(KAFKA_LOCAL), action], cwd=REPO, capture_output=True, text=True,
                        timeout=timeout)
    if action != "status" and cp.returncode != 0:
        pytest.fail(f"scripts/kafka-local {action} exited {cp.returncode}\n{cp.stdout}\n{cp.stderr}")
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


def _live_users() -> list[Path]:
    users = []
    for f in HARNESS_DIR.glob("user-*"):
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

    def __enter__(self):
        HARNESS_DIR.mkdir(parents=True, exist_ok=True)
        self.f = open(HARNESS_DIR / ".lock", "w")
        fcntl.flock(self.f, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        fcntl.flock(self.f, fcntl.LOCK_UN)
        self.f.close()


@pytest.fixture(scope="session")
def kafka_broker():
    """The broker's bootstrap address, started if needed (see module doc)."""
    me = HARNESS_DIR / f"user-{os.getpid()}"
    started_mark = HARNESS_DIR / "started-by-harness"
    with _HarnessLock():
        me.touch()
        if not broker_answers():
            if BROKERS != "localhost:9092":
                pytest.fail(f"no Kafka broker answers at {BROKERS} (SMARTTECH_BROKERS)")
            kafka_local("start")
            started_mark.touch()
    yield BROKERS
    with _HarnessLock():
        me.unlink(missing_ok=True)
        if started_mark.exists() and not _live_users():
            started_mark.unlink(missing_ok=True)
            kafka_local("stop")


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
