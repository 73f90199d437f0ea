"""Device commands (predict, info, run): numpy, OpenCV and LiteRT only, never TensorFlow."""

from __future__ import annotations

from pathlib import Path

import click

from fer_edge.cli._common import FiniteFloatRange, echo_json, format_table
from fer_edge.cli.faces import build_detector_options, detector_options
from fer_edge.errors import ImageDecodeError
from fer_edge.interpreter import MAX_THREADS
from fer_edge.metadata import TTA_MODES


def model_options(command):
    """--model/--threads/--delegate/--require-delegate/--tta, shared by the device commands."""
    for decorator in reversed([
        click.option("--model", "model", default="default", show_default=True,
                     help="A .tflite (or, on a workstation, .keras) model, or a shipped one: `default` (fast) "
                          "or `accurate`."),
        click.option("--threads", default=1, show_default=True, type=click.IntRange(1, MAX_THREADS),
                     help="Interpreter CPU threads."),
        click.option("--delegate", default=None, help="`gpu` or a path to a TFLite delegate library."),
        click.option("--require-delegate", is_flag=True, help="Fail instead of falling back to the CPU."),
        click.option("--tta", type=click.Choice(["auto", *TTA_MODES]), default="auto", show_default=True,
                     help="Test-time augmentation: auto (the model's recorded default), none, mirror (average "
                          "each face with its mirror image) or mirror-unsure (only the faces the model is "
                          "unsure of; see `fer-edge info`)."),
    ]):
        command = decorator(command)
    return command


def build_recognizer(model, threads, delegate, require_delegate, tta, detector, detection):
    """A Recognizer from CLI options."""
    from fer_edge.faces import create_detector
    from fer_edge.model_files import load_classifier
    from fer_edge.recognizer import Recognizer

    classifier = load_classifier(model, threads, delegate, require_delegate, tta)
    return Recognizer(classifier, create_detector(detector, build_detector_options(**detection)))


@click.command()
@click.argument("images", nargs=-1, required=True, type=click.Path(path_type=Path))
@model_options
@detector_options(default="yunet")
@click.option("--json", "as_json", is_flag=True, help="Print results as JSON.")
@click.option("--annotate", "annotate_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Write each image with boxes and labels into this folder.")
def predict(images, model, threads, delegate, require_delegate, tta, detector, as_json, annotate_dir, **detection):
    """Every face in every image, with its box and the probability of each expression.

    A folder stands for every file below it. Unreadable images are reported and skipped; the exit
    status is 1 if any failed. Use `--detector none` for images that are already face crops.

    Example: fer-edge predict kiosk.jpg group.png photos/ --json
    """
    from fer_edge.files import ensure_folder, output_paths
    from fer_edge.images import expand_image_paths

    images = expand_image_paths(images)

    if annotate_dir is not None:
        ensure_folder(annotate_dir)  # an unwritable folder fails before any work
    recognizer = build_recognizer(model, threads, delegate, require_delegate, tta, detector, detection)
    outputs = output_paths(list(images), annotate_dir) if annotate_dir is not None else {}
    results, failed = {}, 0
    for image in images:
        try:
            results[str(image)] = _predict_one(recognizer, image, outputs.get(image))
        except ImageDecodeError as exc:
            failed += 1
            results[str(image)] = {"error": str(exc)}
            click.echo(f"Error: {exc}", err=True)
    _show(results, as_json)
    if failed:
        raise click.exceptions.Exit(1)


def _predict_one(recognizer, image: Path, annotated: Path | None) -> dict:
    from fer_edge.images import read_image_scaled

    if image.is_dir():  # what expand_image_paths leaves of a folder with no files
        raise ImageDecodeError(f"{image}: a folder with no files in it")
    frame, factor = read_image_scaled(image)
    faces = recognizer.recognize_rgb(frame)
    if annotated is not None:  # drawn on the frame as decoded (reduced for a very large JPEG)
        _write_annotated(frame, faces, annotated)
    return {"faces": [face.scaled(factor).to_dict() for face in faces]}


def _write_annotated(frame, faces, path: Path) -> None:
    import cv2

    from fer_edge.draw import annotate
    from fer_edge.files import ensure_folder, write_atomic

    ensure_folder(path.parent)
    ok, encoded = cv2.imencode(".jpg", cv2.cvtColor(annotate(frame, faces), cv2.COLOR_RGB2BGR))
    write_atomic(path, encoded.tobytes())


