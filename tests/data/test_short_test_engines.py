"""C-MAPSS test engines shorter than the window are scored, their window padded with their
first row (the literature's protocol scores every official test engine)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from networkfed.data import DataConfig, load_federated_data

LENGTH = 10
TEST_CYCLES = (3, 12, 25)  # the first engine is shorter than the window
OFFICIAL_RUL = (140, 7, 60)


def _engines(rng: np.random.Generator, cycles: tuple[int, ...]) -> np.ndarray:
    """Rows of the 26 C-MAPSS columns: unit, cycle, 3 settings, 21 sensors (all varying)."""
    rows = []
    for unit, count in enumerate(cycles, start=1):
        cycle = np.arange(1, count + 1)
        settings = np.zeros((count, 3))
        sensors = rng.normal(0.0, 1.0, (count, 21)) + cycle[:, None] / count
        rows.append(np.column_stack([np.full(count, unit), cycle, settings, sensors]))
    return np.vstack(rows)


@pytest.fixture(scope="module")
def cmapss_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("cmapss")
    rng = np.random.default_rng(0)
    np.savetxt(folder / "train_FD001.txt", _engines(rng, (40, 45, 50, 42, 48, 44, 46, 41)),
               fmt="%.4f")
    np.savetxt(folder / "test_FD001.txt", _engines(rng, TEST_CYCLES), fmt="%.4f")
    np.savetxt(folder / "RUL_FD001.txt", np.array(OFFICIAL_RUL), fmt="%d")
    return folder


@pytest.mark.parametrize("task", ["rul", "classification"])
def test_every_test_engine_is_scored_and_a_short_one_repeats_its_first_row(
    cmapss_folder: Path, task: str
) -> None:
    # Prepare
    config = DataConfig(dataset="cmapss", data_path=cmapss_folder, subsets=("FD001",),
                        task=task, sequence_length=LENGTH)

    # Execute
    data = load_federated_data(config, seed=0)

    # Assert: one window per test engine, in file order, the short one padded at the front
    test = data.sites["FD001"].test
    units = [int(m.rsplit("-", 1)[1]) for m in test.machine_ids]
    assert units == [1, 2, 3]
    short = test.x[0].numpy()
    pad = LENGTH - TEST_CYCLES[0]
    assert np.array_equal(short[:pad + 1], np.repeat(short[pad:pad + 1], pad + 1, axis=0))
    assert len({row.tobytes() for row in short[pad:]}) == TEST_CYCLES[0]  # its own 3 rows
    full = test.x[1].numpy()  # a long engine's window is its own last rows, not padded
    assert len({row.tobytes() for row in full}) == LENGTH
    if task == "rul":
        np.testing.assert_array_equal(test.y.numpy(), np.minimum(OFFICIAL_RUL, 125))
    else:  # fails within the horizon (30) at its last cycle
        assert test.y.tolist() == [int(r <= config.horizon) for r in OFFICIAL_RUL]
