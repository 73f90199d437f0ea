"""The command line: every command's help, errors as `Error: ...`, and the workstation commands end to end."""

from __future__ import annotations

import json
import sys

import pytest
from click.testing import CliRunner

from conftest import write_broken_files
from fer_edge import __version__
from fer_edge.cli import cli
from helpers import TINY


@pytest.fixture(scope="module")
def cli_run(synthetic_faces, tmp_path_factory):
    run = tmp_path_factory.mktemp("cli") / "run"
    result = CliRunner().invoke(cli, [
        "train", str(synthetic_faces), "--out", str(run), "--arch", TINY, "--epochs", "2",
        "--image-size", "32", "--no-augment", "--batch-size", "16",
    ])
    assert result.exit_code == 0, result.output
    return run, result.output


def all_commands():
    return sorted(cli.commands)


@pytest.mark.parametrize("name", all_commands())
def test_every_command_has_help_with_an_example(name):
    result = CliRunner().invoke(cli, [name, "-h"])
    assert result.exit_code == 0
    assert "Example:" in result.output


def test_version_and_group_help():
    runner = CliRunner()
    assert runner.invoke(cli, ["--version"]).output.strip() == f"fer-edge, version {__version__}"
    output = runner.invoke(cli, ["--help"]).output
    for name in ("train", "evaluate", "predict", "demo", "extract-faces", "convert", "verify"):
        assert name in output


def test_train_reports_and_writes_model(cli_run):
    run, output = cli_run
    assert "best epoch" in output and "images/s" in output
    rate = float(output.split("training throughput: ")[1].split(" images/s")[0])
    assert rate > 0
    assert (run / "model.keras").exists()


def test_train_no_augment_is_saved_as_augment_none(cli_run):
    run, _ = cli_run
    assert json.loads((run / "options.json").read_text())["augment"] == "none"


@pytest.mark.parametrize("args, augment", [([], "full"), (["--augment", "flip"], "flip"), (["--no-augment"], "none"),
                                           (["--augment", "flip", "--no-augment"], "none")])
def test_train_augment_choices(tmp_path, args, augment):
    context = cli.commands["train"].make_context("train", [str(tmp_path), "--out", str(tmp_path / "run"), *args])
    assert context.params["augment"] == augment


def test_train_refuses_an_unknown_augmentation(tmp_path):
    result = CliRunner().invoke(cli, ["train", str(tmp_path), "--out", str(tmp_path / "run"), "--augment", "mirror"])
    assert result.exit_code == 2 and "'mirror' is not one of 'full', 'flip', 'none'" in result.output
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("rate, text", [(28709.4, "28709 images/s"), (190.6, "191 images/s"),
                                        (56.34, "56.3 images/s"), (0.4123, "0.412 images/s"),
                                        (0.0, "not measured (no epoch ran)")])
def test_training_throughput_keeps_three_digits(rate, text):
    from fer_edge.cli.workstation import throughput_text

    assert throughput_text(rate).startswith(text)


def test_a_two_head_runs_best_epoch_says_whose_accuracy_it_is():
    from fer_edge.cli.workstation import best_epoch_text

    assert best_epoch_text(16, 0.84926, two_heads=False) == "best epoch 16: val accuracy 0.8493"
    text = best_epoch_text(16, 0.84926, two_heads=True)
    assert text.startswith("best epoch 16: val accuracy 0.8493 (the first head alone") and "fuse-heads" in text
    both = best_epoch_text(6, 0.73611, two_heads=True, both_heads=True)
    assert both.startswith("best epoch 6: val accuracy 0.7361 (the mean of both heads' accuracies")
    assert "fuse-heads" in both


def test_train_refuses_an_existing_run(cli_run, synthetic_faces):
    run, _ = cli_run
    result = CliRunner().invoke(cli, ["train", str(synthetic_faces), "--out", str(run), "--arch", TINY])
    assert result.exit_code == 1
    assert result.output.startswith("Error: ") and "--resume" in result.output


def test_unknown_arch_is_a_clean_error(synthetic_faces, tmp_path):
    result = CliRunner().invoke(cli, ["train", str(synthetic_faces), "--out", str(tmp_path / "r"), "--arch", "nope"])
    assert result.exit_code == 1
    assert "Error: unknown architecture 'nope'" in result.output
    assert "decode" not in result.output and not (tmp_path / "r").exists()  # refused before reading the data


