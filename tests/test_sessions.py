"""Visitor sessions: start after the minimum duration, end after the timeout, summaries per interval."""

from __future__ import annotations

import pytest

from fer_edge.errors import FerEdgeError
from fer_edge.faces import FaceBox
from fer_edge.recognizer import FaceResult
from fer_edge.results import ClassProbabilities
from fer_edge.sessions import SCHEMA, SessionOptions, SessionTracker


@pytest.mark.parametrize("options", [{"timeout_s": float("nan")}, {"timeout_s": 0.0}, {"timeout_s": float("inf")},
                                     {"min_duration_s": float("inf")}, {"min_duration_s": -1.0},
                                     {"summary_every_s": float("nan")}])
def test_session_times_must_be_finite_and_in_range(options):
    with pytest.raises(FerEdgeError, match="session timeout must be positive.*all finite"):
        SessionOptions(**options)
    assert SessionOptions(timeout_s=0.1, min_duration_s=0.0, summary_every_s=0.0).summary_every_s == 0.0

LABELS = ("happy", "neutral", "sad")


def face(probabilities):
    return FaceResult(FaceBox(0, 0, 10, 10), ClassProbabilities(LABELS, probabilities))


def feed(tracker, frames):
    """frames: (time, [(track, probabilities), ...]); returns every event, close() included."""
    events = []
    for now, faces in frames:
        events += tracker.update(now, [(track, face(p)) for track, p in faces])
    return events + tracker.close(frames[-1][0] + 10)


def test_a_session_has_its_dwell_means_dominant_share_and_peaks():
    tracker = SessionTracker(SessionOptions(timeout_s=1.0, min_duration_s=0.5, summary_every_s=0, kiosk_id="k1"),
                             run_id="r")
    frames = [(0.0, [(7, (0.6, 0.4, 0.0))]), (0.5, [(7, (0.2, 0.8, 0.0))]), (1.0, [(7, (0.9, 0.1, 0.0))]),
              (3.0, [])]  # gone for 2 s > timeout: the session ends at its last sighting
    events = feed(tracker, frames)
    assert [e["type"] for e in events] == ["session_start", "session_end"]
    start, end = events
    assert start == {"schema": SCHEMA, "type": "session_start", "id": "r-1", "kiosk": "k1", "time": 0.0,
                     "session": "r-7"}
    assert end["reason"] == "lost" and end["start"] == 0.0 and end["end"] == 1.0 and end["dwell_s"] == 1.0
    assert end["frames"] == 3 and end["mean"] == pytest.approx({"happy": 0.5667, "neutral": 0.4333, "sad": 0.0})
    assert end["dominant"] == "happy" and end["dominant_share"] == pytest.approx(0.6667)  # top label in 2 of 3 frames
    assert end["peaks"]["neutral"] == {"probability": 0.8, "time": 0.5}
    assert end["peaks"]["happy"] == {"probability": 0.9, "time": 1.0}
    assert end["id"] == "r-2" and end["time"] == 1.0


def test_a_face_seen_too_briefly_is_no_visitor_and_a_stop_ends_open_sessions():
    tracker = SessionTracker(SessionOptions(timeout_s=1.0, min_duration_s=0.5, summary_every_s=0), run_id="r")
    frames = [(0.0, [(1, (1, 0, 0)), (2, (0, 1, 0))]), (0.2, [(1, (1, 0, 0))]), (0.6, [(2, (0, 1, 0))]),
              (0.7, [(2, (0, 1, 0))])]
    events = feed(tracker, frames)
    assert [(e["type"], e["session"]) for e in events] == [("session_start", "r-2"), ("session_end", "r-2")]
    assert events[1]["reason"] == "stopped" and events[1]["dwell_s"] == pytest.approx(0.7)


def test_summaries_count_visitors_ended_sessions_and_expression_shares():
    tracker = SessionTracker(SessionOptions(timeout_s=1.5, min_duration_s=0.0, summary_every_s=10), run_id="r")
    frames = [(t, [(1, (1, 0, 0))]) for t in (0.0, 1.0, 2.0)]           # visitor 1: 0 to 2 s, happy
    frames += [(t, [(2, (0, 0, 1))]) for t in (5.0, 5.5, 6.0)]          # visitor 2: 5 to 6 s, sad
    frames += [(t, [(3, (0, 1, 0))]) for t in (10.0, 11.0, 12.0)]       # visitor 3 from 10 s, open at the end
    events = feed(tracker, frames)
    summaries = [e for e in events if e["type"] == "summary"]
    assert len(summaries) == 2
    first, last = summaries
    assert first["start"] == 0.0 and first["interval_s"] == 10.0 and first["visitors"] == 2
    assert first["sessions_ended"] == 2 and first["mean_dwell_s"] == 1.5
    assert first["shares"] == {"happy": 0.5, "neutral": 0.0, "sad": 0.5}
    assert last["visitors"] == 1 and last["sessions_ended"] == 1 and last["shares"]["neutral"] == 1.0
    assert last["start"] == 10.0 and last["interval_s"] == 12.0  # closed at 22 s
    assert [e["dwell_s"] for e in events if e["type"] == "session_end"] == [2.0, 1.0, 2.0]
    ids = [e["id"] for e in events]
    assert len(set(ids)) == len(ids)


def test_run_ids_make_event_ids_unique_across_runs():
    assert SessionTracker().run_id != SessionTracker().run_id
