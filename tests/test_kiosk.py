"""The kiosk loop: events, recording, heartbeat, stopping, and the display's missing-GUI error."""

from __future__ import annotations

import json
import threading

import cv2
import pytest

from fer_edge.errors import FerEdgeError
from fer_edge.kiosk import KioskOptions, Window, run_kiosk
from fer_edge.sources import OpenCVSource


def test_kiosk_writes_events_video_and_heartbeat(recognizer, red_video, tmp_path):
    options = KioskOptions(jsonl=tmp_path / "events.jsonl", record=tmp_path / "out.mp4",
                           heartbeat=tmp_path / "alive", smoothing=3)
    summary = run_kiosk(OpenCVSource(str(red_video)), recognizer, options)
    assert summary.frames == 12 and summary.faces == 12
    lines = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    assert [line["frame"] for line in lines] == list(range(1, 13))
    assert lines[0]["faces"][0]["track"] == 0 and lines[0]["faces"][0]["label"] in recognizer.classifier.metadata.labels
    assert (tmp_path / "alive").exists()
    assert cv2.VideoCapture(str(tmp_path / "out.mp4")).get(cv2.CAP_PROP_FRAME_COUNT) == 12


def test_kiosk_stops_on_signal_and_max_frames(recognizer, red_video, tmp_path):
    stop = threading.Event()
    stop.set()
    assert run_kiosk(OpenCVSource(str(red_video)), recognizer, KioskOptions(), stop).frames == 1
    summary = run_kiosk(OpenCVSource(str(red_video)), recognizer, KioskOptions(max_frames=5, max_fps=100))
    assert summary.frames == 5


def test_display_without_gui_support_is_a_clear_error():
    if "GUI:                           NONE" not in cv2.getBuildInformation().replace("\t", " "):
        gui = [line for line in cv2.getBuildInformation().splitlines() if "GUI" in line]
        if gui and "NONE" not in gui[0]:
            pytest.skip("this OpenCV has GUI support")
    with pytest.raises(FerEdgeError, match=r"fer-edge\[display\]"):
        Window()


def test_kiosk_appends_after_a_torn_line_and_names_unwritable_outputs(recognizer, red_video, tmp_path):
    from fer_edge.errors import OutputError

    events = tmp_path / "events.jsonl"
    events.write_text('{"frame": 7, "faces": [{"tra')  # the last line of a killed run
    run_kiosk(OpenCVSource(str(red_video)), recognizer, KioskOptions(jsonl=events, max_frames=2))
    lines = events.read_text().splitlines()
    assert lines[0].startswith('{"frame": 7') and [json.loads(line)["frame"] for line in lines[1:]] == [1, 2]
    for options, path in ((KioskOptions(jsonl=tmp_path / "no" / "e.jsonl"), tmp_path / "no" / "e.jsonl"),
                          (KioskOptions(heartbeat=tmp_path / "no" / "alive"), tmp_path / "no" / "alive")):
        with pytest.raises(OutputError, match=str(path)):
            run_kiosk(OpenCVSource(str(red_video)), recognizer, options)
