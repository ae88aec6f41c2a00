"""Each aggregation rule against results computed by hand on 2-element tensors."""

from __future__ import annotations

import logging

import pytest
import torch
from flwr.server.strategy.aggregate import aggregate_krum

from networkfed.core.errors import TrainingError
from networkfed.federated.packing import flat_view, pack_state
from networkfed.federated.strategies import arrays, build_strategy
from networkfed.federated.strategies.krum import krum_aggregate
from networkfed.federated.types import SiteUpdate

COUNTER = "bn.num_batches_tracked"


def site(site_id: str, w: list[float], n: int = 1, count: int = 10) -> SiteUpdate:
    state = {"w": torch.tensor(w, dtype=torch.float32), COUNTER: torch.tensor(count)}
    return SiteUpdate(site_id=site_id, state=state, num_examples=n, metrics={})


GLOBAL = site("server", [0.0, 0.0]).state


def aggregate(name: str, updates: list[SiteUpdate], **options: float) -> dict[str, torch.Tensor]:
    return build_strategy(name, **options).aggregate_fit(1, GLOBAL, updates)


@pytest.mark.parametrize("name", ["fedavg", "fedprox"])
def test_fedavg_and_fedprox_weight_by_examples(name: str) -> None:
    # Prepare: (1*[1, 2] + 3*[3, 6]) / 4 = [2.5, 5.0]; counters (1*10 + 3*13) / 4 = 12.25 -> 12
    updates = [site("a", [1.0, 2.0], n=1, count=10), site("b", [3.0, 6.0], n=3, count=13)]
    # Execute
    result = aggregate(name, updates)
    # Assert
    assert torch.equal(result["w"], torch.tensor([2.5, 5.0]))
    assert result["w"].dtype == torch.float32
    assert result[COUNTER].dtype == torch.int64
    assert result[COUNTER].item() == 12


def test_integer_buffer_rounds_to_nearest() -> None:
    # Prepare: (1*10 + 3*14) / 4 = 13.0 ; (3*10 + 1*13) / 4 = 10.75 -> 11
    updates = [site("a", [0.0, 0.0], n=3, count=10), site("b", [0.0, 0.0], n=1, count=13)]
    # Execute
    result = aggregate("fedavg", updates)
    # Assert
    assert result[COUNTER].item() == 11
    assert result[COUNTER].dtype == torch.int64


def test_fedavg_is_independent_of_reply_order() -> None:
    # Prepare: float64 so the summation order shows: (0.1 + 0.2) + 0.3 != (0.3 + 0.2) + 0.1
    def float64_site(site_id: str, value: float) -> SiteUpdate:
        return SiteUpdate(site_id, {"w": torch.tensor([value], dtype=torch.float64)}, 1)

    updates = [float64_site("c", 0.3), float64_site("b", 0.2), float64_site("a", 0.1)]
    global_state = {"w": torch.zeros(1, dtype=torch.float64)}
    # Execute
    result = build_strategy("fedavg").aggregate_fit(1, global_state, updates)
    # Assert: the sum runs in site_id order a, b, c
    assert result["w"].item() == ((0.1 + 0.2) + 0.3) / 3
    assert result["w"].dtype == torch.float64


def test_fedprox_sends_proximal_mu() -> None:
    # Execute
    config = build_strategy("fedprox", proximal_mu=0.25).configure_fit(3)
    # Assert
    assert config == {"proximal_mu": 0.25}
    assert build_strategy("fedavg").configure_fit(3) == {}


def test_fedmedian_takes_coordinate_median_ignoring_weights() -> None:
    # Prepare: coordinate 0 sorted 1, 2, 3, 10 -> 2.5 ; coordinate 1 sorted 0, 1, 3, 4 -> 2.0
    updates = [
        site("a", [1.0, 4.0], n=100, count=10),
        site("b", [2.0, 3.0], count=12),
        site("c", [10.0, 0.0], count=14),
        site("d", [3.0, 1.0], count=20),
    ]
    # Execute
    result = aggregate("fedmedian", updates)
    # Assert: counters 10, 12, 14, 20 -> median 13
    assert torch.equal(result["w"], torch.tensor([2.5, 2.0]))
    assert result[COUNTER].item() == 13 and result[COUNTER].dtype == torch.int64


