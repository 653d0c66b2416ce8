"""mqtt_bridge — `smarttech mqtt-bridge` draining a QoS 1 backlog into Kafka, beside `mosquitto_sub`
draining the very same backlog to /dev/null (the limit: the broker's delivery rate to one client that
acknowledges at once), in the same run, on a Mosquitto of its own (scripts/mqtt-local, temporary folder,
free ports). Prints progress on stderr and one JSON line on stdout:
  {"bench":"mqtt_bridge","events":N,"mosquitto_sub_eps":L,"bridge_eps":B,"ratio":B/L,"bridge_peak_rss_bytes":R,...}

    .venv/bin/python bench/mqtt_bridge.py [--events N] [--rounds R]
        (default 200,000 events, env BENCH_MQTT_EVENTS; 2 rounds, env BENCH_MQTT_ROUNDS: each round loads a
        new backlog, the two drains alternate their order, each side's best round counts)
Env: SMARTTECH_BIN (default build/smarttech), BROKERS (default localhost:9092).

How: both persistent sessions (QoS 1, one per client) are made first; the simulator then publishes N events
(QoS 1, each on its sensor's topic), so the broker queues the same N messages for each. mosquitto_sub
(MQTT 3.1.1, -C N) is timed from start to exit; the bridge from start until Kafka's end offsets of its
topic sum to N (every message confirmed by Kafka, acks=all), its RSS and CPU sampled by procmon.
Targets (issue 16): bridge >= 0.8 of mosquitto_sub, bridge RSS <= 32 MiB.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from procmon import Monitored  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BIN = os.environ.get("SMARTTECH_BIN", str(ROOT / "build" / "smarttech"))
BROKERS = os.environ.get("BROKERS", "localhost:9092")


def log(msg: str) -> None:
    print(f"bench/mqtt_bridge: {msg}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def kafka_total(topic: str) -> int:
    from confluent_kafka import Consumer, TopicPartition
    c = Consumer({"bootstrap.servers": BROKERS, "group.id": "bench-mqtt-offsets"})
    try:
        md = c.list_topics(topic, timeout=10).topics[topic]
        return sum(c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in md.partitions)
    finally:
        c.close()


def wait_line(path: Path, text: str, proc, timeout=60) -> None:
    deadline = time.time() + timeout
    while text not in path.read_text(errors="replace"):
        if proc.poll() is not None or time.time() > deadline:
            raise RuntimeError(f"no '{text}' in {path}:\n{path.read_text(errors='replace')[-2000:]}")
        time.sleep(0.05)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=int(os.environ.get("BENCH_MQTT_EVENTS", "200000")))
    ap.add_argument("--rounds", type=int, default=int(os.environ.get("BENCH_MQTT_ROUNDS", "2")))
    a = ap.parse_args()
    n = a.events
    tmp = Path(tempfile.mkdtemp(prefix="st-bench-mqtt."))
    ports = [free_port() for _ in range(4)]
    env = dict(os.environ, MQTT_LOCAL_DIR=str(tmp / "mosquitto"), MQTT_PORT=str(ports[0]),
               MQTT_AUTH_PORT=str(ports[1]), MQTT_TLS_PORT=str(ports[2]), MQTT_MTLS_PORT=str(ports[3]))
    url = f"mqtt://127.0.0.1:{ports[0]}"
    topic = f"bench_mqtt_{time.strftime('%H%M%S')}_{os.getpid()}"
    script = str(ROOT / "scripts" / "mqtt-local")
    subprocess.run([script, "start"], env=env, check=True, stdout=subprocess.DEVNULL)
    try:
        subprocess.run([BIN, "topic", "create", "--brokers", BROKERS, "--topic", topic, "--partitions", "3"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        sub = ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(ports[0]), "-V", "mqttv311", "-c", "-i", "bench-sub",
               "-q", "1", "-t", "smarttech/#"]
        subprocess.run(sub + ["-E"], check=True, timeout=30)              # its session, no messages yet
        blog = tmp / "bridge.log"
        bridge = [BIN, "mqtt-bridge", "--mqtt", url, "--brokers", BROKERS, "--topic", topic, "--client-id",
                  "bench-bridge"]
        p = subprocess.Popen(bridge, stderr=open(blog, "w"))
        wait_line(blog, "subscribed to", p)
        p.send_signal(signal.SIGTERM)                                      # the session stays
        p.wait(timeout=60)

        sub_runs, bridge_runs, peak_rss, br = [], [], 0, None
        for r in range(1, a.rounds + 1):
            log(f"round {r}/{a.rounds}: publishing {n:,} events (QoS 1) into both sessions' queues")
            subprocess.run([BIN, "simulate", "--mqtt", url, "--count", str(n), "--seed", str(r), "--quiet"],
                           check=True, stdout=subprocess.DEVNULL, stderr=open(tmp / "simulate.log", "w"),
                           timeout=1800)
            # the two drains alternate their order (other work on this machine comes and goes)
            for side in (("sub", "bridge") if r % 2 else ("bridge", "sub")):
                if side == "sub":
                    log(f"round {r}: mosquitto_sub -> /dev/null")
                    m = Monitored(sub + ["-C", str(n)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).start()
                    res = m.wait(timeout=1800)
                    if res["exit"] != 0:
                        raise RuntimeError(f"mosquitto_sub exited {res['exit']}")
                    sub_runs.append(res)
                    continue
                log(f"round {r}: smarttech mqtt-bridge -> Kafka")
                base = kafka_total(topic)
                m = Monitored(bridge, stdout=subprocess.DEVNULL, stderr=open(blog, "a")).start()
                deadline = time.monotonic() + 1800
                while kafka_total(topic) < base + n:
                    if not m.alive() or time.monotonic() > deadline:
                        raise RuntimeError(f"bridge stopped short:\n{blog.read_text(errors='replace')[-2000:]}")
                    time.sleep(0.05)
                secs = time.monotonic() - m.t0
                os.kill(m.pid(), signal.SIGTERM)
                br = m.wait(timeout=120)
                br["drain_s"] = round(secs, 3)
                bridge_runs.append(br)
                peak_rss = max(peak_rss, br["peak_rss_bytes"])
        sub_res = min(sub_runs, key=lambda x: x["wall_s"])
        best = min(bridge_runs, key=lambda x: x["drain_s"])
        bridge_s = best["drain_s"]
        final = [ln for ln in blog.read_text(errors="replace").splitlines() if "mqtt-bridge: stopped" in ln]
        sub_eps, bridge_eps = n / sub_res["wall_s"], n / bridge_s
        out = {"bench": "mqtt_bridge", "events": n, "rounds": a.rounds,
               "mosquitto_sub_s": [x["wall_s"] for x in sub_runs], "bridge_s": [x["drain_s"] for x in bridge_runs],
               "mosquitto_sub_eps": round(sub_eps), "bridge_eps": round(bridge_eps),
               "ratio": round(bridge_eps / sub_eps, 3), "bridge_peak_rss_bytes": peak_rss,
               "bridge_cpu_s": best["cpu_s"], "mosquitto_sub_cpu_s": sub_res["cpu_s"],
               "bridge_exit": max(x["exit"] for x in bridge_runs), "bridge_summary": final[-1] if final else None,
               "kafka_records": kafka_total(topic), "target_ratio": 0.8, "target_rss_bytes": 32 << 20,
               "meets_target": bridge_eps / sub_eps >= 0.8 and peak_rss <= 32 << 20}
        print(json.dumps(out))
        return 0 if out["bridge_exit"] == 0 and out["kafka_records"] == n * a.rounds else 1
    finally:
        subprocess.run([script, "stop"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            from confluent_kafka.admin import AdminClient
            for f in AdminClient({"bootstrap.servers": BROKERS}).delete_topics([topic]).values():
                f.result(timeout=60)
        except Exception:
            pass
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
