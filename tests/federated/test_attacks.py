"""Each attack's arithmetic on hand-made updates, the attacker choice and the settings."""

from __future__ import annotations

import math
from statistics import NormalDist

import pytest
import torch

from networkfed.core.errors import ConfigError
from networkfed.federated.attacks import (
    Adversary,
    alie_z,
    attack_updates,
    check_attack_options,
    choose_attackers,
)
from networkfed.federated.config import RunConfig
from networkfed.federated.types import SiteUpdate

VAR, COUNT = "bn.running_var", "bn.num_batches_tracked"
GLOBAL = {"w": torch.tensor([1.0, 1.0]), VAR: torch.tensor([1.0]), COUNT: torch.tensor(4)}


def site(site_id: str, w: list[float], n: int = 10) -> SiteUpdate:
    state = {"w": torch.tensor(w), VAR: torch.tensor([2.0]), COUNT: torch.tensor(9)}
    return SiteUpdate(site_id, state, n, {"train_loss": 0.5})


# Deltas from the global [1, 1]: a [1, 0], b [3, 2], c [-1, 2] (honest); x [2, -1] (hostile).
UPDATES = [site("a", [2.0, 1.0]), site("b", [4.0, 3.0]), site("x", [3.0, 0.0]),
           site("c", [0.0, 3.0])]


def attacked(attack: str, **options: float) -> dict[str, SiteUpdate]:
    result = attack_updates(attack, options, GLOBAL, UPDATES, ["x"], seed=5, round_num=2)
    assert [u.site_id for u in result] == ["a", "b", "x", "c"]  # order kept
    return {u.site_id: u for u in result}


def weights(update: SiteUpdate) -> list[float]:
    return update.state["w"].tolist()


@pytest.mark.parametrize(("attack", "options", "expected"), [
    ("sign-flip", {}, [-1.0, 2.0]),                  # 1 - [2, -1]
    ("scaling", {"scale": 3.0}, [7.0, -2.0]),        # 1 + 3 * [2, -1]
    ("scaling", {}, [9.0, -3.0]),                    # scale 0 = n = 4 updates: 1 + 4 * [2, -1]
    ("ipm", {"epsilon": 0.5}, [0.5, 1 / 3]),          # honest mean [1, 4/3]: 1 - 0.5 * mean
    ("alie", {"z": 1.0}, [1 + 1 + math.sqrt(8 / 3), 1 + 4 / 3 + math.sqrt(8 / 9)]),
    ("stale", {}, [1.0, 1.0]),                       # the global model it received
])
def test_attack_arithmetic(attack: str, options: dict, expected: list[float]) -> None:
    # Execute
    result = attacked(attack, **options)
    # Assert: the attacker's weights as computed by hand; honest sites, buffers, counts kept
    assert weights(result["x"]) == pytest.approx(expected, abs=1e-6)
    for honest in ("a", "b", "c"):
        assert result[honest] is UPDATES[["a", "b", "x", "c"].index(honest)]
    assert result["x"].state[VAR].item() == 2.0 and result["x"].state[COUNT].item() == 9
    assert result["x"].num_examples == 10 and result["x"].state["w"].dtype == torch.float32
    assert UPDATES[2].state["w"].tolist() == [3.0, 0.0]  # the input is not modified


def test_alie_uses_baruchs_z_by_default() -> None:
    # Prepare: n = 4, f = 1: s = 4 // 2 + 1 - 1 = 2, z = inv_cdf((4 - 1 - 2) / 3)
    z = NormalDist().inv_cdf(1 / 3)
    # Execute
    result = attacked("alie")
    # Assert: honest per-coordinate SDs (population) sqrt(8/3) and sqrt(8/9)
    expected = [2.0 + z * math.sqrt(8 / 3), 1 + 4 / 3 + z * math.sqrt(8 / 9)]
    assert weights(result["x"]) == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize(("n", "f", "probability"), [(10, 1, 4 / 9), (10, 2, 0.5), (10, 3, 4 / 7),
                                                      (2, 1, 1e-3)])
