"""Training on the CPU, or a GPU when asked (`Settings.device`, smolopt.tune.device; LoRA by default,
the method is `smolopt.tune.method`): loss on the target tokens only, val picks the epoch, resumable per epoch.

The loss is taken on what the model should write after the prompt (the label tokens, or a
reference text), never on the prompt: a 135M model that learns to reproduce the prompt learns
nothing it is asked. Rows that begin with the same prompt tokens (the demos every in-prompt text
repeats) run them once a pass and read them from a cache, with the same gradient
(smolopt.tune.prefix, prefix_cache). Every epoch ends with a checkpoint (adapter weights,
optimizer state, history) written atomically, so a tune killed mid-epoch resumes at the start of
that epoch and loses only it. Shuffling is seeded per epoch and dropout is off, so a resumed tune
takes the same steps as an uninterrupted one. Checkpoints hold CPU tensors: a tune may resume on another device.

Defaults from the spike behind issue 18 (sentiment, 78 training texts, SmolLM2-135M): LoRA r=16 on
every linear layer, 8 epochs, reached 92.7% on test at about 30 s an epoch and 2.5 GB.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from smolopt.errors import SmoloptError
from smolopt.tune.base import Base
from smolopt.tune.device import torch_device
from smolopt.tune.examples import Pair
from smolopt.tune.method import method_named
from smolopt.tune.prefix import prefix_groups

LINEAR = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
# Above this many tokens in the longest training text (story references), activations are
# recomputed in the backward pass (gradient checkpointing): such a text is a pass by itself, and
# its activations grow with its length.
CHECKPOINTING_FROM = 512
# Padded tokens per forward pass in training (a batch larger than this is cut into passes whose
# gradients add up to the batch's). Agent-monitor batches of eight ~400-token traces in one pass
# peaked at 9.5 GB and took 45 s an epoch; in passes of four, 6.0 GB and 36 s (less padding).
PASS_TOKENS = 1024
# Tokens a pass of rows sharing a prefix may span (the prefix once, each row's own tokens padded)
# where a pass does not keep every activation. Under gradient checkpointing it keeps each layer's
# input (576 floats a token and layer on the 135M: about 0.6 GB at 8,192 tokens) and recomputes one
# layer at a time (about 0.6 GB more), against about 2.2 GB for an unchecked pass of PASS_TOKENS
# (the 3.5 GB that 1,600 more tokens cost above): estimates from that measurement, not measured
# here. Scoring keeps none. So an agent-monitoring batch of eight in-prompt rows (the ~1,400-token
# prefix once, eight ~400-token rows of their own) is one pass, and the prefix runs once a batch,
# not once a row. Without checkpointing a shared pass keeps everything: PASS_TOKENS bounds it,
# counting the prefix once.
SHARED_PASS_TOKENS = 8192
IGNORE = -100  # transformers' label for "no loss here"
MIN_TRAIN = 8

EpochProgress = Callable[["Epoch", int], None]  # (finished epoch, epochs planned)
Row = tuple[list[int], list[int]]  # input ids, and labels: IGNORE on the prompt


@dataclass(frozen=True)
class Settings:
    rank: int = 16
    alpha: int = 32
    epochs: int = 8
    learning_rate: float = 1e-3
    batch_size: int = 8
    patience: int = 3  # epochs without a better val score before stopping
    # "val": the epoch val scores best; "last": the last one (when val is what the caller measures on)
    pick: str = "val"
    modules: tuple[str, ...] = LINEAR
    seed: int = 0
    threads: int = 2
    method: str = "lora"  # smolopt.tune.method
    # auto | cpu | cuda | mps (smolopt.tune.device); train records the device it resolved to. Not
    # part of what a checkpoint must match: its tensors are on the CPU, so a resume may change it.
    device: str = "cpu"


@dataclass
class Epoch:
    epoch: int
    loss: float  # mean training loss over the epoch's batches
    val_loss: float
    val_accuracy: float | None  # label tasks: the gold label scored highest, as the label scorer reads it
    seconds: float

    def better_than(self, other: Epoch | None) -> bool:
        if other is None:
            return True
        if self.val_accuracy is not None and other.val_accuracy is not None and self.val_accuracy != other.val_accuracy:
            return self.val_accuracy > other.val_accuracy
        return self.val_loss < other.val_loss


@dataclass
class Trained:
    history: list[Epoch]
    best: Epoch
    lora: dict[str, Any]  # the method's state at the best epoch (LoRA: peft's state dict, HF module names → tensors)
    skipped: int  # training texts longer than the model's context, left out
    stopped_early: bool = False
    resumed_from: int = 0  # epochs that came from the checkpoint
    settings: dict = field(default_factory=dict)


def _encode(base: Base, pairs: list[Pair], limit: int) -> tuple[list[Pair], list[Row]]:
    """The pairs that fit in `limit` tokens, and their (input ids, labels), labels IGNORE on the prompt."""
    kept, encoded = [], []
    for pair in pairs:
        prompt, target = base.prompt_ids(pair.prompt), base.continuation_ids(pair.target)
        if len(prompt) + len(target) <= limit:
            kept.append(pair)
            encoded.append((prompt + target, [IGNORE] * len(prompt) + target))
    return kept, encoded


def _shareable(row: Row) -> list[int]:
    """What of `row` may be shared with other rows: its prompt without the last token (the first
    target is read from the logits there, so that token stays in the row's own part)."""
    ids, labels = row
    prompt = next((index for index, label in enumerate(labels) if label != IGNORE), len(labels))
    return ids[:prompt - 1]


def _bucketed(rows: list[Row], size: int, rng: random.Random) -> list[Row]:
    """The rows shuffled, then put in order within windows of eight batches (rows sharing a prompt
    prefix together, by length), then the batches shuffled.

    A batch is as long as its longest text: zero-shot prompts (about 30 tokens on sentiment) batched
    with three-demo prompts (about 115) would be padded to the long ones, nearly doubling the work of
    a mixed tune. Rows sharing a prefix run it once per pass only when batched together. Windows
    keep each epoch's order random (and seeded, so a resumed tune takes the same batches) while
    most batches hold texts of one kind.
    """
    order = rows[:]
    rng.shuffle(order)
    window = size * 8
    order = [row for start in range(0, len(order), window) for row in _by_prefix_and_length(order[start:start + window])]
    batches = [order[start:start + size] for start in range(0, len(order), size)]
    rng.shuffle(batches)
    return [row for batch in batches for row in batch]


def _by_prefix_and_length(rows: list[Row]) -> list[Row]:
    """`rows` sorted by length (stable), each group sharing a prefix kept together and placed by its shortest row."""
    by_length = lambda index: (len(rows[index][0]), index)  # noqa: E731 - rows of one length keep their shuffled order
    groups = [sorted(members, key=by_length) for _, members in prefix_groups([_shareable(row) for row in rows])]
    grouped = {index for members in groups for index in members}
    units = groups + [[index] for index in range(len(rows)) if index not in grouped]
    units.sort(key=lambda unit: len(rows[unit[0]][0]))
    return [rows[index] for unit in units for index in unit]


def _tensors(chunk: list[Row], pad: int) -> tuple[Any, Any, Any]:
    """Input ids, labels and attention mask of `chunk`, right-padded to its longest row."""
    import torch

    width = max(len(ids) for ids, _ in chunk)
    ids = torch.full((len(chunk), width), pad, dtype=torch.long)
    labels = torch.full((len(chunk), width), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(chunk), width), dtype=torch.long)
    for row, (tokens, targets) in enumerate(chunk):
        ids[row, :len(tokens)] = torch.tensor(tokens)
        labels[row, :len(targets)] = torch.tensor(targets)
        mask[row, :len(tokens)] = 1
    return ids, labels, mask


