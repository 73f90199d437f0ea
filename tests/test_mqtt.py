"""MQTT fleet reporting against a real Mosquitto broker: order, restarts, spooling, and bad settings."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time

import pytest

from fer_edge.errors import FerEdgeError, OutputError
from fer_edge.mqtt import MqttPublisher, MqttSettings, parse_mqtt_url, read_env_file
from fer_edge.spool import Spool

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
needs_broker = pytest.mark.skipif(not shutil.which(MOSQUITTO), reason="mosquitto is not installed (make tools)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Broker:
    """A Mosquitto on 127.0.0.1 with persistence, so a restart keeps a subscriber's queued messages."""

    def __init__(self, folder, extra: str = "allow_anonymous true\n"):
        self.port, self.folder = free_port(), folder
        self.config = folder / "mosquitto.conf"
        # As root, mosquitto would switch to its own user, which cannot write the persistence file here.
        user = "user root\n" if os.geteuid() == 0 else ""
        self.config.write_text(f"listener {self.port} 127.0.0.1\n{user}{extra}persistence true\n"
                               f"persistence_location {folder}/\nautosave_interval 1\n")
        self.process = None

    def start(self):
        self.process = subprocess.Popen([MOSQUITTO, "-c", str(self.config)], stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    return self
            time.sleep(0.05)
        raise RuntimeError("mosquitto did not start")

    def stop(self, signum=signal.SIGTERM):
        self.process.send_signal(signum)  # SIGTERM: a clean stop, it saves its persistence file
        self.process.wait(10)


@pytest.fixture()
def broker(tmp_path):
    broker = Broker(tmp_path).start()
    yield broker
    if broker.process.poll() is None:
        broker.stop()


class Subscriber:
    """Collects every message under `fer/#` with QoS 1 in a persistent session."""

    def __init__(self, port):
        import paho.mqtt.client as mqtt

        self.messages, self.subscribed = [], threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="test-subscriber", clean_session=False)
        self.client.on_connect = lambda c, *a: c.subscribe("fer/#", qos=1)
        self.client.on_subscribe = lambda *a: self.subscribed.set()
        self.client.on_message = lambda c, u, m: self.messages.append((m.topic, json.loads(m.payload)))
        self.client.reconnect_delay_set(0.2, 1)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        assert self.subscribed.wait(5)

    def wait_for(self, count, timeout=20):
        deadline = time.monotonic() + timeout
        while len({e["id"] for _, e in self.messages}) < count and time.monotonic() < deadline:
            time.sleep(0.05)

    def close(self):
        self.client.loop_stop()
        self.client.disconnect()


def event(number, kind="session_end"):
    return {"schema": 1, "type": kind, "id": f"run-{number}", "kiosk": "hall", "time": 1.0 + number,
            "dwell_s": 2.5, "mean": {"happy": 0.7, "sad": 0.3}}


def settings(broker):
    return MqttSettings("127.0.0.1", broker.port, "fer")


@needs_broker
@pytest.mark.broker
def test_events_arrive_intact_in_order_under_kiosk_and_type(broker, tmp_path):
    subscriber = Subscriber(broker.port)
    publisher = MqttPublisher(settings(broker), Spool(tmp_path / "spool.db"))
    sent = [event(n, "summary" if n % 10 == 0 else "session_end") for n in range(1, 101)]
    for item in sent:
        publisher.publish(item)
    assert publisher.close(timeout_s=10) == 0
    subscriber.wait_for(100)
    subscriber.close()
    assert [e for _, e in subscriber.messages] == sent
    assert {topic for topic, _ in subscriber.messages} == {"fer/hall/summary", "fer/hall/session_end"}


