"""--distribute mirrored on two virtual CPU devices gives the same loss curve as one device."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = """
import json, sys
import tensorflow as tf
if sys.argv[3] == "mirrored":
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
sys.path.insert(0, sys.argv[4])
from helpers import TINY
from fer_edge.train.training import TrainOptions, train
options = TrainOptions(arch=TINY, epochs=3, image_size=32, batch_size=16, augment=False,
                       learning_rate=0.01, verbose=0, distribute=sys.argv[3])
result = train(sys.argv[1], sys.argv[2], options)
print(json.dumps({"replicas": result.replicas, "loss": result.history["loss"]}))
"""


def run(data: Path, out: Path, mode: str) -> dict:
    tests = str(Path(__file__).resolve().parent)
    result = subprocess.run([sys.executable, "-c", SCRIPT, str(data), str(out), mode, tests],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.workstation
@pytest.mark.subprocess
def test_mirrored_on_two_virtual_devices_matches_single_device(synthetic_faces, tmp_path):
    single = run(synthetic_faces, tmp_path / "single", "none")
    mirrored = run(synthetic_faces, tmp_path / "mirrored", "mirrored")
    assert single["replicas"] == 1 and mirrored["replicas"] == 2
    # Same global batch, same seed: each epoch's loss agrees closely and falls the same way.
    assert mirrored["loss"] == pytest.approx(single["loss"], rel=0.02)
    assert mirrored["loss"][-1] < mirrored["loss"][0]