def test_fedtrimmedavg_cuts_extremes() -> None:
    # Prepare: beta 0.25 of 4 sites cuts 1 per end: mean(2, 3) = 2.5 ; mean(0, 4) = 2.0
    updates = [
        site("a", [1.0, -50.0]),
        site("b", [2.0, 0.0]),
        site("c", [3.0, 4.0]),
        site("d", [100.0, 8.0]),
    ]
    # Execute
    result = aggregate("fedtrimmedavg", updates, beta=0.25)
    # Assert
    assert torch.equal(result["w"], torch.tensor([2.5, 2.0]))


def test_fedtrimmedavg_with_nothing_to_cut_is_the_plain_mean() -> None:
    # Prepare: beta 0.2 of 3 sites cuts int(0.6) = 0 values: mean(1, 2, 6) = 3 ; mean(0, 0, 3) = 1
    updates = [site("a", [1.0, 0.0]), site("b", [2.0, 0.0]), site("c", [6.0, 3.0])]
    # Execute
    result = aggregate("fedtrimmedavg", updates)
    # Assert
    assert torch.equal(result["w"], torch.tensor([3.0, 1.0]))


# Krum points. Squared distances: ab 1, ac 2.25, ad 200, bc 3.25, bd 181, cd 172.25.
# With f = 0 each site sums its n - f - 2 = 2 nearest: a 3.25, b 4.25, c 5.5, d 353.25.
KRUM_SITES = [
    site("d", [10.0, 10.0], n=5, count=99),  # the outlier, listed first on purpose
    site("a", [0.0, 0.0], n=1, count=10),
    site("b", [1.0, 0.0], n=3, count=14),
    site("c", [0.0, 1.5], n=2, count=12),
]


def test_krum_keeps_the_most_central_site() -> None:
    # Execute
    result = aggregate("krum", KRUM_SITES)
    # Assert: site a, unchanged, buffer included
    assert torch.equal(result["w"], torch.tensor([0.0, 0.0]))
    assert result[COUNTER].item() == 10


def test_krum_with_one_malicious_client_still_rejects_the_outlier() -> None:
    # Prepare: f = 1 -> 1 nearest neighbour: a 1, b 1, c 2.25, d 172.25; the tie goes to a
    # Execute
    result = aggregate("krum", KRUM_SITES, num_malicious_clients=1)
    # Assert
    assert torch.equal(result["w"], torch.tensor([0.0, 0.0]))


def test_krum_distances_ignore_integer_buffers() -> None:
    # Prepare: site a is central but its step counter is far from the others'
    sites = [site("a", [0.0, 0.0], count=1000), *KRUM_SITES[2:], KRUM_SITES[0]]
    # Execute
    result = aggregate("krum", sites)
    # Assert
    assert torch.equal(result["w"], torch.tensor([0.0, 0.0]))
    assert result[COUNTER].item() == 1000


@pytest.mark.parametrize(("keep", "malicious"), [(1, 0), (1, 1), (2, 0), (3, 1)])
def test_krum_matches_flowers_aggregate_krum_on_float_states(keep: int, malicious: int) -> None:
    # Prepare: float-only states, where Flower's formula and ours must agree
    generator = torch.Generator().manual_seed(7)
    updates = [
        SiteUpdate(f"s{i}", {"w": torch.randn(3, generator=generator)}, num_examples=i + 1)
        for i in range(6)
    ]
    results = [([u.state["w"].double().numpy()], u.num_examples) for u in updates]
    # Execute
    ours = krum_aggregate(updates, malicious, keep)["w"]
    flowers = aggregate_krum(results, malicious, 0 if keep == 1 else keep)[0]
    # Assert
    assert torch.allclose(ours, torch.from_numpy(flowers).float(), atol=1e-6)


