"""A generated corpus of bad input through every entry point: one clean `Error:` line or success, nothing lost.

Each case asserts the exit status, that no traceback reaches the user, that a failure prints one
`Error:` line, that the command ends in bounded time (subprocess timeout) and that every file that
existed before is unchanged. The README's Reliability section counts these cases.
"""

from __future__ import annotations

import json
import os
import socket
import struct
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from conftest import FACE_PHOTO, WORKSTATION, tree_snapshot
from fer_edge.cli import cli

TIMEOUT_S = 60
"""No command may take longer on any input of the corpus (hangs used to last minutes or forever)."""


def _encoded(suffix: str, image: np.ndarray, params=()) -> bytes:
    return cv2.imencode(suffix, image, list(params))[1].tobytes()


def _png_declaring(width: int, height: int) -> bytes:
    data = bytearray(_encoded(".png", np.zeros((1, 1, 3), np.uint8)))
    data[16:24] = struct.pack(">II", width, height)
    return bytes(data)


def _jpeg_declaring(width: int, height: int) -> bytes:
    data = bytearray(_encoded(".jpg", np.zeros((16, 16, 3), np.uint8)))
    at = data.index(b"\xff\xc0") + 5
    data[at:at + 4] = struct.pack(">HH", height, width)
    return bytes(data)


def _bad_crc_png() -> bytes:
    data = bytearray(_encoded(".png", np.random.default_rng(0).integers(0, 255, (32, 32, 3), dtype=np.uint8)))
    at = data.index(b"IDAT") + 20
    data[at] ^= 0xFF
    return bytes(data)


