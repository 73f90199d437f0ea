"""Plots: training curves and confusion matrix as PNG files (paper Figures 4 to 10)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from fer_edge.metrics import ClassificationReport  # noqa: E402

CURVES = ("loss", "accuracy", "precision", "recall", "f1")


def curve_panels(history: dict[str, list[float]]) -> list[str]:
    """The metrics of CURVES that `history` has (train or validation), in CURVES' order."""
    return [metric for metric in CURVES if metric in history or f"val_{metric}" in history]


def plot_history(history: dict[str, list[float]], path: str | Path) -> Path:
    """Train and validation curves of loss, accuracy, precision, recall and F1 (those present), one panel each."""
    metrics = curve_panels(history)
    columns = 3 if len(metrics) > 4 else 2
    rows = max(1, -(-len(metrics) // columns))
    figure, axes = plt.subplots(rows, columns, figsize=(5 * columns, 3.5 * rows), squeeze=False)
    for axis in axes.ravel()[len(metrics):]:
        axis.set_visible(False)
    for axis, metric in zip(axes.ravel(), metrics):
        for key, style in ((metric, "-"), (f"val_{metric}", "--")):
            if key in history:
                epochs = np.arange(1, len(history[key]) + 1)
                axis.plot(epochs, history[key], style, label="validation" if key.startswith("val_") else "train")
        axis.set_title("F1 (macro)" if metric == "f1" else metric)
        axis.set_xlabel("epoch")
        axis.legend()
        axis.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return Path(path)


def plot_confusion(report: ClassificationReport, path: str | Path) -> Path:
    """Confusion matrix, rows = true class, normalized per row, with counts annotated."""
    matrix = report.confusion
    rates = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    figure, axis = plt.subplots(figsize=(1.1 * len(report.labels) + 2, 1.1 * len(report.labels) + 1))
    image = axis.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    ticks = np.arange(len(report.labels))
    axis.set_xticks(ticks, report.labels, rotation=45, ha="right")
    axis.set_yticks(ticks, report.labels)
    axis.set_xlabel("predicted")
    axis.set_ylabel("true")
    for i in ticks:
        for j in ticks:
            axis.text(j, i, str(matrix[i, j]), ha="center", va="center",
                      color="white" if rates[i, j] > 0.5 else "black", fontsize=8)
    axis.set_title(f"accuracy {report.accuracy:.3f}, macro F1 {report.macro_f1:.3f}")
    figure.colorbar(image, ax=axis, fraction=0.046)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return Path(path)


def plot_pareto(records, front_names: set[str], path: str | Path, metric: str) -> Path:
    """Score against median end-to-end latency (log scale), Pareto front joined by a line."""
    figure, axis = plt.subplots(figsize=(9, 6))
    colors = {"full": "tab:red", "edge": "tab:blue", "peer": "tab:gray"}
    for record in records:
        value = getattr(record, metric) or 0.0
        latency = record.latency_ms["end_to_end"]["median"]
        on_front = record.name in front_names
        axis.scatter(latency, value, color=colors.get(record.path, "black"), marker="*" if on_front else "o",
                     s=120 if on_front else 30, alpha=1.0 if on_front else 0.6)
        if on_front or record.path != "edge":  # label the front, the full path and peers; the rest crowd
            axis.annotate(record.name, (latency, value), fontsize=7, xytext=(4, 4), textcoords="offset points")
    front = sorted((r for r in records if r.name in front_names), key=lambda r: r.latency_ms["end_to_end"]["median"])
    axis.plot([r.latency_ms["end_to_end"]["median"] for r in front], [getattr(r, metric) or 0.0 for r in front],
              "--", color="tab:green", label="Pareto front")
    axis.set_xscale("log")
    axis.set_xlabel("median end-to-end latency per frame (ms, log)")
    axis.set_ylabel(metric)
    axis.grid(alpha=0.3, which="both")
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return Path(path)
