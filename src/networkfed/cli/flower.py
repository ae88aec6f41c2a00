"""``networkfed flower certs`` and ``networkfed flower up`` (journey J3, on one machine).

``certs`` makes what a plant network needs to run Flower securely: a CA, the SuperLink's TLS
certificate and one SuperNode authentication key pair per site. ``up`` runs a complete
deployment here — SuperLink, one SuperNode per site, ``flwr run`` — with TLS and SuperNode
authentication on, and stops every process afterwards. docs/user-guide/flower.md shows the same
commands across real machines.
"""

from __future__ import annotations

import signal
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.text import Text

from networkfed.cli.console import make_console
from networkfed.cli.data_options import SPLIT_HELP, RulCap, Task
from networkfed.cli.errors import handle_errors
from networkfed.cli.run_config import build_run_config, read_config_file, split_columns
from networkfed.cli.typer_app import App
from networkfed.core.errors import ConfigError, TrainingError
from networkfed.data.config import EXAMPLE_SITES

if TYPE_CHECKING:
    from networkfed.federated.config import RunConfig
    from networkfed.flower.secagg_settings import SecAggSettings

flower_app = App(
    help="Run NetworkFed on Flower: certificates and a local SuperLink/SuperNode deployment.",
    no_args_is_help=True,
)
console = make_console(stderr=True)
Opt = typer.Option


@flower_app.command("certs")
@handle_errors
def certs_command(
    out: Annotated[Path, Opt("--out", help="Folder for ca.crt, server.pem/.key and "
                             "supernode-keys/.")],
    host: Annotated[list[str] | None, Opt("--host", help="Name or IP address SuperNodes use "
                                          "to reach the SuperLink (repeatable).")] = None,
    site: Annotated[list[str] | None, Opt("--site", help="Site that gets an authentication "
                                          "key pair (repeatable).")] = None,
    days: Annotated[int, Opt(help="Validity of the certificates in days.")] = 365,
) -> None:
    """Make a CA, the SuperLink's TLS certificate and SuperNode key pairs."""
    from networkfed.flower.certs import DEFAULT_HOSTS, make_certificates

    made = make_certificates(out, hosts=host or DEFAULT_HOSTS, site_ids=site or EXAMPLE_SITES,
                             valid_days=days)
    console.print(f"CA:          {made.ca_cert}\nSuperLink:   {made.server_cert} "
                  f"(key {made.server_key})", highlight=False, soft_wrap=True)
    for name, (private, public) in made.node_keys.items():
        console.print(f"site {name}: {private} (register {public})", highlight=False,
                      soft_wrap=True)