def test_alie_z_follows_the_formula(n: int, f: int, probability: float) -> None:
    assert alie_z(n, f) == pytest.approx(NormalDist().inv_cdf(probability))


def test_gaussian_adds_seeded_noise_of_the_given_sd() -> None:
    # Prepare: many coordinates so the sample SD is close to the requested one
    big_global = {"w": torch.zeros(20_000)}
    honest = SiteUpdate("x", {"w": torch.full((20_000,), 0.5)}, 1)

    def run(seed: int) -> torch.Tensor:
        out = attack_updates("gaussian", {"sd": 2.0}, big_global, [honest], ["x"], seed=seed,
                             round_num=1)
        return out[0].state["w"]

    # Execute
    first, again, other = run(1), run(1), run(2)
    # Assert: delta 0.5 plus N(0, 4); same seed same noise, another seed other noise
    assert float((first - 0.5).mean()) == pytest.approx(0.0, abs=0.05)
    assert float((first - 0.5).std()) == pytest.approx(2.0, rel=0.03)
    assert torch.equal(first, again) and not torch.equal(first, other)


def test_nan_makes_every_weight_non_finite() -> None:
    result = attacked("nan")
    assert torch.isnan(result["x"].state["w"]).all()


def test_label_flip_sends_updates_as_trained() -> None:
    assert attack_updates("label-flip", {}, GLOBAL, UPDATES, ["x"], seed=0,
                          round_num=1) == UPDATES


def test_colluding_attackers_send_the_same_vector() -> None:
    # Prepare: a and x attack; honest mean of b, c deltas [3, 2], [-1, 2] = [1, 2]
    result = attack_updates("ipm", {"epsilon": 1.0}, GLOBAL, UPDATES, ["a", "x"], seed=0,
                            round_num=1)
    # Assert: 1 - [1, 2] for both attackers
    assert weights(result[0]) == weights(result[2]) == [0.0, -1.0]


def test_attackers_are_seeded_and_never_all_sites() -> None:
    sites = [f"site_{i}" for i in range(10)]
    chosen = choose_attackers(sites, 3, seed=7)
    assert chosen == choose_attackers(list(reversed(sites)), 3, seed=7)  # order-free
    assert len(set(chosen)) == 3 and set(chosen) <= set(sites)
    assert chosen != choose_attackers(sites, 3, seed=8) or chosen != choose_attackers(
        sites, 3, seed=9)
    with pytest.raises(ConfigError, match=r"attackers.*at least one must be honest"):
        choose_attackers(sites, 10, seed=7)


def test_adversary_flips_labels_only_for_its_attackers() -> None:
    adversary = Adversary.for_run("label-flip", 1, {}, ["a", "b", "c"], seed=0)
    assert adversary is not None
    assert [adversary.flips_labels(s) for s in "abc"].count(True) == 1
    assert Adversary.for_run(None, 0, {}, ["a", "b"], seed=0) is None


@pytest.mark.parametrize(("settings", "message"), [
    ({"attack": "sign-flip"}, "attack and attackers go together"),
    ({"attackers": 2}, "attack and attackers go together"),
    ({"attack": "gaussian", "attackers": 1, "attack_options": {"scale": 2}},
     r"an option of attack 'gaussian' \(sd\)"),
    ({"attack": "gaussian", "attackers": 1, "attack_options": {"sd": -1}}, r"\(0, inf\)"),
    ({"attack": "typo", "attackers": 1}, "sign-flip"),
])
def test_bad_attack_settings_are_refused(settings: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RunConfig(**settings)


def test_options_are_checked_per_attack() -> None:
    assert check_attack_options("scaling", {"scale": 5}) == {"scale": 5.0}
    assert RunConfig(attack="nan", attackers=1).attack_options == {}
