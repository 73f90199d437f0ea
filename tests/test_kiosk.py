"""The kiosk loop: events, recording, heartbeat, stopping, and the display's missing-GUI error."""

from __future__ import annotations

import json
import threading

import cv2
import pytest

from fer_edge.errors import FerEdgeError
from fer_edge.kiosk import KioskOptions, Window, run_kiosk
from fer_edge.labels import canonical_label
from fer_edge.sources import OpenCVSource


def test_kiosk_writes_events_video_and_heartbeat(recognizer, red_video, tmp_path):
    options = KioskOptions(jsonl=tmp_path / "events.jsonl", record=tmp_path / "out.mp4", record_segment_s=0,
                           heartbeat=tmp_path / "alive", smoothing=3)
    summary = run_kiosk(OpenCVSource(str(red_video)), recognizer, options)
    assert summary.frames == 12 and summary.faces == 12
    events = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    assert events[0]["type"] == "run_start" and events[-1]["type"] == "run_end"
    lines = [event for event in events if event["type"] == "frame"]
    assert [line["frame"] for line in lines] == list(range(1, 13))
    assert lines[0]["faces"][0]["track"] == 0 and lines[0]["faces"][0]["label"] in recognizer.classifier.metadata.labels
    assert (tmp_path / "alive").exists()
    assert cv2.VideoCapture(str(tmp_path / "out.mp4")).get(cv2.CAP_PROP_FRAME_COUNT) == 12


def frame_count(path):
    capture, frames = cv2.VideoCapture(str(path)), 0
    while capture.read()[0]:
        frames += 1
    return frames


def test_recordings_are_segmented_mp4_or_motion_jpeg_avi(recognizer, red_video, tmp_path):
    options = KioskOptions(record=tmp_path / "rec.mp4", max_fps=10, record_segment_s=0.5)  # 5 frames a segment
    run_kiosk(OpenCVSource(str(red_video)), recognizer, options)
    assert sorted(p.name for p in tmp_path.glob("rec*")) == ["rec-0001.mp4", "rec-0002.mp4", "rec-0003.mp4"]
    assert [frame_count(tmp_path / f"rec-000{i}.mp4") for i in (1, 2, 3)] == [5, 5, 2]
    run_kiosk(OpenCVSource(str(red_video)), recognizer, KioskOptions(record=tmp_path / "rec.avi"))
    assert frame_count(tmp_path / "rec.avi") == 12
    first = cv2.VideoCapture(str(tmp_path / "rec.avi")).read()[1]
    assert first[..., 2].mean() > 150 and first[..., 0].mean() < 90  # BGR on disk: red stays red


def test_recording_refuses_other_formats_and_the_source_itself(recognizer, red_video, tmp_path):
    with pytest.raises(FerEdgeError, match=r"use a .mp4 \(segmented\) or .avi"):
        run_kiosk(OpenCVSource(str(red_video)), recognizer, KioskOptions(record=tmp_path / "rec.mov"))
    before = red_video.read_bytes()
    for options in (KioskOptions(record=red_video, record_segment_s=0), KioskOptions(jsonl=red_video)):
        with pytest.raises(FerEdgeError, match="is the source video"):
            run_kiosk(OpenCVSource(str(red_video)), recognizer, options)
    assert red_video.read_bytes() == before


def test_kiosk_stops_on_signal_and_max_frames(recognizer, red_video, tmp_path):
    stop = threading.Event()
    stop.set()
    assert run_kiosk(OpenCVSource(str(red_video)), recognizer, KioskOptions(), stop).frames == 1
    summary = run_kiosk(OpenCVSource(str(red_video)), recognizer, KioskOptions(max_frames=5, max_fps=100))
    assert summary.frames == 5


