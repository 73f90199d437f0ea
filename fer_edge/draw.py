"""Drawing: boxes, labels, confidences and FPS on a frame (RGB in, RGB out)."""

from __future__ import annotations

import numpy as np

from fer_edge.recognizer import FaceResult

BOX_COLOR = (0, 200, 255)
TEXT_COLOR = (255, 255, 255)


def annotate(frame_rgb: np.ndarray, faces: list[FaceResult], fps: float | None = None) -> np.ndarray:
    """A copy of the frame with each face's box and `label confidence`, and FPS when given."""
    import cv2

    out = frame_rgb.copy()
    scale = max(0.4, min(out.shape[:2]) / 640)
    thickness = max(1, int(round(2 * scale)))
    for face in faces:
        box = face.box
        top_left = (int(box.x), int(box.y))
        bottom_right = (int(box.x + box.width), int(box.y + box.height))
        cv2.rectangle(out, top_left, bottom_right, BOX_COLOR, thickness)
        text = f"{face.expression.label} {face.expression.confidence:.2f}"
        _label(out, text, (top_left[0], max(0, top_left[1] - 4)), scale, thickness)
    if fps is not None:
        _label(out, f"{fps:.1f} FPS", (4, out.shape[0] - 6), scale, thickness)
    return out


def _label(image: np.ndarray, text: str, origin: tuple[int, int], scale: float, thickness: int) -> None:
    import cv2

    (width, height), baseline = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.6 * scale, thickness)
    x, y = origin
    y = max(y, height + baseline)
    cv2.rectangle(image, (x, y - height - baseline), (x + width, y + baseline // 2), BOX_COLOR, -1)
    cv2.putText(image, text, (x, y - baseline // 2), cv2.FONT_HERSHEY_SIMPLEX, 0.6 * scale, TEXT_COLOR,
                thickness, cv2.LINE_AA)
