"""Face commands: extract-faces (MTCNN needs the workstation extra; yunet and none do not)."""

from __future__ import annotations

from pathlib import Path

import click

from fer_edge.cli._common import FiniteFloatRange, format_table
from fer_edge.faces import DETECTORS, FAST_DETECT_WIDTH, DetectorOptions


def detector_options(default: str):
    """Reusable --detector/--score-threshold/--nms-threshold/--min-face-size/--max-faces options."""
    return lambda command: _add_detector_options(command, default)


def _add_detector_options(command, default: str):
    for decorator in reversed([
        click.option("--detector", type=click.Choice(DETECTORS), default=default, show_default=True,
                     help="mtcnn: paper, workstation; yunet: OpenCV DNN, device; none: images are crops."),
        click.option("--score-threshold", default=0.7, show_default=True, type=FiniteFloatRange(0, 1)),
        click.option("--nms-threshold", default=0.3, show_default=True, type=FiniteFloatRange(0, 1, min_open=True)),
        click.option("--min-face-size", default=20, show_default=True, type=click.IntRange(min=0),
                     help="Drop faces whose shorter side is smaller (pixels); a larger minimum also makes "
                          "YuNet's second search of a frame without a face narrower, or skips it."),
        click.option("--max-faces", default=10, show_default=True, type=click.IntRange(min=1)),
        click.option("--detect-width", default=FAST_DETECT_WIDTH, show_default=True, type=click.IntRange(min=0),
                     help="YuNet: detect on the frame shrunk to this width first, then at full size (or as wide "
                          "as --min-face-size needs) when that finds no face (0: full size only)."),
    ]):
        command = decorator(command)
    return command


def build_detector_options(score_threshold, nms_threshold, min_face_size, max_faces, detect_width) -> DetectorOptions:
    """DetectorOptions from the CLI values."""
    return DetectorOptions(score_threshold, nms_threshold, min_face_size, max_faces, detect_width)


@click.command("extract-faces")
@click.argument("src", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("dst", type=click.Path(file_okay=False, path_type=Path))
@detector_options(default="mtcnn")
@click.option("--size", default=64, show_default=True, type=click.IntRange(min=8), help="Crop side in pixels.")
@click.option("--margin", default=None, type=FiniteFloatRange(min=0),
              help="Margin around the box, fraction of its longer side (default: 0.2, or 0 with --detector none).")
@click.option("--all-faces", is_flag=True, help="Keep every face (index suffix), not only the largest.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(min=1), help="Worker processes.")
def extract_faces(src: Path, dst: Path, detector: str, size: int, margin: float, all_faces: bool,
                  workers: int, **detection) -> None:
    """Crop the face of every photo in SRC/<class>/ into DST/<class>/, dropping photos with no face.

    Re-runs skip photos already in DST/manifest.jsonl; DST/report.json lists dropped photos.

    Example: fer-edge extract-faces ../shared/data/photos crops/ --detector mtcnn --workers 2
    """
    from fer_edge.extract import ExtractOptions, extract_faces as run

    options = ExtractOptions(detector, size, margin, all_faces, workers, build_detector_options(**detection))
    summary = run(src, dst, options, progress=True)
    click.echo(f"photos processed {summary.photos} (cached {summary.cached}), faces kept {summary.faces_kept}, "
               f"no face {summary.no_face}, unreadable {summary.unreadable}, {summary.seconds:.1f} s")
    rows = [[name, str(c["photos"]), str(c["faces_kept"]), str(c["no_face"]), str(c["unreadable"])]
            for name, c in summary.per_class.items()]
    click.echo(format_table(rows, ["class", "photos", "kept", "no face", "unreadable"]))
    click.echo(f"report: {summary.report_path}")


COMMANDS = (extract_faces,)
