"""How faithful is framing calibration? Crop real photos with a known geometry, then measure it back.

Every photo's YuNet box (in its real surroundings) is cropped at a known `CropGeometry` to 48x48,
and the crop goes through `fer_edge.framing` exactly as a training face would; the measured median
framing is compared with the known one. Detection only: the photos' labels are not used.

    .venv/bin/python benchmarks/framing_check.py ../shared/data/photos --limit 150
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

import cv2

from fer_edge.crops import CropGeometry, crop_face
from fer_edge.errors import ImageDecodeError
from fer_edge.faces import DetectorOptions, create_detector
from fer_edge.framing import detect_framed, measure_framing
from fer_edge.images import read_image


def known_crops(photos: list[Path], geometry: CropGeometry, out: Path, detector) -> list[Path]:
    """48x48 crops of each photo's largest face at `geometry`, written to `out`."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for index, path in enumerate(photos):
        try:
            photo = read_image(path)
        except ImageDecodeError:
            continue
        boxes = detector.detect(photo)
        if boxes:
            crop = crop_face(photo, boxes[0], 48, geometry)
            cv2.imwrite(str(out / f"{index}.png"), cv2.cvtColor(crop, cv2.COLOR_RGB2BGR))
            written.append(out / f"{index}.png")
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photos", type=Path)
    parser.add_argument("--limit", type=int, default=150)
    parser.add_argument("--work", type=Path, default=Path("/tmp/framing-check"))
    args = parser.parse_args()
    photos = sorted(p for p in args.photos.rglob("*") if p.is_file())
    random.Random(0).shuffle(photos)
    detector = create_detector("yunet", DetectorOptions())
    for geometry in (CropGeometry(1.0, 0.0), CropGeometry(1.3, 0.05)):
        crops = known_crops(photos[:args.limit], geometry, args.work / f"{geometry.scale}-{geometry.shift_y}", detector)
        framing = measure_framing(detect_framed(crops, detector), "yunet")
        print(f"known scale {geometry.scale:.2f} shift {geometry.shift_y:+.2f} -> measured scale "
              f"{framing.geometry.scale:.3f} (IQR {framing.scale_quartiles[0]:.3f}-{framing.scale_quartiles[2]:.3f}),"
              f" shift {framing.geometry.shift_y:+.3f}; {framing.detected} of {len(crops)} crops re-detected;"
              f" scale ratio {framing.geometry.scale / geometry.scale:.3f}")


if __name__ == "__main__":
    main()
