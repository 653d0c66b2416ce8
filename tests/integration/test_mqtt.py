"""Issue 16: MQTT -> Kafka with no loss (`smarttech mqtt-bridge`, `smarttech simulate --mqtt`), against a
real Mosquitto (scripts/mqtt-local, own folder and ports: mqtt_local.py) and the shared Kafka broker.

What is shown: no loss through kill -9 of the bridge and a Mosquitto restart (Silver against the
simulator's manifest and its very bytes); a message Kafka has not confirmed is never acknowledged;
independent publishers (mosquitto_pub, paho-mqtt) reach Silver; credentials and TLS; hostile input
through the ASan build ends in quarantine with a reason, never in a crash.
"""
from __future__ import annotations

import base64
import csv
import json
import os
import random
import re
import signal
import socket
import subprocess
import time
import uuid
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import pytest
from conftest import REPO, smarttech_path
from mqtt_local import MqttLocal
from test_silver import Silver, read_table

PROGRESS = re.compile(r"received (\d+) \(\d+/s\), forwarded (\d+), rejected (\d+), acknowledged (\d+), "
                      r"in flight (\d+), failed (\d+) \| mqtt (\w+)")


@pytest.fixture(scope="module")
def mqtt(tmp_path_factory):
    broker = MqttLocal(tmp_path_factory.mktemp("mosquitto")).start()
    yield broker
    broker.stop()


def asan_path() -> Path | None:
    env = os.environ.get("SMARTTECH_ASAN_BIN")
    p = Path(env) if env else REPO / "build-asan" / "smarttech"
    return p if os.access(p, os.X_OK) else None


_started: list = []   # every bridge process of the running test (killed at its end if still alive)


@pytest.fixture(autouse=True)
def _no_bridge_left_behind():
    yield
    while _started:
        p = _started.pop()
        if p.poll() is None:
            p.kill()
            p.wait()


class Bridge:
    """One `smarttech mqtt-bridge` (one session: client id) writing its stderr to a log."""

    def __init__(self, log: Path, url: str, topic: str, client_id: str, *extra, binary=None, env=None):
        self.log, self.client_id = log, client_id
        self.cmd = [str(binary or smarttech_path()), "mqtt-bridge", "--mqtt", url, "--topic", topic,
                    "--client-id", client_id, *map(str, extra)]
        self.env = env
        self.p = None

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def start(self, wait_subscribed=True) -> "Bridge":
        mark = len(self.text())
        self.p = subprocess.Popen(self.cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=open(self.log, "a"),
                                  env=self.env)
        _started.append(self.p)
        deadline = time.time() + 60
        while wait_subscribed and "subscribed to" not in self.text()[mark:]:
            assert self.p.poll() is None, f"bridge exited {self.p.returncode}\n{self.text()[-3000:]}"
            assert time.time() < deadline, f"bridge did not subscribe within 60 s\n{self.text()[-3000:]}"
            time.sleep(0.1)
        return self

    def kill9(self) -> None:
        self.p.send_signal(signal.SIGKILL)
        self.p.wait()

    def cleanup(self) -> None:
        """Kills the process if a failed test left it running."""
        if self.p and self.p.poll() is None:
            self.kill9()

    def stop(self, timeout=60) -> int:
        self.p.send_signal(signal.SIGTERM)
        return self.p.wait(timeout=timeout)

    def last(self):
        m = PROGRESS.findall(self.text())
        return tuple(int(x) for x in m[-1][:6]) if m else None

    def wait_idle(self, quiet=3.0, timeout=180):
        """Until nothing is in flight and nothing new arrived for `quiet` seconds (the backlog is done)."""
        deadline = time.time() + timeout
        seen, since = None, time.time()
        while time.time() < deadline:
            assert self.p.poll() is None, f"bridge exited {self.p.returncode}\n{self.text()[-3000:]}"
            cur = self.last()
            if cur != seen:
                seen, since = cur, time.time()
            elif cur and cur[4] == 0 and time.time() - since >= quiet:
                return cur
            time.sleep(0.3)
        raise AssertionError(f"bridge still busy after {timeout} s\n{self.text()[-3000:]}")


def sim_args(count, seed, faults, start, future_after):
    return ["--count", count, "--seed", seed, "--faults", faults, "--start-time", start, "--future-after",
            future_after]


