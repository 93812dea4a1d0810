"""The format axis: how a predictor's prompt is rendered and how its answer is read.

    mode       chat        instruction and demos as chat turns, through the server's chat template
               completion  plain text to continue ("Text: …\\nSentiment:"), no chat template
    reply      generate    the model writes, the forgiving parsers read
               score       every allowed answer of a closed set is scored by log-probability
    calibrate  off | on    scores divided by those of content-free inputs (contextual calibration)

A 135M model answers far better when it continues plain text and when its allowed answers are
scored instead of generated and parsed, so the format is part of what the optimizer searches:
a GEPA candidate carries one `Format` per predictor, written as text (`str(fmt)`), beside its
instruction and demos. The seed keeps today's way (chat, generate), so a gain is measured against it;
a model without a chat template (a base model) cannot be asked in chat turns at all, so its seed
is the same generated answer asked as plain text (`seed_format`), and chat formats are refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from smolopt.errors import SmoloptError

Mode = Literal["chat", "completion"]
Reply = Literal["generate", "score"]

MODES: tuple[Mode, ...] = ("chat", "completion")
REPLIES: tuple[Reply, ...] = ("generate", "score")
CALIBRATED = "calibrated"

# The predictor config key that carries a predictor's format to the adapter (DSPy hands a
# predictor's config to the adapter as lm_kwargs; RawTextAdapter takes it out before any call).
CONFIG_KEY = "smolopt_format"


@dataclass(frozen=True, order=True)
class Format:
    """One point of the format axis. Calibration only means something when answers are scored."""

    mode: Mode = "chat"
    reply: Reply = "generate"
    calibrate: bool = False

    def __post_init__(self) -> None:
        if self.calibrate and self.reply != "score":
            raise ValueError("calibration needs scored answers")

    def __str__(self) -> str:
        return " ".join([self.mode, self.reply] + ([CALIBRATED] if self.calibrate else []))

    @property
    def scores(self) -> bool:
        return self.reply == "score"

    @property
    def needs(self) -> tuple[str, ...]:
        """What a server must offer to be asked this way (smolopt.server_kinds.Capability names)."""
        return ("chat" if self.mode == "chat" else "completions", *(("logprobs",) if self.scores else ()))


SEED = Format()

# Every format, in the order the format proposer tries them from the seed: the measured best
# for tiny models (completion, scored, calibrated) first, the seed's own way last.
ALL: tuple[Format, ...] = (
    Format("completion", "score", True),
    Format("completion", "score"),
    Format("completion", "generate"),
    Format("chat", "score", True),
    Format("chat", "score"),
    SEED,
)


def seed_format(chats: bool) -> Format:
    """The seed's way for a model: chat, generate; or, with no chat template to render turns,
    completion, generate: the one change such a model needs, so a gain is still measured against it."""
    return SEED if chats else Format("completion", "generate")


def parse_format(text: str, where: str = "format") -> Format:
    """'completion score calibrated' -> Format; a bad word is a one-line error naming `where`."""
    words = text.replace("/", " ").replace(",", " ").split()
    mode = next((w for w in words if w in MODES), "chat")
    reply = next((w for w in words if w in REPLIES), "generate")
    unknown = [w for w in words if w not in MODES + REPLIES + (CALIBRATED,)]
    if unknown or (CALIBRATED in words and reply != "score"):
        shown = ", ".join(str(f) for f in ALL)
        raise SmoloptError(f"{where}: '{text}' is not a format (one of: {shown})")
    return Format(mode, reply, CALIBRATED in words)  # type: ignore[arg-type]
