"""``--fedbn`` from the command line: simulate writes each site's layers; predict, export and
restore pick a site's model with ``--site`` and refuse a site the run never had."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from networkfed.cli.main import app
from networkfed.data import generate_site_telemetry
from networkfed.data.synthetic import profile_for_site

runner = CliRunner()
SITE = "automotive_detroit"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("fedbn_cli") / "run"
    result = runner.invoke(app, ["simulate", "--fedbn", "--rows-per-site", "300", "--rounds",
                                 "2", "--local-epochs", "1", "--workers", "0", "--quiet",
                                 "--run-dir", str(folder)])
    assert result.exit_code == 0, result.output
    return folder


def test_simulate_records_fedbn_and_every_round_s_site_layers(run_dir: Path) -> None:
    assert "fedbn = true" in (run_dir / "config.toml").read_text()
    saved = sorted(path.name for path in (run_dir / "site_layers").iterdir())
    assert saved == ["round_0000.safetensors", "round_0001.safetensors",
                     "round_0002.safetensors"]


def test_predict_with_and_without_a_site(run_dir: Path, tmp_path: Path) -> None:
    # Prepare: new telemetry from the site
    frame = generate_site_telemetry(profile_for_site(SITE, 0), 200, seed=11)
    data = tmp_path / "new.csv"
    frame.to_csv(data, index=False)

    # Execute
    own = runner.invoke(app, ["predict", "--run", str(run_dir), "--data", str(data), "--site",
                              SITE, "--out", str(tmp_path / "own.csv"), "--json"])
    fleet = runner.invoke(app, ["predict", "--run", str(run_dir), "--data", str(data), "--out",
                                str(tmp_path / "fleet.csv"), "--json"])
    unknown = runner.invoke(app, ["predict", "--run", str(run_dir), "--data", str(data),
                                  "--site", "atlantis", "--out", str(tmp_path / "no.csv")])

    # Assert: the site's own layers give other probabilities than the averaged ones
    assert own.exit_code == 0 and fleet.exit_code == 0, own.output + fleet.output
    own_rows = (tmp_path / "own.csv").read_text()
    assert own_rows != (tmp_path / "fleet.csv").read_text()
    assert unknown.exit_code == 2 and "atlantis" in unknown.output and SITE in unknown.output
    assert not (tmp_path / "no.csv").exists()


def test_export_and_restore_name_the_site(run_dir: Path, tmp_path: Path) -> None:
    exported = runner.invoke(app, ["export", "--run", str(run_dir), "--site", SITE,
                                   "--format", "torchscript", "--json"])
    restored = runner.invoke(app, ["restore", str(run_dir), "--round", "1", "--site", SITE,
                                   "--out", str(tmp_path / "site.safetensors")])

    assert exported.exit_code == 0, exported.output
    printed = json.loads(exported.stdout)
    assert Path(printed["path"]) == run_dir / "exports" / f"site_{SITE}_round_0002.pt"
    assert json.loads(Path(printed["preprocessing"]).read_text())["site"] == SITE
    assert restored.exit_code == 0, restored.output
    assert json.loads((tmp_path / "site.json").read_text())["site"] == SITE
