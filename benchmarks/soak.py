"""Memory soak and cold start of the device runtime.

Usage: .venv/bin/python benchmarks/soak.py [--model default] [--frames 10000] [--json out.json]
Soak: a synthetic 640x480 video (a real face at a random place and scale in each frame) is written with OpenCV
and played in a loop through the real kiosk loop (YuNet + LiteRT, JSON-lines output) for
--frames frames; resident memory is sampled every 1,000 frames (the same point of the looped video). Cold start: wall time of
`fer-edge predict IMAGE` in a fresh process, median of 5.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from fer_edge.bench import default_frames, rss_mb
from fer_edge.faces import create_detector
from fer_edge.kiosk import KioskOptions, run_kiosk
from fer_edge.model_files import load_classifier
from fer_edge.recognizer import Recognizer
from fer_edge.sources import OpenCVSource, SourceStats


def write_video(path: Path, frames: int = 200) -> Path:
    images = [f.image for f in default_frames(count=frames)]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 25, (640, 480))
    for image in images:
        writer.write(cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


class LoopedVideo:
    """Plays a video file again and again until `total` frames; samples RSS every 1,000 frames."""

    def __init__(self, path: Path, total: int):
        self.path, self.total, self.stats, self.fps, self.samples = path, total, SourceStats(), 25.0, []

    def frames(self):
        while self.stats.frames < self.total:
            source = OpenCVSource(str(self.path))
            for frame in source.frames():
                if self.stats.frames >= self.total:
                    break
                if self.stats.frames % 1000 == 0:  # a multiple of the 200-frame video: same phase each time
                    self.samples.append((self.stats.frames, round(rss_mb(), 1)))
                self.stats.frames += 1
                yield frame
            source.close()

    def close(self):
        pass


def cold_start(model: str, image: Path, runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "fer_edge", "predict", str(image), "--model", model],
                       check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default")
    parser.add_argument("--frames", type=int, default=10_000)
    parser.add_argument("--json", dest="json_path", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        video = write_video(Path(tmp) / "soak.mp4")
        image = Path(tmp) / "face.jpg"
        cv2.imwrite(str(image), cv2.cvtColor(default_frames(count=1)[0].image, cv2.COLOR_RGB2BGR))
        startup_s = cold_start(args.model, image)
        recognizer = Recognizer(load_classifier(args.model), create_detector("yunet"))
        source = LoopedVideo(video, args.frames)
        summary = run_kiosk(source, recognizer, KioskOptions(jsonl=Path(tmp) / "events.jsonl"))
    samples = source.samples
    settled = np.array([(frame, rss) for frame, rss in samples if frame >= 1000], dtype=float)
    slope = np.polyfit(settled[:, 0], settled[:, 1], 1)[0] * 1000  # MiB per 1000 frames
    report = {"frames": summary.frames, "faces": summary.faces, "fps": round(summary.fps, 1),
              "rss_mb_samples": samples, "rss_range_after_1000_frames_mb": [settled[:, 1].min(), settled[:, 1].max()],
              "rss_trend_mb_per_1000_frames": round(float(slope), 3), "cold_start_predict_s": round(startup_s, 3)}
    text = json.dumps(report, indent=1)
    print(text)
    if args.json_path:
        args.json_path.write_text(text + "\n")


if __name__ == "__main__":
    main()