def expected_stream(count, seed, faults, start, future_after, step_rate):
    """The simulator's events, byte for byte (same options, unpaced, same time step)."""
    cp = subprocess.run([str(smarttech_path()), "simulate", *map(str, sim_args(count, seed, faults, start,
                                                                                  future_after)),
                         "--sim-rate", str(step_rate), "--quiet"], capture_output=True, timeout=300, check=True)
    lines = cp.stdout.split(b"\n")[:-1]
    assert len(lines) == count
    return lines


def check_silver(s: Silver, manifest: Path, values: list[bytes]):
    """Silver = every valid event once; quarantine = every invalid event (its very bytes) with its
    reason, copies from redeliveries allowed; nothing else. Returns the number of redelivered copies."""
    with open(manifest, newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(values)
    valid_ids = {r["event_id"] for r in rows if r["valid"] == "1"}
    silver = [r["event_id"] for r in read_table(s.silver, ["event_id"])]
    dupes = [k for k, n in Counter(silver).items() if n > 1]
    assert not dupes, f"{len(dupes)} event_ids more than once in Silver, e.g. {dupes[:5]}"
    assert set(silver) == valid_ids, (f"Silver has {len(set(silver) - valid_ids)} unexpected and misses "
                                      f"{len(valid_ids - set(silver))} valid events")
    want = Counter((r["reason"], v.decode()) for r, v in zip(rows, values) if r["valid"] != "1")
    got = Counter((r["reason"], r["raw"]) for r in read_table(s.quarantine, ["reason", "raw"]))
    missing = want - got
    assert not missing, f"{sum(missing.values())} invalid events not quarantined with their reason, e.g. " \
                        f"{list(missing)[:3]}"
    extra = got - want
    assert set(extra) <= set(want), f"unexpected quarantine rows, e.g. {list(set(extra) - set(want))[:3]}"
    bronze = read_table(s.bronze, ["offset"])
    assert len(bronze) >= len(values)
    return len(bronze) - len(values)


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


# ------------------------------------------------------------------------------------------ 1. no loss

def test_no_loss_through_kill_9_twice_and_a_mosquitto_restart(tmp_path, mqtt, kafka_broker, unique_topic):
    topic, cid = unique_topic("mqtt"), f"bridge-{uuid.uuid4().hex[:8]}"
    n, rate, seed, faults = 50_000, 2500, 61, "0.05"
    day = time.time() // 86400 * 86400
    start, future_after = iso(day), iso(time.time())
    values = expected_stream(n, seed, faults, start, future_after, rate)
    log = tmp_path / "bridge.log"
    manifest = tmp_path / "manifest.csv"
    b = Bridge(log, mqtt.url, topic, cid)
    sim = None
    try:
        b.start()
        sim = subprocess.Popen([str(smarttech_path()), "simulate", "--mqtt", mqtt.url, "--qos", "1", "--rate",
                                str(rate), *map(str, sim_args(n, seed, faults, start, future_after)), "--manifest",
                                str(manifest)], cwd=REPO, stdout=subprocess.DEVNULL,
                               stderr=open(tmp_path / "sim.log", "w"))
        time.sleep(4)
        b.kill9()                      # 1: the backlog waits at the broker, in-flight ones come again
        time.sleep(2)
        b.start()
        time.sleep(4)
        mqtt.restart()                 # Mosquitto saves and reloads sessions and queues
        time.sleep(4)
        b.kill9()                      # 2
        time.sleep(1.5)
        b.start()
        assert sim.wait(timeout=300) == 0, (tmp_path / "sim.log").read_text()[-3000:]
        b.wait_idle()
        assert b.stop() == 0, b.text()[-3000:]
    finally:
        if sim and sim.poll() is None:
            sim.kill()
        b.cleanup()
        mqtt.forget_session(cid)
    sim_log = (tmp_path / "sim.log").read_text()
    assert f"{n} published, {n} acknowledged" in sim_log, sim_log[-2000:]
    text = b.text()
    assert "reconnecting" in text and text.count("subscribed to") >= 4, text[-4000:]
    s = Silver(tmp_path / "out", topic)
    s.run_once()
    copies = check_silver(s, manifest, values)
    print(f"{copies} records more than sent reached Kafka (redeliveries after the kills and the restart)")


def test_a_message_kafka_did_not_confirm_is_never_acknowledged(tmp_path, mqtt, kafka_admin, kafka_consume,
                                                               unique_topic):
    """Kafka refuses the message (topic max.message.bytes below it): no PUBACK, so the broker gives it
    again after every failure and after a kill -9; once the topic takes it, it is there."""
    from confluent_kafka.admin import AlterConfigOpType, ConfigEntry, ConfigResource, NewTopic
    topic, cid = unique_topic("mqtt_refused"), f"bridge-{uuid.uuid4().hex[:8]}"
    kafka_admin.create_topics([NewTopic(topic, 3, 1, config={"max.message.bytes": "2000"})])[topic].result(60)
    b = Bridge(tmp_path / "bridge.log", mqtt.url, topic, cid, "--mqtt-topic", f"refused/{cid}/#").start()
    try:
        # incompressible (the producer compresses with lz4): 8 kB of base64 noise
        body = json.dumps({"sensor_id": "s-big", "pad": base64.b64encode(os.urandom(6000)).decode()})
        subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(mqtt.port), "-q", "1", "-t", f"refused/{cid}/a",
                        "-m", body], check=True, timeout=30)
        deadline = time.time() + 60
        while b.text().count("dropping the MQTT connection") < 2:   # failed, redelivered, failed again
            assert time.time() < deadline, b.text()[-3000:]
            time.sleep(0.2)
        b.kill9()
        res = ConfigResource("topic", topic, incremental_configs=[
            ConfigEntry("max.message.bytes", "1048588", incremental_operation=AlterConfigOpType.SET)])
        kafka_admin.incremental_alter_configs([res])[res].result(60)
        b.start()
        deadline = time.time() + 60
        while not kafka_consume(topic):
            assert time.time() < deadline, b.text()[-3000:]
            time.sleep(0.5)
        assert b.stop() == 0
    finally:
        b.cleanup()
        mqtt.forget_session(cid)
    [rec] = kafka_consume(topic)
    assert rec.key == b"s-big" and rec.value == body.encode()


