"""Label scoring: the log-probability of each allowed answer after the prompt, read from top logprobs.

Servers give the top-k next tokens with their log-probabilities (`logprobs` on /v1/completions,
`top_logprobs` on chat). A token counts toward a label when, leading space and case aside, it is
the label's beginning (" neg" or " negative" for "negative") or the whole label followed by
punctuation (" A)" for "A"). Where the labels' first tokens differ (sentiment, letters, agent
states), one call of one token decides. Where one token begins several labels ("not_sure" and
"not_found" both start with " not"), the walk asks again after that token and multiplies
through, so multi-token labels are scored by their own continuations, not by a shared prefix.
That costs a request, so it is asked only when it can change the answer: when the shared tokens'
whole probability, given to either label, could change which label wins (before calibration and
after it). On sentiment's 96 test prompts the 135M put more on " N" or " Ne" (" Negative",
" Neutral") than on those labels' own tokens 28 times, which cost 1.29 requests per answer; the
winner was settled every time, and with them unfollowed the 96 answers are the same at 1.00.

A label that appears nowhere in the top-k gets a floor below the k-th token: it is less likely
than anything listed, and how much less the server does not say.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

# next_tokens(prefix) -> {token text: logprob} after prompt + prefix; None when the server gave none.
NextTokens = Callable[[str], Mapping[str, float] | None]
# What each label's probability is multiplied by before the winner is taken (1 each uncalibrated;
# 1 / the prompt's own pull toward the label when calibrated, see calibration_weights).
Weights = Mapping[str, float]
# settled(masses, shared) -> whether following the shared tokens [(text, probability, labels)] can
# change no winner (then they are not followed).
Shared = list[tuple[str, float, list[str]]]

MAX_DEPTH = 6
FLOOR_BELOW_TOP_K = 1.0  # log-units under the k-th token for a label the top-k does not list


class NoLogprobs(Exception):
    """The server returned no token log-probabilities for a scoring request."""


class NeedsContinuation(Exception):
    """Labels share a first token and this prompt cannot be continued after it (chat mode)."""


def _covers(continuation: str, label: str) -> str:
    """How `continuation` (text produced so far) relates to `label`: 'full', 'part' or ''."""
    said, target = continuation.lstrip().lower(), label.lower()
    if not said:
        return ""
    if target == said:
        return "full"
    if target.startswith(said):
        return "part"
    if said.startswith(target) and not (said[len(target)].isalnum() or said[len(target)] == "_"):
        return "full"
    return ""


def label_masses(
    next_tokens: NextTokens,
    labels: Sequence[str],
    prefix: str = "",
    depth: int = 0,
    settled: Callable[[dict[str, float], Shared], bool] | None = None,
) -> dict[str, float]:
    """Probability mass of each label after prompt + prefix (not normalized; 0 when not listed).

    A token shared by several labels is followed (one more call) only where it outweighs what
    those labels already got from tokens of their own: a rare shared fragment (" Ne" beside
    " negative" and " neutral") changes no ranking and is not worth a call. `settled` may spare
    the calls for the first token's shared fragments when they cannot change the answer.
    """
    top = next_tokens(prefix)
    if not top:
        raise NoLogprobs("the server returned no token logprobs")
    masses = dict.fromkeys(labels, 0.0)
    shared: Shared = []
    for token, logprob in top.items():
        text = prefix + token
        matched = {label: how for label in labels if (how := _covers(text, label))}
        partial = [label for label, how in matched.items() if how == "part"]
        for label, how in matched.items():
            if how == "full" or len(partial) == 1:
                masses[label] += math.exp(logprob)
        if len(partial) > 1:
            shared.append((text, math.exp(logprob), partial))
    followed = [(text, p, partial) for text, p, partial in shared if depth < MAX_DEPTH and p > max(masses[label] for label in partial)]
    if followed and settled is not None and settled(masses, followed):
        followed = []
    for text, probability, partial in followed:
        deeper = label_masses(next_tokens, partial, text, depth + 1)
        for label in partial:
            masses[label] += probability * deeper[label]
    return masses


def winner_settled(masses: Mapping[str, float], shared: Shared, weights: Weights, floor: float) -> bool:
    """Whether one label wins under `weights` however the shared tokens' probability splits.

    Each label ends with its own mass plus up to every shared token it begins (a label with none
    of its own takes the floor, or less when only a sliver of a shared token reaches it); the
    winner is settled when its least beats every other label's most.
    """
    share = {label: sum(p for _, p, partial in shared if label in partial) for label in masses}
    low = {label: (mass if mass > 0 else (0.0 if share[label] else floor)) * weights[label] for label, mass in masses.items()}
    high = {label: (max(mass, floor) + share[label]) * weights[label] for label, mass in masses.items()}
    leader = max(low, key=low.__getitem__)
    return all(low[leader] > high[label] for label in masses if label != leader)


def label_logprobs(next_tokens: NextTokens, labels: Sequence[str], decided_by: Sequence[Weights] = ()) -> dict[str, float]:
    """Log-probability of each label, normalized over the labels; unlisted labels get the floor.

    With `decided_by`, only the winner under each of those weightings is wanted: a first token
    several labels share is followed only when it could change one of them (the scores of the
    labels it begins are then their own tokens' alone). Without, every such token is followed.
    """
    top = next_tokens("")
    if not top:
        raise NoLogprobs("the server returned no token logprobs")
    first = {"": top}
    floor = math.exp(min(top.values()) - FLOOR_BELOW_TOP_K)

    def settled(masses: dict[str, float], shared: Shared) -> bool:
        return bool(decided_by) and all(winner_settled(masses, shared, weights, floor) for weights in decided_by)

    masses = label_masses(lambda prefix: first.get(prefix) or next_tokens(prefix), labels, settled=settled)
    masses = {label: mass if mass > 0 else floor for label, mass in masses.items()}
    total = sum(masses.values())
    return {label: math.log(mass / total) for label, mass in masses.items()}


def calibrate(logprobs: Mapping[str, float], content_free: Sequence[Mapping[str, float]]) -> dict[str, float]:
    """Contextual calibration: divide by the mean label probability over content-free inputs, renormalize.

    A tiny model's prompt alone pushes it toward one label (the 135M's "positive"); the same prompt
    with "N/A" or "" as input measures that push, and dividing it out leaves what the input added.
    """
    if not content_free:
        return dict(logprobs)
    weights = calibration_weights(list(logprobs), content_free)
    adjusted = {label: math.exp(lp) * weights[label] for label, lp in logprobs.items()}
    total = sum(adjusted.values())
    return {label: math.log(value / total) for label, value in adjusted.items()}


def calibration_weights(labels: Sequence[str], content_free: Sequence[Mapping[str, float]]) -> dict[str, float]:
    """1 / each label's mean probability over the content-free (or calibration) inputs; 1 without any."""
    if not content_free:
        return dict.fromkeys(labels, 1.0)
    prior = {label: sum(math.exp(cf[label]) for cf in content_free) / len(content_free) for label in labels}
    return {label: 1 / max(prior[label], 1e-12) for label in labels}


def best(logprobs: Mapping[str, float]) -> str:
    """The highest-scoring label; ties go to the earlier label."""
    return max(logprobs, key=lambda label: logprobs[label])