@pytest.mark.parametrize("options, message", [
    ({"max_fps": float("nan")}, "max_fps must be a finite number at least 0"),
    ({"max_fps": -1.0}, "max_fps must be"),
    ({"record_segment_s": float("inf")}, "record_segment_s must be a finite number"),
    ({"detect_every": 0}, "detect_every at least 1, got 5, 0, 0"),
    ({"smoothing": -1}, "smoothing and max_frames must be at least 0"),
])
def test_bad_kiosk_options_are_refused(options, message):
    with pytest.raises(FerEdgeError, match=message):
        KioskOptions(**options)


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
    assert lines[0].startswith('{"frame": 7')
    assert [json.loads(line)["type"] for line in lines[1:]] == ["run_start", "frame", "frame", "summary", "run_end"]
    assert [json.loads(line)["frame"] for line in lines[2:4]] == [1, 2]
    for options, path in ((KioskOptions(jsonl=tmp_path / "no" / "e.jsonl"), tmp_path / "no" / "e.jsonl"),
                          (KioskOptions(heartbeat=tmp_path / "no" / "alive"), tmp_path / "no" / "alive")):
        with pytest.raises(OutputError, match=str(path)):
            run_kiosk(OpenCVSource(str(red_video)), recognizer, options)


def test_kiosk_notifies_systemd_ready_watchdog_and_stopping(recognizer, red_video, tmp_path, monkeypatch):
    import socket

    address = str(tmp_path / "notify")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind(address)
        server.settimeout(2)
        monkeypatch.setenv("NOTIFY_SOCKET", address)
        run_kiosk(OpenCVSource(str(red_video)), recognizer, KioskOptions())
        messages = []
        server.setblocking(False)
        while True:
            try:
                messages.append(server.recv(4096).decode())
            except BlockingIOError:
                break
    assert messages[0] == "READY=1" and messages[-1] == "STOPPING=1"
    assert messages[1].startswith("WATCHDOG=1\nSTATUS=1 frames,") and len(messages) == 3  # one ping a second at most


def test_an_unreachable_notify_socket_never_stops_the_kiosk(recognizer, red_video, tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "nobody-listens"))
    assert run_kiosk(OpenCVSource(str(red_video)), recognizer, KioskOptions()).frames == 12
    assert "cannot notify systemd" in caplog.text


@pytest.mark.parametrize("detect_every", [1, 3])
def test_each_visitor_is_one_session_with_its_dwell(visitors_video, tmp_path, detect_every):
    from fer_edge.recognizer import Recognizer
    from fer_edge.sessions import SessionOptions

    events_path = tmp_path / "events.jsonl"
    options = KioskOptions(jsonl=events_path, frames=False, detect_every=detect_every,
                           sessions=SessionOptions(timeout_s=2.0, summary_every_s=5.0, kiosk_id="hall-2"))
    summary = run_kiosk(OpenCVSource(str(visitors_video)), Recognizer.load("default"), options)
    events = [json.loads(line) for line in events_path.read_text().splitlines()]
    kinds = [event["type"] for event in events]
    assert summary.frames == 180 and summary.sessions == 3
    assert summary.detections == (180 if detect_every == 1 else 60)
    assert kinds[0] == "run_start" and kinds[-1] == "run_end" and "frame" not in kinds
    assert kinds.count("session_start") == 3 and kinds.count("summary") == 3  # at 5 and 10 s, and at the stop (12 s)
    ends = [event for event in events if event["type"] == "session_end"]
    assert [event["reason"] for event in ends] == ["lost", "lost", "stopped"]  # the video ends 1 s after the third
    for number, end in enumerate(ends):
        assert end["start"] - events[0]["time"] == pytest.approx(4 * number, abs=0.01)  # the video's own clock
        assert end["dwell_s"] == pytest.approx(44 / 15, abs=0.01) and end["frames"] == 45
        assert canonical_label(end["dominant"]) == "happiness" and end["dominant_share"] == 1.0
    assert {event["kiosk"] for event in events} == {"hall-2"} and len({event["id"] for event in events}) == len(events)
    assert events[-1]["sessions_ended"] == 3 and events[-1]["faces"] == 135