def test_evaluate_writes_report_files(cli_run, synthetic_faces, tmp_path):
    run, _ = cli_run
    result = CliRunner().invoke(cli, ["evaluate", str(run / "model.keras"), str(synthetic_faces),
                                      "--out", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.output)
    assert metrics["n"] == 30 and set(metrics["per_class"]) == {"happy", "sad", "surprise"}
    assert sum(map(sum, metrics["confusion_matrix"])) == 30
    for name in ("metrics.json", "predictions.csv", "confusion_matrix.png", "training_curves.png"):
        assert (tmp_path / name).stat().st_size > 0
    rows = (tmp_path / "predictions.csv").read_text().splitlines()
    assert rows[0] == "path,true,predicted,happy,sad,surprise" and len(rows) == 31


def test_evaluate_table_and_label_mismatch(cli_run, tmp_path):
    run, _ = cli_run
    from fer_edge.synthetic import write_synthetic_dataset

    other = write_synthetic_dataset(tmp_path / "other", per_class=2, size=32, classes=("happy", "angry"))
    result = CliRunner().invoke(cli, ["evaluate", str(run / "model.keras"), str(other), "--json"])
    assert result.exit_code == 0, result.output  # angry is not a label: its images count as wrong
    metrics = json.loads(result.output[result.output.index("{"):])
    assert metrics["n"] == 4 and metrics["per_class"]["angry"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0,
                                                                     "support": 2}
    unrelated = write_synthetic_dataset(tmp_path / "unrelated", per_class=2, size=32, classes=("angry", "neutral"))
    result = CliRunner().invoke(cli, ["evaluate", str(run / "model.keras"), str(unrelated)])
    assert result.exit_code == 1
    assert "Error: none of the dataset classes ['angry', 'neutral'] is a label of the model" in result.output


def test_predict_json_ranks_every_class(cli_run, synthetic_faces):
    run, _ = cli_run
    image = sorted((synthetic_faces / "val" / "happy").iterdir())[0]
    result = CliRunner().invoke(cli, ["predict", str(image), "--model", str(run / "model.keras"), "--json",
                                      "--detector", "none"])
    assert result.exit_code == 0, result.output
    face = json.loads(result.output)[str(image)]["faces"][0]
    assert face["box"] == [0.0, 0.0, 48.0, 48.0]
    probabilities = face["probabilities"]
    assert list(probabilities) == sorted(probabilities, key=probabilities.get, reverse=True)
    assert sum(probabilities.values()) == pytest.approx(1.0, abs=1e-5)


def test_predict_reports_bad_images_and_continues(cli_run, synthetic_faces, tmp_path):
    run, _ = cli_run
    good = sorted((synthetic_faces / "val" / "sad").iterdir())[0]
    broken = write_broken_files(tmp_path)
    result = CliRunner().invoke(cli, ["predict", str(broken["truncated_jpeg"]), str(good),
                                      "--model", str(run / "model.keras"), "--detector", "none"])
    assert result.exit_code == 1
    assert "truncated JPEG" in result.output
    assert f"{good} face 0 at 0,0 48x48: " in result.output


@pytest.mark.parametrize("content", [b"", b"not a keras zip"])
def test_predict_with_a_corrupt_or_missing_model(tmp_path, content, cli_run):
    image = tmp_path / "x.png"
    model = tmp_path / "model.keras"
    model.write_bytes(content)
    (tmp_path / "model.meta.json").write_text((cli_run[0] / "model.meta.json").read_text())
    result = CliRunner().invoke(cli, ["predict", str(image), "--model", str(model)])
    assert result.exit_code == 1 and f"Error: {model} is not a Keras model: a .keras file is the zip" in result.output
    result = CliRunner().invoke(cli, ["predict", str(image), "--model", str(tmp_path / "none.keras")])
    assert result.exit_code == 1 and "Error: model file not found" in result.output


def test_workstation_command_without_tensorflow(monkeypatch, synthetic_faces, tmp_path):
    for name in list(sys.modules):
        if name.split(".")[0] in {"tensorflow", "keras"} or name.startswith(("fer_edge.train", "fer_edge.convert")):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "tensorflow", None)
    monkeypatch.setitem(sys.modules, "keras", None)
    result = CliRunner().invoke(cli, ["train", str(synthetic_faces), "--out", str(tmp_path / "r")])
    assert result.exit_code == 1
    assert 'Error: ' in result.output and 'pip install "fer-edge[train]"' in result.output


