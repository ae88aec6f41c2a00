"""The strategy registry, option validation and the conformance checks every strategy shares."""

from __future__ import annotations

import inspect
import logging
import math
from pathlib import Path
from typing import get_args

import pytest
import torch

from networkfed.core.errors import ConfigError
from networkfed.federated.config import StrategyName
from networkfed.federated.strategies import (
    STRATEGY_OPTIONS,
    build_strategy,
    get_strategy_class,
    list_strategies,
)
from networkfed.federated.types import SiteUpdate


def test_registry_holds_exactly_the_run_config_strategies() -> None:
    assert list_strategies() == sorted(get_args(StrategyName))
    assert set(STRATEGY_OPTIONS) == set(list_strategies())


@pytest.mark.parametrize("name", list_strategies())
def test_options_table_matches_constructor_defaults(name: str) -> None:
    # Prepare
    parameters = inspect.signature(get_strategy_class(name).__init__).parameters
    declared = {k: p.default for k, p in parameters.items() if p.kind is p.KEYWORD_ONLY}
    # Execute
    strategy = build_strategy(name)
    # Assert
    assert declared == {key: option.default for key, option in STRATEGY_OPTIONS[name].items()}
    assert strategy.get_options() == declared
    assert strategy.summary


@pytest.mark.parametrize("name", list_strategies())
def test_every_strategy_keeps_keys_shapes_and_dtypes(name: str) -> None:
    # Prepare: three sites with a float matrix, a float64 vector and an int64 counter
    generator = torch.Generator().manual_seed(0)

    def site_state(count: int) -> dict[str, torch.Tensor]:
        return {
            "conv.weight": torch.randn(2, 3, generator=generator),
            "fc.bias": torch.randn(4, generator=generator, dtype=torch.float64),
            "bn.num_batches_tracked": torch.tensor(count),
        }

    global_state = site_state(0)
    updates = [SiteUpdate(s, site_state(5), n) for s, n in (("a", 2), ("b", 3), ("c", 4))]
    # Execute
    result = build_strategy(name).aggregate_fit(1, global_state, updates)
    # Assert
    assert list(result) == list(global_state)
    for key, value in global_state.items():
        assert result[key].shape == value.shape and result[key].dtype == value.dtype
        assert torch.isfinite(result[key].double()).all()
    assert result["bn.num_batches_tracked"].item() == 5


@pytest.mark.parametrize("name", [n for n in list_strategies() if n != "bulyan"])
def test_a_single_update_is_adopted_by_the_averaging_rules(name: str) -> None:
    # Prepare
    only = SiteUpdate("a", {"w": torch.tensor([1.0, -2.0]), "n": torch.tensor(7)}, 3)
    global_state = {"w": torch.zeros(2), "n": torch.tensor(0)}
    # Execute
    result = build_strategy(name).aggregate_fit(1, global_state, [only])
    # Assert: server optimisers step towards it; every other rule returns it unchanged
    if name in ("fedadam", "fedyogi", "fedadagrad"):
        assert (result["w"].sign() == only.state["w"].sign()).all()
    else:
        assert torch.equal(result["w"], only.state["w"])
    assert result["n"].item() == 7


def test_strategies_guide_lists_every_strategy_with_its_defaults() -> None:
    # Prepare
    page = Path(__file__).resolve().parents[2] / "docs" / "user-guide" / "strategies.md"
    section = page.read_text(encoding="utf-8").split("## Strategies", 1)[1].split("\n#", 1)[0]
    rows = {line.split("`")[1]: line for line in section.splitlines() if line.startswith("| `")}
    # Assert
    for name, options in STRATEGY_OPTIONS.items():
        defaults = ", ".join(f"{key}={option.default:g}" for key, option in options.items())
        assert f"| {defaults or '—'} |" in rows[name], name


def test_names_are_case_insensitive() -> None:
    assert type(build_strategy(" FedAvg ")).__name__ == "FedAvg"


def test_unknown_strategy_lists_the_valid_ones() -> None:
    with pytest.raises(ConfigError, match="fedavg, fedavgm") as caught:
        build_strategy("fedsgd")
    assert caught.value.exit_code == 2


def test_unknown_option_lists_the_valid_ones() -> None:
    with pytest.raises(ConfigError, match=r"'fedprox.mu'.*\(proximal_mu\)"):
        build_strategy("fedprox", mu=0.1)
    with pytest.raises(ConfigError, match=r"\(none\)"):
        build_strategy("fedavg", beta=0.1)


@pytest.mark.parametrize(
    ("name", "option", "value", "allowed"),
    [
        ("fedprox", "proximal_mu", -0.1, r"a number in \[0, inf\)"),
        ("fedtrimmedavg", "beta", 0.5, r"a number in \[0, 0.5\)"),
        ("fedadam", "beta_1", 1.0, r"a number in \[0, 1\)"),
        ("fedyogi", "eta", 0.0, r"a number in \(0, inf\)"),
        ("fedadagrad", "tau", -1e-3, r"a number in \(0, inf\)"),
        ("fedavgm", "server_momentum", 1.0, r"a number in \[0, 1\)"),
        ("krum", "num_malicious_clients", 1.5, r"an integer in \[0, inf\)"),
        ("multikrum", "num_clients_to_keep", 0, r"an integer in \[1, inf\)"),
        ("fedadam", "eta", math.nan, r"a number in \(0, inf\)"),
        ("fedprox", "proximal_mu", True, r"a number in \[0, inf\)"),
        ("fedprox", "proximal_mu", "0.1", r"a number in \[0, inf\)"),
    ],
)
def test_out_of_range_options_name_the_allowed_range(
    name: str, option: str, value: object, allowed: str
) -> None:
    with pytest.raises(ConfigError, match=rf"option '{name}.{option}': expected {allowed}"):
        build_strategy(name, **{option: value})


def test_integer_options_accept_whole_floats_and_floats_accept_ints() -> None:
    # Execute
    multikrum = build_strategy("multikrum", num_clients_to_keep=3.0)
    fedadam = build_strategy("fedadam", eta=1)
    # Assert
    assert multikrum.get_options()["num_clients_to_keep"] == 3
    assert isinstance(multikrum.get_options()["num_clients_to_keep"], int)
    assert isinstance(fedadam.get_options()["eta"], float)


def test_unused_eta_l_logs_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        build_strategy("fedadam", eta_l=0.5)
    assert "eta_l" in caplog.text
