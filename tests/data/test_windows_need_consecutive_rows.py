"""Windows are cut from consecutive rows only: a stratified split reads single rows.

A stratified split deals rows one by one, so one split's rows are not consecutive; windows of
them would join rows far apart and put the neighbours of test rows in training. A default
window becomes rows there; an explicit one is refused with exit code 2, naming the option and
the split that gives windows of consecutive rows (``time``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

from networkfed.api import run_federated
from networkfed.cli.main import app
from networkfed.core.errors import ConfigError
from networkfed.data import DataConfig, load_federated_data
from networkfed.federated.callbacks import Callback
from networkfed.federated.config import RunConfig
from networkfed.federated.results import RoundResult
from networkfed.monitoring.run_writer import load_run_config

SITES = ("plant_a", "plant_b")


def _stream_csv(path: Path, rows: int = 400) -> Path:
    """Two plants' rows interleaved in one file, no machine column: each plant one stream.
    ``row`` (a feature) is the file's row number, so a window's rows can be read back."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({
        "plant": [SITES[i % 2] for i in range(rows)],
        "t": np.arange(rows, dtype=float),
        "row": np.arange(rows, dtype=float),
        "load": rng.normal(size=rows),
        "failure": (rng.random(rows) < 0.2).astype(int),
    })
    frame.to_csv(path, index=False)
    return path


def _csv(path: Path, **options: object) -> DataConfig:
    return DataConfig(dataset="csv", data_path=path, label_column="failure",
                      site_column="plant", time_column="t", **options)


@pytest.mark.parametrize("split", ["auto", "stratified"])
def test_an_explicit_window_over_a_stratified_split_is_refused(tmp_path: Path, split: str) -> None:
    path = _stream_csv(tmp_path / "plants.csv")
    with pytest.raises(ConfigError, match=r"sequence_length.*stratified.*--split time"):
        load_federated_data(_csv(path, split=split, sequence_length=5), seed=0)


def test_the_cli_exits_2_naming_the_option(tmp_path: Path) -> None:
    path = _stream_csv(tmp_path / "plants.csv")
    result = CliRunner().invoke(app, [
        "simulate", "--dataset", "csv", "--data-path", str(path), "--label", "failure",
        "--site-column", "plant", "--time-column", "t", "--model", "lstm",
        "--sequence-length", "5", "--rounds", "1", "--run-dir", str(tmp_path / "run"),
    ])
    assert result.exit_code == 2, result.output
    assert "'sequence_length'" in result.output and "--split time" in result.output
    assert not (tmp_path / "run").exists()


def test_a_default_window_becomes_rows_where_the_split_is_stratified(tmp_path: Path) -> None:
    # Prepare: the LSTM's default window is 10 steps; DataConfig's own default is 10
    path = _stream_csv(tmp_path / "plants.csv")

    # Execute
    lstm = load_federated_data(RunConfig(model="lstm", data=_csv(path)).data, seed=0)
    alone = load_federated_data(_csv(path), seed=0)
    timed = load_federated_data(RunConfig(model="lstm", data=_csv(path, split="time")).data, 0)

    # Assert: rows where rows are dealt at random, the model's window where time is kept
    assert lstm.sequence_length == alone.sequence_length == 1
    assert lstm.sites["plant_a"].train.x.shape[1] == 1
    assert timed.sequence_length == 10


def test_a_time_split_cuts_windows_of_each_sites_consecutive_rows(tmp_path: Path) -> None:
    # Prepare: the plants' rows alternate in the file, so a plant's consecutive rows are
    # every other row: t = k, k + 2, k + 4, ...
    path = _stream_csv(tmp_path / "plants.csv")

    # Execute
    data = load_federated_data(_csv(path, split="time", sequence_length=5, features=("row",)), 0)

    # Assert: every window is five consecutive rows of its plant, in time order, and no
    # validation or test window shares a row with a training window
    std = data.preprocessing.std[0]
    mean = data.preprocessing.mean[0]
    for site_id, site in data.sites.items():
        rows = {}
        for name in ("train", "val", "test"):
            t = getattr(site, name).x[:, :, 0].double() * std + mean
            assert torch.allclose(t.diff(dim=1), torch.full_like(t[:, 1:], 2.0), atol=1e-3)
            rows[name] = set(np.rint(t.numpy()).astype(int).ravel().tolist())
        assert not rows["train"] & (rows["val"] | rows["test"]), site_id
        assert max(rows["train"]) < min(rows["val"]) < min(rows["test"]), site_id



class _StopInRound2(Callback):
    """Ctrl-C in round 2, after round 1 was saved."""

    def after_round(self, result: RoundResult, notes: Mapping[str, Any]) -> None:
        if result.round_num == 2:
            raise KeyboardInterrupt


def test_a_run_records_the_rows_it_read_and_resumes_on_them(tmp_path: Path) -> None:
    # Prepare: an LSTM run (default window 10) on a stratified split reads single rows;
    # it is interrupted in round 2
    path = _stream_csv(tmp_path / "plants.csv")
    run_dir = tmp_path / "run"
    config = RunConfig(model="lstm", data=_csv(path), rounds=2, local_epochs=1, seed=3,
                       min_fit_clients=2, workers=0)
    with pytest.raises(KeyboardInterrupt):
        run_federated(config, run_dir=run_dir, progress=_StopInRound2())

    # Execute: resume from what config.toml recorded, as `simulate --resume` does
    saved = load_run_config(run_dir)
    resumed = run_federated(saved, run_dir=run_dir, resume=True)

    # Assert: config.toml says rows, not the default window it was asked for, and the data
    # it names is the data the run started with (same fingerprint: the resume was accepted)
    assert saved.data.sequence_length == 1
    assert resumed.rounds_completed == 2
