"""Label scoring: the log-probability of each allowed answer after the prompt, read from top logprobs.

Servers give the top-k next tokens with their log-probabilities (`logprobs` on /v1/completions,
`top_logprobs` on chat). A token counts toward a label when, leading space and case aside, it is
the label's beginning (" neg" or " negative" for "negative") or the whole label followed by
punctuation (" A)" for "A"). Where the labels' first tokens differ (sentiment, letters, agent
states), one call of one token decides. Where one token begins several labels ("not_sure" and
"not_found" both start with " not"), the walk asks again after that token and multiplies
through, so multi-token labels are scored by their own continuations, not by a shared prefix.

A label that appears nowhere in the top-k gets a floor below the k-th token: it is less likely
than anything listed, and how much less the server does not say.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

# next_tokens(prefix) -> {token text: logprob} after prompt + prefix; None when the server gave none.
NextTokens = Callable[[str], Mapping[str, float] | None]

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


def label_masses(next_tokens: NextTokens, labels: Sequence[str], prefix: str = "", depth: int = 0) -> dict[str, float]:
    """Probability mass of each label after prompt + prefix (not normalized; 0 when not listed).

    A token shared by several labels is followed (one more call) only where it outweighs what
    those labels already got from tokens of their own: a rare shared fragment (" Ne" beside
    " negative" and " neutral") changes no ranking and is not worth a call.
    """
    top = next_tokens(prefix)
    if not top:
        raise NoLogprobs("the server returned no token logprobs")
    masses = dict.fromkeys(labels, 0.0)
    shared: list[tuple[str, float, list[str]]] = []
    for token, logprob in top.items():
        text = prefix + token
        matched = {label: how for label in labels if (how := _covers(text, label))}
        partial = [label for label, how in matched.items() if how == "part"]
        for label, how in matched.items():
            if how == "full" or len(partial) == 1:
                masses[label] += math.exp(logprob)
        if len(partial) > 1:
            shared.append((text, math.exp(logprob), partial))
    for text, probability, partial in shared:
        if depth < MAX_DEPTH and probability > max(masses[label] for label in partial):
            deeper = label_masses(next_tokens, partial, text, depth + 1)
            for label in partial:
                masses[label] += probability * deeper[label]
    return masses


def label_logprobs(next_tokens: NextTokens, labels: Sequence[str]) -> dict[str, float]:
    """Log-probability of each label, normalized over the labels; unlisted labels get the floor."""
    top = next_tokens("")
    if not top:
        raise NoLogprobs("the server returned no token logprobs")
    first = {"": top}
    masses = label_masses(lambda prefix: first.get(prefix) or next_tokens(prefix), labels)
    floor = math.exp(min(top.values()) - FLOOR_BELOW_TOP_K)
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
    prior = {label: sum(math.exp(cf[label]) for cf in content_free) / len(content_free) for label in logprobs}
    adjusted = {label: math.exp(lp) / max(prior[label], 1e-12) for label, lp in logprobs.items()}
    total = sum(adjusted.values())
    return {label: math.log(value / total) for label, value in adjusted.items()}


def best(logprobs: Mapping[str, float]) -> str:
    """The highest-scoring label; ties go to the earlier label."""
    return max(logprobs, key=lambda label: logprobs[label])
