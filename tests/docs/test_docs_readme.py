"""The README: short, every command in it checked, its Python run, its table the results file's.

What is checked, honestly:

* every shell command of the README is parsed by the program it calls (``doc_blocks``):
  a renamed or removed command or option, or a value of the wrong type, fails;
* the journeys are also *run*, in order, on small data in a temporary folder
  (:func:`test_readme_journeys_run_on_small_data`): the commands as written, with the
  placeholders filled in (``RUN``, ``plant.csv``, ``ai4i2020.csv``, ``new.csv``) and options
  appended that only shrink the work (one round, one local epoch, a few hundred rows, one
  trial, no worker processes, a run folder in the temporary folder). Not run there: the
  setup/test scripts (they are what runs this test), ``flower up`` (a real deployment,
  tested in ``tests/flower/test_flower_deployment.py``), ``mkdocs serve`` (a server; the
  site's build is ``scripts/test.sh``'s), and the C-MAPSS simulation, whose data options are
  loaded by ``datasets describe`` instead (training an LSTM on 160,000 windows takes minutes);
* the Python block runs as written;
* the results table equals the one generated from ``benchmarks/results/quality.json``.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pandas as pd
import pytest
from doc_blocks import README, ROOT, SHELL, blocks, check_command, commands
from typer.testing import CliRunner

from networkfed.cli.main import app
from networkfed.data import PRESETS, generate_site_telemetry
from tiny_runs import write_plant_csv

runner = CliRunner()
README_COMMANDS = [words for block in blocks(README, *SHELL) for words in commands(block)]
SMALL = ["--rounds", "1", "--local-epochs", "1", "--workers", "0", "--quiet"]


def test_readme_is_at_most_250_lines() -> None:
    assert len(README.read_text(encoding="utf-8").splitlines()) <= 250


@pytest.mark.parametrize("words", README_COMMANDS,
                         ids=[shlex.join(w)[:60] for w in README_COMMANDS])
def test_every_readme_command_parses(words: list[str]) -> None:
    check_command(words)


def test_readme_links_point_to_files_and_headings_that_exist() -> None:
    text = README.read_text(encoding="utf-8")
    headings = {re.sub(r"[^\w\- ]", "", h).strip().lower().replace(" ", "-")
                for h in re.findall(r"^#+ (.+)$", text, re.MULTILINE)}
    for target in re.findall(r"\]\(([^)]+)\)", text):
        if target.startswith("http"):
            continue
        path, _, anchor = target.partition("#")
        if path:
            assert (ROOT / path).is_file(), target
        else:
            assert anchor in headings, target


def test_readme_results_table_is_the_generated_one() -> None:
    from docgen.benchmarks import headline_table

    assert headline_table() in README.read_text(encoding="utf-8"), (
        "README's results table differs from benchmarks/results/quality.json; paste:\n"
        + headline_table())


@pytest.mark.slow
def test_readme_python_runs_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    (block,) = blocks(README, "python")
    monkeypatch.chdir(tmp_path)

    exec(compile(block.code, block.name, "exec"), {})

    assert (tmp_path / "runs/python-demo/summary.json").is_file()
    f1, pr_auc, best_round = capsys.readouterr().out.split()
    assert 0 <= float(f1) <= 1 and 0 <= float(pr_auc) <= 1 and int(best_round) >= 0


def _journey(words: list[str], files: dict[str, str], number: int) -> list[str] | None:
    """The README command ``words`` as this test runs it, or ``None`` when it is not run.

    Each simulation writes ``runs/sim-<number>``, and ``RUN`` stands for the latest one.
    """
    if Path(words[0]).name != "networkfed":
        return None
    args = [files.get(word, word) for word in words[1:]]
    if args[:2] == ["flower", "up"]:
        return None
    if args[0] == "simulate" and "cmapss" in args:  # data options loaded, not trained
        options = args[args.index("--dataset"): args.index("--dataset") + 4]
        return ["datasets", "describe", *options]
    if args[0] == "simulate":
        files["RUN"] = f"runs/sim-{number}"
        rows = [] if "--dataset" in args else ["--rows-per-site", "300"]
        return [*args, *SMALL, *rows, "--run-dir", files["RUN"]]
    if args[0] == "tune":
        return [*args, "--trials", "1", "--rounds", "1", "--rows-per-site", "300"]
    if args[:2] == ["flower", "certs"]:
        return [*args[:3], "certs", *args[4:]]
    if args[0] == "predict":
        return [*args, "--out", "p.csv"]
    if args[0] == "export":
        return [*args, "--out", "model.onnx"]
    return args


@pytest.mark.slow
def test_readme_journeys_run_on_small_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           data_dir: Path) -> None:
    # Prepare: the files the README names, small
    monkeypatch.chdir(tmp_path)
    plant = pd.read_csv(write_plant_csv(tmp_path / "raw.csv"))
    plant.rename(columns={"Machine failure": "failure", "step": "ts"}).to_csv(
        tmp_path / "plant.csv", index=False)
    new = generate_site_telemetry(PRESETS["chemical_houston"], 200, seed=7)
    new.drop(columns=["Machine failure"]).to_csv(tmp_path / "new.csv", index=False)
    files = {"ai4i2020.csv": str(data_dir / "ai4i2020/ai4i2020.csv"),
             "CMAPSSData/": str(data_dir / "cmapss")}
    ran = []

    # Execute / Assert: in README order, so a run exists before history, predict and export
    for number, words in enumerate(README_COMMANDS):
        args = _journey(words, files, number)
        if args is None:
            continue
        result = runner.invoke(app, args)
        assert result.exit_code == 0, f"{shlex.join(words)}\n-> {shlex.join(args)}\n{result.output}"
        ran.append(args[0])

    assert {"simulate", "history", "report", "datasets", "tune", "predict", "export",
            "flower"} <= set(ran)
    assert len(list(tmp_path.glob("runs/sim-*/report.html"))) == ran.count("simulate")
    assert (tmp_path / "studies/lstm/best_hyperparameters.json").is_file()
    assert (tmp_path / "p.csv").is_file() and (tmp_path / "model.onnx").is_file()
    assert (tmp_path / "certs/ca.crt").is_file()
