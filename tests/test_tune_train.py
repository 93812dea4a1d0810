"""Training arithmetic on a tiny randomly initialised llama (transformers + peft, no weights file):
the loss read at the target positions only is transformers' own loss, a batch cut into passes
takes the same step as the batch in one pass, and rows sharing a prompt prefix take the same step
and get the same val scores with the prefix run once (llama, and gemma3 with its sliding window)."""

from __future__ import annotations

import random

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
peft = pytest.importorskip("peft")

from smolopt.tune import prefix, train  # noqa: E402

PAD = 0
pytestmark = pytest.mark.usefixtures("starts_models")  # it trains (a tiny model, but torch and peft all the same)


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny models run on one thread: with two, each small product waits on the other thread, and
    on a busy 2-core machine a step of these rows took 30 to 50 times as long (gemma3: 6-8 s against 0.2 s)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def tiny_lora_model(architecture: str = "llama"):
    torch.manual_seed(0)
    if architecture == "gemma3":  # sliding-window layers (a window shorter than the shared prefix) between full ones
        config = transformers.Gemma3TextConfig(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=4,
                                               num_attention_heads=4, num_key_value_heads=2, head_dim=8, sliding_window=16,
                                               layer_types=["sliding_attention", "full_attention"] * 2, max_position_embeddings=128)
        model = transformers.Gemma3ForCausalLM(config)
    else:
        config = transformers.LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                          num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128)
        model = transformers.LlamaForCausalLM(config)
    lora = peft.LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, target_modules=list(train.LINEAR), bias="none", init_lora_weights=False)
    return peft.get_peft_model(model, lora)


def rows(count: int, seed: int = 1, shared: list[int] | None = None) -> list[tuple[list[int], list[int]]]:
    """Prompts of mixed lengths (after the tokens `shared`, when given), each followed by a one- to three-token target."""
    rng = random.Random(seed)
    made = []
    for _ in range(count):
        prompt = (shared or []) + [rng.randrange(1, 64) for _ in range(rng.randrange(5, 40))]
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
    passes = train._passes(batch, shared_budget=10_000)  # no two rows share a prefix: today's passes
    assert [index for piece in passes for index in piece.rows] == list(range(20))
    for piece in passes:
        assert piece.shared == 0
        assert len(piece.rows) == 1 or len(piece.rows) * max(len(batch[index][0]) for index in piece.rows) <= 100


DEMOS = random.Random(7).choices(range(1, 64), k=70)  # an instruction and demos every in-prompt row repeats


def in_prompt_batch() -> list[tuple[list[int], list[int]]]:
    """Four rows behind the same 70 tokens, between two rows of their own."""
    shared, alone = rows(4, seed=5, shared=DEMOS), rows(2, seed=6)
    return [shared[0], alone[0], shared[1], shared[2], alone[1], shared[3]]


@pytest.mark.parametrize("architecture, checkpointing", [("llama", False), ("llama", True), ("gemma3", True)])
def test_rows_sharing_a_prompt_prefix_take_the_same_step_and_val_scores_with_it_run_once(monkeypatch, architecture, checkpointing):
    batch = in_prompt_batch()
    model = tiny_lora_model(architecture)
    if checkpointing:  # as train() does for texts over CHECKPOINTING_FROM tokens
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.enable_input_require_grads()
    train_budget, score_budget = train._shared_budgets(model, checkpointing)
    assert train_budget == (train.SHARED_PASS_TOKENS if checkpointing else train.PASS_TOKENS)
    shared_passes = [piece for piece in train._passes(batch, train_budget) if piece.shared]
    assert [sorted(piece.rows) for piece in shared_passes] == [[0, 2, 3, 5]] and shared_passes[0].shared >= len(DEMOS)

    model.train()
    recorder = GradientsAtStep(model)
    shared_loss = train._step(model, batch, PAD, recorder, train_budget)
    shared = recorder.grads
    monkeypatch.setattr(train, "PASS_TOKENS", 1)  # today's path, row by row
    row_loss = train._step(model, batch, PAD, recorder)
    ids, labels, mask = train._tensors(batch, PAD)
    with torch.no_grad():
        theirs = float(model(input_ids=ids, attention_mask=mask, labels=labels).loss)
    assert shared_loss == pytest.approx(row_loss, rel=1e-5) and shared_loss == pytest.approx(theirs, rel=1e-5)
    assert shared and shared.keys() == recorder.grads.keys()
    for name in shared:
        assert torch.allclose(shared[name], recorder.grads[name], atol=1e-5), name

    if architecture == "llama":  # val: the label read from the first target token, and the val loss
        model.eval()
        scored, unshared = train._scored(model, batch, PAD, score_budget), train._scored(model, batch, PAD)
        for (total, next_logprobs), (total_unshared, next_unshared) in zip(scored, unshared):
            assert total == pytest.approx(total_unshared, abs=1e-5)
            assert torch.allclose(next_logprobs, next_unshared, atol=1e-5)


def test_in_prompt_rows_are_grouped_by_their_demos_not_by_the_instruction_every_row_has():
    rng = random.Random(2)
    instruction, demos = [rng.randrange(1, 64) for _ in range(70)], [rng.randrange(1, 64) for _ in range(200)]
    own = lambda: [rng.randrange(1, 64) for _ in range(rng.randrange(20, 60))]  # noqa: E731
    prompts = [instruction + own() for _ in range(3)] + [instruction + demos + own() for _ in range(4)] + [own() + instruction]
    groups = {frozenset(members): shared for shared, members in prefix.prefix_groups(prompts)}
    assert groups.keys() == {frozenset({0, 1, 2}), frozenset({3, 4, 5, 6})}
    assert groups[frozenset({0, 1, 2})] >= 70 and groups[frozenset({3, 4, 5, 6})] >= 270


def rows_as_long_as_shared_ones(count: int) -> list[tuple[list[int], list[int]]]:
    """Rows of their own, as long as rows behind DEMOS (no two share more than a few tokens)."""
    heads = [random.Random(100 + k).choices(range(1, 64), k=len(DEMOS)) for k in range(count)]
    return [rows(1, seed=100 + k, shared=head)[0] for k, head in enumerate(heads)]


def test_shared_passes_count_the_prefix_once_and_rows_sharing_it_are_batched_together():
    shared, alone = rows(8, seed=8, shared=DEMOS), rows_as_long_as_shared_ones(8)
    budget = len(DEMOS) + 3 * 45  # the prefix once and three rows of their own (at most 42 tokens each)
    passes = train._passes(shared + alone, budget)
    assert sorted(index for piece in passes for index in piece.rows) == list(range(16))
    assert len([piece for piece in passes if piece.shared]) >= 2  # the budget cuts the eight into passes
    for piece in passes:
        if piece.shared:
            assert max(piece.rows) < 8
            assert piece.shared + len(piece.rows) * max(len(shared[index][0]) - piece.shared for index in piece.rows) <= budget
        else:
            assert min(piece.rows) >= 8 or len(piece.rows) == 1

    # Lengths interleave, so by length alone the shared rows would be spread among the others.
    window = train._by_prefix_and_length(alone[:4] + shared + alone[4:])
    positions = [window.index(row) for row in shared]
    assert max(positions) - min(positions) == len(shared) - 1
    assert [len(row[0]) for row in window if row in shared] == sorted(len(row[0]) for row in shared)
    assert [len(row[0]) for row in window if row in alone] == sorted(len(row[0]) for row in alone)
    order = train._bucketed(shared + alone, 4, random.Random(3))
    assert order == train._bucketed(shared + alone, 4, random.Random(3)) and sorted(order) == sorted(shared + alone)
