"""fer_edge/host.py: the machine a benchmark ran on, read from /proc/cpuinfo."""

from __future__ import annotations

import platform

from fer_edge.host import describe_host, host_info, read_cpuinfo

X86 = """processor\t: 0
vendor_id\t: AuthenticAMD
model name\t: AMD EPYC 9B14
flags\t\t: fpu sse2 avx2 avx512f avx512bw avx512_vnni
processor\t: 1
model name\t: AMD EPYC 9B14
flags\t\t: fpu sse2 avx2 avx512f avx512bw avx512_vnni
"""

PI4 = """processor\t: 0
BogoMIPS\t: 108.00
Features\t: fp asimd evtstrm crc32 cpuid
CPU implementer\t: 0x41
Hardware\t: BCM2835
Model\t\t: Raspberry Pi 4 Model B Rev 1.4
"""


def test_an_x86_server_with_avx512_vnni():
    info = host_info(X86)
    assert info["cpu"] == "AMD EPYC 9B14" and info["simd"] == ["avx2", "avx512f", "avx512_vnni"]
    assert info["machine"] == platform.machine() and info["cores"] >= 1


def test_a_raspberry_pi_is_named_by_its_board_and_has_neon_without_dot_product():
    info = host_info(PI4)
    assert info["cpu"] == "Raspberry Pi 4 Model B Rev 1.4" and info["simd"] == ["asimd"]


def test_no_cpuinfo_says_unknown(tmp_path):
    assert read_cpuinfo(tmp_path / "absent") == ""
    info = host_info("")
    assert info["cpu"] == "unknown" and info["simd"] == []
    assert describe_host(info).startswith("unknown (") and "no SIMD features listed" in describe_host(info)


def test_describe_host_is_one_line():
    line = describe_host({"cpu": "AMD EPYC", "machine": "x86_64", "cores": 2, "simd": ["avx2"]})
    assert line == "AMD EPYC (x86_64, 2 cores; avx2)"


def test_this_machine_reads_without_error():
    info = host_info()
    assert set(info) == {"cpu", "machine", "cores", "simd"} and isinstance(info["cpu"], str)
