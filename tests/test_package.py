"""Packaging promises: the device side never imports or installs TensorFlow."""

from __future__ import annotations

import configparser
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)


def test_importing_every_fer_edge_module_does_not_import_tensorflow():
    code = (
        "import importlib, pkgutil, sys, fer_edge\n"
        "for module in pkgutil.walk_packages(fer_edge.__path__, 'fer_edge.'):\n"
        "    importlib.import_module(module.name)\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in {'tensorflow', 'keras', 'train', 'convert'})\n"
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