# ----------------------------------------------------------------------------------- 2. other clients

def test_mosquitto_pub_and_paho_reach_silver(tmp_path, mqtt, kafka_broker, unique_topic):
    import paho.mqtt.client as paho
    topic, cid = unique_topic("mqtt_clients"), f"bridge-{uuid.uuid4().hex[:8]}"
    b = Bridge(tmp_path / "bridge.log", mqtt.url, topic, cid).start()
    events = subprocess.run([str(smarttech_path()), "simulate", "--count", "400", "--seed", "71", "--quiet"],
                            capture_output=True, check=True).stdout.decode().splitlines()
    try:
        # mosquitto_pub: 200 events, one per line, on one topic (the key comes from the payloads)
        subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(mqtt.port), "-q", "1", "-t",
                        "smarttech/b01/1/r01/mixed", "-l"], input="\n".join(events[:200]) + "\n", text=True,
                       check=True, timeout=60)
        # paho-mqtt (MQTT 5): 200 events on their sensors' topics, then one without sensor_id in the payload
        c = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=f"paho-{cid}", protocol=paho.MQTTv5)
        c.connect("127.0.0.1", mqtt.port)
        c.loop_start()
        infos = []
        for line in events[200:]:
            e = json.loads(line)
            infos.append(c.publish(f"smarttech/{e['building_id']}/{e['floor']}/{e['room_id']}/{e['sensor_id']}",
                                   line, qos=1))
        no_id = json.loads(events[0]) | {"event_id": "paho-no-id:1"}
        del no_id["sensor_id"]
        infos.append(c.publish("smarttech/b09/9/r09/from-topic", json.dumps(no_id), qos=1))
        for i in infos:
            i.wait_for_publish(30)
        c.loop_stop()
        c.disconnect()
        b.wait_idle(quiet=2)
        assert b.stop() == 0
    finally:
        b.cleanup()
        mqtt.forget_session(cid)
    s = Silver(tmp_path / "out", topic)
    s.run_once()
    ids = [r["event_id"] for r in read_table(s.silver, ["event_id"])]
    sent = {json.loads(line)["event_id"] for line in events}
    assert set(ids) == sent and len(ids) == len(sent)
    q = read_table(s.quarantine, ["reason", "raw"])
    assert [r["reason"] for r in q] == ["missing_field:sensor_id"]  # keyed by its topic, judged by Silver


def scrape(port: int, path: str) -> tuple[int, str]:
    """GET path of a job's metrics endpoint: (status, body)."""
    from test_http_hostile import get
    code, body = get(port, path)
    return code, body.decode()


