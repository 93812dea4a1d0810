"""A vLLM user tunes the Hugging Face folder their server loads: `hf = "FOLDER"` on the entry.

The folder is made here from the embedded GGUF (transformers dequantizes it and saves it with its
tokenizer). The entry points at a vLLM address nothing listens on: training needs no server. The
round trip that matters is the one vLLM makes: peft loading the adapter folder onto the base must
give the trained model's next-token log-probabilities, and not the base's.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest

from cli_runner import ROOT, run_smolopt, small_task

pytest.importorskip("peft", reason="the tune extra (scripts/setup.sh installs it)")

from smolopt.backends.embedded import free_port  # noqa: E402
from smolopt.backends.weights import resolve_gguf  # noqa: E402
from smolopt.errors import SmoloptError  # noqa: E402
from smolopt.registry import load_registry  # noqa: E402
from smolopt.runs import Run  # noqa: E402
from smolopt.tasks import load_task  # noqa: E402

PROMPTS = 4  # test examples whose next-token log-probabilities are compared


@pytest.fixture(scope="module")
def hf_model(tmp_path_factory, starts_models) -> Path:
    """SmolLM2-135M-Instruct as a Hugging Face folder: the embedded GGUF's weights and tokenizer."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = resolve_gguf(load_registry(ROOT / "models.toml").get("smollm2-135m"))
    folder = tmp_path_factory.mktemp("hf") / "SmolLM2-135M-Instruct"
    loaded = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    # transformers will not save a model it loaded from GGUF (it counts as quantized); a fresh one with its weights saves.
    model = AutoModelForCausalLM.from_config(loaded.config, dtype=torch.float32)
    model.load_state_dict(loaded.state_dict())
    model.save_pretrained(folder)
    AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name).save_pretrained(folder)
    return folder


def registry_with(folder: Path, hf: Path | str) -> Path:
    """models.toml with one vLLM entry serving `hf`, at an address nothing listens on."""
    path = folder / "models.toml"
    path.write_text(f'[models.smol-hf]\nprovider = "vllm"\nbase_url = "http://127.0.0.1:{free_port()}/v1"\n'
                    f'model = "smollm2-135m-instruct"\nhf = "{hf}"\n')
    return path


@pytest.fixture(scope="module")
def hf_tune(hf_model, tmp_path_factory):
    """`smolopt tune` of a 16-example sentiment task for one epoch on the hf entry: the run folder,
    the LoRA weights it chose, and what it trained for."""
    import torch

    from smolopt.tune.session import in_best_format
    from smolopt.tune.train import Settings

    tmp = tmp_path_factory.mktemp("hf-tune")
    registry = registry_with(tmp, hf_model)
    folder = small_task("sentiment", tmp / "small_sentiment", per_split=16)
    done = run_smolopt(tmp, "--registry", str(registry), "tune", str(folder), "--model", "smol-hf", "--epochs", "1", "--quiet", timeout=600)
    assert done.returncode == 0, done.stderr
    saved = next(line for line in done.stdout.splitlines() if line.startswith("run saved to "))  # then how to use it
    run = tmp / saved.removeprefix("run saved to ").split(" (")[0]
    task = load_task(str(folder))
    lora = torch.load(run / "tune" / "best.pt", weights_only=False)["lora"]
    return Run(run), lora, run / "adapter", Settings(epochs=1), task, in_best_format(task.program())


def test_an_hf_tune_says_where_its_test_numbers_come_from(hf_tune):
    """No vLLM here, and smolopt starts none: no arms on test, and the report says how to get them."""
    run = hf_tune[0]
    results = json.loads((run.path / "results.json").read_text())
    assert results["arms"] == [] and [e["epoch"] for e in results["epochs"]] == [1]
    report = (run.path / "report.md").read_text()
    assert "were not measured on test" in report and str(run.path / "serve.sh") in report
    assert json.loads((run.path / "program.json").read_text())["smolopt"]["adapter"] == "adapter"


def test_an_hf_tune_leaves_a_peft_folder_and_the_vllm_line_that_serves_it(hf_tune, hf_model):
    from smolopt.program_io import saved_adapter

    run, lora, adapter, settings, task, program = hf_tune
    assert adapter == run.path / "adapter"
    assert {p.name for p in adapter.iterdir()} == {"adapter_config.json", "adapter_model.safetensors"}
    assert not (run.path / "adapter.gguf").exists() and not (run.path / "Modelfile").exists()
    config = json.loads((adapter / "adapter_config.json").read_text())
    assert (config["r"], config["lora_alpha"]) == (settings.rank, settings.alpha)
    assert config["base_model_name_or_path"] == str(hf_model.resolve())
    script = (run.path / "serve.sh").read_text().splitlines()
    assert f"BASE={shlex.quote(str(hf_model.resolve()))}" in script  # the base, outside the run folder: the one line to edit if it moves
    assert shlex.split(script[-1])[:9] == ["vllm", "serve", "$BASE", "--served-model-name", "smollm2-135m-instruct",
                                           "--enable-lora", "--lora-modules", f"{run.path.name}=$HERE/adapter", "--max-lora-rank"]
    assert saved_adapter(run.path) == adapter.resolve()


