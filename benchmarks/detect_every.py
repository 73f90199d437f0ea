"""Frames per second of the kiosk loop with `--detect-every K`, and what following faces costs.

A kiosk video is made from real photos (`fer_edge.synthetic.visitor_frames`: each photo drifts
across the frame for 3 s, then 1 s of empty scene, so every photo is exactly one visitor), then
`run_kiosk` processes it with K = 1, 2, 3, 5, in interleaved rounds. Per K: frames per second
(median of the rounds; video decoding included), detector calls, visitor sessions found against
the true number, and agreement with K = 1 frame by frame: faces found, top label, box IoU.

    .venv-device/bin/python benchmarks/detect_every.py ../shared/data/photos --visitors 40 \\
        --json docs/kiosk/detect-every.json --events-dir build/kiosk-demo
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path

import cv2
import numpy as np

from fer_edge.images import read_image, scan_image_folder
from fer_edge.kiosk import KioskOptions, run_kiosk
from fer_edge.recognizer import Recognizer
from fer_edge.sessions import SessionOptions
from fer_edge.sources import OpenCVSource
from fer_edge.synthetic import visitor_frames

FPS = 15


def pick_photos(folder: Path, count: int, seed: int = 0) -> list[Path]:
    """`count` photos spread over the classes, in a fixed shuffled order."""
    paths = [path for path, _ in scan_image_folder(folder).files]
    rng = np.random.default_rng(seed)
    return [paths[i] for i in rng.permutation(len(paths))[:count]]


def write_visitor_video(photos: list[Path], path: Path) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (640, 480))
    for frame, _ in visitor_frames([read_image(p) for p in photos], fps=FPS):
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def run_once(video: Path, recognizer: Recognizer, every: int, events: Path, kiosk: str) -> dict:
    events.unlink(missing_ok=True)
    options = KioskOptions(jsonl=events, detect_every=every, smoothing=5,
                           sessions=SessionOptions(kiosk_id=kiosk, summary_every_s=30))
    summary = run_kiosk(OpenCVSource(str(video)), recognizer, options)
    return {"fps": summary.fps, "frames": summary.frames, "detections": summary.detections,
            "sessions": summary.sessions}


def frames_of(events: Path) -> dict[int, dict | None]:
    """Largest face of every frame (None: no face)."""
    out = {}
    for line in events.read_text().splitlines():
        event = json.loads(line)
        if event["type"] == "frame":
            faces = sorted(event["faces"], key=lambda f: -f["box"][2] * f["box"][3])
            out[event["frame"]] = faces[0] if faces else None
    return out


def dominants(events: Path) -> list[tuple[float, str]]:
    """(start in seconds of video, dominant expression) of every session, by start."""
    events = [json.loads(line) for line in events.read_text().splitlines()]
    origin = next(e["time"] for e in events if e["type"] == "run_start")
    return sorted((e["start"] - origin, e["dominant"]) for e in events if e["type"] == "session_end")


def session_agreement(base: list, other: list) -> float:
    """Share of K=1 sessions with a session of the same dominant expression starting within 0.5 s."""
    hits = sum(any(abs(start - s) <= 0.5 and label == d for s, d in other) for start, label in base)
    return hits / max(1, len(base))


def iou(a, b) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    w = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    h = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    return w * h / (aw * ah + bw * bh - w * h)


def agreement(base: dict, other: dict) -> dict:
    both = [f for f in base if base[f] is not None and other.get(f) is not None]
    ious = [iou(base[f]["box"], other[f]["box"]) for f in both]
    return {"face_frames": sum(v is not None for v in other.values()),
            "face_frames_k1": sum(v is not None for v in base.values()),
            "label_agreement": sum(base[f]["label"] == other[f]["label"] for f in both) / max(1, len(both)),
            "box_iou_median": statistics.median(ious) if ious else None,
            "box_iou_p10": float(np.percentile(ious, 10)) if ious else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photos", type=Path)
    parser.add_argument("--visitors", type=int, default=40)
    parser.add_argument("--ks", default="1,2,3,5")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--model", default="default")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--events-dir", type=Path, help="Keep each K's events file here.")
    args = parser.parse_args()
    ks = [int(k) for k in args.ks.split(",")]
    recognizer = Recognizer.load(args.model)
    work = Path(tempfile.mkdtemp(prefix="detect-every-"))
    events_dir = args.events_dir or work
    events_dir.mkdir(parents=True, exist_ok=True)
    video = write_visitor_video(pick_photos(args.photos, args.visitors), work / "visitors.mp4")
    runs = {k: [] for k in ks}
    for _ in range(args.rounds):
        for k in ks:
            runs[k].append(run_once(video, recognizer, k, events_dir / f"k{k}.jsonl", f"k{k}"))
    base = frames_of(events_dir / f"k{ks[0]}.jsonl")
    rows = []
    for k in ks:
        last = runs[k][-1]
        row = {"k": k, "fps_median": statistics.median(r["fps"] for r in runs[k]),
               "fps_runs": [round(r["fps"], 1) for r in runs[k]], "frames": last["frames"],
               "detector_calls": last["detections"], "sessions": last["sessions"], "visitors_true": args.visitors,
               **agreement(base, frames_of(events_dir / f"k{k}.jsonl")),
               "session_dominant_agreement": session_agreement(dominants(events_dir / f"k{ks[0]}.jsonl"),
                                                               dominants(events_dir / f"k{k}.jsonl"))}
        rows.append(row)
        print(f"K={k}: {row['fps_median']:.1f} FPS, sessions {row['sessions']}/{args.visitors}, "
              f"faces {row['face_frames']}/{row['face_frames_k1']}, labels {row['label_agreement']:.3f}, "
              f"IoU median {row['box_iou_median']:.3f} p10 {row['box_iou_p10']:.3f}, "
              f"session dominant {row['session_dominant_agreement']:.3f}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"model": args.model, "video_fps": FPS, "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
