"""report.html from fabricated run folders: the numbers, the images, the gaps, the errors."""

from __future__ import annotations

import base64
import json
import math
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
import tomli_w

from fabricated_run import SITES, make_run_folder
from networkfed.core.errors import CheckpointError, RunFolderError
from networkfed.monitoring.report import write_report

try:  # Python 3.11+
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class ReportParser(HTMLParser):
    """Collects, per ``<section id>``, its tables (rows of cell texts), its text and images."""

    def __init__(self) -> None:
        super().__init__()
        self.sections: dict[str, dict] = {}
        self.images: list[str] = []
        self.text: list[str] = []
        self._section = "header"
        self._row: list[str] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "section":
            self._section = found["id"] or ""
        elif tag == "table":
            self._current()["tables"].append([])
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "img":
            self.images.append(found["src"] or "")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._row is not None and self._cell is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self._current()["tables"][-1].append(self._row)
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
        self._current()["text"].append(data)
        self.text.append(data)

    def _current(self) -> dict:
        return self.sections.setdefault(self._section, {"tables": [], "text": []})

    def table(self, section: str, index: int = 0) -> dict[str, dict[str, str]]:
        """A table as ``{first cell: {header: cell}}``."""
        header, *rows = self.sections[section]["tables"][index]
        return {row[0]: dict(zip(header, row, strict=True)) for row in rows}

    def section_text(self, section: str) -> str:
        return " ".join("".join(self.sections[section]["text"]).split())


def parse(path: Path) -> ReportParser:
    parser = ReportParser()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


@pytest.fixture(scope="module")
def full_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, ReportParser]:
    run_dir = make_run_folder(tmp_path_factory.mktemp("full"), rounds=3)
    report = write_report(run_dir)
    return run_dir, report, parse(report)


def test_report_is_written_into_the_run_folder(full_run) -> None:
    run_dir, report, _ = full_run
    assert report == run_dir / "report.html"
    assert report.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert not [p for p in run_dir.rglob("*") if p.name.endswith(".tmp")]


def test_headline_shows_final_metrics_and_majority_class_accuracy(full_run) -> None:
    # Prepare: the expected numbers, from the run folder's own files
    run_dir, _, parsed = full_run
    final = json.loads((run_dir / "summary.json").read_text())["final"]
    federated = pd.read_csv(run_dir / "predictions.csv").query("mode == 'federated'")
    rate = federated["y_true"].mean()

    # Execute
    row = next(r for label, r in parsed.table("headline").items() if label.startswith("Federated"))

    # Assert
    assert row["F1"] == f"{final['f1']:.3f}"
    assert row["PR-AUC"] == f"{final['pr_auc']:.3f}"
    assert row["Accuracy"] == f"{final['accuracy']:.3f}"
    assert row["Majority-class acc."] == f"{max(rate, 1 - rate):.3f}"
    assert f"{100 * rate:.1f}% failures" in parsed.section_text("headline")


def test_per_site_table_counts_each_sites_test_windows(full_run) -> None:
    run_dir, _, parsed = full_run
    predictions = pd.read_csv(run_dir / "predictions.csv").query("mode == 'federated'")
    table = parsed.table("per-site")
    for site in SITES:
        rows = predictions[predictions["site"] == site]
        assert table[site]["Test windows"] == f"{len(rows):,}"
        assert table[site]["Failures"] == str(int(rows["y_true"].sum()))


def test_data_table_gives_split_sizes_and_failure_rates(full_run) -> None:
    table = full_run[2].table("data")
    for site, windows in SITES.items():
        assert table[site]["Train windows"] == f"{3 * windows:,}"
        assert table[site]["Test windows"] == f"{windows:,}"
    assert table["overall"]["Train windows"] == f"{3 * sum(SITES.values()):,}"
    assert table["overall"]["Val windows"] == f"{sum(SITES.values()) // 2:,}"


def test_data_section_names_feature_subsets_and_bins_only_when_a_run_sets_them(
    full_run, tmp_path: Path
) -> None:
    # Prepare: the same fabricated run, its config saying it used a subset with bins
    run_dir = make_run_folder(tmp_path, rounds=2)
    config = tomllib.loads((run_dir / "config.toml").read_text())
    config["data"].update(features=["torque_nm", "tool_wear_min"], feature_bins=4,
                          sequence_length=1)
    (run_dir / "config.toml").write_text(tomli_w.dumps(config))

    # Execute
    text = parse(write_report(run_dir)).section_text("data")

    # Assert
    assert "Inputs: features torque_nm, tool_wear_min; up to 4 bin columns" in text
    assert "single rows (windows of 1 step)." in text
    assert "Inputs:" not in full_run[2].section_text("data")
    assert "windows of 4 steps." in full_run[2].section_text("data")