@dataclass(frozen=True)
class Pass:
    """Rows that go through the model together: their indices, and how many leading tokens they all
    share, run once for them (0: each row runs whole)."""

    rows: list[int]
    shared: int = 0


def _cut(indices: list[int], fits: Callable[[list[int]], bool]) -> list[list[int]]:
    """`indices` cut into consecutive runs that fit (at least one row each)."""
    runs: list[list[int]] = []
    for index in indices:
        if runs and fits(runs[-1] + [index]):
            runs[-1].append(index)
        else:
            runs.append([index])
    return runs


def _passes(rows: list[Row], shared_budget: int = 0) -> list[Pass]:
    """`rows` as passes. With a `shared_budget`, rows sharing a prefix of MIN_SHARED tokens or more
    (smolopt.tune.prefix) go in passes that span the prefix once and each row's own tokens padded,
    within `shared_budget`. Every other row as before: consecutive runs whose padded size stays within PASS_TOKENS."""
    passes: list[Pass] = []
    grouped: set[int] = set()
    if shared_budget:
        for shared, members in prefix_groups([_shareable(row) for row in rows]):
            members.sort(key=lambda index: (len(rows[index][0]), index))  # rows of similar length: less padding

            def fits(run: list[int], shared: int = shared) -> bool:
                return shared + len(run) * max(len(rows[index][0]) - shared for index in run) <= shared_budget

            passes += [Pass(run, shared if len(run) > 1 else 0) for run in _cut(members, fits)]
            grouped.update(members)
    whole = [index for index in range(len(rows)) if index not in grouped]
    passes += [Pass(run) for run in _cut(whole, lambda run: len(run) * max(len(rows[index][0]) for index in run) <= PASS_TOKENS)]
    return passes


