"""A structure metric after GAPELMAPER (Mikhaylovskiy 2023): power-law or exponential memory?

Read a text as a sequence of vectors and measure how alike two items `d` apart are, for growing
`d`. Human prose keeps returning to its people and topics, so that likeness fades slowly, like
a power law a·d^-b; a text with only local coherence forgets fast, like an exponential
a·exp(-b·d). GAPELMAPER is the ratio of the two fits' mean absolute percentage errors (MAPE):
below 1 the power law fits better ("structured"), at or above 1 it does not. Published ratios
for whole novels are about 0.4 (Don Quixote 0.20/0.44, Tom Sawyer 0.21/0.55). It needs
book-length input: on a few thousand words the curve is mostly noise and the ratio sits near 1
whatever the text.

Short or degenerate input never raises, because scoring runs over whatever a tiny model wrote:
the result then has NaN errors and ratio, `measured` is False and `fit_points` is 0 (fewer than
MIN_FIT_POINTS points from the peak on, or no positive peak). Only misuse raises ValueError (a
3-D array, distances below 1, an `embed` that returns the wrong number of rows).
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

MIN_FIT_POINTS = 5  # two parameters per law: fewer points and any curve "fits" both
NOISE_FLOOR = 0.05  # percentage errors are relative to at least this share of the peak
DEFAULT_DIM = 256  # distinct words overlap by ~1/sqrt(dim); 128 to 1024 move the ratio by < 0.03
SENTENCE_WORDS = 16  # below this, distances measure a sentence's grammar, which shuffling keeps
_BLOCK = 32  # vector columns per FFT, which bounds memory on book-length input
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")


@dataclass(frozen=True)
class StructureFit:
    """Both fits of one autocorrelation curve; the curve is kept so a report can plot it."""

    power_mape: float
    exp_mape: float
    ratio: float  # power_mape / exp_mape: GAPELMAPER
    power_exponent: float  # b in a·d^-b
    exp_rate: float  # b in a·exp(-b·d), per unit of distance
    distances: tuple[float, ...]  # centre of each log-spaced bin of lags
    autocorrelation: tuple[float, ...]  # mean autocorrelation over each bin
    fit_start: int  # index of the first fitted point: the curve's peak
    fit_points: int  # points fitted (0 when nothing could be)
    n_items: int  # vectors (words) in the sequence

    @property
    def measured(self) -> bool:
        return not math.isnan(self.ratio)


def _as_matrix(vectors: np.ndarray) -> np.ndarray:
    x = np.asarray(vectors)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2:
        raise ValueError("vectors must be a 1-D series or a 2-D (items, dim) array")
    return x


def autocorrelation(vectors: np.ndarray, distances: Sequence[int] | np.ndarray) -> np.ndarray:
    """mean_i <x_i, x_i+d> / mean_i |x_i|^2 over the mean-centred vectors, for each distance d.

    Centring removes what every item shares (for words: the overall vocabulary), so independent
    items give about 0. One FFT per block of columns yields every lag at once: O(n log n), not
    O(n * d). A lag with no pairs (d >= n) gives NaN; a constant sequence gives 0.
    """
    x = _as_matrix(vectors)
    lags = np.asarray(distances, dtype=int).reshape(-1)
    if lags.size and lags.min() < 1:
        raise ValueError("distances must be positive integers")
    n, out = len(x), np.full(lags.shape, np.nan)
    valid = lags < n
    if not valid.any():
        return out
    nfft = 1 << (2 * n - 1).bit_length()  # zero padding: no wrap-around between the ends
    power, raw = np.zeros(nfft // 2 + 1), 0.0
    for start in range(0, x.shape[1], _BLOCK):
        block = x[:, start:start + _BLOCK].astype(np.float64)
        raw += float(np.square(block).sum())
        spectrum = np.fft.rfft(block - block.mean(axis=0), nfft, axis=0)
        power += (spectrum.real ** 2 + spectrum.imag ** 2).sum(axis=1)
    sums = np.fft.irfft(power, nfft)[: lags[valid].max() + 1]
    variance = sums[0] / n
    if variance <= 1e-12 * raw / n:  # constant up to rounding: nothing varies, nothing correlates
        out[valid] = 0.0
    else:
        out[valid] = sums[lags[valid]] / (n - lags[valid]) / variance
    return out


def _best_scale(shape: np.ndarray, values: np.ndarray, scale: np.ndarray) -> tuple[float, float]:
    """The a >= 0 minimizing mean |a*shape - values| / scale: a weighted median, exactly."""
    ratios, weights = values / shape, shape / scale
    order = np.argsort(ratios, kind="stable")
    cumulative = np.cumsum(weights[order])
    a = max(float(ratios[order][np.searchsorted(cumulative, 0.5 * cumulative[-1])]), 0.0)
    return a, float(np.mean(np.abs(a * shape - values) / scale))


def _fit_law(shape: Callable[[float], np.ndarray], values: np.ndarray, scale: np.ndarray, top: float) -> tuple[float, float]:
    """Least MAPE and its rate b: a log grid over b in [0, top], then golden-section refinement."""
    def error(b: float) -> float:
        return _best_scale(shape(b), values, scale)[1]

    grid = np.concatenate([[0.0], np.geomspace(1e-4, top, 240)])
    errors = [error(b) for b in grid]
    k = int(np.argmin(errors))
    lo, hi, best = grid[max(k - 1, 0)], grid[min(k + 1, len(grid) - 1)], (errors[k], grid[k])
    golden = (math.sqrt(5) - 1) / 2
    for _ in range(50):
        left, right = hi - golden * (hi - lo), lo + golden * (hi - lo)
        e_left, e_right = error(left), error(right)
        best = min(best, (e_left, left), (e_right, right))
        lo, hi = (lo, right) if e_left < e_right else (left, hi)
    return best


def fit_decay(distances: Sequence[float], values: Sequence[float], n_items: int = 0) -> StructureFit:
    """Fit a·d^-b and a·exp(-b·d) to the curve from its peak on, each by least MAPE.

    Points before the peak are left out: neither law describes a rise (for words, grammar makes
    the curve rise over the first few words: function words seldom repeat side by side). Points that
    decayed into noise (near or below 0) are kept but their percentage error is taken against
    NOISE_FLOOR times the peak, not against themselves: a curve that dies out is evidence, and
    dividing by noise would let one point decide the score.
    """
    d, y = np.asarray(distances, dtype=float), np.asarray(values, dtype=float)
    curve = tuple(map(float, d)), tuple(map(float, y))
    finite = bool(np.isfinite(y).all() and np.isfinite(d).all() and (d > 0).all())
    peak = int(np.argmax(y)) if len(y) and finite else 0
    if not finite or len(y) - peak < MIN_FIT_POINTS or y[peak] <= 0:
        return StructureFit(math.nan, math.nan, math.nan, math.nan, math.nan, *curve, peak, 0, n_items)
    d, y = d[peak:], y[peak:]
    scale = np.maximum(np.abs(y), NOISE_FLOOR * y[0])
    span = d[-1] - d[0]
    power, b_power = _fit_law(lambda b: (d / d[0]) ** -b, y, scale, top=10.0)
    exp, b_exp = _fit_law(lambda b: np.exp(-b * (d - d[0]) / span), y, scale, top=60.0)
    ratio = 1.0 if power == exp == 0.0 else (math.inf if exp == 0.0 else power / exp)  # 0/0: a tie
    return StructureFit(power, exp, ratio, b_power, b_exp / span, *curve, peak, len(y), n_items)


def structure_fit(vectors: np.ndarray, max_distance: int = 2000, min_distance: int = 1,
                  bins_per_decade: int = 8) -> StructureFit:
    """GAPELMAPER of a vector sequence, from its autocorrelation at lags min_distance..max_distance.

    Single lags are noisy, so lags are averaged in log-spaced bins (equal weight per decade, the
    scale a power law lives on). Lags stop at a tenth of the sequence: centring on the sample
    mean pulls every lag down by about (sum of all correlations) / n, which swamps the tail of
    a power law once d is a sizeable share of n.
    """
    x = _as_matrix(vectors)
    n = len(x)
    top = min(int(max_distance), n // 10)
    if top < max(min_distance, 1):
        return fit_decay([], [], n_items=n)
    low = max(int(min_distance), 1)
    acf = autocorrelation(x, np.arange(low, top + 1))
    bins = max(1, round(bins_per_decade * math.log10((top + 1) / low)))
    edges = np.unique(np.round(np.geomspace(low, top + 1, bins + 1)).astype(int))
    centres = np.sqrt(edges[:-1] * (edges[1:] - 1.0))
    means = np.array([acf[a - low:b - low].mean() for a, b in zip(edges[:-1], edges[1:])])
    return fit_decay(centres, means, n_items=n)


def hashed_word_vectors(words: Sequence[str], dim: int = DEFAULT_DIM) -> np.ndarray:
    """One random ±1/sqrt(dim) unit vector per distinct lowercased word, its signs the word's SHAKE-256 bits.

    No model, no download, and a standard hash rather than a NumPy random stream, so a word gets
    the same vector on every machine and every NumPy version. Random vectors are nearly
    orthogonal, so the autocorrelation measures how words recur: names and topics coming back,
    which is the long-range structure the metric looks for.
    """
    keys = [word.lower() for word in words]
    vocabulary = {word: i for i, word in enumerate(dict.fromkeys(keys))}
    digests = b"".join(hashlib.shake_256(word.encode("utf-8")).digest((dim + 7) // 8) for word in vocabulary)
    bits = np.unpackbits(np.frombuffer(digests, dtype=np.uint8)).reshape(len(vocabulary), -1)[:, :dim]
    table = (2.0 * bits - 1.0) / math.sqrt(dim)
    return table[[vocabulary[word] for word in keys]] if keys else np.zeros((0, dim))


def text_structure(text: str, embed: Callable[[list[str]], np.ndarray] | None = None,
                   max_distance: int = 2000, min_distance: int = SENTENCE_WORDS) -> StructureFit:
    """GAPELMAPER of a text, word by word, over distances beyond one sentence.

    `embed` gets the text's words in order (letters and inner apostrophes, case kept) and returns
    one vector per word; the default is `hashed_word_vectors`. For sentence-level items, embed the
    sentences yourself and call `structure_fit`. Meaningful from about 20,000 words: shorter texts
    give too few clean distances, so NaN or a ratio near 1 whatever their quality.
    """
    words = _WORD.findall(text)
    vectors = np.asarray((embed or hashed_word_vectors)(words)) if words else np.zeros((0, 1))
    if len(vectors) != len(words):
        raise ValueError(f"embed returned {len(vectors)} vectors for {len(words)} words")
    return structure_fit(vectors, max_distance=max_distance, min_distance=min_distance)


def shuffled_sentences(text: str, seed: int = 0) -> str:
    """The text with its sentences in a fixed random order: the same words and sentences with the
    long-range order gone, the control a structure score is read against."""
    sentences = _SENTENCE_END.split(text)
    order = np.random.default_rng(seed).permutation(len(sentences))
    return " ".join(sentences[i] for i in order)
