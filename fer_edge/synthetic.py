"""Synthetic data made without any download: cartoon-face ImageFolders, and visitor videos from real photos."""

from __future__ import annotations

from pathlib import Path

import numpy as np

# Each expression is drawn by its mouth curvature, eyebrow tilt and mouth opening.
EXPRESSIONS = {
    "happy": {"smile": 1.0, "brow": 0.0, "open": 0.0},
    "sad": {"smile": -1.0, "brow": -0.6, "open": 0.0},
    "angry": {"smile": -0.4, "brow": 1.0, "open": 0.0},
    "surprise": {"smile": 0.0, "brow": -0.2, "open": 1.0},
    "neutral": {"smile": 0.0, "brow": 0.0, "open": 0.0},
}


def draw_face(expression: str, size: int, rng: np.random.Generator) -> np.ndarray:
    """Draw one RGB uint8 cartoon face of `expression` with random pose, colour and noise."""
    import cv2

    style = EXPRESSIONS[expression]
    background = rng.integers(0, 256, 3).tolist()
    image = np.full((size, size, 3), background, np.uint8)
    cx, cy = (size / 2 + rng.normal(0, size * 0.04, 2)).astype(int)
    radius = int(size * rng.uniform(0.34, 0.42))
    skin = rng.integers(120, 256, 3).tolist()
    ink = (int(rng.integers(0, 60)),) * 3
    cv2.ellipse(image, (cx, cy), (radius, int(radius * 1.15)), 0, 0, 360, skin, -1)
    eye_dx, eye_y = radius // 2, cy - radius // 4
    for side in (-1, 1):
        cv2.circle(image, (cx + side * eye_dx, eye_y), max(1, radius // 9), ink, -1)
        tilt = int(style["brow"] * radius * 0.15) * side
        brow_y = eye_y - radius // 4
        cv2.line(image, (cx + side * (eye_dx - radius // 5), brow_y + tilt),
                 (cx + side * (eye_dx + radius // 5), brow_y - tilt), ink, max(1, size // 40))
    _draw_mouth(image, (cx, cy + radius // 2), radius, style, ink)
    noise = rng.normal(0, 6, image.shape)
    return np.clip(image + noise, 0, 255).astype(np.uint8)


def _draw_mouth(image, center, radius, style, ink) -> None:
    import cv2

    width = int(radius * 0.6)
    if style["open"] > 0:
        cv2.ellipse(image, center, (width // 2, int(width * 0.6)), 0, 0, 360, ink, -1)
        return
    bend = int(style["smile"] * radius * 0.35)
    xs = np.linspace(-width, width, 16)
    ys = -bend * (1 - (xs / width) ** 2) + bend / 2
    points = np.stack([center[0] + xs, center[1] - ys], axis=1).astype(np.int32)
    cv2.polylines(image, [points], False, ink, max(2, radius // 6))


def write_synthetic_dataset(
    root: str | Path,
    per_class: int = 40,
    size: int = 64,
    classes: tuple[str, ...] = tuple(EXPRESSIONS),
    seed: int = 0,
) -> Path:
    """Write `root/<class>/<n>.png` cartoon faces and return `root`.

    Args:
        root: output folder (created).
        per_class: images per class.
        size: side of each square image in pixels.
        classes: expressions to draw, a subset of `EXPRESSIONS`.
        seed: random seed; the same seed writes the same files.
    """
    import cv2

    root = Path(root)
    rng = np.random.default_rng(seed)
    for expression in classes:
        folder = root / expression
        folder.mkdir(parents=True, exist_ok=True)
        for index in range(per_class):
            face = draw_face(expression, size, rng)
            cv2.imwrite(str(folder / f"{index:04d}.png"), cv2.cvtColor(face, cv2.COLOR_RGB2BGR))
    return root


def visitor_frames(photos: list[np.ndarray], fps: float = 15.0, visit_s: float = 3.0, gap_s: float = 1.0,
                   size: tuple[int, int] = (640, 480), face_px: int = 200):
    """RGB frames of a kiosk camera that sees one visitor after another, each an RGB photo.

    Each photo, scaled to `face_px` high, drifts across a plain background for `visit_s` seconds
    (about 3 px a frame sideways, bobbing up and down), then the scene is empty for `gap_s`:
    so the video has exactly one visitor session per photo, with known start and end.

    Yields:
        (frame, index of the visitor on screen or -1).
    """
    import cv2

    width, height = size
    background = np.tile(np.linspace(90, 150, width, dtype=np.uint8)[None, :, None], (height, 1, 3))
    for visitor, photo in enumerate(photos):
        scale = face_px / photo.shape[0]
        image = cv2.resize(photo, (max(1, round(photo.shape[1] * scale)), face_px), interpolation=cv2.INTER_AREA)
        steps = max(1, round(visit_s * fps))
        for step in range(steps):
            frame = background.copy()
            x = int((width - image.shape[1]) * (0.2 + 0.6 * step / steps))
            y = int((height - face_px) / 2 + 20 * np.sin(step / fps * 2.0))
            frame[y:y + face_px, x:x + image.shape[1]] = image[:, :width - x]
            yield frame, visitor
        for _ in range(round(gap_s * fps)):
            yield background.copy(), -1
