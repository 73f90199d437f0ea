"""Peak memory of `fer-edge predict` on one very large image, each in a fresh process.

Usage: .venv/bin/python benchmarks/decode_memory.py [--json docs/bench/decode-memory.json]
The test photo (tests/data/astronaut.jpg) is upscaled into JPEGs of 38 and 144 megapixels
(decoded reduced, at 1/2 and 1/4) and a PNG just under the 40-megapixel limit (PNG decodes
at full size only), and a PNG of that size without a face (grey: the shrunk search finds nothing, so
YuNet searches again at the most pixels it takes); the peak resident memory (ru_maxrss) of the child
process is reported.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path


ROOT = Path(__file__).resolve().parents[1]
PHOTO = ROOT / "tests" / "data" / "astronaut.jpg"
CASES = (("photo.jpg", 0), ("38mp.jpg", 6144), ("144mp.jpg", 12000), ("39.7mp.png", 6300),
         ("39.7mp-no-face.png", 6300))


def peak_rss_mb(image: Path) -> tuple[float, int]:
    """Run predict on `image` in a fresh process: (its peak RSS in MB, its exit status)."""
    code = ("import resource, sys; from fer_edge.cli import cli\n"
            "try:\n    cli(['predict', sys.argv[1], '--json'], standalone_mode=False)\n"
            "finally:\n    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)")
    result = subprocess.run([sys.executable, "-c", code, str(image)], capture_output=True, text=True)
    return int(result.stderr.strip().splitlines()[-1]) / 1024, result.returncode


def write_image(path: Path, side: int) -> None:
    """The upscaled photo, written by a child process: this one stays small, so the children it forks
    (whose peak memory counts from the fork) start small too."""
    code = ("import sys, cv2; face = cv2.imread(sys.argv[1]); side = int(sys.argv[3])\n"
            "image = cv2.resize(face, (side, side)) if side else face\n"
            "image = image * 0 + 128 if 'no-face' in sys.argv[2] else image\n"
            "cv2.imwrite(sys.argv[2], image, [cv2.IMWRITE_PNG_COMPRESSION, 1] if sys.argv[2].endswith('png') else [])")
    subprocess.run([sys.executable, "-c", code, str(PHOTO), str(path), str(side)], check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, side in CASES:
            path = Path(tmp) / name
            write_image(path, side)
            peak, status = peak_rss_mb(path)
            rows.append({"image": name, "megapixels": round((side or 512) ** 2 / 1e6, 1),
                         "file_mb": round(path.stat().st_size / 1e6, 1), "peak_rss_mb": round(peak),
                         "exit_status": status})
            print(f"{name:12s} {rows[-1]['megapixels']:6.1f} MP  peak {peak:6.0f} MB  exit {status}")
    if args.json:
        args.json.write_text(json.dumps({"python": sys.version.split()[0], "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