def _show(results: dict, as_json: bool) -> None:
    if as_json:
        echo_json(results)
        return
    for image, result in results.items():
        if "error" in result:
            continue
        if not result["faces"]:
            click.echo(f"{image}: no face")
        for index, face in enumerate(result["faces"]):
            ranked = ", ".join(f"{label} {p:.3f}" for label, p in face["probabilities"].items())
            x, y, w, h = (round(v) for v in face["box"])
            click.echo(f"{image} face {index} at {x},{y} {w}x{h}: {face['label']} ({ranked})")


@click.command()
@click.option("--source", required=True,
              help="Camera index (0), video file, RTSP/HTTP URL, or `picamera` (Raspberry Pi CSI camera).")
@model_options
@detector_options(default="yunet")
@click.option("--display", is_flag=True, help="Show the annotated video (needs fer-edge[display]).")
@click.option("--record", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the annotated video: NAME.mp4 as NAME-0001.mp4, ... segments, or NAME.avi (Motion-JPEG); "
                   "both survive a kill.")
@click.option("--record-segment", default=60.0, show_default=True, type=FiniteFloatRange(min=0),
              help="Seconds of video per .mp4 segment (0: one .mp4, unplayable if the process is killed).")
@click.option("--jsonl", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Append events as JSON lines: visitor sessions, summaries and (with --frames) every frame.")
@click.option("--frames/--no-frames", default=True, show_default=True, envvar="FER_EDGE_FRAMES", show_envvar=True,
              help="Also write one --jsonl line per frame.")
@click.option("--kiosk-id", default=None, envvar="FER_EDGE_KIOSK_ID", show_envvar=True,
              help="Name written into every event and MQTT topic (default: this machine's host name).")
@click.option("--session-timeout", default=2.0, show_default=True, type=FiniteFloatRange(min=0, min_open=True),
              help="Seconds a face may be unseen before its visitor session ends.")
@click.option("--min-session", default=0.5, show_default=True, type=FiniteFloatRange(min=0),
              help="Seconds a face must be seen to count as a visitor.")
@click.option("--summary-every", default=60.0, show_default=True, type=FiniteFloatRange(min=0),
              help="Seconds between summary events (0: none).")
@click.option("--mqtt", default=None, metavar="URL", envvar="FER_EDGE_MQTT", show_envvar=True,
              help="Publish session and summary events to mqtt://HOST[:PORT]/TOPIC (or mqtts://) with QoS 1.")
@click.option("--mqtt-env", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="KEY=VALUE file with FER_EDGE_MQTT_USERNAME, _PASSWORD, _CA_FILE, _CERT_FILE, _KEY_FILE.")
@click.option("--mqtt-spool", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="On-disk queue for events the broker has not acknowledged "
                   "(default: $STATE_DIRECTORY or ~/.local/state/fer-edge/mqtt-spool.db).")
@click.option("--mqtt-spool-max", default=10_000, show_default=True, type=click.IntRange(min=1),
              help="Events the queue keeps at most; the oldest are dropped first, with a warning.")
@click.option("--mqtt-frames", is_flag=True, help="Publish per-frame events too (many messages a second).")
@click.option("--detect-every", default=1, show_default=True, type=click.IntRange(min=1), envvar="FER_EDGE_DETECT_EVERY",
              show_envvar=True,
              help="Detect faces on every K-th frame and follow them in between (faster, a little less exact).")
@click.option("--max-fps", default=0.0, show_default=True, type=FiniteFloatRange(min=0), help="0: unlimited.")
@click.option("--smoothing", default=5, show_default=True, type=click.IntRange(min=0),
              help="Average each tracked face over N frames (0: off).")
@click.option("--heartbeat", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Touch this file every second while running (health checks).")
@click.option("--max-frames", default=0, show_default=True, type=click.IntRange(min=0), help="0: no limit.")
@click.option("--width", default=640, show_default=True, type=click.IntRange(min=0), help="Camera capture width.")
@click.option("--height", default=480, show_default=True, type=click.IntRange(min=0), help="Camera capture height.")
@click.option("--read-timeout", default=5.0, show_default=True, type=FiniteFloatRange(min=0, min_open=True),
              help="Seconds a stream may send nothing before it counts as dropped (and the longest open).")
@click.option("--reconnect-budget", default=30.0, show_default=True, type=FiniteFloatRange(min=0),
              help="Seconds to keep reopening a dropped camera or stream before giving up.")
def run(source, model, threads, delegate, require_delegate, tta, detector, display, record, record_segment, jsonl,
        frames, kiosk_id, session_timeout, min_session, summary_every, mqtt, mqtt_env, mqtt_spool, mqtt_spool_max,
        mqtt_frames, detect_every,
        max_fps, smoothing, heartbeat, max_frames, width, height, read_timeout, reconnect_budget, **detection):
    """The kiosk loop: recognize expressions on a camera, video file or stream until stopped.

    Ctrl-C or SIGTERM stops it cleanly, with every output file flushed and closed.

    Each face followed for --min-session seconds is a visitor session: `session_start` and
    `session_end` events (dwell, mean probabilities, dominant expression, peaks) go to --jsonl,
    with a `summary` every --summary-every seconds. No face image is stored unless --record is given.

    Example: fer-edge run --source 0 --jsonl events.jsonl --no-frames --max-fps 15 --detect-every 3
    """
    import socket

    from fer_edge.kiosk import KioskOptions, run_kiosk
    from fer_edge.mqtt import open_publisher
    from fer_edge.sessions import SessionOptions
    from fer_edge.sources import SourceOptions, open_source

    stop = _stop_on_signals()
    recognizer = build_recognizer(model, threads, delegate, require_delegate, tta, detector, detection)
    source_options = SourceOptions(width=width, height=height, read_timeout_s=read_timeout,
                                   reconnect_budget_s=reconnect_budget)
    sessions = SessionOptions(timeout_s=session_timeout, min_duration_s=min_session, summary_every_s=summary_every,
                              kiosk_id=kiosk_id or socket.gethostname())
    publisher = open_publisher(mqtt, mqtt_env, mqtt_spool, mqtt_spool_max, mqtt_frames) if mqtt else None
    options = KioskOptions(max_fps=max_fps, smoothing=smoothing, jsonl=jsonl, record=record,
                           record_segment_s=record_segment, display=display, heartbeat=heartbeat, max_frames=max_frames,
                           frames=frames, sessions=sessions, detect_every=detect_every,
                           sinks=(publisher,) if publisher else ())
    try:
        summary = run_kiosk(open_source(source, source_options, stop), recognizer, options, stop)
    finally:
        if publisher is not None:
            publisher.close()
    click.echo(summary_line(summary))


def summary_line(summary) -> str:
    """One line on what a kiosk run did; short runs keep their milliseconds ("over 0.043 s", not "0.0 s")."""
    seconds = f"{summary.seconds:.3f}" if summary.seconds < 10 else f"{summary.seconds:.1f}"
    return (f"frames {summary.frames}, faces {summary.faces}, visitor sessions {summary.sessions}, "
            f"corrupt frames {summary.corrupt_frames}, reopens {summary.reopens}, "
            f"{summary.fps:.1f} FPS over {seconds} s")


def _stop_on_signals():
    import signal
    import threading

    stop = threading.Event()
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
    return stop


@click.command()
@click.argument("model", default="default")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def info(model, as_json):
    """Labels, input, precision, size and embedded metrics of MODEL (.tflite, .keras, `default` or `accurate`).

    Example: fer-edge info default
    """
    from fer_edge.model_files import load_model_metadata

    path, metadata = load_model_metadata(model)
    data = {"path": str(path.resolve()), "size_bytes": path.stat().st_size, **metadata.to_dict()}
    if as_json:
        echo_json(data)
        return
    prep = metadata.preprocessing
    click.echo(f"model:      {data['path']} ({data['size_bytes']:,} bytes)")
    precision = "float32 (Keras)" if path.suffix == ".keras" else metadata.extra.get("quantization", "unknown")
    click.echo(f"arch:       {metadata.arch or 'unknown'}, precision {precision}")
    click.echo(f"labels:     {', '.join(metadata.labels)}")
    click.echo(f"input:      {prep.input_size[0]}x{prep.input_size[1]} {prep.color_mode}, "
               f"pixel * {prep.scale:.6g} + {prep.offset:g}")
    crops = ", ".join(f"{name} scale {g.scale:g} shift_y {g.shift_y:+g}" for name, g in metadata.crops.items())
    unsure = f" (highest probability under {metadata.tta_threshold:g})" if metadata.tta == "mirror-unsure" else ""
    click.echo(f"crops:      {crops or 'detector defaults'}; test-time augmentation {metadata.tta}{unsure}")
    metrics = {k: v for k, v in metadata.extra.items() if isinstance(v, (int, float, str))}
    if metrics:
        click.echo("facts:      " + ", ".join(f"{k}={v}" for k, v in sorted(metrics.items())))
    check = metadata.extra.get("verification")
    if isinstance(check, dict):
        click.echo(f"verified:   accuracy {check['tflite_accuracy']:.4f} on {check['n']} images of {check.get('data')} "
                   f"(float {check['keras_accuracy']:.4f}, agreement {check['agreement']:.4f})")


@click.command()
@click.argument("model", metavar="MODEL")
@click.argument("data", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--split", default=None, help="Sub-folder of DATA to evaluate (default: test, else val, else DATA).")
@detector_options(default="none")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Report folder (default: eval/ beside MODEL, or ./eval for the shipped model).")
@click.option("--json", "as_json", is_flag=True, help="Print the metrics as JSON.")
@click.option("--tta", type=click.Choice(["auto", *TTA_MODES]), default="auto", show_default=True,
              help="Test-time augmentation: auto (the model's recorded default), none, mirror or mirror-unsure.")
def evaluate(model, data, split, detector, out_dir, as_json, tta, **detection):
    """Evaluate MODEL (.tflite, .keras, `default` or `accurate`) on labeled images; write JSON, CSV and plots.

    DATA holds face crops by default (`--detector none`); with `--detector yunet` or `mtcnn`
    each photo's largest face is found first. Class folders are matched to the model's labels by name.

    Example: fer-edge evaluate default ../shared/data/fer2013 --split val --json
    """
    from fer_edge.evaluation import evaluate_and_report
    from fer_edge.faces import create_detector
    from fer_edge.model_files import SHIPPED_MODELS, resolve_model

    path = resolve_model(model)
    out_dir = out_dir or (Path("eval") if model in SHIPPED_MODELS else path.parent / "eval")
    face_detector = create_detector(detector, build_detector_options(**detection))
    written = evaluate_and_report(path, data, split, out_dir, face_detector, tta)
    if as_json:
        echo_json(written.metrics)
        return
    click.echo(metrics_table(written.metrics))
    for name, file in written.files.items():
        click.echo(f"{name}: {file}")


def metrics_table(metrics: dict) -> str:
    """Per-class precision/recall/F1 and the overall scores as text."""
    rows = [[label, f"{m['precision']:.3f}", f"{m['recall']:.3f}", f"{m['f1']:.3f}", str(m["support"])]
            for label, m in metrics["per_class"].items()]
    rows.append(["macro", f"{metrics['macro_precision']:.3f}", f"{metrics['macro_recall']:.3f}",
                 f"{metrics['macro_f1']:.3f}", str(metrics["n"])])
    table = format_table(rows, ["class", "precision", "recall", "f1", "support"])
    return f"{table}\naccuracy {metrics['accuracy']:.4f}  loss {metrics['loss']:.4f}"


@click.command()
@click.argument("events", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Write shares.png, dwell.png, visitors.png and report.html here (needs fer-edge[report]).")
@click.option("--interval", default=0.0, type=FiniteFloatRange(min=0),
              help="Seconds per timeline bucket (0: chosen from the time span).")
@click.option("--kiosk", "kiosk_id", default=None, help="Only this kiosk's events.")
@click.option("--json", "as_json", is_flag=True, help="Print the per-kiosk figures and the timeline as JSON.")
def report(events, out_dir, interval, kiosk_id, as_json):
    """Visitors, dwell and expressions from the event files of `fer-edge run --jsonl`.

    Takes files of several kiosks at once (grouped by --kiosk-id) and files still being written.

    Example: fer-edge report hall-*.jsonl --out report/
    """
    from dataclasses import asdict

    from fer_edge.report import build_report, format_table

    result = build_report(list(events), interval, kiosk_id)
    if as_json:
        echo_json({"kiosks": [asdict(k) for k in result.kiosks], "interval_s": result.interval_s,
                   "timeline": result.timeline(), "events": result.events, "skipped": result.skipped,
                   "duplicates": result.duplicates})
    else:
        click.echo(format_table(result))
    if out_dir is not None:
        from fer_edge.report_page import write_report

        written = write_report(result, out_dir)
        if not as_json:
            click.echo(f"report: {written['html']}")


COMMANDS = (predict, run, info, evaluate, report)
