"""Packaging promises: the device side never imports or installs TensorFlow."""

from __future__ import annotations

import configparser
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)


def test_importing_every_fer_edge_module_does_not_import_tensorflow():
    code = (
        "import importlib, pkgutil, sys, fer_edge\n"
        "workstation = ('fer_edge.train', 'fer_edge.convert')\n"
        "for module in pkgutil.walk_packages(fer_edge.__path__, 'fer_edge.'):\n"
        "    if not module.name.startswith(workstation):\n"
        "        importlib.import_module(module.name)\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in {'tensorflow', 'keras', 'train', 'convert'}\n"
        "               or m.startswith(workstation))\n"
        "print(heavy)"
    )
    result = python(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_cli_help_runs_without_tensorflow():
    code = (
        "import sys; sys.modules['tensorflow'] = None; sys.modules['keras'] = None\n"
        "from fer_edge.cli import cli\n"
        "cli(['--help'], prog_name='fer-edge')"
    )
    result = python(code)
    assert result.returncode == 0, result.stderr
    assert "Commands:" in result.stdout


def test_python_dash_m_works():
    result = subprocess.run([sys.executable, "-m", "fer_edge", "--version"], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0 and "fer-edge, version" in result.stdout


def extras() -> dict[str, list[str]]:
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    section = config["options.extras_require"]
    return {name: [line.strip() for line in section[name].splitlines() if line.strip()] for name in section}


def test_device_extra_has_no_tensorflow():
    base = ROOT / "setup.cfg"
    device = extras()["device"]
    assert device and not any("tensorflow" in req or "fer-edge[" in req for req in device)
    install = configparser.ConfigParser()
    install.read(base)
    assert "tensorflow" not in install["options"]["install_requires"]


def test_train_extra_declares_tensorflow_for_mtcnn():
    train = " ".join(extras()["train"])
    assert "tensorflow" in train and "mtcnn==1.0.0" in train


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                             "-w", str(out), str(ROOT)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return next(out.glob("fer_edge-*.whl"))


@pytest.mark.workstation
@pytest.mark.subprocess
def test_wheel_installs_one_top_level_package(wheel):
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        top_level = next(n for n in names if n.endswith(".dist-info/top_level.txt"))
        assert archive.read(top_level).decode().split() == ["fer_edge"]
    assert {name.split("/")[0] for name in names} == {"fer_edge", top_level.split("/")[0]}
    assert "fer_edge/train/training.py" in names and "fer_edge/convert/tflite.py" in names
    assert "fer_edge/models/default_int8.tflite" in names


@pytest.mark.workstation
@pytest.mark.subprocess
def test_wheel_ships_every_shipped_model_on_purpose(wheel):
    shipped = {f"fer_edge/models/{path.name}" for path in (ROOT / "fer_edge" / "models").iterdir()
               if path.suffix in (".tflite", ".json", ".keras")}
    assert "fer_edge/models/accurate_int8.tflite" in shipped and "fer_edge/models/default_int8.meta.json" in shipped
    with zipfile.ZipFile(wheel) as archive:
        assert shipped <= set(archive.namelist())


def test_every_folder_of_the_package_is_listed():
    """setuptools warns "Package would be ignored" for a folder under fer_edge/ missing from `packages`."""
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    listed = set(config["options"]["packages"].split())
    folders = {".".join(path.relative_to(ROOT).parts) for path in (ROOT / "fer_edge").rglob("*")
               if path.is_dir() and path.name != "__pycache__" and any(path.iterdir())}
    assert "fer_edge.models" in folders
    assert folders <= listed


@pytest.mark.workstation
@pytest.mark.subprocess
def test_commands_work_beside_a_users_train_py_and_convert_py(tmp_path):
    (tmp_path / "train.py").write_text("raise SystemExit('the user train.py was imported')\n")
    (tmp_path / "convert.py").write_text("raise SystemExit('the user convert.py was imported')\n")
    for args in (["train", "--help"], ["convert", "--help"], ["demo", "--help"]):
        result = subprocess.run([sys.executable, "-m", "fer_edge", *args], capture_output=True, text=True,
                                cwd=tmp_path, timeout=120)
        assert result.returncode == 0, result.stderr
        assert "Usage:" in result.stdout
    code = ("from fer_edge import workstation\n"
            "print(workstation.load('train.training').__name__, workstation.load('convert.tflite').__name__)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-2:] == ["fer_edge.train.training", "fer_edge.convert.tflite"]


def test_workstation_loader_names_the_extra_and_refuses_device_modules():
    code = (
        "import sys; sys.modules['tensorflow'] = None\n"
        "from fer_edge import workstation\n"
        "from fer_edge.errors import MissingDependencyError\n"
        "try:\n"
        "    workstation.load('convert.tflite', extra='convert')\n"
        "except MissingDependencyError as exc:\n"
        "    print(exc)\n"
        "try:\n"
        "    workstation.load('interpreter')\n"
        "except ValueError as exc:\n"
        "    print('refused')\n"
    )
    result = python(code)
    assert result.returncode == 0, result.stderr
    assert 'pip install "fer-edge[convert]"' in result.stdout and "refused" in result.stdout