@pytest.mark.slow
def test_demo_on_generated_data_shows_the_product(tmp_path):
    """The fresh-clone demo: shipped model on a photo and a video, a run that learns, int8, the bench."""
    out = tmp_path / "demo"
    result = CliRunner().invoke(cli, ["demo", "--out", str(out)])
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "report" / "metrics.json").read_text())
    assert metrics["n"] == 500 and metrics["accuracy"] >= 0.8  # the generated task is learnt
    photo = json.loads((out / "photo.json").read_text())
    assert len(photo) == 1 and photo[0]["label"] in ("happy", "happiness")
    events = [json.loads(line) for line in (out / "kiosk.jsonl").read_text().splitlines()]
    frames = [event for event in events if event["type"] == "frame"]
    assert len(frames) == 144 and sum(bool(frame["faces"]) for frame in frames) == 108  # 3 x 3 s of a face at 12 FPS
    assert [event["type"] for event in events].count("session_end") == 3  # three visitors
    for name in ("photo.jpg", "kiosk.mp4", "model_int8.tflite", "bench.json", "report/confusion_matrix.png",
                 "kiosk-report/report.html"):
        assert (out / name).stat().st_size > 1000, name
    assert "edge yunet@256+default_int8 x1" in result.output and "full mtcnn+keras" in result.output
    listing = (out / "README.md").read_text()
    assert "`photo.jpg`" in listing and "`kiosk.mp4`" in listing and "Total:" in listing


def test_predict_with_tflite_and_annotations(converted, trained, tmp_path):
    _, data, _ = trained
    images = sorted((data / "val" / "happy").iterdir())[:2]
    result = CliRunner().invoke(cli, ["predict", *map(str, images), "--model", str(converted["int8"].path),
                                      "--detector", "none", "--annotate", str(tmp_path / "ann"), "--json"])
    assert result.exit_code == 0, result.output
    output = json.loads(result.output)
    assert [len(output[str(i)]["faces"]) for i in images] == [1, 1]
    assert sorted(p.name for p in (tmp_path / "ann").iterdir()) == sorted(f"{i.stem}.jpg" for i in images)


def test_predict_reports_images_without_faces(converted, tmp_path):
    import cv2
    import numpy as np

    blank = tmp_path / "blank.png"
    cv2.imwrite(str(blank), np.full((120, 160, 3), 90, np.uint8))
    result = CliRunner().invoke(cli, ["predict", str(blank), "--model", str(converted["int8"].path)])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"{blank}: no face"


@pytest.mark.parametrize("content", [b"", b"TFL3 but not really", None])
def test_device_commands_with_bad_models(tmp_path, content, trained):
    image = sorted((trained[1] / "val" / "sad").iterdir())[0]
    model = tmp_path / "model.tflite"
    if content is not None:
        model.write_bytes(content)
    for args in (["predict", str(image), "--model", str(model)], ["info", str(model)],
                 ["run", "--source", str(image), "--model", str(model)]):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 1, (args, result.output)
        assert result.output.startswith("Error: ") and str(model) in result.output, (args, result.output)


def test_wrong_model_shape_is_reported(converted, tmp_path):
    from fer_edge.convert.tflite import embed_metadata
    from fer_edge.tflite_metadata import read_embedded_json

    data = converted["fp32"].path.read_bytes()
    meta = read_embedded_json(data)
    meta["preprocessing"]["color_mode"] = "grayscale"
    (tmp_path / "m.tflite").write_bytes(embed_metadata(data, meta))
    result = CliRunner().invoke(cli, ["info", str(tmp_path / "m.tflite")])
    assert result.exit_code == 0  # info only reads metadata
    result = CliRunner().invoke(cli, ["predict", str(tmp_path / "x.png"), "--model", str(tmp_path / "m.tflite")])
    assert result.exit_code == 1 and "takes input (32, 32, 3) but its metadata says (32, 32, 1)" in result.output


def test_info_and_run_on_a_video(converted, tmp_path):
    import cv2
    import numpy as np

    result = CliRunner().invoke(cli, ["info", str(converted["int8"].path)])
    assert result.exit_code == 0
    assert "precision int8" in result.output and "32x32 rgb" in result.output
    video = tmp_path / "v.mp4"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 10, (64, 48))
    for _ in range(7):
        writer.write(np.full((48, 64, 3), 120, np.uint8))
    writer.release()
    result = CliRunner().invoke(cli, ["run", "--source", str(video), "--model", str(converted["int8"].path),
                                      "--detector", "none", "--jsonl", str(tmp_path / "e.jsonl")])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("frames 7, faces 7, visitor sessions 1, corrupt frames 0, reopens 0")
    events = [json.loads(line) for line in (tmp_path / "e.jsonl").read_text().splitlines()]
    assert [event["type"] for event in events].count("frame") == 7  # 0.7 s of one face: one visitor
    assert [event["type"] for event in events][-3:] == ["session_end", "summary", "run_end"]


