"""Fleet reporting: publish kiosk events to an MQTT broker (QoS 1), spooled on disk while it is away."""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from fer_edge.errors import FerEdgeError
from fer_edge.spool import Spool

logger = logging.getLogger(__name__)

ENV_KEYS = ("FER_EDGE_MQTT_USERNAME", "FER_EDGE_MQTT_PASSWORD", "FER_EDGE_MQTT_CA_FILE",
            "FER_EDGE_MQTT_CERT_FILE", "FER_EDGE_MQTT_KEY_FILE")
"""Credentials and TLS files come from these variables (or an environment file), never the command line."""
INFLIGHT = 20
"""Events sent and not yet acknowledged, at most."""


@dataclass(frozen=True)
class MqttSettings:
    """Where and how to publish.

    Attributes:
        host, port, topic: from `mqtt://HOST[:PORT]/TOPIC` (1883) or `mqtts://...` (TLS, 8883).
        tls: connect with TLS (mqtts://, or a CA file given).
        username, password, ca_file, cert_file, key_file: from the environment.
        client_id: MQTT client id (default: derived from the topic and host name).
    """

    host: str
    port: int
    topic: str
    tls: bool = False
    username: str | None = None
    password: str | None = None
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    client_id: str = ""


def read_env_file(path: str | Path) -> dict[str, str]:
    """KEY=VALUE lines of a systemd-style environment file (comments and blank lines ignored)."""
    try:
        lines = Path(path).read_text().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise FerEdgeError(f"cannot read the MQTT environment file {path}: {exc}") from exc
    values = {}
    for number, line in enumerate(lines, start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise FerEdgeError(f"{path} line {number}: expected KEY=VALUE")
        values[key.strip()] = value.strip().strip('"').strip("'")
    return values


def parse_mqtt_url(url: str, env: dict[str, str] | None = None) -> MqttSettings:
    """Settings from `mqtt://HOST[:PORT]/TOPIC` plus credentials from `env` (default: the environment).

    Raises:
        FerEdgeError: a malformed URL, credentials in the URL, or a TLS file that does not exist.
    """
    env = dict(os.environ) if env is None else env
    parts = urlsplit(url)
    topic = parts.path.lstrip("/")
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname or not topic:
        raise FerEdgeError(f"--mqtt {url!r}: expected mqtt://HOST[:PORT]/TOPIC (or mqtts:// for TLS)")
    if parts.username or parts.password:
        raise FerEdgeError("--mqtt: put credentials in FER_EDGE_MQTT_USERNAME/PASSWORD (an environment file), "
                           "not in the URL, where every user of the machine can read them")
    if "#" in url or "+" in topic or parts.query:
        raise FerEdgeError(f"--mqtt topic {topic!r}: wildcards are for subscribers, not a publishing topic")
    try:
        port = parts.port or (8883 if parts.scheme == "mqtts" else 1883)
    except ValueError as exc:
        raise FerEdgeError(f"--mqtt {url!r}: {exc}") from exc
    files = {key: env.get(f"FER_EDGE_MQTT_{key.upper()}") or None for key in ("ca_file", "cert_file", "key_file")}
    for key, value in files.items():
        if value and not Path(value).is_file():
            raise FerEdgeError(f"FER_EDGE_MQTT_{key.upper()}={value}: no such file")
    return MqttSettings(parts.hostname, port, topic.rstrip("/"), parts.scheme == "mqtts" or bool(files["ca_file"]),
                        env.get("FER_EDGE_MQTT_USERNAME") or None, env.get("FER_EDGE_MQTT_PASSWORD") or None,
                        **files)


class MqttPublisher:
    """An event sink for the kiosk loop: every event goes to `TOPIC/KIOSK/TYPE` with QoS 1.

    Each event is stored in the spool first and removed only when the broker acknowledges it
    (PUBACK), so events survive a broker restart, a network outage and a kill of this process
    (the next run sends what is left). paho-mqtt reconnects with backoff (1 to 30 s) and sends
    unacknowledged events again, flagged DUP: a subscriber may see an event twice, with the
    same `id`, never lose one that reached the spool.

    Args:
        settings: broker, topic, credentials.
        spool: where events wait.
        frames: publish per-frame events too (off: sessions, summaries and run events only).
    """

    def __init__(self, settings: MqttSettings, spool: Spool, frames: bool = False):
        try:
            import paho.mqtt.client as mqtt
        except ImportError as exc:
            raise FerEdgeError('--mqtt needs paho-mqtt: pip install "fer-edge[device]"') from exc

        self.settings, self.spool, self.frames = settings, spool, frames
        self.connected = threading.Event()
        self._wake, self._closing = threading.Event(), threading.Event()
        self._lock = threading.Lock()
        self._inflight: dict[int, int] = {}  # paho message id -> spool seq
        self._early: set[int] = set()  # message ids acknowledged before _inflight knew them
        self._sent_upto = 0
        self.sent = self.acknowledged = 0
        client_id = settings.client_id or f"fer-edge-{os.uname().nodename}-{os.getpid()}"
        self._client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id)
        self._configure(self._client)
        self._client.on_connect, self._client.on_disconnect = self._on_connect, self._on_disconnect
        self._client.on_publish = self._on_publish
        self._client.reconnect_delay_set(min_delay=1, max_delay=30)
        self._client.connect_async(settings.host, settings.port, keepalive=30)
        self._client.loop_start()
        self._sender = threading.Thread(target=self._send_loop, name="mqtt sender", daemon=True)
        self._sender.start()

    def _configure(self, client) -> None:
        settings = self.settings
        if settings.username:
            client.username_pw_set(settings.username, settings.password)
        if settings.tls:
            try:
                client.tls_set(ca_certs=settings.ca_file, certfile=settings.cert_file, keyfile=settings.key_file)
            except (OSError, ValueError) as exc:
                raise FerEdgeError(f"MQTT TLS settings: {exc}") from exc

    def publish(self, event: dict) -> None:
        """Queue one event (returns at once; delivery happens on the sender thread)."""
        topic = f"{self.settings.topic}/{event.get('kiosk', 'kiosk')}/{event['type']}"
        self.spool.add(topic, json.dumps(event).encode())
        self._wake.set()

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            logger.warning("MQTT broker %s:%d refused the connection: %s", self.settings.host, self.settings.port,
                           reason_code)
            return
        logger.info("connected to MQTT broker %s:%d", self.settings.host, self.settings.port)
        self.connected.set()
        self._wake.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        if self.connected.is_set() and not self._closing.is_set():
            logger.warning("MQTT broker %s:%d went away (%s): spooling events", self.settings.host,
                           self.settings.port, reason_code)
        self.connected.clear()

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:
        with self._lock:
            seq = self._inflight.pop(mid, None)
            if seq is None:
                self._early.add(mid)  # the ack beat _send_pending's bookkeeping
        if seq is not None:
            self.spool.remove(seq)
            self.acknowledged += 1
            self._wake.set()

    def _send_loop(self) -> None:
        while not self._closing.is_set():
            self._wake.wait(0.5)
            self._wake.clear()
            if self.connected.is_set():
                self._send_pending()

    def _send_pending(self) -> None:
        with self._lock:
            room, after = INFLIGHT - len(self._inflight), self._sent_upto
        if room <= 0:
            return
        for seq, topic, payload in self.spool.pending(after, room):
            # Not under self._lock: paho calls on_publish holding its own lock, which publish() takes too.
            info = self._client.publish(topic, payload, qos=1)  # queued by paho even if the link just dropped
            with self._lock:
                self._sent_upto = seq
                acked = info.mid in self._early
                if acked:
                    self._early.discard(info.mid)
                else:
                    self._inflight[info.mid] = seq
            if acked:
                self.spool.remove(seq)
                self.acknowledged += 1
            self.sent += 1

    def close(self, timeout_s: float = 5.0) -> int:
        """Wait up to `timeout_s` for the broker to take what is queued (connecting first if need be), then disconnect.

        Returns:
            events still in the spool (sent at the next start).
        """
        deadline = time.monotonic() + timeout_s
        while len(self.spool) and time.monotonic() < deadline:
            self._wake.set()
            time.sleep(0.05)
        self._closing.set()
        self._wake.set()
        self._sender.join(timeout=2)
        self._client.disconnect()
        self._client.loop_stop()
        left = len(self.spool)
        if left:
            logger.warning("%d events not yet delivered to MQTT; they stay in %s for the next run", left,
                           self.spool.path)
        return left


def default_spool_path() -> Path:
    """`$STATE_DIRECTORY/mqtt-spool.db` under systemd (StateDirectory=), else ~/.local/state/fer-edge/."""
    state = os.environ.get("STATE_DIRECTORY", "").split(":")[0]
    return Path(state or Path.home() / ".local" / "state" / "fer-edge") / "mqtt-spool.db"


def open_publisher(url: str, env_file: str | Path | None = None, spool_path: str | Path | None = None,
                   max_events: int = 10_000, frames: bool = False) -> MqttPublisher:
    """A started publisher for `fer-edge run --mqtt URL`.

    Args:
        url: `mqtt://HOST[:PORT]/TOPIC` or `mqtts://...`.
        env_file: KEY=VALUE file with the FER_EDGE_MQTT_* settings (default: the environment).
        spool_path: the on-disk queue (default: `default_spool_path()`).
        max_events: bound on the queue; the oldest events go first.
        frames: publish per-frame events too.

    Raises:
        FerEdgeError: bad URL or settings, or a spool that cannot be used.
    """
    env = {**os.environ, **read_env_file(env_file)} if env_file else None
    settings = parse_mqtt_url(url, env)
    return MqttPublisher(settings, Spool(spool_path or default_spool_path(), max_events), frames)
