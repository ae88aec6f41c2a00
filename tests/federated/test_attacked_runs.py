"""Attacked runs end to end: a broken site's updates are refused and the others go on,
label-flip changes only the attackers' labels, metrics and records cover the honest sites."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from engine_helpers import tiny_config, tiny_data
from networkfed.api import run_federated
from networkfed.federated import local_training
from networkfed.federated.attacks import choose_attackers

try:  # Python 3.11+
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]


def test_a_run_with_a_broken_site_finishes_with_the_others(tmp_path: Path) -> None:
    # Prepare: one of the three sites sends NaN every round
    data = tiny_data()
    config = tiny_config(attack="nan", attackers=1, min_fit_clients=2, seed=3)
    (broken,) = choose_attackers(data.site_ids, 1, seed=3)
    honest = [s for s in data.site_ids if s != broken]
    # Execute
    result = run_federated(config, data, run_dir=tmp_path / "run")
    # Assert: every round refused the broken update and aggregated the two others
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text()
            .splitlines()]
    assert result.status == "complete" and result.rounds_completed == 2
    assert list(result.last.rejected) == [broken]
    assert "non-finite values" in result.last.rejected[broken][0]
    assert sorted(result.last.trained) == sorted(honest)
    # metrics are the honest sites' only; the run folder names the attack and its sites
    assert sorted(result.per_site) == sorted(honest)
    assert {row["site_id"] for row in rows if "site_id" in row} <= {*honest, "overall", None}
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["attack"] == {"name": "nan", "attackers": [broken], "options": {}}
    saved = tomllib.loads((tmp_path / "run" / "config.toml").read_text())
    assert saved["attack"] == "nan" and saved["attackers"] == 1
    report = (tmp_path / "run" / "report.html").read_text()
    assert "Simulated nan attack by 1 of the sites" in report


def test_label_flip_changes_only_the_attackers_labels(monkeypatch: pytest.MonkeyPatch) -> None:
    # Prepare: record the labels every site trains on
    data = tiny_data()
    seen: dict[str, list[torch.Tensor]] = {}
    original = local_training.SiteTrainer._train_epochs

    def spy(self, train, instructions, order):  # type: ignore[no-untyped-def]
        site = next(s for s in data.site_ids if data.sites[s].train.x is train.x)
        seen.setdefault(site, []).append(train.y.clone())
        return original(self, train, instructions, order)

    monkeypatch.setattr(local_training.SiteTrainer, "_train_epochs", spy)
    before = {s: data.sites[s].train.y.clone() for s in data.site_ids}
    # Execute
    result = run_federated(tiny_config(attack="label-flip", attackers=1, seed=4), data)
    # Assert: the attacker trained on 1 - y every round, the others on their own labels
    (attacker,) = result.attack["attackers"]
    for site in data.site_ids:
        expected = 1 - before[site] if site == attacker else before[site]
        assert len(seen[site]) == 2
        assert all(torch.equal(labels, expected) for labels in seen[site]), site
        assert torch.equal(data.sites[site].train.y, before[site])  # the data is untouched
    assert attacker not in result.per_site


def test_the_same_seed_gives_the_same_attacked_run() -> None:
    config = tiny_config(attack="gaussian", attackers=1, attack_options={"sd": 0.05}, seed=6)
    first, second = run_federated(config, tiny_data()), run_federated(config, tiny_data())
    assert first.final == second.final and first.attack == second.attack
