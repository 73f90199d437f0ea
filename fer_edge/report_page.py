"""Report plots (PNG, with matplotlib) and one self-contained HTML page that embeds them."""

from __future__ import annotations

import base64
import html
import time
from pathlib import Path

from fer_edge.errors import FerEdgeError
from fer_edge.files import ensure_folder, write_atomic
from fer_edge.report import Report

PRIVACY = ("No face image is stored or sent by fer-edge unless run --record or predict --annotate is given; "
           "this report is made only of times, counts and expression probabilities.")


def _pyplot():
    try:
        import matplotlib
    except ImportError as exc:
        raise FerEdgeError('plots need matplotlib: pip install "fer-edge[report]"') from exc
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _times(report: Report):
    from datetime import datetime, timezone

    return [datetime.fromtimestamp(b["start"], tz=timezone.utc) for b in report.timeline()]


def _save(plt, figure, path: Path) -> Path:
    """Write the figure as PNG (whole or not at all) and close it."""
    import io

    try:
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
        write_atomic(path, buffer.getvalue())
        return path
    finally:
        plt.close(figure)


def plot_shares(report: Report, path: Path) -> Path:
    """Stacked expression shares per timeline bucket."""
    plt = _pyplot()
    timeline, times = report.timeline(), _times(report)
    figure, axes = plt.subplots(figsize=(8, 3.2))
    bottom = [0.0] * len(timeline)
    for label in report.labels:
        values = [bucket["shares"][label] for bucket in timeline]
        axes.bar(times, values, width=_bar_width(report), bottom=bottom, align="edge", label=label)
        bottom = [b + v for b, v in zip(bottom, values)]
    axes.set(ylabel="share of face frames", ylim=(0, 1), title="Expressions over time (UTC)")
    axes.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    figure.autofmt_xdate()
    return _save(plt, figure, path)


def plot_dwell(report: Report, path: Path) -> Path:
    """Histogram of visitors' dwell times."""
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(5, 3.2))
    axes.hist([s["dwell_s"] for s in report.sessions], bins=20, color="#4a7fb5")
    axes.set(xlabel="dwell (s)", ylabel="visitors", title="Dwell time")
    return _save(plt, figure, path)


def plot_visitors(report: Report, path: Path) -> Path:
    """Visitors (sessions started) per timeline bucket."""
    plt = _pyplot()
    timeline, times = report.timeline(), _times(report)
    figure, axes = plt.subplots(figsize=(5, 3.2))
    axes.bar(times, [b["visitors"] for b in timeline], width=_bar_width(report), align="edge", color="#5aa469")
    axes.set(ylabel="visitors", title=f"Visitors per {_duration(report.interval_s)}")
    figure.autofmt_xdate()
    return _save(plt, figure, path)


def _bar_width(report: Report) -> float:
    return report.interval_s / 86400 * 0.9  # matplotlib dates are in days


def _duration(seconds: float) -> str:
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = int(seconds // size)
            return unit if count == 1 else f"{count} {unit}s"
    return f"{seconds:g} s"


def write_report(report: Report, out_dir: Path) -> dict[str, Path]:
    """Write `shares.png`, `dwell.png`, `visitors.png` and `report.html` (the three embedded) into `out_dir`."""
    out_dir = ensure_folder(out_dir)
    if not report.sessions:
        raise FerEdgeError("no visitor session has ended in these events yet: nothing to plot")
    plots = {"shares": plot_shares(report, out_dir / "shares.png"),
             "dwell": plot_dwell(report, out_dir / "dwell.png"),
             "visitors": plot_visitors(report, out_dir / "visitors.png")}
    page = out_dir / "report.html"
    write_atomic(page, render_html(report, plots).encode())
    return {**plots, "html": page}


def _image(path: Path, alt: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def _kiosk_rows(report: Report) -> str:
    rows = []
    for kiosk in report.kiosks:
        shares = "".join(f"<td>{kiosk.shares[label]:.1%}</td>" for label in report.labels)
        rows.append(f"<tr><td>{html.escape(kiosk.kiosk)}</td><td>{kiosk.sessions}</td><td>{kiosk.in_progress}</td>"
                    f"<td>{kiosk.mean_dwell_s:.1f} s</td><td>{kiosk.median_dwell_s:.1f} s</td>{shares}</tr>")
    return "\n".join(rows)


def render_html(report: Report, plots: dict[str, Path]) -> str:
    """One HTML page with no external resources: styles inline, plots as data URIs."""
    labels = "".join(f"<th>{html.escape(label)}</th>" for label in report.labels)
    generated = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>fer-edge kiosk report</title>
<style>body{{font-family:sans-serif;margin:2em;color:#222}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:4px 8px;text-align:right}}td:first-child{{text-align:left}}
img{{max-width:100%;margin:1em 1em 0 0}}.note{{color:#555;font-size:90%}}</style></head>
<body><h1>Kiosk report</h1>
<p>{sum(k.sessions for k in report.kiosks)} visitors at {len(report.kiosks)} kiosk(s); generated {generated}.</p>
<table><tr><th>kiosk</th><th>visitors</th><th>in progress</th><th>mean dwell</th><th>median dwell</th>{labels}</tr>
{_kiosk_rows(report)}</table>
<p class="note">Expression shares are frame-weighted mean probabilities over each visitor's session.
Expressions are not emotions; do not use them to make decisions about people.</p>
{_image(plots["shares"], "Expressions over time")}
{_image(plots["visitors"], "Visitors per interval")}{_image(plots["dwell"], "Dwell time histogram")}
<p class="note">Privacy: {html.escape(PRIVACY)}</p>
<p class="note">{report.events} events read, {report.skipped} lines skipped, {report.duplicates} duplicates.</p>
</body></html>
"""