@needs_broker
@pytest.mark.broker
def test_a_broker_restart_and_a_killed_broker_lose_no_event_and_duplicates_keep_their_id(broker, tmp_path):
    subscriber = Subscriber(broker.port)
    publisher = MqttPublisher(settings(broker), Spool(tmp_path / "spool.db"))
    assert publisher.connected.wait(5)
    for number in range(1, 301):
        publisher.publish(event(number))
        if number in (100, 200):  # events 101-120 and 201-220 are published while the broker is away
            broker.stop(signal.SIGTERM if number == 100 else signal.SIGKILL)  # a clean stop, then a kill
        if number in (120, 220):
            broker.start()
        time.sleep(0.01)
    assert publisher.close(timeout_s=30) == 0
    assert (tmp_path / "mosquitto.db").exists()  # the broker kept the subscriber's session across restarts
    subscriber.wait_for(300, timeout=30)
    subscriber.close()
    ids = [e["id"] for _, e in subscriber.messages]
    first = list(dict.fromkeys(ids))
    assert first == [f"run-{n}" for n in range(1, 301)]  # every event, first arrivals in order
    for _, received in subscriber.messages:
        assert received == event(int(received["id"].split("-")[1]))  # duplicates are the same event


@needs_broker
@pytest.mark.broker
def test_events_spooled_while_no_broker_are_sent_by_the_next_run(tmp_path, caplog):
    broker = Broker(tmp_path)  # not started
    publisher = MqttPublisher(settings(broker), Spool(tmp_path / "spool.db"))
    for number in range(1, 11):
        publisher.publish(event(number))
    assert publisher.close(timeout_s=0.5) == 10 and "stay in" in caplog.text
    broker.start()
    try:
        subscriber = Subscriber(broker.port)
        publisher = MqttPublisher(settings(broker), Spool(tmp_path / "spool.db"))
        assert publisher.close(timeout_s=10) == 0
        subscriber.wait_for(10)
        subscriber.close()
        assert [e["id"] for _, e in subscriber.messages] == [f"run-{n}" for n in range(1, 11)]
    finally:
        broker.stop()


def test_the_spool_keeps_the_newest_events_and_counts_what_it_dropped(tmp_path, caplog):
    spool = Spool(tmp_path / "spool.db", max_events=10)
    for number in range(25):
        spool.add("t", str(number).encode())
    assert len(spool) == 10 and spool.dropped == 15 and "dropped the oldest" in caplog.text
    assert [payload for _, _, payload in spool.pending(limit=100)] == [str(n).encode() for n in range(15, 25)]
    spool.close()
    assert len(Spool(tmp_path / "spool.db")) == 10  # survives a restart
    (tmp_path / "not-a-db").write_text("hello, this is text\n" * 100)
    with pytest.raises(OutputError, match="--mqtt-spool"):
        Spool(tmp_path / "not-a-db")


def test_urls_and_credentials(tmp_path):
    assert parse_mqtt_url("mqtt://broker.local/fer", {}) == MqttSettings("broker.local", 1883, "fer")
    tls = parse_mqtt_url("mqtts://10.0.0.2:9000/site/a", {"FER_EDGE_MQTT_USERNAME": "kiosk", "FER_EDGE_MQTT_PASSWORD": "s"})
    assert (tls.port, tls.topic, tls.tls, tls.username, tls.password) == (9000, "site/a", True, "kiosk", "s")
    for bad, match in (("http://x/t", "expected mqtt://"), ("mqtt://x", "expected mqtt://"),
                       ("mqtt://u:p@x/t", "not in the URL"), ("mqtt://x/t/#", "wildcards"),
                       ("mqtt://x:99999/t", "Port out of range")):
        with pytest.raises(FerEdgeError, match=match):
            parse_mqtt_url(bad, {})
    with pytest.raises(FerEdgeError, match="no such file"):
        parse_mqtt_url("mqtt://x/t", {"FER_EDGE_MQTT_CA_FILE": str(tmp_path / "missing.pem")})
    env = tmp_path / "mqtt.env"
    env.write_text('# broker login\nFER_EDGE_MQTT_USERNAME=kiosk\n\nFER_EDGE_MQTT_PASSWORD="p w"\n')
    assert read_env_file(env) == {"FER_EDGE_MQTT_USERNAME": "kiosk", "FER_EDGE_MQTT_PASSWORD": "p w"}
    env.write_text("no equals sign\n")
    with pytest.raises(FerEdgeError, match="line 1"):
        read_env_file(env)


