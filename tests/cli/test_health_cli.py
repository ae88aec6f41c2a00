"""Federation health end to end: the sign-flip scenario is flagged with its cause and remedies,
the default run stays quiet, and the run folder, report and terminal all carry the result
beside its trivial references."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from fabricated_run import make_run_folder
from networkfed.api import run_federated
from networkfed.cli.main import app
from networkfed.cli.result_lines import result_lines
from networkfed.federated.callbacks import Callback
from networkfed.federated.config import RunConfig
from tiny_runs import tiny_data

runner = CliRunner()


@pytest.fixture(scope="module")
def sign_flip(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    run_dir = tmp_path_factory.mktemp("sign_flip") / "run"
    result = runner.invoke(app, ["simulate", "--sites", "sign-flip", "--rounds", "3",
                                 "--workers", "0", "--run-dir", str(run_dir)])
    assert result.exit_code == 0, result.output
    return result.stdout, run_dir


@pytest.mark.slow
def test_fedavg_on_sign_flip_prints_the_finding_its_cause_and_remedies(
    sign_flip: tuple[str, Path],
) -> None:
    stdout, run_dir = sign_flip
    findings = json.loads((run_dir / "summary.json").read_text())["findings"]
    assert findings[0]["code"] == "no_better_than_chance"
    assert "Sites disagree" in findings[0]["causes"][0]
    assert "'air_temperature_k' goes with failures at plant_heat" in findings[0]["causes"][0]
    for text in ("no_better_than_chance", "likely cause: Sites disagree", "try: --fedper",
                 "--fedbn"):
        assert text in stdout
    # the order: result, per site, findings, then the paths
    order = [stdout.index(text) for text in ("overall    F1", "per site   F1 plant_heat",
                                             "Findings (", "Report:", "Run folder:")]
    assert order == sorted(order)


@pytest.mark.slow
def test_the_references_reach_summary_metrics_and_report(sign_flip: tuple[str, Path]) -> None:
    _, run_dir = sign_flip
    summary = json.loads((run_dir / "summary.json").read_text())
    for site, metrics in summary["per_site"].items():
        rate = metrics["positives"] / metrics["num_examples"]
        assert summary["references"]["per_site"][site] == pytest.approx(
            {"failure_rate": rate, "f1": 2 * rate / (1 + rate), "pr_auc": rate, "roc_auc": 0.5})
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    tested = [row for row in rows if row["split"] == "test"]
    assert tested
    for row in tested:
        rate = row["positives"] / row["num_examples"]
        assert row["failure_rate"] == pytest.approx(rate)
        assert row["always_alarm_f1"] == pytest.approx(2 * rate / (1 + rate))
    report = (run_dir / "report.html").read_text()
    assert report.index('id="health"') < report.index('id="headline"')
    assert "no_better_than_chance" in report and "Always-alarm F1" in report


@pytest.mark.slow
def test_the_default_run_has_no_finding(tmp_path: Path) -> None:
    # Execute: `networkfed simulate` with its defaults (seed 42)
    result = runner.invoke(app, ["simulate", "--run-dir", str(tmp_path / "run")])

    # Assert
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["findings"] == []
    assert "Findings: none" in result.stdout


class _Baselines(Callback):
    def __init__(self) -> None:
        self.names: list[str] = []
        self.done: list[int] = []

    def on_baselines_begin(self, names: Any) -> None:
        self.names = list(names)

    def on_baseline_trained(self, done: int) -> None:
        self.done.append(done)


def test_the_baselines_phase_reports_each_model_trained() -> None:
    # Prepare
    seen = _Baselines()
    config = RunConfig(data=tiny_data(), rounds=1, local_epochs=1, seed=7, workers=0,
                       baselines=True)

    # Execute
    run_federated(config, callbacks=[seen])

    # Assert: centralized and three local models, counted as they finish
    assert len(seen.names) == 4
    assert seen.done == [1, 2, 3, 4]


def test_result_lines_show_references_baselines_and_each_finding_once() -> None:
    # Prepare
    finding = {"code": "no_better_than_chance", "severity": "critical", "message": "at [b]",
               "causes": ["Sites disagree"], "remedies": ["--fedper", "--fedbn"]}
    summary = {
        "rounds_completed": 3, "best_round": 2,
        "final": {"f1": 0.2, "pr_auc": 0.1, "roc_auc": 0.6},
        "per_site": {"a": {"f1": 0.25}, "[b]": {"f1": 0.15}},
        "references": {"overall": {"f1": 0.18, "pr_auc": 0.1},
                       "per_site": {"a": {"f1": 0.2}, "[b]": {"f1": 0.16}}},
        "baselines": {"centralized": {"f1": 0.3, "pr_auc": 0.2}, "local": {"a": {"f1": 0.4}}},
        "findings": [finding, {**finding, "code": "worse_than_alone", "severity": "warning"}],
    }

    # Execute
    text = "\n".join(result_lines(summary))

    # Assert
    assert "always-alarm F1 0.180" in text and "a 0.250 (always-alarm 0.200)" in text
    assert "\\[b] 0.150" in text  # markup escaped, the name kept whole
    assert "centralized F1 0.300" in text and "local-only F1 (each site alone) a 0.400" in text
    assert text.count("try: --fedper; --fedbn") == 1
    assert "likely cause and remedies: as above" in text


def test_history_says_round_zero_is_the_untrained_model(tmp_path: Path) -> None:
    # Prepare: a run whose initial model has the best validation PR-AUC
    run_dir = make_run_folder(tmp_path, rounds=3, baselines=False, checkpoints=True)
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    rows = [json.loads(line) for line in lines]
    for row in rows:
        if (row["mode"], row["site"], row["split"]) == ("federated", "overall", "val"):
            row["pr_auc"] = 0.1 * row["round"]
    rows.append({"round": 0, "mode": "federated", "site": "overall", "split": "val",
                 "pr_auc": 0.9})
    (run_dir / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))

    # Execute
    result = runner.invoke(app, ["history", str(run_dir)])

    # Assert
    assert result.exit_code == 0, result.output
    assert "round 0, the untrained initial model" in result.stdout
    assert "the best trained round is 3" in result.stdout
    assert "--round 0" not in result.stdout
