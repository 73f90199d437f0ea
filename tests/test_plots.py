"""Plots: which training curves are drawn, and the PNG files."""

from __future__ import annotations

import pytest

pytest.importorskip("matplotlib")
cv2 = pytest.importorskip("cv2")

from fer_edge.train.plots import curve_panels, plot_history  # noqa: E402

FULL = {key: [0.5, 0.6, 0.7] for metric in ("loss", "accuracy", "precision", "recall", "f1")
        for key in (metric, f"val_{metric}")}


def test_curve_panels_keep_the_metrics_a_history_has_in_a_fixed_order():
    assert curve_panels(FULL) == ["loss", "accuracy", "precision", "recall", "f1"]
    older = {key: values for key, values in FULL.items() if "f1" not in key}
    assert curve_panels(older) == ["loss", "accuracy", "precision", "recall"]
    assert curve_panels({"val_f1": [0.3], "accuracy": [0.4], "lr": [1e-3]}) == ["accuracy", "f1"]
    assert curve_panels({}) == []


@pytest.mark.parametrize("history, size", [(FULL, (700, 1500)),  # 2 rows x 3 columns, the sixth panel hidden
                                           ({k: v for k, v in FULL.items() if "f1" not in k}, (700, 1000)),
                                           ({"accuracy": [0.4, 0.5]}, (350, 1000))])
def test_plot_history_lays_out_one_panel_per_metric(tmp_path, history, size):
    path = plot_history(history, tmp_path / "curves.png")
    assert cv2.imread(str(path)).shape[:2] == size
