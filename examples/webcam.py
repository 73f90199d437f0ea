"""Expressions of the faces in front of a webcam (or in a video file), with OpenCV and fer-edge's Python API.

    python examples/webcam.py                 # camera 0, a window; q quits
    python examples/webcam.py --source clip.mp4 --no-window --frames 100
"""

from __future__ import annotations

import argparse

import cv2

import fer_edge


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default="0", help="camera index or video file")
    parser.add_argument("--model", default="default")
    parser.add_argument("--frames", type=int, default=0, help="stop after this many frames (0: never)")
    parser.add_argument("--no-window", action="store_true", help="print results only")
    args = parser.parse_args()

    recognizer = fer_edge.Recognizer.load(args.model)
    capture = cv2.VideoCapture(int(args.source) if args.source.isdigit() else args.source)
    count = 0
    while capture.isOpened() and (not args.frames or count < args.frames):
        ok, frame = capture.read()  # OpenCV frames are BGR
        if not ok:
            break
        count += 1
        faces = recognizer.recognize(frame, color="bgr")
        print(f"frame {count}: " + (", ".join(f"{f.label} {f.confidence:.2f}" for f in faces) or "no face"))
        if not args.no_window:
            for face in faces:
                x, y, w, h = (int(v) for v in (face.box.x, face.box.y, face.box.width, face.box.height))
                cv2.rectangle(frame, (x, y), (x + w, y + h), (0, 200, 0), 2)
                cv2.putText(frame, face.label, (x, max(12, y - 6)), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 200, 0), 2)
            cv2.imshow("fer-edge", frame)
            if cv2.waitKey(1) & 0xFF == ord("q"):
                break
    capture.release()
    if not args.no_window:
        cv2.destroyAllWindows()


if __name__ == "__main__":
    main()