def test_per_round_table_matches_metrics_jsonl(full_run) -> None:
    # Prepare
    run_dir, _, parsed = full_run
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    overall = [
        r
        for r in map(json.loads, lines)
        if (r["mode"], r["site"], r["split"]) == ("federated", "overall", "test")
    ]

    # Execute
    table = parsed.table("per-round")

    # Assert
    assert sorted(table) == [str(r["round"]) for r in overall]
    for row in overall:
        assert table[str(row["round"])]["F1"] == f"{row['f1']:.3f}"
        assert table[str(row["round"])]["Loss"] == f"{row['loss']:.4f}"


def test_baselines_show_what_federation_gained_each_site(full_run) -> None:
    run_dir, _, parsed = full_run
    summary = json.loads((run_dir / "summary.json").read_text())
    table = parsed.table("baselines")
    for site in SITES:
        gain = summary["per_site"][site]["f1"] - summary["baselines"]["local"][site]["f1"]
        assert table[site]["F1 gain"] == f"{gain:+.3f}"
    assert table["overall"]["F1 centralized"] == f"{summary['baselines']['centralized']['f1']:.3f}"
    sentences = parsed.section_text("baselines")
    assert all(f"{site}: federation " in sentences for site in SITES)


def test_report_embeds_every_plot_as_png(full_run) -> None:
    run_dir, _, parsed = full_run
    pngs = sorted(p.name for p in (run_dir / "plots").glob("*.png"))
    assert pngs == [
        "baselines_f1.png",
        "baselines_pr_auc.png",
        "confusion_matrix.png",
        "metric_curves.png",
        "precision_recall.png",
    ]
    assert len(parsed.images) == len(pngs)
    for src in parsed.images:
        prefix, _, data = src.partition(",")
        assert prefix == "data:image/png;base64"
        assert base64.b64decode(data)[:8] == PNG_SIGNATURE


def test_report_shows_monitor_findings_config_and_versions(full_run) -> None:
    run_dir, _, parsed = full_run
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert "accuracy_stagnation" in parsed.section_text("monitor")
    assert parsed.table("versions")["torch"]["Value"] == manifest["torch"]
    assert parsed.table("config")["rounds"]["Value"] == "3"


def test_run_without_baselines_or_predictions_gets_notes(tmp_path: Path) -> None:
    # Prepare
    run_dir = make_run_folder(tmp_path, baselines=False, predictions=False)

    # Execute
    parsed = parse(write_report(run_dir))

    # Assert
    assert "no baselines" in parsed.section_text("baselines")
    assert "predictions.csv not found" in parsed.section_text("plots")
    assert [p.name for p in (run_dir / "plots").glob("*.png")] == ["metric_curves.png"]
    assert len(parsed.images) == 1
    assert parsed.table("headline")  # failure counts still come from summary.json


def test_text_from_the_run_folder_is_escaped(tmp_path: Path) -> None:
    # Prepare: a hostile site name and monitor issue
    run_dir = make_run_folder(tmp_path, baselines=False, predictions=False)
    summary = json.loads((run_dir / "summary.json").read_text())
    hostile = "<script>alert(1)</script>"
    summary["per_site"][hostile] = summary["per_site"].pop("chemical_houston")
    summary["monitor"]["issues"].append(hostile)
    (run_dir / "summary.json").write_text(json.dumps(summary))

    # Execute
    text = write_report(run_dir).read_text(encoding="utf-8")

    # Assert
    assert hostile not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text


@pytest.mark.parametrize("missing", ["metrics.jsonl", "summary.json"])
def test_missing_required_file_names_it(tmp_path: Path, missing: str) -> None:
    run_dir = make_run_folder(tmp_path, baselines=False, predictions=False)
    (run_dir / missing).unlink()
    with pytest.raises(RunFolderError, match=missing) as raised:
        write_report(run_dir)
    assert isinstance(raised.value, CheckpointError)
    assert not (run_dir / "report.html").exists()


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("metrics.jsonl", '{"round": 0, "mode": "federated"}\n', "line 1 lacks keys"),
        ("metrics.jsonl", "not json\n", "line 1 is not JSON"),
        ("summary.json", "[1, 2]", "expected a JSON object"),
        ("summary.json", "{", "is not valid JSON"),
        ("predictions.csv", "mode,site\nfederated,a\n", "lacks columns"),
    ],
)
def test_malformed_file_names_the_file_and_problem(
    tmp_path: Path, name: str, content: str, expected: str
) -> None:
    run_dir = make_run_folder(tmp_path, baselines=False, predictions=False)
    (run_dir / name).write_text(content)
    with pytest.raises(RunFolderError, match=expected) as raised:
        write_report(run_dir)
    assert name in str(raised.value)


def test_nan_metrics_render_as_dashes(tmp_path: Path) -> None:
    # Prepare: an undefined ROC-AUC (one class only) is written as null by the engine
    run_dir = make_run_folder(tmp_path, baselines=False, predictions=False)
    summary = json.loads((run_dir / "summary.json").read_text())
    summary["final"]["roc_auc"] = None
    (run_dir / "summary.json").write_text(json.dumps(summary))

    # Execute
    row = next(iter(parse(write_report(run_dir)).table("headline").values()))

    # Assert
    assert row["ROC-AUC"] == "—"
    assert not math.isnan(float(row["F1"]))
