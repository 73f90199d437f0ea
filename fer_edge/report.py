"""Kiosk reports: read `run --jsonl` event files (one or many kiosks) and aggregate visitor sessions."""

from __future__ import annotations

import json
import logging
import math
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from fer_edge.errors import FerEdgeError
from fer_edge.sessions import SCHEMA

logger = logging.getLogger(__name__)

NICE_INTERVALS_S = (60, 300, 900, 3600, 4 * 3600, 86400)
"""Candidate timeline buckets; the report takes the first that gives at most `MAX_BUCKETS`."""
MAX_BUCKETS = 48


@dataclass(frozen=True)
class KioskReport:
    """One kiosk's visitors.

    Attributes:
        kiosk: the `--kiosk-id` its events carry.
        sessions: visitor sessions that ended.
        in_progress: sessions started but not ended in the files (still running, or cut off).
        first, last: Unix times of the first session's start and the last session's end.
        mean_dwell_s, median_dwell_s: dwell of the ended sessions.
        dominant: sessions per dominant expression.
        shares: each expression's share of all face frames (frame-weighted mean probability).
    """

    kiosk: str
    sessions: int
    in_progress: int
    first: float
    last: float
    mean_dwell_s: float
    median_dwell_s: float
    dominant: dict
    shares: dict


