"""A real Flower deployment on 127.0.0.1: SuperLink and three SuperNodes as separate processes,
TLS and SuperNode authentication on, the package's Flower App run with ``flwr run``.

The network is started once for the module (processes are expensive) and stopped by PID in the
fixture's finalizer. The last test kills a SuperNode for good, so the tests run in file order.
"""

from __future__ import annotations

import json
import socket
import ssl
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from local_network import OPTIONS, SITES, local_network, run_on

from networkfed.data import DataConfig
from networkfed.federated.config import RunConfig
from networkfed.flower.federation import LocalFederation, RunOutcome
from networkfed.models import ModelManager

pytestmark = [pytest.mark.flower, pytest.mark.slow]


@pytest.fixture(scope="module")
def network(tmp_path_factory):
    yield from local_network(tmp_path_factory.mktemp("plants"), extra_keys=["intruder"])


def _config(run_dir: Path, **changes) -> RunConfig:
    settings = {"data": DataConfig(rows_per_site=1500), "rounds": 2, "local_epochs": 1,
                "seed": 42, "engine": "flower", "run_dir": run_dir}
    return RunConfig(**{**settings, **changes})


def _run(network: LocalFederation, config: RunConfig, *, resume: bool = False) -> RunOutcome:
    return run_on(network, config, resume=resume)


def _overall_f1(run_dir: Path) -> dict[int, float]:
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return {r["round"]: r["f1"] for r in rows
            if r["site"] == "overall" and r["split"] == "test" and r["mode"] == "federated"}


def _loadable_rounds(run_dir: Path) -> list[int]:
    manager = ModelManager(run_dir / "checkpoints")
    rounds = manager.list_rounds("global")
    for round_num in rounds:
        state, meta = manager.get_snapshot("global", round_num)
        assert state and "threshold" in meta["extra"]
    return rounds


def _kill_mid_run(network: LocalFederation, run_dir: Path, site: str, *, kill: bool,
                  run: Callable[[], RunOutcome]) -> RunOutcome:
    """Start ``run`` in a thread, stop ``site``'s SuperNode once round 0 is saved, wait."""
    outcome: list[RunOutcome] = []
    thread = threading.Thread(target=lambda: outcome.append(run()), daemon=True)
    thread.start()
    saved = run_dir / "checkpoints" / "global" / "round_0000.safetensors"
    deadline = time.monotonic() + OPTIONS.run_timeout
    while not saved.exists() and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert saved.exists(), "round 0 was never saved"
    network.stop_supernode(site, kill=kill)
    thread.join(OPTIONS.run_timeout)
    return outcome[0]


def test_deployment_with_tls_and_authentication_trains_and_writes_the_run_folder(
    network, tmp_path
):
    # Prepare: the SuperLink speaks TLS with the certificate our CA signed for 127.0.0.1
    context = ssl.create_default_context(cafile=str(network.certs.ca_cert))
    host, port = network.address.split(":")
    with socket.create_connection((host, int(port)), timeout=10) as raw, \
            context.wrap_socket(raw, server_hostname=host) as tls:
        assert tls.version() is not None
    # Execute
    outcome = _run(network, _config(tmp_path / "run"))
    # Assert
    assert outcome.ok, outcome.log_path.read_text()[-3000:]
    run_dir = tmp_path / "run"
    assert _loadable_rounds(run_dir) == [0, 1, 2]
    assert (run_dir / "report.html").is_file()
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "complete" and summary["rounds_completed"] == 2
    f1 = _overall_f1(run_dir)
    assert f1[2] > f1[0]


def test_a_supernode_whose_key_is_not_registered_is_refused(network):
    # Execute
    intruder = network.start_supernode("intruder", network.certs.node_keys["intruder"][0],
                                       {"site-id": "intruder"}, max_retries=0)
    try:
        code = intruder.wait(timeout=120)
    finally:
        network.stop_supernode("intruder")
    # Assert
    assert code != 0
    log = (network.logs / "supernode-intruder.log").read_text()
    assert "Failed to activate SuperNode" in log


def test_a_site_lost_with_min_fit_3_stops_cleanly_and_resume_continues(network, tmp_path):
    # Prepare
    run_dir, site = tmp_path / "run", SITES[1]
    config = _config(run_dir, min_fit_clients=3, rounds=1)
    # Execute: the plant shuts down once the run is under way
    failed = _kill_mid_run(network, run_dir, site, kill=False,
                           run=lambda: _run(network, config))
    # Assert: a clear stop, the saved round kept and loadable
    assert failed.status == "finished:failed"
    assert "fewer than min_fit_clients=3" in failed.log_path.read_text()
    assert json.loads((run_dir / "manifest.json").read_text())["status"] == "failed"
    assert _loadable_rounds(run_dir) == [0]
    # Execute: the plant is back; the run resumes from its last saved round
    network.start_supernode(site, network.certs.node_keys[site][0], {"site-id": site})
    resumed = _run(network, config, resume=True)
    # Assert
    assert resumed.ok, resumed.log_path.read_text()[-3000:]
    assert _loadable_rounds(run_dir) == [0, 1]
    assert json.loads((run_dir / "summary.json").read_text())["rounds_completed"] == 1


def test_a_crashed_site_with_min_fit_2_lets_the_others_finish(network, tmp_path):
    # Prepare
    run_dir, site = tmp_path / "run", SITES[2]
    config = _config(run_dir, min_fit_clients=2, rounds=1)
    # Execute: the plant crashes (SIGKILL of its SuperNode and helpers) during the run
    outcome = _kill_mid_run(network, run_dir, site, kill=True,
                            run=lambda: _run(network, config))
    # Assert
    assert outcome.ok, outcome.log_path.read_text()[-3000:]
    assert _loadable_rounds(run_dir) == [0, 1]
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    trained = {r["site"] for r in rows if r["round"] == 1 and r["split"] == "train"}
    assert trained == set(SITES) - {site}