@pytest.mark.parametrize("seconds, ending", [(0.0434, "161.3 FPS over 0.043 s"), (0.0, "0.0 FPS over 0.000 s"),
                                              (125.04, "0.1 FPS over 125.0 s")])
def test_run_summary_line_keeps_short_durations(seconds, ending):
    from fer_edge.cli.device import summary_line
    from fer_edge.kiosk import KioskSummary

    summary = KioskSummary(frames=7, faces=7, corrupt_frames=0, reopens=0, seconds=seconds, sessions=1)
    assert summary_line(summary) == ("frames 7, faces 7, visitor sessions 1, corrupt frames 0, reopens 0, " + ending)


def test_run_with_a_missing_camera(converted):
    result = CliRunner().invoke(cli, ["run", "--source", "7", "--model", str(converted["int8"].path)])
    assert result.exit_code == 1 and "Error: cannot open camera '7'" in result.output


@pytest.mark.subprocess
def test_normal_runs_print_no_native_log_lines(tmp_path):
    """No TensorFlow, absl, oneDNN or XNNPACK lines without -v; -vv lets LiteRT's notice through."""
    import subprocess
    from pathlib import Path

    import fer_edge
    from conftest import FACE_PHOTO

    photo = FACE_PHOTO
    keras_model = Path(fer_edge.__file__).parent / "models" / "default.keras"
    noise = ("oneDNN", "absl", "XNNPACK", "cpu_feature_guard", "tensorflow/", "WARNING: All log messages")
    for args in (["predict", str(photo)], ["predict", str(photo), "--model", str(keras_model)]):
        result = subprocess.run([sys.executable, "-m", "fer_edge", *args], capture_output=True, text=True,
                                timeout=300, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        output = result.stdout + result.stderr
        assert "face 0" in result.stdout and not [word for word in noise if word in output], output
    loud = subprocess.run([sys.executable, "-m", "fer_edge", "-vv", "predict", str(photo)], capture_output=True,
                          text=True, timeout=300, cwd=tmp_path)
    assert loud.returncode == 0 and "XNNPACK" in loud.stderr


def test_predict_annotations_never_overwrite_an_input_or_each_other(converted, trained, tmp_path):
    import shutil

    _, data, _ = trained
    source = sorted((data / "val" / "happy").iterdir())[0]
    for folder in ("d1", "d2"):
        (tmp_path / folder).mkdir()
        shutil.copy(source, tmp_path / folder / "face.jpg")
    originals = {p: p.read_bytes() for p in tmp_path.rglob("*.jpg")}
    inputs = [str(tmp_path / "d1" / "face.jpg"), str(tmp_path / "d2" / "face.jpg")]
    result = CliRunner().invoke(cli, ["predict", *inputs, "--model", str(converted["int8"].path), "--detector", "none",
                                      "--annotate", str(tmp_path / "d1")])
    assert result.exit_code == 0, result.output
    assert all(p.read_bytes() == data for p, data in originals.items())  # the inputs are untouched
    assert sorted(p.name for p in (tmp_path / "d1").iterdir()) == ["face.jpg", "face_2.jpg", "face_3.jpg"]


def test_predict_into_an_unwritable_annotation_folder_is_a_clean_error(converted, trained, tmp_path):
    _, data, _ = trained
    image = sorted((data / "val" / "happy").iterdir())[0]
    (tmp_path / "file").write_text("not a folder")
    result = CliRunner().invoke(cli, ["predict", str(image), "--model", str(converted["int8"].path),
                                      "--detector", "none", "--annotate", str(tmp_path / "file" / "out")])
    assert result.exit_code == 1 and result.output.startswith("Error: cannot create the output folder")
    assert "Traceback" not in result.output and (tmp_path / "file").read_text() == "not a folder"


def test_outputs_blocked_by_a_file_are_clean_errors(trained, tmp_path):
    model, data, _ = trained
    blocker = tmp_path / "existing.tflite"
    blocker.write_bytes(b"keep")
    runner = CliRunner()
    convert = runner.invoke(cli, ["convert", str(model), "--quant", "all", "--calibration", str(data),
                                  "--out", str(blocker)])
    evaluate = runner.invoke(cli, ["evaluate", str(model), str(data), "--split", "val",
                                   "--out", str(blocker / "eval")])
    for result in (convert, evaluate):
        assert result.exit_code == 1 and result.output.startswith("Error: cannot create the output folder")
        assert "Traceback" not in result.output
    assert blocker.read_bytes() == b"keep"
