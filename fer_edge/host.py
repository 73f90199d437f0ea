"""The machine a benchmark runs on: CPU model, architecture, cores and the SIMD features that set int8 speed."""

from __future__ import annotations

import os
import platform
from pathlib import Path

SIMD_FEATURES = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "asimd", "asimddp", "i8mm")
"""CPU features that decide how fast int8 and float kernels run: x86 AVX2, AVX-512 and VNNI (int8 dot
products); arm64 NEON (asimd), its dot product (asimddp, Raspberry Pi 5) and int8 matrix multiply."""

MODEL_KEYS = ("model name", "Model", "Hardware")
"""/proc/cpuinfo keys naming the CPU (x86) or the board (a Raspberry Pi's `Model`), first found wins."""


def read_cpuinfo(path: Path = Path("/proc/cpuinfo")) -> str:
    """The text of /proc/cpuinfo, or "" where there is none (macOS, Windows)."""
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


def host_info(cpuinfo: str | None = None) -> dict:
    """Describe this machine for a benchmark's record.

    Args:
        cpuinfo: the text of /proc/cpuinfo (read from this machine when None).

    Returns:
        {"cpu": model or "unknown", "machine": e.g. "x86_64", "cores": logical CPUs,
        "simd": the `SIMD_FEATURES` present, in that order}.
    """
    text = read_cpuinfo() if cpuinfo is None else cpuinfo
    fields: dict[str, str] = {}
    flags: set[str] = set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key, value = key.strip(), value.strip()
        if key in ("flags", "Features"):
            flags.update(value.split())
        fields.setdefault(key, value)
    cpu = next((fields[key] for key in MODEL_KEYS if fields.get(key)), "unknown")
    return {"cpu": cpu, "machine": platform.machine(), "cores": os.cpu_count(),
            "simd": [feature for feature in SIMD_FEATURES if feature in flags]}


def describe_host(info: dict) -> str:
    """One line: "AMD EPYC (x86_64, 2 cores; avx2)"."""
    simd = ", ".join(info["simd"]) or "no SIMD features listed"
    return f"{info['cpu']} ({info['machine']}, {info['cores']} cores; {simd})"