def test_metrics_of_the_bridge(tmp_path, mqtt, kafka_broker, unique_topic):
    """--metrics on the bridge: its counters equal what went through (Kafka's count of the topic),
    /readyz is 200 while both brokers answer and 503 with the reason while MQTT is unreachable."""
    from test_metrics_prometheus import free_port, sample
    topic, cid, port = unique_topic("mqtt_metrics"), f"bridge-{uuid.uuid4().hex[:8]}", free_port()
    b = Bridge(tmp_path / "bridge.log", mqtt.url, topic, cid, "--metrics", f"127.0.0.1:{port}").start()
    events = subprocess.run([str(smarttech_path()), "simulate", "--count", "300", "--seed", "73", "--quiet"],
                            capture_output=True, check=True).stdout.decode().splitlines()
    try:
        subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(mqtt.port), "-q", "1", "-t",
                        "smarttech/b01/1/r01/mixed", "-l"], input="\n".join(events + ["not json"]) + "\n",
                       text=True, check=True, timeout=60)
        b.wait_idle(quiet=2)
        # the counters are brought up to date about once a second, after the progress line
        deadline = time.time() + 30
        while True:
            code, text = scrape(port, "/metrics")
            assert code == 200
            if sample(text, "smarttech_mqtt_messages_forwarded_total") >= 301 or time.time() > deadline:
                break
            time.sleep(0.5)
        assert sample(text, "smarttech_mqtt_messages_forwarded_total") == 301
        assert sample(text, "smarttech_mqtt_messages_rejected_total") == 1
        assert sample(text, "smarttech_mqtt_messages_acknowledged_total") >= 301
        assert sample(text, "smarttech_mqtt_kafka_failures_total") == 0
        assert sample(text, "smarttech_mqtt_in_flight") == 0 and sample(text, "smarttech_mqtt_connected") == 1
        assert sample(text, "process_resident_memory_bytes") > 0
        assert scrape(port, "/healthz")[0] == 200 and scrape(port, "/readyz")[0] == 200
        assert b.stop() == 0
    finally:
        b.cleanup()
        mqtt.forget_session(cid)
    s = Silver(tmp_path / "out", topic)
    s.run_once()
    assert len(read_table(s.silver, ["event_id"])) == len({json.loads(e)["event_id"] for e in events})
    assert [r["reason"] for r in read_table(s.quarantine, ["reason"])] == ["malformed_json"]
    # MQTT unreachable: alive, not ready, and the reason says which broker
    port2 = free_port()
    dead = Bridge(tmp_path / "dead.log", "mqtt://127.0.0.1:1", topic, f"dead-{cid}", "--metrics",
                  f"127.0.0.1:{port2}").start(wait_subscribed=False)
    try:
        deadline = time.time() + 30
        while scrape_or_none(port2, "/healthz") is None:
            assert time.time() < deadline, dead.text()[-2000:]
            time.sleep(0.2)
        assert scrape(port2, "/healthz")[0] == 200
        code, why = scrape(port2, "/readyz")
        assert code == 503 and "MQTT" in why, why
    finally:
        dead.cleanup()


def scrape_or_none(port: int, path: str):
    try:
        return scrape(port, path)
    except OSError:
        return None


# --------------------------------------------------------------------------------------- 3. security

def run_bridge(url, topic, *extra, timeout=60):
    return subprocess.run([str(smarttech_path()), "mqtt-bridge", "--mqtt", url, "--topic", topic, "--client-id",
                           f"sec-{uuid.uuid4().hex[:8]}", *extra], capture_output=True, text=True, timeout=timeout)


