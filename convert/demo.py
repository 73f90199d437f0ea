"""The main job behind `make demo`: the product end to end, on generated faces or on ../shared data."""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from fer_edge.bench import default_frames, labeled_frames, shipped_face_photo
from fer_edge.bench_suite import BenchOptions, run_benchmark
from fer_edge.convert.tflite import convert_model
from fer_edge.convert.verify import verify
from fer_edge.dataset import has_split_folders, split_folder
from fer_edge.errors import FerEdgeError
from fer_edge.evaluation import evaluate_and_report
from fer_edge.model_files import default_model_path
from fer_edge.synthetic import write_synthetic_dataset
from fer_edge.train.training import TrainOptions, train

DEMO_RECIPE = dict(arch="sepnet_deep", image_size=48, color_mode="grayscale", learning_rate=2e-3,
                   lr_schedule="cosine", batch_size=32)
"""The default model's recipe, shortened: it learns the generated faces in 10 epochs."""


@dataclass(frozen=True)
class DemoStep:
    """One step of the demo: what it showed, how long it took, what it wrote."""

    name: str
    seconds: float
    summary: str
    files: dict[str, Path] = field(default_factory=dict)


@dataclass(frozen=True)
class DemoResult:
    """Where the demo's data came from, its steps, and the training report and benchmark."""

    data: Path
    steps: tuple[DemoStep, ...]
    metrics: dict
    verification: dict
    bench: list


def _timed(name: str, work) -> tuple[DemoStep, object]:
    start = time.perf_counter()
    summary, files, value = work()
    return DemoStep(name, time.perf_counter() - start, summary, files), value


def _photo_step(out_dir: Path):
    """The shipped model on a real face photo: an annotated copy and the JSON a user would get."""
    import cv2

    from fer_edge.draw import annotate
    from fer_edge.images import read_image
    from fer_edge.recognizer import Recognizer

    photo = read_image(shipped_face_photo())
    faces = Recognizer.load("default").recognize(photo, color="rgb")
    files = {"annotated photo": out_dir / "photo.jpg", "photo predictions": out_dir / "photo.json"}
    cv2.imwrite(str(files["annotated photo"]), cv2.cvtColor(annotate(photo, faces), cv2.COLOR_RGB2BGR))
    files["photo predictions"].write_text(json.dumps([face.to_dict() for face in faces], indent=2) + "\n")
    summary = ", ".join(f"{face.label} {face.confidence:.2f}" for face in faces) or "no face"
    return f"shipped model on scikit-image's astronaut photo: {summary}", files, None


def _kiosk_step(out_dir: Path):
    """The kiosk loop on a short generated video: annotated video, JSON-lines events and their report."""
    from fer_edge.kiosk import KioskOptions, run_kiosk
    from fer_edge.recognizer import Recognizer
    from fer_edge.report import build_report
    from fer_edge.report_page import write_report
    from fer_edge.sources import open_source

    from fer_edge.images import read_image
    from fer_edge.synthetic import visitor_frames

    video = out_dir / "kiosk-input.mp4"  # three visitors of 3 s, 1 s apart: three sessions
    photo = read_image(shipped_face_photo())
    _write_video(video, [frame for frame, _ in visitor_frames([photo] * 3, fps=12, visit_s=3, gap_s=1)])
    files = {"kiosk video (annotated)": out_dir / "kiosk.mp4", "kiosk events": out_dir / "kiosk.jsonl"}
    options = KioskOptions(jsonl=files["kiosk events"], record=files["kiosk video (annotated)"], record_segment_s=0)
    summary = run_kiosk(open_source(str(video)), Recognizer.load("default"), options)
    files["kiosk report"] = write_report(build_report([files["kiosk events"]]), out_dir / "kiosk-report")["html"]
    return (f"kiosk loop on a generated video of 3 visitors: {summary.faces} faces in {summary.frames} frames, "
            f"{summary.sessions} visitor session(s), {summary.fps:.0f} FPS"), {"kiosk input video": video, **files}, None


def _write_video(path: Path, frames_rgb) -> None:
    from fer_edge.kiosk import VideoRecorder

    recorder = VideoRecorder(path, fps=12, segment_s=0)  # one input file
    try:
        for frame in frames_rgb:
            recorder.write(frame)
    finally:
        recorder.close()