def next_token_logprobs(model, tokenizer, prompts: list[str]):
    import torch

    with torch.no_grad():
        return torch.stack([torch.log_softmax(model(input_ids=torch.tensor([tokenizer(p).input_ids])).logits[0, -1], dim=-1)
                            for p in prompts])


def test_peft_loads_the_folder_as_the_trained_model(hf_tune, hf_model):
    """The trained model is the base with the tune's LoRA weights put on in memory; the folder, loaded
    by peft as vLLM loads it, must give the same next-token log-probabilities on held prompts."""
    import torch
    from peft import LoraConfig, PeftModel, get_peft_model, set_peft_model_state_dict
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from smolopt.adapters.completion import completion_prompt

    run, lora, adapter, settings, task, program = hf_tune
    tokenizer = AutoTokenizer.from_pretrained(str(hf_model))
    signature = program.signature
    prompts = [completion_prompt(signature, [], {"text": e.text}) for e in task.split("test")[:PROMPTS]]

    def fresh():
        return AutoModelForCausalLM.from_pretrained(str(hf_model), dtype=torch.float32).eval()

    ours = get_peft_model(fresh(), LoraConfig(r=settings.rank, lora_alpha=settings.alpha, target_modules=list(settings.modules)))
    set_peft_model_state_dict(ours, lora)
    reloaded = PeftModel.from_pretrained(fresh(), str(adapter)).eval()
    expected, found = next_token_logprobs(ours.eval(), tokenizer, prompts), next_token_logprobs(reloaded, tokenizer, prompts)
    with reloaded.disable_adapter():
        base = next_token_logprobs(reloaded, tokenizer, prompts)
    assert (found - expected).abs().max() < 1e-4, (found - expected).abs().max()
    assert (found - base).abs().max() > 1e-2, "the adapter changed nothing: a folder of zeros would pass the check above"


def test_the_folders_tokenizer_gives_the_ids_llama_cpp_gives_the_same_model(hf_model):
    """The GGUF and the folder hold one model: its completion and chat prompts and label
    continuations must tokenize the same through the folder's tokenizer (what vLLM uses) and through
    llama.cpp's (what the GGUF path trains on), or the hf side takes its loss on other tokens."""
    from llama_cpp import Llama
    from transformers import AutoTokenizer

    from smolopt.adapters import RawTextAdapter
    from smolopt.adapters.completion import completion_prompt
    from smolopt.tune.base import LlamaTokens, _chat_renderer
    from smolopt.tune.hf import HfTokens

    gguf = resolve_gguf(load_registry(ROOT / "models.toml").get("smollm2-135m"))
    vocab = Llama(model_path=str(gguf), vocab_only=True, verbose=False)
    llama, hf = LlamaTokens(vocab, _chat_renderer(vocab)), HfTokens(AutoTokenizer.from_pretrained(str(hf_model)))
    task = load_task("sentiment")
    signature = task.program().signature
    for example in task.split("val")[:3]:
        inputs = {"text": example.text}
        completion = completion_prompt(signature, [], inputs)
        assert hf.prompt_ids(completion) == llama.prompt_ids(completion)
        messages = RawTextAdapter().format(signature, [], inputs)
        assert hf.chat(messages) == llama.chat(messages)
        assert hf.prompt_ids(hf.chat(messages)) == llama.prompt_ids(llama.chat(messages))
    for label in task.labels:
        assert hf.continuation_ids(" " + label) == llama.continuation_ids(" " + label)


def test_an_hf_folder_that_is_not_one_is_one_line_naming_the_registry_entry(tmp_path):
    from smolopt.tune.session import tunable

    (tmp_path / "empty").mkdir()
    for hf, why in ((tmp_path / "missing", "is not a folder"), (tmp_path / "empty", "has no config.json")):
        path = registry_with(tmp_path, hf)
        with pytest.raises(SmoloptError) as caught:
            tunable(load_registry(path).get("smol-hf"))
        message = str(caught.value)
        assert "\n" not in message and f"{path}: [models.smol-hf] key 'hf': {hf} {why}" in message, message
    done = run_smolopt(tmp_path, "--registry", str(path), "tune", "sentiment", "--model", "smol-hf", timeout=120)
    assert done.returncode == 2 and done.stderr.strip().splitlines() == [f"smolopt: error: {message}"], done.stderr
    assert not list((tmp_path / "runs").glob("*")), "a refused tune left a run folder behind"


@pytest.mark.parametrize("entry, needle", [
    ('provider = "vllm"\nbase_url = "http://h/v1"\ngguf = "m.gguf"\nhf = "m"\n', "keys 'gguf' and 'hf' both name weights"),
    ('provider = "embedded"\nhf = "m"\n', "key 'hf' names a Hugging Face folder"),
])
def test_an_entry_names_one_kind_of_weights_its_server_can_load(tmp_path, entry, needle):
    path = tmp_path / "models.toml"
    path.write_text(f"[models.x]\n{entry}")
    with pytest.raises(SmoloptError) as caught:
        load_registry(path)
    assert str(caught.value).startswith(f"{path}: [models.x] {needle}"), caught.value