def test_wrong_password_and_unverified_certificates_exit_1(mqtt, kafka_broker, unique_topic):
    topic = unique_topic("mqtt_sec")
    bad_pw = mqtt.auth_url.replace(":smarttech@", ":wrong@")
    cp = run_bridge(bad_pw, topic)
    assert cp.returncode == 1 and "refused the connection" in cp.stderr and "password" in cp.stderr, cp.stderr
    assert ":wrong@" not in cp.stderr                                 # the password is never printed
    cp = run_bridge(mqtt.tls_url, topic, "--mqtt-cafile", mqtt.other_cafile)
    assert cp.returncode == 1 and "certificate verify failed" in cp.stderr, cp.stderr
    cp = run_bridge(mqtt.tls_url, topic)                              # the system's CAs do not know ours
    assert cp.returncode == 1 and "certificate verify failed" in cp.stderr, cp.stderr
    other_name = socket.gethostname()   # this host's name, when it means 127.0.0.1: not in the certificate
    if other_name not in ("localhost", "") and socket.gethostbyname(other_name) == "127.0.0.1":
        cp = run_bridge(mqtt.tls_url.replace("localhost", other_name), topic, "--mqtt-cafile", mqtt.cafile)
        assert cp.returncode == 1 and "TLS" in cp.stderr, cp.stderr
    cp = run_bridge(mqtt.url, topic, "--mqtt-cafile", mqtt.cafile)
    assert cp.returncode == 1 and "mqtts://" in cp.stderr             # TLS options without TLS
    cp = run_bridge(mqtt.url, topic, "--qos", "2")
    assert cp.returncode == 1 and "QoS 2" in cp.stderr
    cp = subprocess.run([str(smarttech_path()), "simulate", "--mqtt", bad_pw, "--count", "10"], capture_output=True,
                        text=True, timeout=60)
    assert cp.returncode == 1 and "refused the connection" in cp.stderr, cp.stderr


def test_tls_with_the_test_ca_and_a_client_certificate(tmp_path, mqtt, kafka_consume, unique_topic):
    topic, cid = unique_topic("mqtt_tls"), f"bridge-{uuid.uuid4().hex[:8]}"
    b = Bridge(tmp_path / "tls.log", mqtt.tls_url, topic, cid, "--mqtt-cafile", mqtt.cafile,
               "--mqtt-topic", f"tls/{cid}/#").start()
    m = Bridge(tmp_path / "mtls.log", mqtt.mtls_url, topic, cid + "-m", "--mqtt-cafile", mqtt.cafile, "--mqtt-cert",
               mqtt.client_cert, "--mqtt-key", mqtt.client_key, "--mqtt-topic", f"mtls/{cid}/#").start()
    try:
        user, pw = "smarttech", "smarttech"
        for i in range(20):
            subprocess.run(["mosquitto_pub", "-h", "localhost", "-p", str(mqtt.tls_port), "--cafile", mqtt.cafile,
                            "-u", user, "-P", pw, "-q", "1", "-t", f"tls/{cid}/x",
                            "-m", json.dumps({"sensor_id": f"tls-{i}"})], check=True, timeout=30)
        subprocess.run(["mosquitto_pub", "-h", "localhost", "-p", str(mqtt.mtls_port), "--cafile", mqtt.cafile,
                        "--cert", mqtt.client_cert, "--key", mqtt.client_key, "-q", "1", "-t", f"mtls/{cid}/x",
                        "-m", json.dumps({"sensor_id": "mtls-0"})], check=True, timeout=30)
        b.wait_idle(quiet=1.5)
        m.wait_idle(quiet=1.5)
        assert b.stop() == 0 and m.stop() == 0
    finally:
        for x in (b, m):
            x.cleanup()
            mqtt.forget_session(x.client_id)
    keys = sorted(r.key.decode() for r in kafka_consume(topic))
    assert keys == sorted([f"tls-{i}" for i in range(20)] + ["mtls-0"])
    assert "connected to mqtts://smarttech@localhost" in b.text()


# -------------------------------------------------------------------------------------- 4. bad input

def raw_publish_invalid_topic(port: int, topic: bytes, payload: bytes) -> bool:
    """MQTT 3.1.1 CONNECT + PUBLISH (QoS 0) with a topic no client library would send. True when the
    broker closed the connection (it must: topics are UTF-8)."""
    def rl(n):
        out = b""
        while True:
            d, n = n % 128, n // 128
            out += bytes([d | (0x80 if n else 0)])
            if not n:
                return out
    cid = b"raw-" + uuid.uuid4().hex[:8].encode()
    var = b"\x00\x04MQTT\x04\x02\x00\x3c" + len(cid).to_bytes(2, "big") + cid
    body = len(topic).to_bytes(2, "big") + topic + payload
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"\x10" + rl(len(var)) + var)
        assert s.recv(4)[:1] == b"\x20"   # CONNACK
        s.sendall(b"\x30" + rl(len(body)) + body)
        s.settimeout(5)
        try:
            return s.recv(1) == b""
        except (ConnectionResetError, socket.timeout):
            return True


