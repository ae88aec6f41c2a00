"""The report's figures: real PNGs of a sensible size, written atomically, robust to gaps."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from networkfed.monitoring.files import atomic_path
from networkfed.monitoring.plots import (
    PRCurve,
    confusion_counts,
    plot_baseline_comparison,
    plot_confusion_matrix,
    plot_metric_curves,
    plot_precision_recall,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from the PNG's IHDR chunk (after checking the signature)."""
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE, f"{path} is not a PNG"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def assert_page_sized(path: Path) -> None:
    width, height = png_size(path)
    assert 500 <= width <= 1600, width
    assert 350 <= height <= 1200, height
    assert path.stat().st_size > 10_000  # drawn content, not an empty canvas


@pytest.fixture
def round_rows() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = []
    for round_num in range(4):
        for site in ("site_a", "site_b", "overall"):
            value = 0.2 + 0.2 * round_num + rng.uniform(0, 0.05)
            rows.append(
                {
                    "round": round_num,
                    "site": site,
                    "f1": value,
                    "pr_auc": value,
                    "balanced_accuracy": 0.5 + value / 2,
                    "loss": 1 - value,
                }
            )
    return pd.DataFrame(rows)


def test_metric_curves_write_a_page_sized_png(tmp_path: Path, round_rows: pd.DataFrame) -> None:
    # Execute
    path = plot_metric_curves(
        round_rows, tmp_path / "plots" / "curves.png", reference={"f1": 0.9, "loss": 0.1}
    )

    # Assert
    assert path == tmp_path / "plots" / "curves.png"
    assert_page_sized(path)


def test_metric_curves_tolerate_undefined_values(tmp_path: Path, round_rows: pd.DataFrame) -> None:
    # Prepare: a site with one class only has NaN ranking metrics in some rounds
    round_rows.loc[round_rows["site"] == "site_b", "pr_auc"] = math.nan

    # Execute / Assert
    assert_page_sized(plot_metric_curves(round_rows, tmp_path / "curves.png"))


def test_baseline_comparison_draws_missing_values_as_gaps(tmp_path: Path) -> None:
    # Prepare
    values = {
        "site_a": {"federated": 0.8, "local": 0.5},
        "site_b": {"federated": 0.6, "local": math.nan},
        "overall": {"federated": 0.7, "centralized": 0.85},
    }

    # Execute
    path = plot_baseline_comparison(values, tmp_path / "bars.png")

    # Assert
    assert_page_sized(path)


def test_confusion_counts_match_hand_counts() -> None:
    # Prepare: 3 true negatives, 1 false alarm, 2 missed failures, 1 caught failure
    y_true = [0, 0, 0, 0, 1, 1, 1]
    alarm = [0, 0, 0, 1, 0, 0, 1]

    # Execute
    counts = confusion_counts(y_true, alarm)

    # Assert
    assert counts.tolist() == [[3, 1], [2, 1]]


def test_confusion_matrix_writes_png(tmp_path: Path) -> None:
    # Prepare
    rng = np.random.default_rng(1)
    y_true = (rng.random(300) < 0.05).astype(int)
    alarm = y_true ^ (rng.random(300) < 0.03)

    # Execute / Assert
    assert_page_sized(plot_confusion_matrix(y_true, alarm, tmp_path / "cm.png"))


def test_precision_recall_marks_curves_and_survives_one_class(tmp_path: Path) -> None:
    # Prepare: one informative model, one evaluated on windows without failures
    rng = np.random.default_rng(2)
    y_true = (rng.random(400) < 0.08).astype(int)
    probability = np.clip(0.3 * y_true + rng.uniform(0, 0.7, 400), 0, 1)
    curves = [
        PRCurve("federated", y_true, probability, (probability >= 0.5).astype(int), 0.5),
        PRCurve("local-only", np.zeros(50, int), rng.random(50), np.zeros(50, int)),
    ]

    # Execute / Assert
    assert_page_sized(plot_precision_recall(curves, tmp_path / "pr.png"))


def test_plot_replaces_old_file_and_leaves_no_temporary_files(
    tmp_path: Path, round_rows: pd.DataFrame
) -> None:
    # Prepare
    target = tmp_path / "curves.png"
    target.write_bytes(b"old")

    # Execute
    plot_metric_curves(round_rows, target)

    # Assert
    assert target.read_bytes()[:8] == PNG_SIGNATURE
    assert [p.name for p in tmp_path.iterdir()] == ["curves.png"]


def test_failed_write_keeps_the_old_file(tmp_path: Path) -> None:
    # Prepare
    target = tmp_path / "report.png"
    target.write_bytes(b"old")

    # Execute
    with pytest.raises(RuntimeError), atomic_path(target) as temp:
        temp.write_bytes(b"half")
        raise RuntimeError("disk full")

    # Assert
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["report.png"]