def _shared_budgets(model: Any, checkpointing: bool) -> tuple[int, int]:
    """The tokens a pass of rows sharing a prefix may span in training and in scoring; (0, 0) where
    `model` cannot share one exactly (smolopt.tune.prefix_cache)."""
    from smolopt.tune.prefix_cache import shares_prefixes

    if not shares_prefixes(model):
        return 0, 0
    return (SHARED_PASS_TOKENS if checkpointing else PASS_TOKENS), SHARED_PASS_TOKENS


def _target_logprobs(model: Any, ids: Any, labels: Any, mask: Any, prefix: Any = None) -> tuple[Any, Any, list[int]]:
    """The next-token log-probabilities at every position a target token follows, flattened in row
    order (N × vocabulary); the N target tokens; and how many of them each row holds, on the
    model's device (the batch is built on the CPU and moved there). With a `prefix`
    (smolopt.tune.prefix_cache.Prefix), the rows are what follows it.

    Only these positions go through the output layer. Logits for every position were the tune's
    biggest cost on agent monitoring (eight traces of about 400 tokens, one label each: 8 × 400 ×
    49,152 floats, several copies through the loss) — 11.8 GB of its peak and a fifth of its compute,
    for the eight positions the loss reads.
    """
    import torch

    ids, labels, mask = (tensor.to(model.device) for tensor in (ids, labels, mask))
    targets = labels[:, 1:]
    wanted = targets != IGNORE
    keep = torch.zeros_like(labels, dtype=torch.bool)
    keep[:, :-1] = wanted
    inputs = prefix.inputs(mask) if prefix is not None else {"attention_mask": mask}
    logits = model(input_ids=ids, logits_to_keep=keep, **inputs).logits
    return torch.log_softmax(logits.reshape(-1, logits.shape[-1]).float(), dim=-1), targets[wanted], wanted.sum(dim=1).tolist()


def _pass_logprobs(model: Any, rows: list[Row], shared: int, pad: int) -> tuple[Any, Any, list[int]]:
    """`_target_logprobs` of `rows`, their first `shared` tokens run once for all of them (0: each row whole)."""
    if not shared:
        return _target_logprobs(model, *_tensors(rows, pad))
    from smolopt.tune.prefix_cache import cache_under_checkpointing, run_prefix

    with cache_under_checkpointing(model):
        prefix = run_prefix(model, rows[0][0][:shared])
        return _target_logprobs(model, *_tensors([(ids[shared:], labels[shared:]) for ids, labels in rows], pad), prefix)


