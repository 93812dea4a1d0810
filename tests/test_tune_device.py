"""A user with a GPU tunes on it (`smolopt tune --device auto|cpu|cuda|mps`); one without is told so.

This machine and CI have no GPU, so the choice is tested as a pure function of what torch sees, and
the CLI only where it refuses: a device torch does not see is one line, before anything loads
and before a run folder exists. tests/test_tune_story.py checks that a tune records the CPU it ran on.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pytest

from cli_runner import run_smolopt
from smolopt.cli import build_parser
from smolopt.errors import SmoloptError
from smolopt.tune.command import resume_tune
from smolopt.tune.device import resolve_device, torch_device
from smolopt.tune.train import Settings

# (asked, torch sees CUDA, torch sees MPS) -> the device a tune trains on; every combination
CHOSEN = {
    ("auto", False, False): "cpu", ("auto", True, False): "cuda", ("auto", False, True): "mps", ("auto", True, True): "cuda",
    ("cpu", False, False): "cpu", ("cpu", True, False): "cpu", ("cpu", False, True): "cpu", ("cpu", True, True): "cpu",
    ("cuda", True, False): "cuda", ("cuda", True, True): "cuda",
    ("mps", False, True): "mps", ("mps", True, True): "mps",
}
# A named device torch does not see, and what the refusal says torch sees instead
REFUSED = {
    ("cuda", False, False): "no CUDA device here, only cpu; use --device auto or cpu",
    ("cuda", False, True): "no CUDA device here, only mps and cpu; use --device auto or mps or cpu",
    ("mps", False, False): "no Apple MPS device here, only cpu; use --device auto or cpu",
    ("mps", True, False): "no Apple MPS device here, only cuda and cpu; use --device auto or cuda or cpu",
}


@pytest.mark.parametrize(("asked", "cuda", "mps"), sorted(CHOSEN))
def test_auto_takes_cuda_then_mps_then_the_cpu_and_a_named_device_is_kept(asked, cuda, mps):
    assert resolve_device(asked, cuda=cuda, mps=mps) == CHOSEN[asked, cuda, mps]


@pytest.mark.parametrize(("asked", "cuda", "mps"), sorted(REFUSED))
def test_a_named_device_torch_does_not_see_is_refused_never_swapped(asked, cuda, mps):
    with pytest.raises(SmoloptError) as refused:
        resolve_device(asked, cuda=cuda, mps=mps)
    assert str(refused.value) == f"--device {asked}: torch sees {REFUSED[asked, cuda, mps]}"


def test_an_unknown_device_is_refused_with_the_known_ones():
    with pytest.raises(SmoloptError, match=r"^--device tpu: not a device \(choose auto, cpu, cuda, mps\)$"):
        resolve_device("tpu", cuda=True, mps=True)


@pytest.fixture
def gpu_less():
    """These stories need a machine where torch sees neither CUDA nor MPS (this one, CI)."""
    if torch_device("auto") != "cpu":
        pytest.skip("torch sees a GPU here")


def test_a_tune_on_a_missing_gpu_is_one_line_and_leaves_no_run(gpu_less, tmp_path):
    done = run_smolopt(tmp_path, "tune", "sentiment", "--device", "cuda")
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == ["smolopt: error: --device cuda: torch sees no CUDA device here, only cpu; "
                                                "use --device auto or cpu"]
    assert not (tmp_path / "runs").exists()


def interrupted_tune(folder: Path, device: str) -> Path:
    """A tune's run folder as `smolopt tune sentiment --device DEVICE` leaves it when killed before training."""
    folder.mkdir()
    config = {"command": "tune", "task": "sentiment", "model": {"entry": "smollm2-135m"}, "program": None, "format": None,
              "settings": asdict(Settings(device=device)), "merge": False}
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def test_a_resume_asks_for_the_recorded_device_unless_device_is_given(gpu_less, tmp_path):
    run = interrupted_tune(tmp_path / "run", "cuda")
    with pytest.raises(SmoloptError, match=r"^--device cuda: torch sees no CUDA device"):
        resume_tune(run)
    with pytest.raises(SmoloptError, match=r"^--device mps: torch sees no Apple MPS device"):
        resume_tune(run, device="mps")
    args = build_parser().parse_args(["tune", "--resume", str(run), "--device", "mps", "--quiet"])
    with pytest.raises(SmoloptError, match=r"^--device mps: "):  # not "drop --device": the CLI hands it to the resume
        args.func(args)
