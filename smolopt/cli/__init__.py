"""The `smolopt` command: parse arguments, call the library, hand results to the report layer.

One module per command (`smolopt/cli/<command>.py`, each with `add_parser` and its `cmd_*`); none
imports another, and none holds logic the library owns. Every SmoloptError becomes one line on
stderr and exit status 2; Ctrl-C exits 130 after the run directory has everything finished so far,
and a stop signal (SIGTERM from `kill`, SIGHUP from a closed terminal) does the same and exits
128 + its number: the run keeps its work, says how to continue, and stops its model servers.
Nothing heavy is imported until a command runs: `smolopt --help` does not pay for dspy.

With --mlflow URI (or $SMOLOPT_MLFLOW), a command that wrote a run folder (it sets `args.run_dir`)
and succeeded is logged to MLflow from that folder (smolopt.mlflow_log); a failure to log is one
line on stderr and the command still exits 0: its work is saved.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import warnings
from pathlib import Path

from smolopt.cli import eval as eval_command
from smolopt.cli import models, new, optimize, probe, serve, tasks, teach, tune, view
from smolopt.cli.console import console, err_console
from smolopt.errors import SmoloptError, found_in

COMMANDS = (models, tasks, new, serve, eval_command, optimize, probe, teach, tune, view)

STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)
_stopped_by: list[signal.Signals] = []


def _stop_like_ctrl_c(signum: int, _frame) -> None:
    """A stop signal becomes a KeyboardInterrupt where the command is; later ones are ignored
    while the run saves its work and stops its servers."""
    for stop in STOP_SIGNALS:
        signal.signal(stop, signal.SIG_IGN)
    _stopped_by.append(signal.Signals(signum))
    raise KeyboardInterrupt


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="smolopt", description="Prompt optimization for tiny local language models.")
    parser.add_argument("--registry", type=Path, default=None, help="a models.toml read over the shipped registry (default: ./models.toml if there is one, or $SMOLOPT_MODELS)")
    # A URI, not an optional value: `smolopt --mlflow optimize sentiment` would take "optimize" for it.
    parser.add_argument("--mlflow", metavar="URI", default=os.environ.get("SMOLOPT_MLFLOW") or None,
                        help="log each finished run to this MLflow tracking URI, e.g. file:./mlruns or http://host:5000 (default: $SMOLOPT_MLFLOW; needs smolopt[mlflow])")
    parser.set_defaults(run_dir=None)  # a command that writes a run folder sets it
    sub = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", category=UserWarning)
    warnings.filterwarnings("ignore", category=FutureWarning)  # transformers and peft announce renames on every tune
    import dspy  # noqa: F401  (dspy sets up its loggers on import; quiet them afterwards)

    logging.getLogger("dspy").setLevel(logging.ERROR)  # truncation notices: smolopt's tables report these
    parser = build_parser()
    args = parser.parse_args(argv)
    for stop in STOP_SIGNALS:
        signal.signal(stop, _stop_like_ctrl_c)
    try:
        if args.mlflow:
            from smolopt.mlflow_log import require_mlflow

            require_mlflow()
        code = args.func(args)
        if code == 0 and args.mlflow and args.run_dir is not None:
            log_to_mlflow(args.run_dir, args.mlflow)
        return code
    except Exception as err:  # noqa: BLE001 - a SmoloptError may arrive wrapped by DSPy or GEPA
        cause = found_in(err, SmoloptError)
        if cause is None:
            raise
        err_console.print(f"smolopt: error: {cause}", markup=False, highlight=False, soft_wrap=True)
        return 2
    except KeyboardInterrupt as err:
        detail = f": {err}" if str(err) else "; finished work is saved in the run directory"
        how = f"stopped by {_stopped_by[0].name}" if _stopped_by else "interrupted"
        err_console.print(f"smolopt: {how}{detail}", markup=False, highlight=False, soft_wrap=True)
        return 128 + (_stopped_by[0] if _stopped_by else signal.SIGINT)


def log_to_mlflow(run_dir: Path, uri: str) -> None:
    """The run folder as an MLflow run; any failure to log is one line, and the run stays a success."""
    from smolopt.mlflow_log import log_run

    try:
        run_id = log_run(run_dir, uri)
    except Exception as err:  # noqa: BLE001 - a store or server failing in any way: everything is in the run folder
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        err_console.print(f"smolopt: could not log to MLflow ({uri}): {reason}; the run is saved in {run_dir}",
                          markup=False, highlight=False, soft_wrap=True)
        return
    console.print(f"logged to MLflow: {uri} run {run_id}", markup=False, highlight=False, soft_wrap=True)


if __name__ == "__main__":
    sys.exit(main())
