"""``networkfed datasets`` lists the sources; ``describe`` shows sites; bad data exits 3."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from networkfed.cli.main import app
from networkfed.data.sources import SOURCES

runner = CliRunner()


def test_datasets_lists_every_source() -> None:
    result = runner.invoke(app, ["datasets", "--json"])
    assert result.exit_code == 0, result.output
    listed = json.loads(result.output)
    assert [entry["name"] for entry in listed] == list(SOURCES)
    assert all(entry["options"] for entry in listed)


def test_datasets_table_names_the_sources() -> None:
    result = runner.invoke(app, ["datasets"])
    assert result.exit_code == 0
    for name in SOURCES:
        assert name in result.output


def test_describe_synthetic_json() -> None:
    result = runner.invoke(
        app, ["datasets", "describe", "--json", "--sequence-length", "5", "--seed", "1"]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert [s["site"] for s in summary["sites"]] == [
        "automotive_detroit",
        "chemical_houston",
        "aerospace_seattle",
    ]
    assert summary["input_dim"] == 10 and summary["sequence_length"] == 5
    assert all(0 < s["failure_rate"] < 0.1 for s in summary["sites"])


def test_describe_ai4i_table(ai4i_csv: Path) -> None:
    result = runner.invoke(
        app,
        [
            "datasets",
            "describe",
            "--dataset",
            "ai4i2020",
            "--data-path",
            str(ai4i_csv),
            "--partition",
            "iid",
            "--num-sites",
            "4",
        ],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 0, result.output
    assert "site_3" in result.output and "torque_wear_min_nm" in result.output


def test_describe_shows_where_the_federated_bins_split_ai4i(ai4i_csv: Path) -> None:
    # Execute
    result = runner.invoke(app, [
        "datasets", "describe", "--json", "--dataset", "ai4i2020", "--data-path", str(ai4i_csv),
        "--sequence-length", "1", "--features",
        "rotational_speed_rpm,temperature_difference_k,mechanical_power_w,torque_wear_min_nm",
        "--feature-bins", "4",
    ])

    # Assert: learnt from the training labels alone, the splits land next to the generator's
    # rules (1380 rpm and 8.6 K for heat dissipation, 3500 W for power, 11,000 min Nm for
    # overstrain of L products), which the features never name
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    splits = {f["name"]: f["bin_splits"] for f in summary["features"]}
    assert summary["input_dim"] == 4 + sum(len(s) + 1 for s in splits.values() if s)

    def near(feature: str, rule: float, within: float) -> bool:
        return any(abs(split - rule) <= within for split in splits[feature])

    assert near("rotational_speed_rpm", 1380, 5)
    assert near("temperature_difference_k", 8.6, 0.1)
    assert near("mechanical_power_w", 3500, 300)
    assert near("torque_wear_min_nm", 11000, 100)


def test_bad_data_exits_3_with_one_line(tmp_path: Path) -> None:
    path = tmp_path / "plant.csv"
    path.write_text("temp,failure\n300,0\n301,2\n")
    result = runner.invoke(
        app,
        [
            "datasets",
            "describe",
            "--dataset",
            "csv",
            "--data-path",
            str(path),
            "--label",
            "failure",
            "--partition",
            "iid",
        ],
    )
    assert result.exit_code == 3
    assert "Traceback" not in result.output
    assert "binary" in result.output and "plant.csv" in result.output


def test_missing_file_exits_3(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        [
            "datasets",
            "describe",
            "--dataset",
            "ai4i2020",
            "--data-path",
            str(tmp_path / "missing.csv"),
        ],
    )
    assert result.exit_code == 3 and "does not exist" in result.output


def test_bad_option_exits_2() -> None:
    result = runner.invoke(app, ["datasets", "describe", "--partition", "random"])
    assert result.exit_code == 2 and "partition" in result.output