@dataclass(frozen=True)
class Report:
    """Everything `fer-edge report` shows.

    Attributes:
        labels: expression labels, in the model's order.
        kiosks: one `KioskReport` per kiosk, by id.
        sessions: every ended session's `session_end` event, by start time.
        interval_s: timeline bucket width.
        events: events read (after de-duplication); skipped: lines that were not events;
        duplicates: events seen twice (same id), counted once.
    """

    labels: tuple
    kiosks: tuple
    sessions: tuple
    interval_s: float
    events: int
    skipped: int
    duplicates: int

    def timeline(self) -> list[dict]:
        """Per bucket (by session start): `start`, `visitors`, `dwell_s` (mean) and expression `shares`."""
        if not self.sessions:
            return []
        origin = math.floor(self.sessions[0]["start"] / self.interval_s) * self.interval_s
        buckets: dict[int, list] = defaultdict(list)
        for session in self.sessions:
            buckets[int((session["start"] - origin) // self.interval_s)].append(session)
        last = max(buckets)
        return [{"start": origin + index * self.interval_s, "visitors": len(buckets.get(index, [])),
                 "dwell_s": float(np.mean([s["dwell_s"] for s in buckets[index]])) if index in buckets else None,
                 "shares": _shares(buckets.get(index, []), self.labels)} for index in range(last + 1)]


def read_events(paths: list[Path]) -> tuple[list[dict], int, int]:
    """Session, summary and run events of every file, de-duplicated by id: (events, lines skipped, duplicates).

    A file still being written is fine: a torn last line is skipped like any line that is
    not a schema-1 event.

    Raises:
        FerEdgeError: a file that cannot be read.
    """
    events, seen, skipped, duplicates = [], set(), 0, 0
    for path in paths:
        for line in _lines(Path(path)):
            event = _parse(line)
            if event is None:
                skipped += 1
            elif event["type"] == "frame":
                continue  # per-frame lines: the report works from sessions
            elif event.get("id") in seen:
                duplicates += 1
            else:
                seen.add(event.get("id"))
                events.append(event)
    return events, skipped, duplicates


def _lines(path: Path) -> Iterator[bytes]:
    """The file's lines, read as a stream (a kiosk's log with per-frame lines can be large)."""
    try:
        with path.open("rb") as handle:
            yield from handle
    except OSError as exc:
        raise FerEdgeError(f"cannot read events file {path}: {exc.strerror or exc}") from exc


def _parse(line: bytes) -> dict | None:
    try:
        event = json.loads(line)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(event, dict) or event.get("schema") != SCHEMA or not isinstance(event.get("type"), str):
        return None
    return event


def _valid_session(event: dict) -> bool:
    try:
        return (event["type"] == "session_end" and float(event["dwell_s"]) >= 0 and float(event["start"]) > 0
                and int(event["frames"]) > 0 and isinstance(event["mean"], dict) and "dominant" in event)
    except (KeyError, TypeError, ValueError):
        return False


def build_report(paths: list[Path], interval_s: float = 0.0, kiosk: str | None = None) -> Report:
    """Read event files and aggregate their sessions.

    Args:
        paths: JSON-lines files written by `fer-edge run --jsonl` (any number of kiosks).
        interval_s: timeline bucket width (0: chosen from the time span, at most 48 buckets).
        kiosk: only this kiosk's events.

    Raises:
        FerEdgeError: an unreadable file, or files with no events at all.
    """
    events, skipped, duplicates = read_events(paths)
    if kiosk is not None:
        events = [e for e in events if e.get("kiosk") == kiosk]
    if not events:
        names = ", ".join(str(p) for p in paths)
        raise FerEdgeError(f"no fer-edge events in {names}" + (f" for kiosk {kiosk}" if kiosk else "")
                           + ": write them with `fer-edge run --jsonl FILE`")
    sessions = sorted((e for e in events if _valid_session(e)), key=lambda e: e["start"])
    labels = _labels(events, sessions)
    interval = interval_s or _auto_interval(sessions)
    by_kiosk = defaultdict(list)
    for session in sessions:
        by_kiosk[session.get("kiosk", "?")].append(session)
    ended = {e.get("session") for e in sessions}
    started = Counter(e.get("kiosk", "?") for e in events
                      if e["type"] == "session_start" and e.get("session") not in ended)
    kiosks = tuple(_kiosk_report(name, by_kiosk.get(name, []), started[name], labels)
                   for name in sorted(set(by_kiosk) | set(started)))
    return Report(labels, kiosks, tuple(sessions), float(interval), len(events), skipped, duplicates)


def _labels(events: list[dict], sessions: list[dict]) -> tuple:
    for event in events:
        if event["type"] == "run_start" and isinstance(event.get("labels"), list):
            return tuple(event["labels"])
    return tuple(sessions[0]["mean"]) if sessions else ()


def _auto_interval(sessions: list[dict]) -> float:
    if not sessions:
        return NICE_INTERVALS_S[0]
    span = sessions[-1]["start"] - sessions[0]["start"]
    return next((s for s in NICE_INTERVALS_S if span / s < MAX_BUCKETS), NICE_INTERVALS_S[-1])


def _shares(sessions: list[dict], labels: tuple) -> dict:
    frames = sum(s["frames"] for s in sessions)
    if not frames:
        return {label: 0.0 for label in labels}
    return {label: sum(s["mean"].get(label, 0.0) * s["frames"] for s in sessions) / frames for label in labels}


def _kiosk_report(name: str, sessions: list[dict], in_progress: int, labels: tuple) -> KioskReport:
    dwell = [s["dwell_s"] for s in sessions]
    dominant = Counter(s["dominant"] for s in sessions)
    return KioskReport(
        kiosk=name, sessions=len(sessions), in_progress=in_progress,
        first=min((s["start"] for s in sessions), default=0.0), last=max((s["end"] for s in sessions), default=0.0),
        mean_dwell_s=float(np.mean(dwell)) if dwell else 0.0,
        median_dwell_s=float(np.median(dwell)) if dwell else 0.0,
        dominant={label: dominant.get(label, 0) for label in labels}, shares=_shares(sessions, labels))


def format_table(report: Report) -> str:
    """The report as a plain-text table: one row per kiosk and one for all of them."""
    short = [label[:8] for label in report.labels]
    header = f"{'kiosk':<16} {'visitors':>8} {'open':>5} {'mean dwell':>10} {'median':>7}  " + " ".join(
        f"{name:>8}" for name in short)
    rows = [header, "-" * len(header)]
    total = _kiosk_report("all", list(report.sessions), sum(k.in_progress for k in report.kiosks), report.labels)
    for kiosk in (*report.kiosks, total) if len(report.kiosks) > 1 else report.kiosks:
        shares = " ".join(f"{kiosk.shares[label]:>8.1%}" for label in report.labels)
        rows.append(f"{kiosk.kiosk[:16]:<16} {kiosk.sessions:>8} {kiosk.in_progress:>5} "
                    f"{kiosk.mean_dwell_s:>9.1f}s {kiosk.median_dwell_s:>6.1f}s  {shares}")
    rows.append(f"(expression shares: frame-weighted mean probabilities; {report.events} events, "
                f"{report.skipped} lines skipped, {report.duplicates} duplicates)")
    return "\n".join(rows)
