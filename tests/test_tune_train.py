"""Training arithmetic on a tiny randomly initialised llama (transformers + peft, no weights file):
the loss read at the target positions only is transformers' own loss, and a batch cut into passes
takes the same step as the batch in one pass."""

from __future__ import annotations

import random

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
peft = pytest.importorskip("peft")

from smolopt.tune import train  # noqa: E402

PAD = 0
pytestmark = pytest.mark.usefixtures("starts_models")  # it trains (a tiny model, but torch and peft all the same)


def tiny_lora_model():
    torch.manual_seed(0)
    config = transformers.LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128)
    model = transformers.LlamaForCausalLM(config)
    lora = peft.LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, target_modules=list(train.LINEAR), bias="none", init_lora_weights=False)
    return peft.get_peft_model(model, lora)


def rows(count: int, seed: int = 1) -> list[tuple[list[int], list[int]]]:
    """Prompts of mixed lengths, each followed by a one- to three-token target."""
    rng = random.Random(seed)
    made = []
    for _ in range(count):
        prompt = [rng.randrange(1, 64) for _ in range(rng.randrange(5, 40))]
        target = [rng.randrange(1, 64) for _ in range(rng.randrange(1, 4))]
        made.append((prompt + target, [train.IGNORE] * len(prompt) + target))
    return made


def test_the_loss_at_target_positions_is_transformers_own_loss():
    model = tiny_lora_model()
    ids, labels, mask = train._tensors(rows(6), PAD)
    logprobs, targets, counts = train._target_logprobs(model, ids, labels, mask)
    ours = -logprobs.gather(-1, targets.unsqueeze(-1)).mean()
    theirs = model(input_ids=ids, attention_mask=mask, labels=labels).loss
    assert sum(counts) == len(targets) == int((labels != train.IGNORE).sum())
    assert float(ours.detach()) == pytest.approx(float(theirs.detach()), abs=1e-5)


class GradientsAtStep:
    """An optimizer that only records the gradients it was asked to step with."""

    def __init__(self, model):
        self.model, self.grads = model, {}

    def step(self):
        self.grads = {name: p.grad.clone() for name, p in self.model.named_parameters() if p.requires_grad}

    def zero_grad(self):
        self.model.zero_grad()


def test_a_batch_in_several_passes_takes_the_step_of_one_pass(monkeypatch):
    batch = rows(8)
    steps = []
    for budget in (10_000, 60):  # the whole batch in one pass; then passes of one or two rows
        monkeypatch.setattr(train, "PASS_TOKENS", budget)
        model = tiny_lora_model()
        recorder = GradientsAtStep(model)
        steps.append((train._step(model, batch, PAD, recorder), recorder.grads, len(train._passes(batch))))
    (one_loss, one, one_passes), (cut_loss, cut, cut_passes) = steps
    assert (one_passes, cut_passes > 3) == (1, True)
    assert cut_loss == pytest.approx(one_loss, rel=1e-5)
    assert one and one.keys() == cut.keys()
    for name in one:
        assert torch.allclose(one[name], cut[name], atol=1e-6), name


def test_passes_keep_rows_in_order_within_the_token_budget(monkeypatch):
    monkeypatch.setattr(train, "PASS_TOKENS", 100)
    batch = rows(20, seed=3)
    passes = train._passes(batch)
    assert [row for chunk in passes for row in chunk] == batch
    for chunk in passes:
        assert len(chunk) == 1 or len(chunk) * max(len(ids) for ids, _ in chunk) <= 100