@needs_broker
@pytest.mark.broker
@pytest.mark.subprocess
def test_fer_edge_run_publishes_its_visitor_sessions(broker, tmp_path, visitors_video):
    import sys

    subscriber = Subscriber(broker.port)
    env = {**os.environ, "FER_EDGE_KIOSK_ID": "hall-2"}
    result = subprocess.run([sys.executable, "-m", "fer_edge", "run", "--source", str(visitors_video),
                             "--mqtt", f"mqtt://127.0.0.1:{broker.port}/fer", "--mqtt-spool", str(tmp_path / "q.db"),
                             "--summary-every", "5"], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "visitor sessions 3" in result.stdout
    subscriber.wait_for(10)
    subscriber.close()
    kinds = [(topic, event["type"]) for topic, event in subscriber.messages]
    assert kinds[0] == ("fer/hall-2/run_start", "run_start") and kinds[-1] == ("fer/hall-2/run_end", "run_end")
    assert [k for _, k in kinds].count("session_end") == 3 and [k for _, k in kinds].count("summary") == 3
    assert "frame" not in {k for _, k in kinds}  # per-frame events stay local unless --mqtt-frames


def tls_broker(folder) -> tuple[Broker, dict[str, str]]:
    """A Mosquitto that takes only TLS (a fresh CA's certificate for 127.0.0.1) and a user with a password."""
    def openssl(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=folder)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=test CA",
            "-keyout", "ca.key", "-out", "ca.pem")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", "server.key",
            "-out", "server.csr")
    (folder / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-days", "2", "-extfile", "san.ext", "-out", "server.pem")
    subprocess.run(["mosquitto_passwd", "-c", "-b", str(folder / "passwd"), "kiosk", "s3cret"], check=True)
    (folder / "passwd").chmod(0o600)
    broker = Broker(folder, f"allow_anonymous false\npassword_file {folder}/passwd\ncafile {folder}/ca.pem\n"
                            f"certfile {folder}/server.pem\nkeyfile {folder}/server.key\n")
    env = {"FER_EDGE_MQTT_USERNAME": "kiosk", "FER_EDGE_MQTT_PASSWORD": "s3cret",
           "FER_EDGE_MQTT_CA_FILE": str(folder / "ca.pem")}
    return broker.start(), env


@needs_broker
@pytest.mark.broker
@pytest.mark.skipif(shutil.which("openssl") is None or shutil.which("mosquitto_passwd") is None,
                    reason="needs openssl and mosquitto_passwd")
def test_tls_and_a_password_from_the_environment_file(tmp_path, caplog):
    import paho.mqtt.client as mqtt

    from fer_edge.mqtt import open_publisher

    broker, env = tls_broker(tmp_path)
    try:
        received = []
        watcher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="tls-subscriber")
        watcher.username_pw_set("kiosk", "s3cret")
        watcher.tls_set(ca_certs=env["FER_EDGE_MQTT_CA_FILE"])
        watcher.on_connect = lambda c, *a: c.subscribe("fer/#", qos=1)
        watcher.on_message = lambda c, u, m: received.append(json.loads(m.payload)["id"])
        watcher.connect("127.0.0.1", broker.port)
        watcher.loop_start()
        time.sleep(1)
        env_file = tmp_path / "mqtt.env"
        env_file.write_text("".join(f"{key}={value}\n" for key, value in env.items()))
        publisher = open_publisher(f"mqtts://127.0.0.1:{broker.port}/fer", env_file, tmp_path / "q.db")
        for number in range(1, 6):
            publisher.publish(event(number))
        assert publisher.close(timeout_s=10) == 0
        deadline = time.monotonic() + 10
        while len(received) < 5 and time.monotonic() < deadline:
            time.sleep(0.05)
        watcher.loop_stop()
        assert received == [f"run-{n}" for n in range(1, 6)]
        env_file.write_text(env_file.read_text().replace("s3cret", "wrong"))
        refused = open_publisher(f"mqtts://127.0.0.1:{broker.port}/fer", env_file, tmp_path / "q2.db")
        refused.publish(event(6))
        assert refused.close(timeout_s=2) == 1 and "refused the connection" in caplog.text  # kept for later
    finally:
        broker.stop()