def _step(model: Any, batch: list[Row], pad: int, optimizer: Any, shared_budget: int = 0) -> float:
    """One optimizer step on `batch`; returns its loss (mean over its target tokens, as transformers' own).

    The batch goes through the model in passes (`_passes`: at most PASS_TOKENS padded tokens, or
    rows sharing a prefix within `shared_budget`), their gradients summed, each pass weighted by its
    share of the batch's target tokens: the step is the one a single pass would take, and memory
    follows the pass, not the batch.
    """
    total = sum(sum(1 for t in labels if t != IGNORE) for _, labels in batch)
    loss = 0.0
    for piece in _passes(batch, shared_budget):
        logprobs, targets, _ = _pass_logprobs(model, [batch[index] for index in piece.rows], piece.shared, pad)
        part = -logprobs.gather(-1, targets.unsqueeze(-1)).sum() / total
        part.backward()
        loss += part.item()
    optimizer.step()
    optimizer.zero_grad()
    return loss


def _scored(model: Any, rows: list[Row], pad: int, shared_budget: int = 0) -> list[tuple[float, Any]]:
    """Per row: the summed log-probability of its labelled tokens, and the log-probabilities of
    every next token where its labels start (what a single-token label is read from)."""
    import torch

    scored: list[tuple[float, Any]] = [(0.0, None)] * len(rows)
    with torch.no_grad():
        for piece in _passes(rows, shared_budget):
            logprobs, targets, counts = _pass_logprobs(model, [rows[index] for index in piece.rows], piece.shared, pad)
            picked = logprobs.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
            start = 0
            for index, count in zip(piece.rows, counts):
                scored[index] = (float(picked[start:start + count].sum()), logprobs[start])
                start += count
    return scored


def _validate(base: Base, model: Any, pairs: list[Pair], val: list[Row], shared_budget: int) -> tuple[float, float | None]:
    """Val loss (mean per target token), and for label tasks the share whose gold label scores highest.

    Labels are read as the server's label scorer reads them: where the labels' first tokens differ
    (sentiment's, agent monitoring's four states), the first token decides, read from the same
    forward pass as the loss; labels that share a first token are scored as whole continuations,
    each its own sequence. Scoring agent monitoring's four labels as sequences made validation
    cost more than the training epoch itself (83 s against 69 s on 12 and 20 traces). Rows sharing
    a prefix (in-prompt texts; a prompt's labels scored as sequences) run it once a pass.
    """
    scored = _scored(model, val, base.pad_id, shared_budget)
    tokens = sum(sum(1 for t in labels if t != IGNORE) for _, labels in val)
    loss = -sum(total for total, _ in scored) / max(tokens, 1)
    labelled = [(pair, next_logprobs) for pair, (_, next_logprobs) in zip(pairs, scored) if pair.choices]
    if not labelled:
        return loss, None
    right = 0
    for pair, next_logprobs in labelled:
        ids = [base.continuation_ids(choice) for choice in pair.choices]
        if len({choice[0] for choice in ids}) == len(ids):
            scores = [float(next_logprobs[choice[0]]) for choice in ids]
        else:
            prompt = base.prompt_ids(pair.prompt)
            rows = [(prompt + choice, [IGNORE] * len(prompt) + choice) for choice in ids]
            scores = [total for total, _ in _scored(model, rows, base.pad_id, shared_budget)]
        right += pair.choices[scores.index(max(scores))] == pair.target
    return loss, right / len(labelled)


