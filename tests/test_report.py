"""fer-edge report: several kiosks, files still being written, duplicates, plots and the HTML page."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from importlib.util import find_spec

import numpy as np
import pytest

from fer_edge.errors import FerEdgeError
from fer_edge.report import build_report, format_table
from fer_edge.report_page import PRIVACY, write_report

LABELS = ["happy", "neutral", "sad"]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_matplotlib = pytest.mark.skipif(find_spec("matplotlib") is None, reason="needs fer-edge[report] (matplotlib)")


def session(kiosk, number, start, dwell, mean, frames=30):
    dominant = max(mean, key=mean.get)
    return {"schema": 1, "type": "session_end", "id": f"{kiosk}-{number}", "kiosk": kiosk, "time": start + dwell,
            "session": f"{kiosk}-s{number}", "reason": "lost", "start": start, "end": start + dwell,
            "dwell_s": dwell, "frames": frames, "mean": mean, "dominant": dominant, "dominant_share": 0.8, "peaks": {}}


@pytest.fixture()
def two_kiosks(tmp_path):
    """Kiosk a: 3 sessions in the first hour; kiosk b: 1 session an hour later, one still open, a torn line."""
    t0 = 1_800_000_000.0
    a = [{"schema": 1, "type": "run_start", "id": "a-0", "kiosk": "a", "time": t0, "labels": LABELS},
         session("a", 1, t0 + 10, 4.0, {"happy": 0.9, "neutral": 0.1, "sad": 0.0}),
         session("a", 2, t0 + 100, 8.0, {"happy": 0.1, "neutral": 0.5, "sad": 0.4}, frames=90),
         session("a", 3, t0 + 1000, 6.0, {"happy": 0.2, "neutral": 0.2, "sad": 0.6})]
    b = [session("b", 1, t0 + 4000, 2.0, {"happy": 0.0, "neutral": 1.0, "sad": 0.0}),
         {"schema": 1, "type": "session_start", "id": "b-2", "kiosk": "b", "time": t0 + 4100, "session": "b-s2"},
         {"schema": 1, "type": "frame", "kiosk": "b", "frame": 1, "time": t0, "faces": []}]
    (tmp_path / "a.jsonl").write_text("".join(json.dumps(e) + "\n" for e in a))
    (tmp_path / "b.jsonl").write_text("".join(json.dumps(e) + "\n" for e in b) + '{"schema": 1, "type": "sess')
    return tmp_path / "a.jsonl", tmp_path / "b.jsonl"


def test_kiosks_are_grouped_and_figures_are_right(two_kiosks):
    a, b = two_kiosks
    report = build_report([a, b, a])  # a twice: every event a duplicate the second time
    assert report.labels == tuple(LABELS) and report.duplicates == 4 and report.skipped == 1
    kiosk_a, kiosk_b = report.kiosks
    assert (kiosk_a.kiosk, kiosk_a.sessions, kiosk_a.in_progress) == ("a", 3, 0)
    assert kiosk_a.mean_dwell_s == pytest.approx(6.0) and kiosk_a.median_dwell_s == 6.0
    assert kiosk_a.dominant == {"happy": 1, "neutral": 1, "sad": 1}
    # frame-weighted: (30 * 0.9 + 90 * 0.1 + 30 * 0.2) / 150 = 0.28
    assert kiosk_a.shares["happy"] == pytest.approx(0.28) and sum(kiosk_a.shares.values()) == pytest.approx(1.0)
    assert (kiosk_b.sessions, kiosk_b.in_progress) == (1, 1)
    assert report.interval_s == 300  # 4,000 s of sessions: 5-minute buckets
    timeline = report.timeline()
    assert len(timeline) == 14 and [b["visitors"] for b in timeline if b["visitors"]] == [2, 1, 1]
    assert timeline[0]["dwell_s"] == pytest.approx(6.0) and timeline[1]["dwell_s"] is None
    only_b = build_report([a, b], kiosk="b")
    assert [k.kiosk for k in only_b.kiosks] == ["b"]
    table = format_table(report)
    assert re.search(r"^a\s+3\s+0\s+6\.0s\s+6\.0s\s+28\.0%", table, re.M) and re.search(r"^all\s+4\s+1", table, re.M)


def test_no_events_and_unreadable_files_are_clear_errors(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("not json\n42\n")
    with pytest.raises(FerEdgeError, match="no fer-edge events in .*empty.jsonl"):
        build_report([empty])
    with pytest.raises(FerEdgeError, match="cannot read events file"):
        build_report([tmp_path])


def test_a_large_log_of_frame_lines_is_read_as_a_stream(tmp_path):
    """100,000 per-frame lines (about 10 MB) around one session: the report holds the session, not the file."""
    import tracemalloc

    frame = json.dumps({"schema": 1, "type": "frame", "kiosk": "a", "frame": 1, "time": 1.0,
                        "faces": [{"box": [1, 2, 3, 4], "label": "happy", "score": 0.9}]}) + "\n"
    path = tmp_path / "big.jsonl"
    with path.open("w") as handle:
        handle.write(frame * 50_000 + json.dumps(session("a", 1, 1_800_000_000.0, 4.0, {"happy": 1.0})) + "\n")
        handle.write(frame * 50_000)
    assert path.stat().st_size > 9_000_000
    tracemalloc.start()
    report = build_report([path])
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert report.kiosks[0].sessions == 1 and report.skipped == 0
    assert peak < 2_000_000  # reading the whole file at once took more than 9 MB for its bytes alone


def test_plots_without_matplotlib_say_what_to_install(two_kiosks, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now raises ImportError
    with pytest.raises(FerEdgeError, match=r"fer-edge\[report\]"):
        write_report(build_report(list(two_kiosks)), tmp_path / "out")


@needs_matplotlib
def test_plots_and_a_self_contained_page(two_kiosks, tmp_path):
    written = write_report(build_report(list(two_kiosks)), tmp_path / "out")
    for name in ("shares", "dwell", "visitors"):
        from fer_edge.images import read_image

        image = read_image(written[name])
        assert image.shape[0] > 200 and len(np.unique(image.reshape(-1, 3), axis=0)) > 20  # a real chart
    page = written["html"].read_text()
    assert page.count('src="data:image/png;base64,') == 3
    assert not re.search(r'(src|href)="(?!data:)', page) and "http" not in page.replace("http-equiv", "")
    assert "Privacy" in page and PRIVACY.split(";")[0].split("`")[0] in page


@needs_matplotlib
@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (make tools)")
def test_the_page_renders_in_headless_chromium(two_kiosks, tmp_path):
    from fer_edge.images import read_image

    written = write_report(build_report(list(two_kiosks)), tmp_path / "out")
    shot = tmp_path / "shot.png"
    result = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                             "--disable-background-networking", "--disable-component-update", "--disable-sync",
                             f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1200,1400",
                             f"--screenshot={shot}", written["html"].as_uri()], capture_output=True, timeout=120)
    assert result.returncode == 0 and shot.exists(), result.stderr[-2000:]
    pixels = read_image(shot)
    assert pixels.shape[:2] == (1400, 1200)
    rows_with_ink = np.flatnonzero((pixels < 200).any(axis=(1, 2)))
    assert rows_with_ink.max() - rows_with_ink.min() > 700  # the table and the three charts, not a blank page
    blue = (pixels[..., 2] > 150) & (pixels[..., 0] < 100)  # matplotlib's first colour, in the stacked bars
    assert blue.sum() > 500
