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
def trained(synthetic_faces, tmp_path_factory):
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
    for name in ("train", "evaluate", "predict", "demo"):
        assert name in output


def test_train_reports_and_writes_model(trained):
    run, output = trained
    assert "best epoch" in output and "images/s" in output
    assert (run / "model.keras").exists()


def test_train_refuses_an_existing_run(trained, synthetic_faces):
    run, _ = trained
    result = CliRunner().invoke(cli, ["train", str(synthetic_faces), "--out", str(run), "--arch", TINY])
    assert result.exit_code == 1
    assert result.output.startswith("Error: ") and "--resume" in result.output


def test_unknown_arch_is_a_clean_error(synthetic_faces, tmp_path):
    result = CliRunner().invoke(cli, ["train", str(synthetic_faces), "--out", str(tmp_path / "r"), "--arch", "nope"])
    assert result.exit_code == 1
    assert "Error: unknown architecture 'nope'" in result.output


def test_evaluate_writes_report_files(trained, synthetic_faces, tmp_path):
    run, _ = trained
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


def test_evaluate_table_and_label_mismatch(trained, tmp_path):
    run, _ = trained
    from fer_edge.synthetic import write_synthetic_dataset

    other = write_synthetic_dataset(tmp_path / "other", per_class=2, size=32, classes=("happy", "angry"))
    result = CliRunner().invoke(cli, ["evaluate", str(run / "model.keras"), str(other)])
    assert result.exit_code == 1
    assert "Error: dataset classes ['angry'] are not labels of the model" in result.output


def test_predict_json_ranks_every_class(trained, synthetic_faces):
    run, _ = trained
    image = sorted((synthetic_faces / "val" / "happy").iterdir())[0]
    result = CliRunner().invoke(cli, ["predict", str(image), "--model", str(run / "model.keras"), "--json"])
    assert result.exit_code == 0, result.output
    probabilities = json.loads(result.output)[str(image)]["probabilities"]
    assert list(probabilities) == sorted(probabilities, key=probabilities.get, reverse=True)
    assert sum(probabilities.values()) == pytest.approx(1.0, abs=1e-5)


def test_predict_reports_bad_images_and_continues(trained, synthetic_faces, tmp_path):
    run, _ = trained
    good = sorted((synthetic_faces / "val" / "sad").iterdir())[0]
    broken = write_broken_files(tmp_path)
    result = CliRunner().invoke(cli, ["predict", str(broken["truncated_jpeg"]), str(good),
                                      "--model", str(run / "model.keras")])
    assert result.exit_code == 1
    assert "truncated JPEG" in result.output
    assert f"{good}: " in result.output


@pytest.mark.parametrize("content", [b"", b"not a keras zip"])
def test_predict_with_a_corrupt_or_missing_model(tmp_path, content, trained):
    image = tmp_path / "x.png"
    model = tmp_path / "model.keras"
    model.write_bytes(content)
    (tmp_path / "model.meta.json").write_text((trained[0] / "model.meta.json").read_text())
    result = CliRunner().invoke(cli, ["predict", str(image), "--model", str(model)])
    assert result.exit_code == 1 and "Error: cannot load Keras model" in result.output
    result = CliRunner().invoke(cli, ["predict", str(image), "--model", str(tmp_path / "none.keras")])
    assert result.exit_code == 1 and "Error: model file not found" in result.output


def test_workstation_command_without_tensorflow(monkeypatch, synthetic_faces, tmp_path):
    for name in list(sys.modules):
        if name.split(".")[0] in {"train", "tensorflow", "keras"}:
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "tensorflow", None)
    monkeypatch.setitem(sys.modules, "keras", None)
    result = CliRunner().invoke(cli, ["train", str(synthetic_faces), "--out", str(tmp_path / "r")])
    assert result.exit_code == 1
    assert 'Error: ' in result.output and 'pip install "fer-edge[train]"' in result.output


def test_demo_on_generated_data(tmp_path):
    result = CliRunner().invoke(cli, ["demo", "--out", str(tmp_path / "demo"), "--epochs", "1"])
    assert result.exit_code == 0, result.output
    assert "accuracy" in result.output
    for name in ("metrics.json", "confusion_matrix.png", "training_curves.png"):
        assert (tmp_path / "demo" / "report" / name).exists()