def _training_data(out_dir: Path, data: Path | None) -> Path:
    if data is None:
        data = out_dir / "synthetic-faces"
        write_synthetic_dataset(data / "train", per_class=400, size=64, seed=0)
        write_synthetic_dataset(data / "val", per_class=100, size=64, seed=1)
    if not (has_split_folders(data) and split_folder(data, "val") is not None):
        raise FerEdgeError(f"the demo needs held-out images: {data} must hold train/ and val/ folders")
    return Path(data)


def _train_step(out_dir: Path, data: Path, epochs: int, max_per_class: int):
    options = TrainOptions(**DEMO_RECIPE, epochs=epochs, max_per_class=max_per_class, verbose=2)
    result = train(data, out_dir / "run", options)
    report = evaluate_and_report(result.model_path, data, "val", out_dir / "report", tta="none")
    accuracy = report.metrics["accuracy"]
    files = {"trained model": result.model_path, **{f"report: {k}": v for k, v in report.files.items()}}
    return (f"trained {DEMO_RECIPE['arch']} for {epochs} epochs on {data}: held-out accuracy {accuracy:.3f}",
            files, (result.model_path, report.metrics))


def _convert_step(out_dir: Path, model: Path, data: Path):
    int8 = convert_model(model, out_dir / "model_int8.tflite", "int8", data, samples=300)
    verification = verify(model, int8.path, data, "val").to_dict()
    return (f"int8 conversion verified on val: accuracy {verification['tflite_accuracy']:.3f} "
            f"(float {verification['keras_accuracy']:.3f}, agreement {verification['agreement']:.3f})"), \
        {"int8 model": int8.path}, (int8.path, verification)


def _bench_step(out_dir: Path, keras_model: Path, int8_model: Path, data: Path, real: bool):
    """Full path against edge paths: on labelled real faces (../shared), else on real-face frames."""
    frames = labeled_frames(split_folder(data, "val"), per_class=10) if real else default_frames()
    tflite = (int8_model, default_model_path()) if real else (default_model_path(),)
    options = BenchOptions(tflite=tflite, keras=keras_model if real else None, threads=(1,), runs=30, warmup=3,
                           tta=("none", "auto"))
    records = run_benchmark(frames, options, progress=True)
    path = out_dir / "bench.json"
    path.write_text(json.dumps([r.to_dict() for r in records], indent=2) + "\n")
    metric = "accuracy on labelled FER2013 faces" if real else "agreement with the full path"
    return f"benchmark ({metric}) of {len(records)} pipelines", {"benchmark": path}, records


def run_demo(out_dir: str | Path, data: str | Path | None = None, epochs: int = 10,
             max_per_class: int = 400) -> DemoResult:
    """The product end to end, every output in `out_dir` (replaced on every run) with a README listing them.

    The shipped model on a real face photo and on a generated kiosk video; then training on `data`
    (or on generated cartoon faces), evaluation on its held-out `val/`, int8 conversion verified,
    and the benchmark of the full path (MTCNN + Keras) against the edge paths (YuNet + LiteRT).
    """
    out_dir = Path(out_dir)
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    real = data is not None
    steps = [_timed("photo", lambda: _photo_step(out_dir))[0], _timed("kiosk", lambda: _kiosk_step(out_dir))[0]]
    data = _training_data(out_dir, Path(data) if real else None)
    step, (model, metrics) = _timed("train", lambda: _train_step(out_dir, data, epochs, max_per_class))
    steps.append(step)
    step, (int8_model, verification) = _timed("convert", lambda: _convert_step(out_dir, model, data))
    steps.append(step)
    step, records = _timed("bench", lambda: _bench_step(out_dir, model, int8_model, data, real))
    steps.append(step)
    result = DemoResult(data, tuple(steps), metrics, verification, records)
    write_demo_readme(result, out_dir / "README.md")
    return result


def write_demo_readme(result: DemoResult, path: Path) -> None:
    """A Markdown list of what the demo showed and produced, with each step's time."""
    lines = ["# fer-edge demo output", "", f"Training data: `{result.data}`.", ""]
    for step in result.steps:
        lines.append(f"- **{step.name}** ({step.seconds:.0f} s): {step.summary}")
        lines.extend(f"  - {name}: `{file.relative_to(path.parent)}`" for name, file in step.files.items()
                     if file.is_relative_to(path.parent))
    lines += ["", f"Total: {sum(step.seconds for step in result.steps):.0f} s.", ""]
    path.write_text("\n".join(lines))
