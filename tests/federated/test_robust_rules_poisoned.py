"""Each robust rule on a poisoned set of updates, against a hand computation, and the rules'
preconditions (Krum n > 2f + 2, Bulyan n >= 4f + 3) refused before and during a run."""

from __future__ import annotations

import pytest
import torch

from engine_helpers import tiny_config, tiny_data
from networkfed.api import run_federated
from networkfed.core.errors import ConfigError, TrainingError
from networkfed.federated.strategies import build_strategy
from networkfed.federated.types import SiteUpdate

COUNTER = "bn.num_batches_tracked"


def site(site_id: str, w: list[float], n: int = 1, count: int = 10) -> SiteUpdate:
    state = {"w": torch.tensor(w), COUNTER: torch.tensor(count)}
    return SiteUpdate(site_id, state, n)


# Four honest sites and one hostile one. Squared distances between the honest ones:
# ab 2, ac 8, ad 0.5, bc 2, bd 0.5, cd 4.5; e is far from all.
POISONED = [site("a", [1.0, 0.0]), site("b", [2.0, 1.0], n=2), site("c", [3.0, 2.0]),
            site("d", [1.5, 0.5]), site("e", [100.0, -100.0], count=99)]
GLOBAL = {"w": torch.zeros(2), COUNTER: torch.tensor(0)}


def aggregate(name: str, updates: list[SiteUpdate], **options: float) -> list[float]:
    return build_strategy(name, **options).aggregate_fit(1, GLOBAL, updates)["w"].tolist()


def test_median_ignores_the_poisoned_site() -> None:
    # sorted coordinates: [1, 1.5, 2, 3, 100] -> 2; [-100, 0, 0.5, 1, 2] -> 0.5
    assert aggregate("fedmedian", POISONED) == [2.0, 0.5]


def test_trimmed_mean_cuts_it() -> None:
    # beta 0.2 of 5 cuts 1 per end: mean(1.5, 2, 3) = 6.5 / 3; mean(0, 0.5, 1) = 0.5
    assert aggregate("fedtrimmedavg", POISONED, beta=0.2) == pytest.approx([6.5 / 3, 0.5])


def test_krum_picks_the_most_central_honest_site() -> None:
    # f = 1: n - f - 2 = 2 nearest: a 0.5 + 2 = 2.5, b 2.5, c 6.5, d 0.5 + 0.5 = 1, e huge
    assert aggregate("krum", POISONED, num_malicious_clients=1) == [1.5, 0.5]


def test_multikrum_averages_the_three_best_by_examples() -> None:
    # d, a, b: (1 * [1.5, 0.5] + 1 * [1, 0] + 2 * [2, 1]) / 4
    result = aggregate("multikrum", POISONED, num_malicious_clients=1, num_clients_to_keep=3)
    assert result == [1.625, 0.625]


def test_fedavg_is_dragged_away() -> None:
    # (1 + 4 + 3 + 1.5 + 100) / 6 ; (0 + 2 + 2 + 0.5 - 100) / 6
    assert aggregate("fedavg", POISONED) == pytest.approx([109.5 / 6, -95.5 / 6])


def test_bulyan_selects_by_krum_then_trims_around_the_median() -> None:
    # Prepare: honest 1..6, hostile 100; f = 1 so theta = 7 - 2 = 5 Krum picks, beta = 3.
    # Picks (ties to the first site): 3 (score 10), 4 (9), 2 (10), 5 (1), 1 (25); 100 never.
    # Median of {1..5} is 3; its 3 closest values 2, 3, 4 average to 3. Counters: FedAvg of
    # all sites (6 * 10 + 99) / 7 = 22.7 -> 23.
    updates = [site(f"s{v}", [float(v)]) for v in range(1, 7)]
    updates.append(site("z", [100.0], count=99))
    # Execute
    result = build_strategy("bulyan", num_malicious_clients=1).aggregate_fit(
        1, {"w": torch.zeros(1), COUNTER: torch.tensor(0)}, updates)
    # Assert
    assert result["w"].tolist() == [3.0] and result["w"].dtype == torch.float32
    assert result[COUNTER].item() == 23 and result[COUNTER].dtype == torch.int64


def test_bulyan_with_a_second_hostile_site_still_excludes_both() -> None:
    # f = 1 still: 9 sites >= 7. Honest 1..7, hostile 100 and -100: theta 7, beta 5;
    # Krum never picks the two far ones while 7 honest remain, median 4, closest 2..6 -> 4.
    updates = [site(f"s{v}", [float(v)]) for v in range(1, 8)]
    updates += [site("y", [-100.0]), site("z", [100.0])]
    result = build_strategy("bulyan", num_malicious_clients=1).aggregate_fit(1, GLOBAL, updates)
    assert result["w"].tolist() == [4.0]


@pytest.mark.parametrize(("name", "f", "enough", "too_few"), [
    ("krum", 1, 5, 4), ("multikrum", 2, 7, 6), ("bulyan", 1, 7, 6), ("bulyan", 0, 3, 2),
])
def test_preconditions(name: str, f: int, enough: int, too_few: int) -> None:
    strategy = build_strategy(name, num_malicious_clients=f)
    assert strategy.precondition(enough) is None
    assert "site updates a round" in strategy.precondition(too_few)


def test_bulyan_refuses_a_round_with_too_few_updates() -> None:
    with pytest.raises(TrainingError, match=r"round 1: bulyan .* 4f \+ 3 = 7 .* got 5"):
        build_strategy("bulyan", num_malicious_clients=1).aggregate_fit(1, GLOBAL, POISONED)


def test_krum_warns_but_aggregates_when_dropouts_break_its_bound(caplog) -> None:
    # 4 honest sites, f = 1: 1 nearest: a 0.5, b 0.5, c 2, d 0.5; the tie goes to a
    result = aggregate("krum", POISONED[:4], num_malicious_clients=1)
    assert result == [1.0, 0.0] and "without that guarantee" in caplog.text


@pytest.mark.parametrize(("strategy", "options", "expected"), [
    ("krum", {"num_malicious_clients": 1}, r"more than 2f \+ 2 = 4 site updates a round, got 3"),
    ("bulyan", {"num_malicious_clients": 1}, r"4f \+ 3 = 7 site updates a round, got 3"),
])
def test_a_run_whose_rule_cannot_hold_is_refused_before_training(
    strategy: str, options: dict, expected: str
) -> None:
    config = tiny_config(strategy=strategy, strategy_options=options)
    with pytest.raises(ConfigError, match=expected) as caught:
        run_federated(config, tiny_data())
    assert caught.value.exit_code == 2
