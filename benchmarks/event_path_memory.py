"""Memory of the kiosk's event path alone: tracker, sessions, JSON lines and MQTT, without video or models.

Synthetic faces (one visitor every 4 s, 15 frames a second of simulated time) go through
`SmoothingTracker`, `SessionTracker`, a JSON-lines file and `MqttPublisher` to a real Mosquitto on
127.0.0.1, as fast as they can; resident memory is printed every 50,000 frames.

    .venv-device/bin/python benchmarks/event_path_memory.py --frames 400000
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from fer_edge.bench import rss_mb
from fer_edge.faces import FaceBox
from fer_edge.files import append_line, open_append
from fer_edge.mqtt import MqttPublisher, MqttSettings
from fer_edge.recognizer import FaceResult
from fer_edge.results import ClassProbabilities
from fer_edge.sessions import SessionOptions, SessionTracker
from fer_edge.spool import Spool
from fer_edge.tracking import SmoothingTracker

sys.path.insert(0, str(Path(__file__).resolve().parent))
from kiosk_soak import Mosquitto  # noqa: E402

LABELS = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=400_000)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="event-path-"))
    broker = Mosquitto(work)
    broker.start()
    publisher = MqttPublisher(MqttSettings("127.0.0.1", broker.port, "memory"), Spool(work / "spool.db"))
    sessions = SessionTracker(SessionOptions(summary_every_s=30, timeout_s=0.5, min_duration_s=0.1))
    tracker = SmoothingTracker(window=5, max_missed_s=0.5)
    face = ClassProbabilities(LABELS, (0.4, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1))
    with open_append(work / "events.jsonl") as handle:
        for index in range(args.frames + 1):
            now = index / 15
            visible = (index // 60) % 4 != 3  # 3 s of a face, 1 s of none
            faces = [FaceResult(FaceBox(100 + index % 60, 100, 80, 80), face)] if visible else []
            for event in sessions.update(now, tracker.update(faces, now)):
                append_line(handle, json.dumps(event))
                publisher.publish(event)
            if index % 50_000 == 0:
                print(f"frame {index:>7}: {rss_mb():.1f} MB", flush=True)
    publisher.close()
    broker.stop()


if __name__ == "__main__":
    main()