def image_corpus() -> dict[str, tuple[bytes | None, bool]]:
    """name -> (content, readable). Content None: made specially by `write_corpus` (folder, FIFO, link)."""
    rng = np.random.default_rng(7)
    face = cv2.imread(str(FACE_PHOTO))
    jpeg = _encoded(".jpg", face)
    return {
        "empty.jpg": (b"", False),
        "truncated.jpg": (jpeg[: len(jpeg) // 2], False),
        "header_only.jpg": (jpeg[:200], False),
        "truncated.png": (_encoded(".png", face)[:5000], False),
        "html.jpg": (b"<html><body>404 Not Found</body></html>", False),
        "random.jpg": (rng.integers(0, 256, 4096, dtype=np.uint8).tobytes(), False),
        "gif_named.jpg": (b"GIF89a\x01\x00\x01\x00\x80\x00\x00" + bytes(20), False),
        "face.tiff": (_encoded(".tiff", face), False),  # OpenCV reads it; fer-edge reads JPEG/PNG/BMP/WebP only
        "declares_99999x99999.ppm": (b"P6\n99999 99999\n255\n", False),
        "signature_only.png": (b"\x89PNG\r\n\x1a\n", False),
        "declares_40000x40000.png": (_png_declaring(40000, 40000), False),
        "declares_60000x60000.jpg": (_jpeg_declaring(60000, 60000), False),
        "declares_0x0.png": (_png_declaring(0, 0), False),
        "bad_crc.png": (_bad_crc_png(), False),
        "folder.jpg": (None, False),
        "fifo.jpg": (None, False),
        "dangling_link.jpg": (None, False),
        "one_pixel.png": (_encoded(".png", np.zeros((1, 1, 3), np.uint8)), True),
        "gray16.png": (_encoded(".png", (rng.integers(0, 65535, (40, 40))).astype(np.uint16)), True),
        "rgba.png": (_encoded(".png", np.dstack([face, np.full(face.shape[:2], 255, np.uint8)])), True),
        "bmp_named.jpg": (_encoded(".bmp", face), True),
        "face.webp": (_encoded(".webp", face, (cv2.IMWRITE_WEBP_QUALITY, 90)), True),
        "trailing_data.jpg": (jpeg + b"appended by an editor" * 8, True),
        "ünïcödé name.jpg": (jpeg, True),
    }


def write_corpus(folder: Path) -> dict[str, bool]:
    """Write the corpus into `folder`; return name -> readable."""
    folder.mkdir(parents=True, exist_ok=True)
    readable = {}
    for name, (content, ok) in image_corpus().items():
        path = folder / name
        readable[name] = ok
        if name == "folder.jpg":
            path.mkdir()
        elif name == "fifo.jpg":
            os.mkfifo(path)
        elif name == "dangling_link.jpg":
            path.symlink_to(folder / "nowhere.jpg")
        else:
            path.write_bytes(content)
    return readable


def snapshot(root: Path) -> dict[str, bytes]:
    """Every regular file's bytes (FIFOs and links are not read here: reading them is what is tested)."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and not p.is_symlink() and not p.is_fifo()}


def fer_edge(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """The CLI in a fresh process, as a user runs it, with a hard time limit."""
    return subprocess.run([sys.executable, "-m", "fer_edge", *args], capture_output=True, text=True,
                          timeout=TIMEOUT_S, cwd=cwd)


def assert_clean(result, ok: bool, name: str = "") -> None:
    """Exit 0 for `ok`, else exit 1 (2: a usage error) with exactly one `Error:` line; never a traceback."""
    output = result.stdout + result.stderr
    assert "Traceback" not in output, output
    assert not [line for line in output.splitlines() if line.startswith(("[ERROR", "[ WARN"))], output  # OpenCV's
    if ok:
        assert result.returncode == 0, output
    else:
        errors = [line for line in output.splitlines() if line.startswith("Error:")]
        assert result.returncode in (1, 2) and len(errors) == 1 and (not name or name in errors[0]), output


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("corpus")
    return folder, write_corpus(folder)


@pytest.mark.parametrize("name", list(image_corpus()))
def test_predict_on_each_input(corpus, name):
    folder, readable = corpus
    before = snapshot(folder)
    result = fer_edge("predict", str(folder / name), "--json")
    assert_clean(result, readable[name], name)
    assert snapshot(folder) == before


def test_predict_on_the_whole_corpus_at_once_keeps_going(corpus, tmp_path):
    folder, readable = corpus
    before = snapshot(folder)
    names = sorted(readable)
    result = fer_edge("predict", *[str(folder / n) for n in names], str(FACE_PHOTO), "--json",
                      "--annotate", str(tmp_path / "annotated"))
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert len(errors) == sum(not ok for ok in readable.values())
    assert '"label"' in result.stdout  # the real face after them all was still recognized
    assert len(list((tmp_path / "annotated").iterdir())) == sum(readable.values()) + 1
    assert snapshot(folder) == before


def test_predict_on_a_folder_reads_every_file_below_it(corpus, tmp_path):
    folder, readable = corpus
    nested = tmp_path / "photos" / "kiosk"
    nested.mkdir(parents=True)
    (nested / "face.jpg").write_bytes(FACE_PHOTO.read_bytes())
    (tmp_path / "photos" / ".hidden.jpg").write_bytes(b"not read")
    files = {name: ok for name, ok in readable.items()  # a folder's walk passes over folders and FIFOs,
             if name not in ("folder.jpg", "fifo.jpg")}   # and reports a broken link like any unreadable file
    result = fer_edge("predict", str(folder), str(tmp_path / "photos"), "--json")
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert len(errors) == sum(not ok for ok in files.values()) > 0
    assert f"Error: {folder / 'dangling_link.jpg'}: cannot read file (a broken link to " in result.stderr
    results = json.loads(result.stdout)
    assert set(results) == {str(folder / name) for name in files} | {str(nested / "face.jpg")}
    assert results[str(nested / "face.jpg")]["faces"][0]["label"]
    (tmp_path / "empty" / ".cache").mkdir(parents=True)
    result = fer_edge("predict", str(tmp_path / "empty"), str(FACE_PHOTO), "--json")
    assert result.returncode == 1 and result.stderr.startswith(f"Error: {tmp_path / 'empty'}: a folder with no files")
    assert json.loads(result.stdout)[str(FACE_PHOTO)]["faces"]  # the rest goes on


@pytest.fixture(scope="module")
def image_folder(tmp_path_factory):
    """An ImageFolder whose classes hold the corpus beside real faces."""
    root = tmp_path_factory.mktemp("folder")
    for label in ("happiness", "sadness"):
        write_corpus(root / label)
        for index in range(3):
            (root / label / f"real{index}.jpg").write_bytes(FACE_PHOTO.read_bytes())
    return root


def test_evaluate_skips_every_unreadable_file(image_folder, tmp_path):
    before = snapshot(image_folder)
    result = fer_edge("evaluate", "default", str(image_folder), "--detector", "yunet", "--out", str(tmp_path / "r"))
    assert_clean(result, True)
    assert snapshot(image_folder) == before


def test_extract_faces_skips_and_reports_every_unreadable_file(image_folder, tmp_path):
    before = snapshot(image_folder)
    out = tmp_path / "crops"
    result = fer_edge("extract-faces", str(image_folder), str(out), "--detector", "yunet")
    assert_clean(result, True)
    assert (out / "report.json").exists() and snapshot(image_folder) == before
    again = fer_edge("extract-faces", str(image_folder), str(out), "--detector", "yunet")
    assert_clean(again, True)  # a re-run over the same corpus (cached) is clean too


@pytest.mark.skipif(not WORKSTATION, reason="training and conversion need the workstation extras")
def test_training_and_calibration_skip_every_unreadable_file(image_folder, tmp_path):
    from helpers import TINY

    before = snapshot(image_folder)
    result = CliRunner().invoke(cli, ["train", str(image_folder), "--out", str(tmp_path / "run"), "--arch", TINY,
                                      "--epochs", "1", "--image-size", "32", "--val-fraction", "0.34"])
    assert result.exit_code == 0 and result.exception is None, result.output
    assert "skipped" in result.output
    converted = CliRunner().invoke(cli, ["convert", str(tmp_path / "run" / "model.keras"), "--quant", "int8",
                                         "--calibration", str(image_folder), "--out", str(tmp_path / "m.tflite")])
    assert converted.exit_code == 0 and converted.exception is None, converted.output
    assert snapshot(image_folder) == before


def bad_sources(folder: Path) -> dict[str, str]:
    (folder / "text.mp4").write_text("not a video\n")
    (folder / "empty.mp4").write_bytes(b"")
    (folder / "text.png").write_text("not an image\n")  # FFmpeg opens it, then reads no frame
    (folder / "a_folder.mp4").mkdir()
    os.mkfifo(folder / "fifo.mp4")
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return {"missing file": str(folder / "missing.mp4"), "text as video": str(folder / "text.mp4"),
            "empty video": str(folder / "empty.mp4"), "text as image": str(folder / "text.png"), "folder": str(folder / "a_folder.mp4"),
            "fifo": str(folder / "fifo.mp4"), "closed port": f"rtsp://127.0.0.1:{port}/live",
            "absent camera": "7", "malformed URL": "http://[::1"}


@pytest.mark.parametrize("kind", ["missing file", "text as video", "empty video", "text as image", "folder", "fifo",
                                  "closed port", "absent camera", "malformed URL"])
def test_run_on_a_bad_source(kind, tmp_path):
    source = bad_sources(tmp_path)[kind]
    result = fer_edge("run", "--source", source, "--jsonl", str(tmp_path / "events.jsonl"), "--read-timeout", "2",
                      "--reconnect-budget", "2")
    assert_clean(result, False)
    assert "[ WARN" not in result.stderr, result.stderr  # OpenCV's own log lines stay out of normal runs
    assert " @ 0x" not in result.stderr, result.stderr  # nor FFmpeg's ("[png @ 0x...] Invalid PNG signature")


def bad_models(folder: Path) -> dict[str, Path]:
    from fer_edge.model_files import shipped_model_path

    shipped = shipped_model_path("default", "int8").read_bytes()
    models = {"missing": folder / "missing.tflite", "empty": folder / "empty.tflite",
              "text": folder / "text.tflite", "truncated": folder / "truncated.tflite",
              "image": folder / "photo.tflite", "folder": folder / "dir.tflite"}
    models["empty"].write_bytes(b"")
    models["text"].write_text("model\n")
    models["truncated"].write_bytes(shipped[: len(shipped) // 3])
    models["image"].write_bytes(FACE_PHOTO.read_bytes())
    models["folder"].mkdir()
    return models


@pytest.mark.parametrize("command", ["info", "predict", "bench"])
@pytest.mark.parametrize("kind", ["missing", "empty", "text", "truncated", "image", "folder"])
def test_device_commands_refuse_a_bad_model(kind, command, tmp_path):
    model = str(bad_models(tmp_path)[kind])
    args = {"info": ["info", model], "predict": ["predict", str(FACE_PHOTO), "--model", model],
            "bench": ["bench", "--tflite", model, "--no-full", "--per-class", "1"]}[command]
    assert_clean(fer_edge(*args), False)


@pytest.mark.parametrize("args", [
    ["predict", str(FACE_PHOTO), "--detect-width", "-5"],
    ["predict", str(FACE_PHOTO), "--threads", "0"],
    ["predict", str(FACE_PHOTO), "--threads", "100000"],  # crashed in native code (thread creation)
    ["bench", "--threads", "1,100000"],  # hung
    ["run", "--source", "0", "--max-fps", "-1"],
    ["run", "--source", "0", "--read-timeout", "0"],
    ["predict", str(FACE_PHOTO), "--model", "huge"],
    ["predict", str(FACE_PHOTO), "--tta", "sideways"],
    ["run", "--source", "0", "--detect-every", "0"],
    ["run", "--source", "0", "--mqtt", "http://broker/topic"],
    ["run", "--source", "0", "--mqtt", "mqtt://user:secret@broker/topic"],
    ["run", "--source", "0", "--mqtt", "mqtt://broker/fleet/#"],
    ["run", "--source", "0", "--kiosk-id", "hall/2"],
    ["run", "--source", "0", "--session-timeout", "0"],
    ["run", "--source", "0", "--max-fps", "nan"],  # Click's FloatRange lets NaN through its range check
    ["run", "--source", "0", "--read-timeout", "inf"],
])
def test_bad_options_are_usage_errors(args):
    result = fer_edge(*args)
    output = result.stdout + result.stderr
    assert result.returncode in (1, 2) and "Traceback" not in output and "Error" in output, output


def bad_event_files(folder: Path) -> dict[str, Path]:
    files = {"binary": folder / "binary.jsonl", "empty": folder / "empty.jsonl", "frames only": folder / "frames.jsonl",
             "other JSON": folder / "other.jsonl", "torn only": folder / "torn.jsonl"}
    files["binary"].write_bytes(bytes(range(256)) * 4)
    files["empty"].write_bytes(b"")
    files["frames only"].write_text('{"schema": 1, "type": "frame", "frame": 1, "faces": []}\n')
    files["other JSON"].write_text('[1, 2]\n{"type": "session_end"}\n"text"\n')
    files["torn only"].write_text('{"schema": 1, "type": "session_e')
    return files


@pytest.mark.parametrize("kind", ["binary", "empty", "frames only", "other JSON", "torn only"])
def test_report_on_bad_event_files(kind, tmp_path):
    path = bad_event_files(tmp_path)[kind]
    before = tree_snapshot(tmp_path)
    assert_clean(fer_edge("report", str(path), "--out", str(tmp_path / "out")), False)
    assert tree_snapshot(tmp_path) == before  # nothing written, not even the --out folder