@flower_app.command("up")
@handle_errors
def up_command(
    config_file: Annotated[Path | None, Opt("--config", help="networkfed TOML config "
                                            "(as for `networkfed simulate`).")] = None,
    site: Annotated[list[str] | None, Opt("--site", help="NAME=PATH: a site and its own data "
                                          "file, or folder for C-MAPSS (repeatable; synthetic "
                                          "data needs none).")] = None,
    rounds: Annotated[int | None, Opt(help="Federated rounds.")] = None,
    local_epochs: Annotated[int | None, Opt(help="Epochs per site per round (xgboost: "
                                        "boosting rounds).")] = None,
    model: Annotated[str | None, Opt(help="cnn, lstm, hybrid or xgboost.")] = None,
    strategy: Annotated[str | None, Opt(help="fedavg, fedprox, fedadam, ... (xgboost: "
                                      "xgb-bagging or xgb-cyclic).")] = None,
    min_fit_clients: Annotated[int | None, Opt(help="Fewest sites a round may aggregate.")] = None,
    fedbn: Annotated[bool | None, Opt("--fedbn/--no-fedbn", help="FedBN: each site keeps its "
                                      "own BatchNorm layers.")] = None,
    fedper: Annotated[bool | None, Opt("--fedper/--no-fedper", help="FedPer: each site keeps its "
                                       "own output layer.")] = None,
    dataset: Annotated[str | None, Opt(help="synthetic, ai4i2020, cmapss or csv.")] = None,
    rows_per_site: Annotated[int | None, Opt(help="Synthetic rows per site.")] = None,
    features: Annotated[str | None, Opt(help="Comma-separated subset of the source's "
                                        "features.")] = None,
    feature_bins: Annotated[int | None, Opt(help="Bin columns per feature, edges fitted from "
                                            "the sites' histograms (0 = off).")] = None,
    split: Annotated[str | None, Opt(help=SPLIT_HELP)] = None,
    task: Task = None,
    rul_cap: RulCap = None,
    seed: Annotated[int | None, Opt(help="Seed of everything random.")] = None,
    directory: Annotated[Path | None, Opt("--dir", help="Deployment folder: certificates, "
                                          "logs, pids.json [default: runs/flower-TIME].")] = None,
    run_dir: Annotated[Path | None, Opt(help="Run folder [default: DIR/run].")] = None,
    resume: Annotated[bool, Opt("--resume", help="Continue the run in --run-dir.")] = False,
    round_timeout: Annotated[float, Opt(help="Seconds a round waits for replies.")] = 600.0,
    secagg: Annotated[bool, Opt("--secagg", help="Secure aggregation (SecAgg+): the server "
                                "learns only the sum of the sites' updates.")] = False,
    secagg_shares: Annotated[int, Opt(help="SecAgg+: shares of each site's secrets "
                                      "(0 = every site).")] = 0,
    secagg_threshold: Annotated[int, Opt(help="SecAgg+: shares needed to rebuild a secret; "
                                         "sites may drop out down to it (0 = a majority)."
                                         )] = 0,
    quiet: Annotated[bool, Opt("--quiet", "-q", help="Do not echo the run's log.")] = False,
) -> None:
    """Run a secured Flower deployment here (TLS, SuperNode authentication): SuperLink, one
    SuperNode per site and `flwr run`; every process is stopped afterwards."""
    from networkfed.flower.deploy import DeployOptions, deploy_locally, node_configs
    from networkfed.flower.settings import refuse_baselines

    folder = directory or Path("runs") / f"flower-{datetime.now():%Y%m%d-%H%M%S}"
    base = read_config_file(config_file) if config_file is not None else {}
    flags = {"rounds": rounds, "local_epochs": local_epochs, "model": model,
             "strategy": strategy, "min_fit_clients": min_fit_clients, "seed": seed,
             "fedbn": fedbn, "fedper": fedper, "engine": "flower",
             "run_dir": run_dir or folder / "run"}
    data_flags = {"dataset": dataset, "rows_per_site": rows_per_site,
                  "features": split_columns(features), "feature_bins": feature_bins,
                  "split": split, "task": task, "rul_cap": rul_cap}
    config = build_run_config(base, flags, data_flags)
    refuse_baselines(config)  # before any process starts
    nodes = node_configs(config, _site_paths(site))
    secure = _secure_settings(config, len(nodes), secagg, secagg_shares, secagg_threshold)
    echo = None if quiet else (lambda line: console.print(Text.from_ansi(line)))
    signal.signal(signal.SIGTERM, _exit_on_sigterm)  # stop the daemons on `kill`, too
    outcome = deploy_locally(config, folder, nodes,
                             DeployOptions(round_timeout=round_timeout, resume=resume,
                                           secagg=secure), echo=echo)
    if not outcome.ok:
        raise TrainingError(f"the Flower run ended with status {outcome.status}; see "
                            f"{outcome.log_path} and the logs beside it")
    console.print(f"Run folder: {config.run_dir}\nReport:     {config.run_dir}/report.html\n"
                  f"Logs:       {folder / 'logs'}", highlight=False, soft_wrap=True)


def _secure_settings(
    config: RunConfig, num_sites: int, secagg: bool, shares: int, threshold: int
) -> SecAggSettings | None:
    """SecAgg+ settings, refused (exit 2) before anything is written if the run cannot use
    them; ``--secagg-*`` without ``--secagg`` is a mistake worth a message, too."""
    from networkfed.flower.secagg_settings import SecAggSettings, check_secure_config

    if not secagg:
        if shares or threshold:
            raise ConfigError("--secagg-shares/--secagg-threshold", shares or threshold,
                              "used together with --secagg")
        return None
    settings = SecAggSettings(shares, threshold)
    check_secure_config(config, settings, num_sites)
    return settings


def _exit_on_sigterm(signum: int, frame: object) -> None:
    """Leave through the normal exit path, so every Flower process is stopped by PID."""
    raise SystemExit(128 + signum)


def _site_paths(pairs: list[str] | None) -> dict[str, Path]:
    """``["plant_a=a.csv"]`` -> ``{"plant_a": Path("a.csv")}``."""
    paths: dict[str, Path] = {}
    for pair in pairs or []:
        name, sep, path = pair.partition("=")
        if not sep or not name.strip() or not path.strip():
            raise ConfigError("--site", pair, "NAME=PATH, e.g. plant_a=data/plant_a.csv")
        if not Path(path).exists():
            raise ConfigError("--site", pair, f"an existing data file ({path} does not exist)")
        paths[name.strip()] = Path(path.strip())
    return paths
