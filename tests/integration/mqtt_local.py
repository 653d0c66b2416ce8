"""A Mosquitto of the tests' own, run by scripts/mqtt-local in a temporary folder on free ports, so it
never meets a broker started for the demo (data/mqtt, port 1883).

    broker = MqttLocal(tmp_dir).start()   # listeners, credentials and test CA from `mqtt-local env`
    broker.url, broker.auth_url, broker.tls_url, broker.mtls_url, broker.cafile, ...
    broker.restart()                      # stop (the broker saves its database) + start
    broker.forget_session(client_id)      # a clean connect with that id ends its persistent session
    broker.stop()
"""
from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "mqtt-local"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MqttLocal:
    def __init__(self, folder: Path):
        self.folder = Path(folder)
        ports = [free_port() for _ in range(4)]
        self.env = dict(os.environ, MQTT_LOCAL_DIR=str(self.folder), MQTT_PORT=str(ports[0]),
                        MQTT_AUTH_PORT=str(ports[1]), MQTT_TLS_PORT=str(ports[2]), MQTT_MTLS_PORT=str(ports[3]))
        self.port, self.auth_port, self.tls_port, self.mtls_port = ports

    def _run(self, action: str) -> subprocess.CompletedProcess:
        cp = subprocess.run([str(SCRIPT), action], env=self.env, capture_output=True, text=True, timeout=120)
        if cp.returncode != 0:
            raise RuntimeError(f"scripts/mqtt-local {action} exited {cp.returncode}\n{cp.stdout}\n{cp.stderr}")
        return cp

    def start(self) -> "MqttLocal":
        self._run("start")
        v = dict(line.split("=", 1) for line in self._run("env").stdout.split())
        self.url, self.auth_url, self.tls_url, self.mtls_url = (v["MQTT_URL"], v["MQTT_AUTH_URL"], v["MQTT_TLS_URL"],
                                                                v["MQTT_MTLS_URL"])
        self.cafile, self.other_cafile = v["MQTT_CAFILE"], v["MQTT_OTHER_CAFILE"]
        self.client_cert, self.client_key = v["MQTT_CLIENT_CERT"], v["MQTT_CLIENT_KEY"]
        return self

    def stop(self) -> None:
        self._run("stop")

    def restart(self) -> None:
        self.stop()
        self._run("start")

    def running(self) -> bool:
        return subprocess.run([str(SCRIPT), "status"], env=self.env, capture_output=True).returncode == 0

    def forget_session(self, client_id: str) -> None:
        """Ends the persistent session of client_id (a clean-session connect with that id), so the
        broker stops queueing messages for a bridge that will not come back."""
        subprocess.run(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(self.port), "-i", client_id, "-t",
                        "smarttech-forget/none", "-E"], capture_output=True, timeout=30)
