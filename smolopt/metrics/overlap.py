"""Word overlap between an answer and its reference: SQuAD's normalized exact match and token F1.

Free-text tasks made by `smolopt new --metric exact|f1` score with these, so a model is not marked
wrong for "The Eiffel Tower." against "Eiffel tower".
"""

from __future__ import annotations

import re
import string
from collections import Counter

_PUNCTUATION = set(string.punctuation) | set("\u2013\u2014\u2018\u2019\u201c\u201d")


def normalize_answer(text: object) -> str:
    """SQuAD-style: lower case, no punctuation, no articles (a/an/the), whitespace collapsed."""
    text = str(text or "").lower()
    text = "".join(ch for ch in text if ch not in _PUNCTUATION)
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def exact_match(predicted: object, gold: object) -> bool:
    """Whether the two are the same answer once normalized."""
    return normalize_answer(predicted) == normalize_answer(gold)


def token_f1(predicted: object, gold: object) -> float:
    """The harmonic mean of the share of the answer's words found in the reference and of the
    reference's words found in the answer (normalized words, counted with repeats)."""
    pred_tokens, gold_tokens = normalize_answer(predicted).split(), normalize_answer(gold).split()
    if not pred_tokens or not gold_tokens:
        return float(pred_tokens == gold_tokens)
    common = sum((Counter(pred_tokens) & Counter(gold_tokens)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred_tokens), common / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)
