"""The `fer-edge bench` command: latency against accuracy, full path against edge paths, in one run."""

from __future__ import annotations

from pathlib import Path

import click

from fer_edge.cli._common import OutputFile, format_table
from fer_edge.files import write_json
from fer_edge.interpreter import MAX_THREADS


def int_list(minimum: int, maximum: int | None = None):
    """A Click callback turning "1,4" into (1, 4), each at least `minimum` and at most `maximum` (None stays None)."""

    def parse(ctx, param, value: str | None) -> tuple[int, ...] | None:
        if value is None:
            return None
        try:
            numbers = tuple(sorted({int(v) for v in value.split(",") if v.strip()}))
        except ValueError:
            raise click.BadParameter("a comma-separated list of integers, e.g. 1,4") from None
        if not numbers or min(numbers) < minimum:
            raise click.BadParameter(f"values must be at least {minimum}")
        if maximum is not None and max(numbers) > maximum:
            raise click.BadParameter(f"values must be at most {maximum}")
        return numbers

    return parse


@click.command()
@click.option("--data", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="Labeled ImageFolder (class names = model labels) for accuracy; default: a real face "
                   "photo shipped by scikit-image, scored by agreement with the full path.")
@click.option("--per-class", default=20, show_default=True, type=click.IntRange(min=1),
              help="Images per class taken from --data.")
@click.option("--tflite", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Edge model(s) (default: the shipped default at every precision and the accurate model as int8).")
@click.option("--keras", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Float model for the full path (default: the shipped one).")
@click.option("--full/--no-full", default=True, show_default=True, help="Include MTCNN + Keras (needs TensorFlow).")
@click.option("--threads", default=None, callback=int_list(1, MAX_THREADS),
              help="Interpreter threads to compare, e.g. 1,4 (default: 1 and every core).")
@click.option("--detect-width", "detect_widths", default="256", show_default=True, callback=int_list(0),
              help="YuNet input widths to compare, e.g. 0,320 (0: the full frame).")
@click.option("--peer", "peers", multiple=True, type=click.Choice(["fer"]),
              help="Also measure a peer: fer (pip install fer --no-deps).")
@click.option("--tta", "tta_modes", default="auto", show_default=True,
              help="Test-time augmentation modes to compare, e.g. none,mirror (auto: each model's default).")
@click.option("--runs", default=100, show_default=True, type=click.IntRange(min=10))
@click.option("--warmup", default=10, show_default=True, type=click.IntRange(min=0))
@click.option("--json", "json_path", type=OutputFile(), default=None)
@click.option("--plot", "plot_path", type=OutputFile(), default=None,
              help="PNG of accuracy (or agreement) against latency with the Pareto front.")
def bench(data, per_class, tflite, keras, full, threads, detect_widths, peers, tta_modes, runs, warmup, json_path,
          plot_path):
    """Latency and accuracy of the full path (MTCNN + Keras) against the edge paths (YuNet + LiteRT).

    Every pipeline runs on the same 640x480 frames: detection, preprocessing, classification
    and end-to-end latency (median, p90, p99 after a warm-up), model size, peak memory, and
    accuracy on --data or agreement with the full path.

    Example: fer-edge bench --peer fer --json bench.json --plot bench.png
    """
    from fer_edge.bench import default_frames, labeled_frames, pareto_front
    from fer_edge.bench_suite import BenchOptions, run_benchmark
    from fer_edge.host import describe_host, host_info

    frames = labeled_frames(data, per_class) if data else default_frames()
    options = BenchOptions(tuple(tflite), keras, full, threads or BenchOptions().threads, tuple(peers), runs, warmup,
                           detect_widths=detect_widths, tta=tuple(dict.fromkeys(tta_modes.split(","))))
    records = run_benchmark(frames, options, progress=True)
    front = pareto_front(records)
    host = host_info()
    click.echo(bench_table(records))
    click.echo("Pareto front (fastest first): " + ", ".join(r.name for r in front))
    click.echo(f"host: {describe_host(host)}")
    if json_path:  # every record names the host: latencies compare within one run, on one machine
        write_json(json_path, [{**r.to_dict(), "host": host} for r in records])
        click.echo(f"json: {json_path}")
    if plot_path:
        from fer_edge.cli._common import load_workstation

        plots = load_workstation("train.plots")
        metric = "accuracy" if records[0].accuracy is not None else "agreement"
        click.echo(f"plot: {plots.plot_pareto(records, {r.name for r in front}, plot_path, metric)}")


def bench_table(records) -> str:
    """One row per pipeline."""
    def ms(record, stage, key="median"):
        return f"{record.latency_ms[stage][key]:.2f}"

    rows = []
    for r in records:
        quality = r.accuracy if r.accuracy is not None else r.agreement
        rows.append([r.name, r.device, f"{r.size_bytes / 1024:.0f}K", ms(r, "detect"), ms(r, "preprocess"),
                     ms(r, "classify"), ms(r, "end_to_end"), ms(r, "end_to_end", "p90"), ms(r, "end_to_end", "p99"),
                     f"{r.fps:.0f}", f"{r.peak_rss_mb:.0f}", f"{r.face_found:.2f}",
                     "-" if quality is None else f"{quality:.3f}"])
    metric = "accuracy" if records and records[0].accuracy is not None else "agreement"
    header = ["pipeline", "device", "size", "detect", "prep", "classify", "e2e", "e2e p90", "e2e p99", "fps",
              "rss MiB", "face", metric]
    return format_table(rows, header) + "\n(latency in ms, medians unless marked)"


COMMANDS = (bench,)
