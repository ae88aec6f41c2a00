"""SPEC §4.4: each kind of bad input is a DataValidationError naming file, column and rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from networkfed.core.errors import DataValidationError
from networkfed.data import DataConfig, load_federated_data, prepare_new_data
from networkfed.data.synthetic import PRESETS, generate_site_telemetry


def _good_frame(rows: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "plant": np.repeat(["a", "b"], rows // 2),
            "machine": np.tile(np.repeat(["m1", "m2"], rows // 4), 2),
            "ts": np.tile(np.arange(rows // 4), 4),
            "temp": rng.normal(300, 2, rows).round(2),
            "load": rng.normal(40, 5, rows).round(2),
            "failure": (np.arange(rows) % 7 == 0).astype(int),
        }
    )


def _write(tmp_path: Path, frame: pd.DataFrame) -> Path:
    path = tmp_path / "plant.csv"
    frame.to_csv(path, index=False)
    return path


def _load(path: Path, **options: object) -> None:
    settings = {
        "dataset": "csv",
        "data_path": path,
        "label_column": "failure",
        "site_column": "plant",
        "group_column": "machine",
        "time_column": "ts",
        "sequence_length": 2,
        **options,
    }
    load_federated_data(DataConfig(**settings), seed=0)


def test_the_good_frame_loads(tmp_path: Path) -> None:
    _load(_write(tmp_path, _good_frame()))  # the cases below break exactly one thing


def test_misspelled_column_suggests_the_close_match(tmp_path: Path) -> None:
    path = _write(tmp_path, _good_frame())
    with pytest.raises(DataValidationError, match="did you mean 'failure'") as caught:
        _load(path, label_column="failrue")
    assert caught.value.column == "failrue" and str(path) in str(caught.value)


def test_missing_column_lists_the_columns(tmp_path: Path) -> None:
    path = _write(tmp_path, _good_frame())
    with pytest.raises(DataValidationError, match="columns in the file"):
        _load(path, group_column="xyz")


def test_misspelled_ai4i_column(tmp_path: Path, ai4i_csv: Path) -> None:
    frame = pd.read_csv(ai4i_csv, encoding="utf-8-sig", nrows=50)
    path = _write(tmp_path, frame.rename(columns={"Torque [Nm]": "Torque [Nn]"}))
    with pytest.raises(DataValidationError, match=r"did you mean 'Torque \[Nn\]'"):
        load_federated_data(DataConfig(dataset="ai4i2020", data_path=path), seed=0)


@pytest.mark.parametrize(
    ("cell", "problem"),
    [("abc", "non-numeric value 'abc'"), ("", "missing value"), ("inf", "infinite value")],
)
def test_bad_cells_name_column_and_line(tmp_path: Path, cell: str, problem: str) -> None:
    frame = _good_frame().astype({"load": object})
    frame.loc[[4, 9], "load"] = cell
    path = _write(tmp_path, frame)
    with pytest.raises(DataValidationError, match=problem) as caught:
        _load(path)
    assert caught.value.column == "load"
    assert caught.value.rows[:2] == [6, 11]  # file lines: header is line 1


def test_non_binary_label(tmp_path: Path) -> None:
    frame = _good_frame()
    frame.loc[3, "failure"] = 2
    with pytest.raises(DataValidationError, match=r"binary.*found 2") as caught:
        _load(_write(tmp_path, frame))
    assert caught.value.rows == [5]


def test_row_without_site(tmp_path: Path) -> None:
    frame = _good_frame().astype({"plant": object})
    frame.loc[7, "plant"] = None
    with pytest.raises(DataValidationError, match="missing value") as caught:
        _load(_write(tmp_path, frame))
    assert caught.value.column == "plant" and caught.value.rows == [9]


def test_site_too_small_for_its_splits(tmp_path: Path) -> None:
    frame = _good_frame()
    frame = pd.concat([frame, frame.iloc[:2].assign(plant="tiny")])
    with pytest.raises(DataValidationError, match="site 'tiny' has no train window"):
        _load(_write(tmp_path, frame))


def test_fewer_rows_than_one_window(tmp_path: Path) -> None:
    with pytest.raises(DataValidationError, match="sequence_length=40"):
        _load(_write(tmp_path, _good_frame()), sequence_length=40)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataValidationError, match="does not exist") as caught:
        _load(tmp_path / "nope.csv")
    assert caught.value.path == tmp_path / "nope.csv"


@pytest.mark.parametrize(
    ("content", "problem"),
    [(b"", "empty"), (b"a,b,failure\n", "no data rows"), (b'x,"y\n1,2\n', "not a readable table")],
)
def test_not_a_table(tmp_path: Path, content: bytes, problem: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(DataValidationError, match=problem):
        _load(path)


def test_folder_instead_of_file(tmp_path: Path) -> None:
    with pytest.raises(DataValidationError, match="is not a file"):
        _load(tmp_path)


def test_cmapss_wrong_column_count(tmp_path: Path, cmapss_dir: Path) -> None:
    for name in ("train_FD001.txt", "test_FD001.txt", "RUL_FD001.txt"):
        lines = (cmapss_dir / name).read_text().splitlines()[:400]
        (tmp_path / name).write_text("\n".join(lines) + "\n")
    train = tmp_path / "train_FD001.txt"
    short = [" ".join(line.split()[:25]) for line in train.read_text().splitlines()]
    train.write_text("\n".join(short) + "\n")
    config = DataConfig(dataset="cmapss", data_path=tmp_path, subsets=("FD001",))
    with pytest.raises(DataValidationError, match=r"26 whitespace-separated columns.*found 25"):
        load_federated_data(config, seed=0)


def test_cmapss_rul_count_must_match_test_units(tmp_path: Path, cmapss_dir: Path) -> None:
    for name in ("train_FD001.txt", "test_FD001.txt"):
        (tmp_path / name).write_bytes((cmapss_dir / name).read_bytes())
    (tmp_path / "RUL_FD001.txt").write_text("112\n98\n")
    config = DataConfig(dataset="cmapss", data_path=tmp_path, subsets=("FD001",))
    with pytest.raises(DataValidationError, match="2 RUL values for 100 test units"):
        load_federated_data(config, seed=0)


def test_new_file_in_the_wrong_layout(tmp_path: Path) -> None:
    data = load_federated_data(DataConfig(rows_per_site=300), seed=0)
    with pytest.raises(DataValidationError, match="column 'Type': column not found"):
        prepare_new_data(_write(tmp_path, _good_frame()), data.preprocessing)


def test_new_file_shorter_than_one_window(tmp_path: Path) -> None:
    data = load_federated_data(DataConfig(rows_per_site=300), seed=0)
    path = tmp_path / "new.csv"
    generate_site_telemetry(PRESETS["aerospace_seattle"], 5, seed=0).to_csv(path, index=False)
    with pytest.raises(DataValidationError, match="fewer rows than one window"):
        prepare_new_data(path, data.preprocessing)
