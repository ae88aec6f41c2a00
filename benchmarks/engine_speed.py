"""How fast the in-process engine trains, against a plain loop and against the hardware.

    .venv/bin/python benchmarks/engine_speed.py [--models cnn,lstm,hybrid] [--rounds 10]

Runs the default simulation (the three example sites on the built-in synthetic telemetry,
10 rounds x 3 local epochs, FedAvg, evaluation of the global model every round) three ways,
each part in a fresh child process so thread settings and warm-up cannot leak between them:

(a) ``engine``: ``networkfed.api.run_federated`` as shipped (no run folder: the files and the
    HTML report are timed separately as ``engine_with_run_folder``);
(b) ``reference``: the obvious loop — sites one after another, a ``DataLoader``, default torch
    threads, ``torch.optim.Adam`` defaults, FedAvg on state dicts, the same evaluation;
(c) ``limit``: model FLOPs per training example (forward + backward, counted by
    ``torch.utils.flop_counter``) x training examples per second of (a), divided by the
    GFLOP/s of a 2048 x 2048 float32 matmul with all cores, measured in the same run.

Each timer starts after the part's data are built and its libraries (torch, scikit-learn)
imported, as a script's loop starts after its imports; the import times are reported, with
``speedup_with_import_timed`` as if both had imported scikit-learn inside their timers.

Writes ``benchmarks/results/engine_speed.json``. LSTM and hybrid default to fewer rounds
(``--other-rounds``) to keep the benchmark short; the figures are per round, so comparable.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results" / "engine_speed.json"
SEED = 42
LOCAL_EPOCHS = 3


def main() -> None:
    args = _arguments()
    if args.part:
        print(json.dumps(_run_part(args.part, args.model, args.rounds)))
        return
    command = " ".join(["python benchmarks/engine_speed.py", *sys.argv[1:]])
    report: dict[str, Any] = {"command": command, "machine": _machine(), "models": {}}
    matmul = [_child("matmul", "cnn", 1)["gflops"]]
    for model in args.models.split(","):
        rounds = args.rounds if model == "cnn" else args.other_rounds
        report["models"][model] = _compare(model, rounds)
        matmul.append(_child("matmul", "cnn", 1)["gflops"])
    # The machine's capability is the best matmul seen: other load only ever lowers it.
    report["matmul_gflops"], report["matmul_gflops_measured"] = max(matmul), matmul
    for model, result in report["models"].items():
        _add_compute_fractions(result, max(matmul))
        print(json.dumps({model: result}, indent=2), flush=True)
    report["speedup_vs_reference"] = report["models"].get("cnn", {}).get("speedup_vs_reference")
    report["compute_fraction"] = report["models"].get("cnn", {}).get("compute_fraction")
    report["machine"]["load_average_after"] = list(os.getloadavg())
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.output}")


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="cnn,lstm,hybrid")
    parser.add_argument("--rounds", type=int, default=10, help="rounds for the CNN")
    parser.add_argument("--other-rounds", type=int, default=3, help="rounds for lstm/hybrid")
    parser.add_argument("--output", type=Path, default=RESULTS, help="results file")
    parser.add_argument("--part", help=argparse.SUPPRESS)
    parser.add_argument("--model", default="cnn", help=argparse.SUPPRESS)
    return parser.parse_args()


def _compare(model: str, rounds: int) -> dict[str, Any]:
    engine = _child("engine", model, rounds)
    reference = _child("reference", model, rounds)
    folder = _child("engine_with_run_folder", model, rounds)
    flops = _child("flops", model, rounds)["flops_per_example"]
    examples = engine["examples"]
    result = {
        "rounds": rounds,
        "local_epochs": LOCAL_EPOCHS,
        "training_examples": examples,
        "engine_seconds": engine["seconds"],
        "engine_workers": engine["workers"],
        "engine_with_run_folder_seconds": folder["seconds"],
        "reference_seconds": reference["seconds"],
        "speedup_vs_reference": round(reference["seconds"] / engine["seconds"], 2),
        "flops_per_training_example": flops,
        "engine_examples_per_second": round(examples / engine["seconds"], 1),
        "reference_examples_per_second": round(examples / reference["seconds"], 1),
    }
    result["final_pr_auc"] = {"engine": engine["pr_auc"], "reference": reference["pr_auc"]}
    # What the ratio would be with scikit-learn's import inside both timers, added to each
    # part's time: a lower bound for the engine, which scores round 0 while round 1 trains
    # and so hides part of the import.
    imports = {"engine": engine["import_seconds"], "reference": reference["import_seconds"]}
    result["scikit_learn_import_seconds"] = imports
    result["speedup_with_import_timed"] = round(
        (reference["seconds"] + imports["reference"]) / (engine["seconds"] + imports["engine"]), 2
    )
    return result


def _add_compute_fractions(result: dict[str, Any], matmul_gflops: float) -> None:
    """Achieved training GFLOP/s over the matmul GFLOP/s, for the engine and the reference."""
    for name in ("engine", "reference"):
        achieved = result["flops_per_training_example"] * result[f"{name}_examples_per_second"]
        fraction = round(achieved / 1e9 / matmul_gflops, 4)
        result["compute_fraction" if name == "engine" else "reference_compute_fraction"] = fraction


def _child(part: str, model: str, rounds: int) -> dict[str, Any]:
    """Run one part in a fresh interpreter and return what it printed (JSON)."""
    command = [sys.executable, __file__, "--part", part, "--model", model, "--rounds",
               str(rounds)]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def _run_part(part: str, model: str, rounds: int) -> dict[str, Any]:
    if part == "matmul":
        return {"gflops": _matmul_gflops()}
    # Every timed part starts where a script's loop starts: its libraries imported. Both the
    # engine's and the reference's evaluation use scikit-learn, whose first import (~0.6 s,
    # mostly SciPy) would otherwise land inside the timers, in the first round's scoring.
    started = time.perf_counter()
    import sklearn.metrics  # noqa: F401

    import_seconds = round(time.perf_counter() - started, 2)
    from networkfed.data import load_federated_data
    from networkfed.federated.config import RunConfig

    # The default run's data for this model: the CNN reads rows, the LSTM and hybrid windows.
    data = load_federated_data(RunConfig(model=model).data, SEED)
    if part == "flops":
        return {"flops_per_example": _flops_per_example(model, data)}
    if part == "reference":
        result = _reference(model, data, rounds)
    else:
        result = _engine(model, data, rounds, with_folder=part == "engine_with_run_folder")
    return {**result, "import_seconds": import_seconds}


def _engine(model: str, data: Any, rounds: int, *, with_folder: bool) -> dict[str, Any]:
    import tempfile

    from networkfed.api import run_federated
    from networkfed.federated.config import RunConfig
    from networkfed.federated.workers import auto_workers

    config = RunConfig(model=model, rounds=rounds, local_epochs=LOCAL_EPOCHS, seed=SEED)
    sizes = [len(site.train) for site in data.sites.values()]
    with tempfile.TemporaryDirectory() as folder:
        run_dir = Path(folder) / "run" if with_folder else None
        started = time.perf_counter()
        result = run_federated(config, data, run_dir=run_dir)
        seconds = time.perf_counter() - started
    return {"seconds": round(seconds, 2), "examples": sum(sizes) * LOCAL_EPOCHS * rounds,
            "workers": auto_workers(sizes, LOCAL_EPOCHS), "pr_auc": result.final["pr_auc"]}


def _reference(model: str, data: Any, rounds: int) -> dict[str, Any]:
    """The obvious federated loop, as a newcomer to PyTorch would write it."""
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    from networkfed.federated.metrics import choose_threshold, classification_metrics
    from networkfed.models import ModelFactory, training_config

    settings = training_config(model)
    global_model = ModelFactory.create_model(
        model, data.input_dim, 2, seed=SEED, sequence_length=data.sequence_length).model
    labels = torch.cat([site.train.y for site in data.sites.values()])
    counts = torch.bincount(labels, minlength=2).float()
    loss_fn = torch.nn.CrossEntropyLoss(weight=counts.sum() / (2 * counts))
    started = time.perf_counter()
    for round_num in range(1, rounds + 1):
        states, sizes = [], []
        lr = settings["learning_rate"] * settings["gamma"] ** ((round_num - 1) // 10)
        for site in data.sites.values():
            local = copy.deepcopy(global_model)
            local.train()
            optimizer = torch.optim.Adam(local.parameters(), lr=lr,
                                         weight_decay=settings["weight_decay"])
            loader = DataLoader(TensorDataset(site.train.x, site.train.y),
                                batch_size=settings["batch_size"], shuffle=True)
            for _ in range(LOCAL_EPOCHS):
                for x, y in loader:
                    optimizer.zero_grad()
                    loss = loss_fn(local(x), y)
                    loss.backward()
                    if settings.get("gradient_clipping"):
                        torch.nn.utils.clip_grad_norm_(local.parameters(),
                                                       settings["gradient_clipping"])
                    optimizer.step()
            states.append(local.state_dict())
            sizes.append(len(site.train))
        averaged = {}
        for key in states[0]:
            stacked = torch.stack([s[key].float() * n for s, n in zip(states, sizes, strict=True)])
            averaged[key] = (stacked.sum(0) / sum(sizes)).to(states[0][key].dtype)
        global_model.load_state_dict(averaged)
        pr_auc = _reference_evaluate(global_model, data, choose_threshold, classification_metrics)
    return {"seconds": round(time.perf_counter() - started, 2), "pr_auc": pr_auc}


def _reference_evaluate(model: Any, data: Any, choose: Any, metrics: Any) -> float:
    import torch

    model.eval()
    with torch.no_grad():
        val = [(s.val.y, torch.softmax(model(s.val.x), 1)[:, 1]) for s in data.sites.values()]
        test = [(s.test.y, torch.softmax(model(s.test.x), 1)[:, 1]) for s in data.sites.values()]
    threshold = choose(torch.cat([y for y, _ in val]), torch.cat([p for _, p in val]))
    for y, p in test:
        metrics(y, p, threshold)
    pooled = metrics(torch.cat([y for y, _ in test]), torch.cat([p for _, p in test]), threshold)
    return pooled["pr_auc"]


def _flops_per_example(model: str, data: Any) -> float:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from networkfed.models import ModelFactory, training_config

    batch = training_config(model)["batch_size"]
    wrapper = ModelFactory.create_model(model, data.input_dim, 2, seed=SEED,
                                        sequence_length=data.sequence_length)
    site = next(iter(data.sites.values()))
    x, y = site.train.x[:batch], site.train.y[:batch]
    recurrent: list[float] = []
    hooks = [m.register_forward_hook(lambda m, i, o: recurrent.append(_lstm_flops(m, i[0])))
             for m in wrapper.model.modules() if isinstance(m, torch.nn.LSTM)]
    with FlopCounterMode(display=False) as counter:
        torch.nn.functional.cross_entropy(wrapper.model(x), y).backward()
    for hook in hooks:
        hook.remove()
    return (counter.get_total_flops() + sum(recurrent)) / batch


def _lstm_flops(lstm: Any, x: Any) -> float:
    """Training FLOPs of an ``nn.LSTM`` call, which the FLOP counter does not see on CPU:
    4 gates x (input + hidden) x hidden multiply-adds per step and direction, x3 with the
    backward pass."""
    batch, steps = (x.shape[0], x.shape[1]) if lstm.batch_first else (x.shape[1], x.shape[0])
    directions = 2 if lstm.bidirectional else 1
    total, width = 0.0, lstm.input_size
    for _ in range(lstm.num_layers):
        total += 2 * 4 * lstm.hidden_size * (width + lstm.hidden_size) * steps * directions
        width = lstm.hidden_size * directions
    return 3 * total * batch


def _matmul_gflops() -> float:
    import torch

    a = torch.randn(2048, 2048)
    a @ a
    best = 0.0
    for _ in range(5):
        started = time.perf_counter()
        a @ a
        best = max(best, 2 * 2048**3 / (time.perf_counter() - started) / 1e9)
    return round(best, 1)


def _machine() -> dict[str, Any]:
    import torch

    return {"platform": platform.platform(), "cpus": os.cpu_count(),
            "torch": torch.__version__, "torch_threads_default": torch.get_num_threads(),
            "load_average_before": list(os.getloadavg())}


if __name__ == "__main__":
    main()
