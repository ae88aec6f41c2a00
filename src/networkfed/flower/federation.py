"""A whole Flower federation on one machine: SuperLink, SuperNodes and ``flwr run`` as processes.

:class:`LocalFederation` drives Flower's own command-line programs exactly as plants would run
them (TLS on, SuperNode authentication on), only with every address on this machine:

1. ``flower-superlink`` with the CA, server certificate and ``--enable-supernode-auth``;
2. ``flwr supernode register <site>.pub`` for each site's public key (Flower 1.42 registers
   keys through the SuperLink's Control API; unregistered keys are refused);
3. one ``flower-supernode`` per site with its own Runtime API ``--port``, its private key, the
   CA as ``--root-certificates`` and a ``--node-config`` naming only that site's data;
4. ``flwr run . <connection>`` from the app folder, with the connection written to
   ``$FLWR_HOME/config.toml`` (Flower 1.42 keeps connections there, not in pyproject.toml).

Every PID, children included, is written to ``pids.json``; :meth:`LocalFederation.stop` (also
run on leaving the ``with`` block) stops them all by PID. Should this process die without
running it (``kill -9``), a guard process (:class:`~networkfed.core.lifetime.GroupReaper`)
stops every process group started here within a few seconds.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import tomli_w

from networkfed.core.errors import NetworkFedError, TrainingError
from networkfed.core.lifetime import GroupReaper
from networkfed.flower.certs import CertificateSet
from networkfed.flower.flwr_run import (
    NodeConfigValue,
    RunOutcome,
    follow_run,
    free_port,
    node_config_string,
)
from networkfed.flower.processes import (
    descendants,
    is_flower_process,
    start_process,
    stop_tree,
)

logger = logging.getLogger(__name__)

__all__ = [
    "CONNECTION",
    "FLOWER_ENV",
    "LocalFederation",
    "NodeConfigValue",
    "RunOutcome",
    "free_port",
    "node_config_string",
]

CONNECTION = "networkfed-local"
FLOWER_ENV = {
    "FLWR_TELEMETRY_ENABLED": "0",
    "FLWR_DISABLE_UPDATE_CHECK": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}


class LocalFederation:
    """SuperLink and SuperNodes as child processes of this one; a context manager.

    Parameters
    ----------
    directory
        Holds ``flwr-home/`` (Flower's config and installed app bundles), ``logs/`` and
        ``pids.json``.
    certs
        From :func:`networkfed.flower.certs.make_certificates` for ``host``.
    host
        Where the SuperLink listens and SuperNodes dial (``127.0.0.1`` for one machine).
    """

    def __init__(self, directory: str | Path, certs: CertificateSet, host: str = "127.0.0.1"):
        self.directory = Path(directory).resolve()
        self.certs, self.host = certs, host
        self.flwr_home = self.directory / "flwr-home"
        self.logs = self.directory / "logs"
        self.port: int | None = None
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self._pids: dict[int, dict[str, Any]] = {}
        self._bin = Path(sys.executable).parent
        self._reaper: GroupReaper | None = None

    # --- environment ------------------------------------------------------------------------
    @property
    def env(self) -> dict[str, str]:
        """Our environment plus Flower's quiet switches, one torch thread and our own FLWR_HOME.

        The interpreter's folder goes first on PATH: the SuperLink and SuperNodes start
        ``flower-superexec`` by name, which must be this environment's.
        """
        env = {**os.environ, **FLOWER_ENV, "FLWR_HOME": str(self.flwr_home)}
        env["PATH"] = f"{self._bin}{os.pathsep}{env.get('PATH', '')}"
        return env

    def _exe(self, name: str) -> str:
        candidate = self._bin / name
        return str(candidate) if candidate.exists() else name

    @property
    def address(self) -> str:
        if self.port is None:
            raise NetworkFedError("the SuperLink has not been started")
        return f"{self.host}:{self.port}"

    # --- SuperLink ----------------------------------------------------------------------------
    def start_superlink(self, port: int | None = None, *, timeout: float = 60.0) -> None:
        """Start ``flower-superlink`` with TLS and SuperNode authentication and wait for it."""
        self.port = port or free_port(self.host)
        command = [
            self._exe("flower-superlink"),
            "--ssl-ca-certfile", str(self.certs.ca_cert),
            "--ssl-certfile", str(self.certs.server_cert),
            "--ssl-keyfile", str(self.certs.server_key),
            "--enable-supernode-auth",
            "--disable-runtime-dependency-installation",
            "--host", self.host,
            "--port", str(self.port),
        ]
        self._start("superlink", command)
        self._write_connection()
        self._wait_for_port(timeout)

    def _write_connection(self) -> None:
        """Write ``$FLWR_HOME/config.toml`` naming this SuperLink as the default connection."""
        self.flwr_home.mkdir(parents=True, exist_ok=True)
        connection = {"address": self.address, "root-certificates": str(self.certs.ca_cert)}
        text = tomli_w.dumps({"superlink": {"default": CONNECTION, CONNECTION: connection}})
        tmp = self.flwr_home / ".config.toml.tmp"
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, self.flwr_home / "config.toml")

    def _wait_for_port(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_alive("superlink")
            try:
                with socket.create_connection((self.host, int(self.port or 0)), timeout=1):
                    return
            except OSError:
                time.sleep(0.2)
        raise TrainingError(
            f"the SuperLink did not listen on {self.address} within {timeout:.0f} s"
        )

    # --- SuperNodes -----------------------------------------------------------------------------
    def register_supernode(self, public_key: Path) -> None:
        """Register a site's public key with the SuperLink (``flwr supernode register``)."""
        self._flwr(["supernode", "register", str(public_key), CONNECTION], timeout=60)

    def start_supernode(
        self,
        name: str,
        private_key: Path,
        node_config: Mapping[str, NodeConfigValue],
        *,
        max_retries: int | None = None,
    ) -> subprocess.Popen[bytes]:
        """Start one ``flower-supernode`` for site ``name`` with its own Runtime API port."""
        command = [
            self._exe("flower-supernode"),
            "--superlink", self.address,
            "--root-certificates", str(self.certs.ca_cert),
            "--auth-supernode-private-key", str(private_key),
            "--host", self.host,
            "--port", str(free_port(self.host)),
            "--node-config", node_config_string(node_config),
        ]
        if max_retries is not None:
            command += ["--max-retries", str(max_retries)]
        return self._start(f"supernode-{name}", command)

    def stop_supernode(self, name: str, *, kill: bool = False) -> None:
        """Stop one SuperNode and its helpers; ``kill`` (SIGKILL) mimics a plant losing power."""
        process = self.processes.pop(f"supernode-{name}")
        stop_tree(process.pid, timeout=0 if kill else 5.0, sig=9 if kill else 15)
        process.wait()
        if self._reaper is not None:
            self._reaper.release(process.pid)  # its own session: group id = pid
        self._record_pids()

    # --- runs -------------------------------------------------------------------------------
    def run_app(
        self,
        app_dir: Path,
        run_config: Mapping[str, NodeConfigValue],
        *,
        timeout: float = 3600.0,
        echo: Callable[[str], None] | None = None,
    ) -> RunOutcome:
        """``flwr run . <connection> --run-config FILE --stream`` in ``app_dir``; wait for the end.

        Log lines go to ``logs/run.log`` (and to ``echo``). A run still going after ``timeout``
        seconds is stopped with ``flwr stop`` and reported with status ``timeout``.
        """
        overrides = self.directory / "run-config.toml"
        overrides.write_text(tomli_w.dumps(dict(run_config)), encoding="utf-8")
        log_path = self.logs / "run.log"
        command = [self._exe("flwr"), "run", ".", CONNECTION, "--run-config", str(overrides),
                   "--stream"]
        run_id, finished = self._follow(command, app_dir, log_path, timeout, echo)
        if run_id is None:
            return RunOutcome(None, "not-started", log_path)
        if not finished:
            self._flwr(["stop", str(run_id), CONNECTION], timeout=60, check=False)
            return RunOutcome(run_id, "timeout", log_path)
        return RunOutcome(run_id, self.run_status(run_id), log_path)

    def _follow(
        self,
        command: list[str],
        cwd: Path,
        log_path: Path,
        timeout: float,
        echo: Callable[[str], None] | None,
    ) -> tuple[int | None, bool]:
        """Run ``command``, copying its output to ``log_path``; return (run id, finished)."""
        with subprocess.Popen(
            command, cwd=cwd, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, text=True, start_new_session=True,
        ) as process:
            self.processes["flwr-run"] = process  # type: ignore[assignment]
            self._guard(process.pid)
            try:  # Flower starts a flwr-clientapp per message: keep pids.json up to date
                return follow_run(process, log_path, timeout, echo, tick=self._record_pids)
            finally:
                self.processes.pop("flwr-run", None)

    def run_status(self, run_id: int) -> str:
        """Flower's status of a run, e.g. ``finished:completed`` or ``finished:failed``."""
        out = self._flwr(["list", CONNECTION, "--run-id", str(run_id), "--format", "json"],
                         timeout=60)
        payload = json.loads(out[out.index("{"):])
        runs = payload.get("runs") or [{}]
        return str(runs[0].get("status", "unknown"))

    # --- processes ------------------------------------------------------------------------------
    def _start(self, name: str, command: list[str]) -> subprocess.Popen[bytes]:
        process = start_process(command, log_path=self.logs / f"{name}.log", env=self.env,
                                cwd=self.directory)
        self.processes[name] = process
        self._guard(process.pid)
        self._record_pids()
        return process

    def _guard(self, pid: int) -> None:
        """Have the guard process stop ``pid``'s process group should this process be killed
        (each program here starts in its own session, so its group holds its helpers)."""
        if self._reaper is None:
            self._reaper = GroupReaper()
        try:
            self._reaper.guard(os.getpgid(pid))
        except ProcessLookupError:  # already gone: nothing to guard
            return

    def _check_alive(self, name: str) -> None:
        process = self.processes[name]
        if process.poll() is not None:
            raise TrainingError(
                f"{name} exited with code {process.returncode}; see {self.logs / name}.log"
            )

    def _flwr(self, args: list[str], *, timeout: float, check: bool = True) -> str:
        """Run one ``flwr`` CLI command with our FLWR_HOME; return its output."""
        done = subprocess.run(
            [self._exe("flwr"), *args], env=self.env, cwd=self.directory, capture_output=True,
            text=True, timeout=timeout, stdin=subprocess.DEVNULL,
        )
        if check and done.returncode != 0:
            raise TrainingError(
                f"`flwr {' '.join(args[:2])}` failed with code {done.returncode}: "
                f"{(done.stderr or done.stdout).strip()[-500:]}"
            )
        return done.stdout

    def _record_pids(self) -> None:
        """Write every PID started here, with every child Flower started, to ``pids.json``.

        Entries are kept after their process ends (``running: false``), so the file lists all
        that ever ran; children are added as they appear (one ``flwr-clientapp`` per message).
        """
        for name, process in list(self.processes.items()):  # other threads may add/remove
            entry = self._pids.setdefault(process.pid, {"name": name, "pid": process.pid,
                                                        "children": []})
            entry["running"] = process.poll() is None
            if entry["running"]:
                children = set(descendants(process.pid))
                for child in children - set(entry["children"]):
                    self._guard(child)  # a helper in a session of its own (flower-superexec)
                entry["children"] = sorted(set(entry["children"]) | children)
        current = {process.pid for process in list(self.processes.values())}
        for pid, entry in self._pids.items():
            entry["running"] = entry["running"] and pid in current
        self.directory.mkdir(parents=True, exist_ok=True)
        tmp = self.directory / ".pids.json.tmp"
        tmp.write_text(json.dumps(list(self._pids.values()), indent=2), encoding="utf-8")
        os.replace(tmp, self.directory / "pids.json")

    def stop(self) -> None:
        """Stop every process started here and its descendants: SuperNodes first.

        Recorded children that outlived their parent (a SuperNode that exited on its own
        leaves its ``flower-superexec``) are stopped too, by their recorded PID.
        """
        self._record_pids()
        for name in sorted(self.processes, key=lambda n: n == "superlink"):
            process = self.processes[name]
            stopped = stop_tree(process.pid)
            process.wait()
            logger.info("stopped %s (pids %s)", name, stopped)
        self.processes.clear()
        for entry in self._pids.values():
            for child in entry["children"]:
                if is_flower_process(child):
                    stop_tree(child)
        self._record_pids()
        if self._reaper is not None:  # everything is stopped: the guard leaves without a word
            self._reaper.close()
            self._reaper = None

    def __enter__(self) -> LocalFederation:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