def test_multikrum_averages_the_best_sites_by_examples() -> None:
    # Prepare: the two best are a (n=1) and b (n=3): (1*[0, 0] + 3*[1, 0]) / 4 = [0.75, 0]
    # Execute
    result = aggregate("multikrum", KRUM_SITES, num_clients_to_keep=2)
    # Assert: counters (1*10 + 3*14) / 4 = 13
    assert torch.equal(result["w"], torch.tensor([0.75, 0.0]))
    assert result[COUNTER].item() == 13


def test_multikrum_keeps_all_when_fewer_sites_reply(caplog: pytest.LogCaptureFixture) -> None:
    # Prepare
    updates = [site("a", [1.0, 2.0], n=1), site("b", [3.0, 6.0], n=3)]
    # Execute
    with caplog.at_level(logging.WARNING):
        result = aggregate("multikrum", updates, num_clients_to_keep=3)
    # Assert: equals FedAvg's [2.5, 5.0]
    assert torch.equal(result["w"], torch.tensor([2.5, 5.0]))
    assert "keeping all" in caplog.text


def test_no_updates_is_a_training_error() -> None:
    with pytest.raises(TrainingError, match="round 4: no site updates"):
        build_strategy("fedavg").aggregate_fit(4, GLOBAL, [])


def test_missing_key_names_the_site() -> None:
    # Prepare
    broken = SiteUpdate("b", {"w": torch.zeros(2)}, 1)
    # Execute / Assert
    with pytest.raises(TrainingError, match=f"site 'b'.*{COUNTER}"):
        aggregate("fedavg", [site("a", [1.0, 2.0]), broken])


def test_inputs_are_not_modified() -> None:
    # Prepare
    updates = [site("a", [1.0, 2.0], n=1), site("b", [3.0, 6.0], n=3)]
    before = [u.state["w"].clone() for u in updates]
    # Execute
    result = aggregate("krum", updates)
    result["w"].add_(1.0)
    # Assert
    assert all(torch.equal(u.state["w"], b) for u, b in zip(updates, before, strict=True))


@pytest.mark.parametrize("name", ["fedavg", "fedmedian", "fedtrimmedavg"])
def test_aggregating_in_slices_equals_one_whole_model_call(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Prepare: 50 sites; once in slices of 7 coordinates, once with every tensor whole
    generator = torch.Generator().manual_seed(0)
    updates = [
        SiteUpdate(f"s{i}", {"w": torch.randn(30, 7, generator=generator),
                             "steps": torch.tensor(i, dtype=torch.int64)},
                   num_examples=i + 3, metrics={})
        for i in range(50)
    ]
    whole = aggregate(name, updates)
    monkeypatch.setattr(arrays, "SLICE_BYTES", 8 * 50 * 7)
    # Execute
    sliced = aggregate(name, updates)
    # Assert: bit for bit, dtypes kept
    assert all(torch.equal(sliced[key], whole[key]) for key in whole)
    assert sliced["steps"].dtype == torch.int64


@pytest.mark.parametrize("name", ["fedavg", "fedmedian", "fedtrimmedavg", "krum", "multikrum"])
def test_packed_updates_aggregate_to_the_same_numbers(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Prepare: the same 20 updates as separate tensors and packed (one buffer per dtype),
    # sliced so that slices straddle tensors of the packed buffer
    generator = torch.Generator().manual_seed(1)
    states = [
        {"a.weight": torch.randn(4, 3, generator=generator), "a.steps": torch.tensor(i),
         "b.bias": torch.randn(5, generator=generator), "b.steps": torch.tensor(2 * i)}
        for i in range(20)
    ]
    separate = [SiteUpdate(f"s{i}", s, i + 1, {}) for i, s in enumerate(states)]
    packed = [SiteUpdate(f"s{i}", pack_state(s), i + 1, {}) for i, s in enumerate(states)]
    monkeypatch.setattr(arrays, "SLICE_BYTES", 8 * 20 * 5)
    # Execute
    expected = aggregate(name, separate)
    result = aggregate(name, packed)
    # Assert: bit for bit, keys in order, dtypes kept
    assert list(result) == list(expected)
    assert all(torch.equal(result[key], expected[key]) for key in expected)
    assert flat_view(packed[0].state, ["a.weight", "b.bias"]) is not None
