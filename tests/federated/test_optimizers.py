"""The local optimiser: the fused-kernel Adam computes what ``torch.optim`` computes, exactly."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
import torch

from networkfed.federated import optimizers
from networkfed.federated.optimizers import FusedAdam, make_optimizer

pytestmark = pytest.mark.skipif(
    not hasattr(torch, "_fused_adam_"), reason="this PyTorch build has no fused Adam kernel"
)


def _model(seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(
        torch.nn.Linear(6, 16), torch.nn.BatchNorm1d(16), torch.nn.ReLU(), torch.nn.Linear(16, 2)
    )


def _train(model: torch.nn.Module, optimizer, steps: int, *, freeze_first_after: int = -1) -> None:
    generator = torch.Generator().manual_seed(5)
    for step in range(steps):
        x = torch.randn(32, 6, generator=generator)
        y = torch.randint(0, 2, (32,), generator=generator)
        optimizer.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(model(x), y).backward()
        if step == freeze_first_after:  # a parameter without a gradient for the rest
            model[0].bias.requires_grad_(False)
        if not model[0].bias.requires_grad:
            model[0].bias.grad = None
        optimizer.step()


@pytest.mark.parametrize(("name", "reference_class"), [("Adam", torch.optim.Adam),
                                                       ("AdamW", torch.optim.AdamW)])
@pytest.mark.parametrize("weight_decay", [0.0, 1e-2])
def test_same_parameters_bit_for_bit_as_torch_optim(name, reference_class, weight_decay):
    ours, reference = _model(0), _model(0)
    optimizer = make_optimizer(name, list(ours.parameters()), lr=3e-3, weight_decay=weight_decay)
    assert isinstance(optimizer, FusedAdam)
    _train(ours, optimizer, 12, freeze_first_after=7)
    _train(reference, reference_class(reference.parameters(), lr=3e-3,
                                      weight_decay=weight_decay, fused=True),
           12, freeze_first_after=7)
    for (key, a), b in zip(ours.state_dict().items(), reference.state_dict().values(),
                           strict=True):
        assert torch.equal(a, b), key
    assert not torch.equal(ours[0].weight, _model(0)[0].weight)  # it did train


def test_adam_and_adamw_differ_with_weight_decay():
    adam, adamw = _model(1), _model(1)
    _train(adam, make_optimizer("Adam", list(adam.parameters()), lr=1e-2, weight_decay=0.1), 5)
    _train(adamw, make_optimizer("AdamW", list(adamw.parameters()), lr=1e-2, weight_decay=0.1), 5)
    assert not torch.equal(adam[0].weight, adamw[0].weight)


def test_sgd_and_missing_kernels_fall_back_to_torch_optim(monkeypatch):
    params = list(_model(0).parameters())
    assert isinstance(make_optimizer("SGD", params, lr=0.1, weight_decay=0.0), torch.optim.SGD)
    assert not optimizers.fused_adam_available([torch.zeros(2, dtype=torch.int64)])
    assert not optimizers.fused_adam_available([torch.zeros(2, device="meta")])
    monkeypatch.delattr(torch, "_fused_adamw_")
    assert not optimizers.fused_adam_available(params)
    assert isinstance(make_optimizer("AdamW", params, lr=0.1, weight_decay=0.0),
                      torch.optim.AdamW)
    assert isinstance(make_optimizer("Adam", params, lr=0.1, weight_decay=0.0),
                      torch.optim.Adam)


def test_zero_grad_keeps_or_drops_gradients():
    model = _model(0)
    optimizer = FusedAdam(model.parameters(), lr=1e-3)
    loss = torch.nn.functional.cross_entropy(model(torch.randn(4, 6)), torch.tensor([0, 1, 0, 1]))
    loss.backward()
    optimizer.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.any() for p in model.parameters())
    optimizer.zero_grad()
    assert all(p.grad is None for p in model.parameters())
    optimizer.step()  # nothing to update: no error, nothing changes
    assert torch.equal(model[0].weight, _model(0)[0].weight)


def test_local_training_does_not_import_torch_dynamo():
    """The point of the fused step: a process that trains sites never pays for torch._dynamo
    (about a second of start-up in every worker)."""
    script = textwrap.dedent("""
        import sys
        sys.path.insert(0, "tests")
        from engine_helpers import tiny_data
        from networkfed.federated.local_training import FitInstructions, ModelSpec, SiteTrainer
        from networkfed.models import training_config
        data = tiny_data()
        spec = ModelSpec("lstm", data.input_dim, 2, {"sequence_length": data.sequence_length})
        trainer = SiteTrainer(spec, training_config("lstm"))
        site = next(iter(data.sites.values()))
        trainer.fit(spec.build(seed=1).get_parameters(), site.train, "a",
                    FitInstructions(1, local_epochs=1, class_weights=(1.0, 1.0), seed=0))
        print("torch._dynamo" in sys.modules)
    """)
    output = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            check=True, timeout=120).stdout
    assert output.strip().splitlines()[-1] == "False"