def test_hostile_input_never_crashes_the_asan_bridge(tmp_path, mqtt, kafka_broker, unique_topic):
    binary = asan_path()
    if binary is None:
        pytest.fail("no ASan binary: build build-asan (make unit or make asan) or set SMARTTECH_ASAN_BIN")
    import paho.mqtt.client as paho
    topic, cid = unique_topic("mqtt_hostile"), f"bridge-{uuid.uuid4().hex[:8]}"
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:exitcode=99",
               UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:exitcode=98")
    b = Bridge(tmp_path / "bridge.log", mqtt.url, topic, cid, "--mqtt-topic", f"hostile-{cid}/#",
               binary=binary, env=env).start()
    rnd = random.Random(5)
    sent = Counter()                          # reason -> messages
    c = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=f"paho-h-{cid}", protocol=paho.MQTTv5)
    c.max_queued_messages_set(0)
    c.max_inflight_messages_set(200)
    c.connect("127.0.0.1", mqtt.port)
    c.loop_start()
    infos = []

    def pub(t, payload, reason):
        infos.append(c.publish(t, payload, qos=1))
        sent[reason] += 1

    try:
        base = f"hostile-{cid}"
        mib = 1 << 20
        pub(f"{base}/big", b"x" * (mib + 1), "line_too_long")
        pub(f"{base}/big", b"{" + bytes(rnd.getrandbits(8) for _ in range(mib)), "line_too_long")
        pub(f"{base}/big", b'{"sensor_id":"s","pad":"' + b"y" * (2 * mib) + b'"}', "line_too_long")
        pub(f"{base}/big", b'{"sensor_id":"s","pad":"' + b"y" * (mib - 40) + b'"}', "line_too_long")  # 1 MiB: over message.max.bytes
        for i in range(20):
            pub(f"{base}/utf8/{i}", b'{"sensor_id":"s' + bytes([0x80 + i, 0xff]) + b'"}', "invalid_utf8")
        pub(f"{base}/nul", b'{"sensor_id":"a\x00b"}', "malformed_json")
        pub(f"{base}/empty", b"", "malformed_json")
        pub(f"{base}/deep", b"[" * 100000, "malformed_json")
        pub(f"{base}/" + "l" * 60000, b'{"x":1}', "missing_field:sensor_id")   # a 60 kB topic
        pub(f"{base}/b/1/r/\u00e9\u4e2d\U0001F600", b"\xfe\xff", "invalid_utf8")
        for i in range(10_000):               # 10,000 topics
            kind = i % 4
            if kind == 0:
                p, why = bytes(rnd.getrandbits(8) for _ in range(rnd.randint(1, 64))) + b"\xff", "invalid_utf8"
            elif kind == 1:
                p, why = b'{"sensor_id":"s%d","value":' % i, "malformed_json"
            elif kind == 2:
                p, why = b'{"value":%d}' % i, "missing_field:sensor_id"
            else:
                p, why = b'[{"sensor_id":"s%d"}]' % i, "not_an_object"
            pub(f"{base}/t{i}/{rnd.getrandbits(32):x}", p, why)
        for i in infos:
            i.wait_for_publish(120)
        c.loop_stop()
        c.disconnect()
        # topics that are not UTF-8: the broker itself refuses them (MQTT says topics are UTF-8)
        refused = [raw_publish_invalid_topic(mqtt.port, f"{base}/bad".encode() + bad, b'{"sensor_id":"s"}')
                   for bad in (b"\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"a\x00b")]
        assert all(refused)
        b.wait_idle(quiet=3, timeout=300)
        rc = b.stop(timeout=120)
    finally:
        b.cleanup()
        mqtt.forget_session(cid)
    text = b.text()
    assert rc == 0 and "Sanitizer" not in text and "runtime error" not in text, text[-5000:]
    total = sum(sent.values())
    last = b.last()
    assert last[0] == total and last[1] == total, (last, total)
    s = Silver(tmp_path / "out", topic)
    s.run_once()
    q = read_table(s.quarantine, ["reason", "detail", "raw", "raw_base64"])
    assert Counter(r["reason"] for r in q) == sent
    assert all(r["detail"] for r in q)
    assert read_table(s.silver, ["event_id"]) == []
    big = [r for r in q if r["reason"] == "line_too_long"]
    assert all(len(r["raw"] or "") + len(r["raw_base64"] or "") <= 8192 for r in big)  # the prefix only