def _on_cpu(value: Any) -> Any:
    """`value` (tensors, in dicts and lists as a state dict nests them) with every tensor on the CPU."""
    import torch

    if isinstance(value, torch.Tensor):
        return value.cpu()
    if isinstance(value, dict):
        return {key: _on_cpu(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_on_cpu(item) for item in value)
    return value


def _checkpointed(settings: dict) -> dict:
    """The settings a checkpoint must match to be resumed: all but the device."""
    return {key: value for key, value in settings.items() if key != "device"}


def _save(path: Path, state: dict) -> None:
    """torch.save atomically: a kill during the write leaves the previous checkpoint."""
    import torch

    partial = path.with_suffix(".partial")
    torch.save(state, partial)
    partial.replace(path)


def train(base: Base, train_pairs: list[Pair], val_pairs: list[Pair], settings: Settings, checkpoints: Path,
          progress: EpochProgress | None = None) -> Trained:
    """Train `settings.method` on `base.model` in place (LoRA: it becomes a peft model) and return the best epoch's state.

    A `checkpoints` folder holding `last.pt` from an earlier, interrupted call resumes from it. The
    model trains on `settings.device` and is back on the CPU when this returns (the export reads its weights).
    """
    import torch

    settings = replace(settings, device=torch_device(settings.device))

    limit = int(getattr(base.model.config, "max_position_embeddings", 2048))
    kept, train_rows = _encode(base, train_pairs, limit)
    skipped = len(train_pairs) - len(kept)
    val_pairs, val_rows = _encode(base, val_pairs, limit)
    if len(train_rows) < MIN_TRAIN:
        raise SmoloptError(f"tune needs at least {MIN_TRAIN} training examples that fit the model's context; this task has {len(train_rows)}")
    if not val_rows:
        raise SmoloptError("tune needs validation examples to choose the epoch; the task's val split has none that fit")
    torch.manual_seed(settings.seed)
    method = method_named(settings.method)
    model = method.attach(base.model, settings).to(settings.device)
    checkpointing = max(len(ids) for ids, _ in train_rows) > CHECKPOINTING_FROM
    if checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.enable_input_require_grads()
    train_budget, score_budget = _shared_budgets(model, checkpointing)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=settings.learning_rate, weight_decay=0.0)

    checkpoints.mkdir(parents=True, exist_ok=True)
    last, best_file = checkpoints / "last.pt", checkpoints / "best.pt"
    history: list[Epoch] = []
    best: Epoch | None = None
    if last.is_file():
        state = torch.load(last, weights_only=False)
        if _checkpointed(state["settings"]) != _checkpointed(asdict(settings)):
            raise SmoloptError(f"{last}: a checkpoint of a tune with other settings ({state['settings']}); start a new tune")
        method.restore(model, state["lora"])
        optimizer.load_state_dict(state["optimizer"])
        history = [Epoch(**row) for row in state["history"]]
        best = next(e for e in history if e.epoch == state["best_epoch"])
    resumed_from = len(history)

    stopped_early = False
    for epoch in range(len(history) + 1, settings.epochs + 1):
        if best is not None and settings.pick == "val" and epoch - best.epoch > settings.patience:
            stopped_early = True
            break
        started = time.perf_counter()
        model.train()
        losses = []
        order = _bucketed(train_rows, settings.batch_size, random.Random(settings.seed * 1009 + epoch))
        for start in range(0, len(order), settings.batch_size):
            losses.append(_step(model, order[start:start + settings.batch_size], base.pad_id, optimizer, train_budget))
        model.eval()
        val_loss, val_accuracy = _validate(base, model, val_pairs, val_rows, score_budget)
        row = Epoch(epoch, sum(losses) / len(losses), val_loss, val_accuracy, time.perf_counter() - started)
        if not all(math.isfinite(x) for x in (row.loss, row.val_loss)):
            raise SmoloptError(f"tune diverged at epoch {epoch} (loss {row.loss}); try a lower learning rate")
        history.append(row)
        lora = _on_cpu(method.state(model))
        if settings.pick == "last" or row.better_than(best):
            best = row
            _save(best_file, {"epoch": epoch, "lora": lora})
        _save(last, {"settings": asdict(settings), "lora": lora, "optimizer": _on_cpu(optimizer.state_dict()),
                     "history": [asdict(e) for e in history], "best_epoch": best.epoch})
        if progress:
            progress(row, settings.epochs)
    model.to("cpu")
    weights = torch.load(best_file, weights_only=False)["lora"]
    return Trained(history, best, weights, skipped, stopped_early, resumed_from, asdict(settings))
