"""Kiosk soak: sessions, summaries and MQTT for 10 minutes, the broker restarted twice; memory and delivery.

A visitor video made from real photos (`fer_edge.synthetic.visitor_frames`) plays in a loop
through the real kiosk loop (YuNet + the shipped model, `--max-fps 15`, session and summary
events to a JSON-lines file and to a real Mosquitto on 127.0.0.1 through `MqttPublisher`). The
broker is stopped for 10 s at a third and at two thirds of the run. A subscriber with a
persistent session collects everything. At the end: every event of the JSON-lines file must have
reached the subscriber (duplicates counted, first arrivals in order), and resident memory is
sampled every 10 s.

    .venv-device/bin/python benchmarks/kiosk_soak.py ../shared/data/photos --minutes 10 \\
        --json docs/kiosk/soak.json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import cv2
import numpy as np

from fer_edge.bench import rss_mb
from fer_edge.images import read_image, scan_image_folder
from fer_edge.kiosk import KioskOptions, run_kiosk
from fer_edge.mqtt import MqttPublisher, MqttSettings
from fer_edge.recognizer import Recognizer
from fer_edge.sessions import SessionOptions
from fer_edge.sources import OpenCVSource, SourceStats
from fer_edge.spool import Spool
from fer_edge.synthetic import visitor_frames


class Mosquitto:
    def __init__(self, folder: Path):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.config = folder / "mosquitto.conf"
        user = "user root\n" if os.geteuid() == 0 else ""  # as root it would switch to a user that cannot write here
        self.config.write_text(f"listener {self.port} 127.0.0.1\n{user}allow_anonymous true\npersistence true\n"
                               f"persistence_location {folder}/\nautosave_interval 1\n")
        self.process = None

    def start(self):
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        self.process = subprocess.Popen([binary, "-c", str(self.config)], stderr=subprocess.DEVNULL)
        for _ in range(200):
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise RuntimeError("mosquitto did not start")

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(10)


class LoopedVideo:
    """A video file played again and again until `stop` is set: a live source (wall-clock times)."""

    live = True

    def __init__(self, path: Path, stop: threading.Event):
        self.path, self.stop, self.stats, self.fps = path, stop, SourceStats(), 15.0

    def frames(self):
        while not self.stop.is_set():
            source = OpenCVSource(str(self.path))
            for frame in source.frames():
                if self.stop.is_set():
                    break
                self.stats.frames += 1
                yield frame
            source.close()

    def close(self):
        pass


def subscriber(port: int, messages: list):
    import paho.mqtt.client as mqtt

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="soak-subscriber", clean_session=False)
    client.on_connect = lambda c, *a: c.subscribe("soak/#", qos=1)
    client.on_message = lambda c, u, m: messages.append(json.loads(m.payload)["id"])
    client.reconnect_delay_set(0.2, 2)
    client.connect("127.0.0.1", port)
    client.loop_start()
    return client


def make_video(photos: Path, path: Path, count: int) -> Path:
    paths = [p for p, _ in scan_image_folder(photos).files]
    chosen = [paths[i] for i in np.random.default_rng(1).permutation(len(paths))[:count]]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 15, (640, 480))
    for frame, _ in visitor_frames([read_image(p) for p in chosen], fps=15):
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def window_medians(samples: list, width_s: float) -> list[float]:
    """Median resident memory of each `width_s` window: the plateau, without the allocator's brief peaks."""
    windows: dict[int, list] = {}
    for elapsed, rss in samples:
        windows.setdefault(int(elapsed // width_s), []).append(rss)
    return [float(np.median(values)) for _, values in sorted(windows.items())]


def sample_memory(broker: Mosquitto, duration: float) -> tuple[list, list]:
    """RSS every 10 s for `duration` seconds, restarting the broker at one and two thirds of it."""
    start, samples, restarts = time.monotonic(), [], []
    while (elapsed := time.monotonic() - start) < duration:
        samples.append((round(elapsed), round(rss_mb(), 1)))
        if len(restarts) < 2 and elapsed >= duration * (len(restarts) + 1) / 3:
            broker.stop()
            time.sleep(10)
            broker.start()
            restarts.append(round(elapsed))
        time.sleep(10)
    return samples, restarts


def soak(photos: Path, minutes: float, work: Path) -> dict:
    """Runs the kiosk on a looped visitor video for `minutes` with MQTT publishing; returns the raw findings."""
    video = make_video(photos, work / "visitors.mp4", 30)  # 30 visitors, 120 s, then again
    broker = Mosquitto(work)
    broker.start()
    received: list[str] = []
    client = subscriber(broker.port, received)
    time.sleep(1)
    stop = threading.Event()
    publisher = MqttPublisher(MqttSettings("127.0.0.1", broker.port, "soak"), Spool(work / "spool.db"))
    options = KioskOptions(jsonl=work / "events.jsonl", frames=False, max_fps=15, sinks=(publisher,),
                           sessions=SessionOptions(kiosk_id="soak", summary_every_s=30))
    result = {}
    kiosk = threading.Thread(target=lambda: result.update(summary=run_kiosk(
        LoopedVideo(video, stop), Recognizer.load("default"), options, stop)))
    kiosk.start()
    samples, restarts = sample_memory(broker, minutes * 60)
    stop.set()
    kiosk.join()
    left = publisher.close(timeout_s=30)
    time.sleep(3)
    client.loop_stop()
    broker.stop()
    written = [json.loads(line)["id"] for line in (work / "events.jsonl").read_text().splitlines()]
    return {"summary": result["summary"], "samples": samples, "restarts": restarts, "left": left,
            "written": written, "received": received}


def report(minutes: float, found: dict) -> dict:
    """The soak's findings as the JSON report: delivery (missing, duplicates, order) and memory trend."""
    written, received, samples, summary = found["written"], found["received"], found["samples"], found["summary"]
    first = list(dict.fromkeys(received))
    settled = np.array([s for s in samples if s[0] >= 60], dtype=float)
    slope = float(np.polyfit(settled[:, 0], settled[:, 1], 1)[0] * 60) if len(settled) > 2 else None
    return {"minutes": minutes, "frames": summary.frames, "fps": round(summary.fps, 1),
            "sessions": summary.sessions, "broker_restarts_at_s": found["restarts"], "events_written": len(written),
            "events_received_distinct": len(first), "events_missing": len(set(written) - set(first)),
            "duplicates": len(received) - len(first), "first_arrivals_in_order": first == written,
            "left_in_spool": found["left"], "rss_mb_samples": samples,
            "rss_mb_range_after_1_min": [float(settled[:, 1].min()), float(settled[:, 1].max())],
            "rss_trend_mb_per_minute": round(slope, 4) if slope is not None else None,
            "rss_mb_median_per_2_min": window_medians(samples, 120)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photos", type=Path)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    findings = report(args.minutes, soak(args.photos, args.minutes, Path(tempfile.mkdtemp(prefix="kiosk-soak-"))))
    print(json.dumps({k: v for k, v in findings.items() if k != "rss_mb_samples"}, indent=1))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(findings, indent=1) + "\n")


if __name__ == "__main__":
    main()
