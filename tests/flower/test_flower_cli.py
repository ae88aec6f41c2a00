"""`networkfed flower certs` and the argument checks of `networkfed flower up`."""

from __future__ import annotations

from typer.testing import CliRunner

from networkfed.cli.main import app

runner = CliRunner()


def test_certs_command_writes_ca_server_certificate_and_site_keys(tmp_path):
    result = runner.invoke(app, ["flower", "certs", "--out", str(tmp_path), "--host",
                                 "127.0.0.1", "--site", "plant_a", "--site", "plant_b"])
    assert result.exit_code == 0, result.output
    assert {p.name for p in tmp_path.iterdir()} >= {"ca.crt", "server.pem", "server.key"}
    keys = {p.name for p in (tmp_path / "supernode-keys").iterdir()}
    assert keys == {"plant_a", "plant_a.pub", "plant_b", "plant_b.pub"}


def test_up_refuses_a_file_dataset_without_site_files(tmp_path):
    result = runner.invoke(app, ["flower", "up", "--dataset", "csv", "--dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "--site" in result.output


def test_up_refuses_a_malformed_site(tmp_path):
    result = runner.invoke(app, ["flower", "up", "--site", "plant_a", "--dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "NAME=PATH" in result.output


def test_up_checks_the_bin_option_before_starting_anything(tmp_path):
    result = runner.invoke(app, ["flower", "up", "--feature-bins", "1", "--dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "feature_bins" in result.output
    assert not (tmp_path / "certs").exists()
