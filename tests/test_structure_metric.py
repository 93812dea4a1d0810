"""A researcher checks that the GAPELMAPER structure metric tells a real novel from its shuffled copy.

The novel is Jane Austen's "Lady Susan" (public domain, about 23,000 words), which music21 ships
as language-detection training data: it installs from PyPI with the test extra and needs no
network. Sentence shuffling keeps every sentence (its words, its grammar) and destroys only the
long-range order, which is exactly what the metric claims to measure.
"""

from __future__ import annotations

import importlib.metadata
import math
from pathlib import Path

import numpy as np
import pytest

from smolopt.metrics.structure import (
    StructureFit,
    autocorrelation,
    fit_decay,
    hashed_word_vectors,
    shuffled_sentences,
    structure_fit,
    text_structure,
)

BOOK = "music21/languageExcerpts/trainingData/en.txt"


@pytest.fixture(scope="module")
def lady_susan() -> str:
    try:
        path = importlib.metadata.distribution("music21").locate_file(BOOK)  # no import: music21 is slow to load
    except importlib.metadata.PackageNotFoundError:
        pytest.fail("music21 is not installed: it ships the novel this test needs (the `test` extra)")
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    body = "\n".join(line for line in lines if "Project Gutenberg" not in line).strip()
    assert body.startswith("LADY SUSAN") and len(body.split()) > 20_000
    return body


@pytest.fixture(scope="module")
def novel_and_shuffled(lady_susan) -> tuple[StructureFit, StructureFit]:
    return text_structure(lady_susan), text_structure(shuffled_sentences(lady_susan))


def test_a_real_novel_is_structured_and_its_sentence_shuffled_copy_is_not(novel_and_shuffled):
    real, shuffled = novel_and_shuffled
    assert real.measured and shuffled.measured
    assert real.n_items == shuffled.n_items > 20_000  # same words, only their order differs
    # measured: the novel 0.17 / 0.27 = 0.63; its shuffled copy 0.90 (0.84 to 1.04 over seeds 0-29)
    assert real.power_mape < real.exp_mape
    assert real.ratio < 0.8
    assert shuffled.ratio > 0.8
    assert shuffled.ratio > 1.25 * real.ratio
    assert 0.3 < real.power_exponent < 1.0  # measured 0.59: a slow, long-memory decay


def test_the_novel_remembers_across_hundreds_of_words_and_the_shuffled_copy_forgets(novel_and_shuffled):
    real, shuffled = novel_and_shuffled
    far = [i for i, d in enumerate(real.distances) if d > 100]
    assert len(far) >= 8 and real.distances[far[-1]] > 1000
    real_far = [real.autocorrelation[i] for i in far]
    shuffled_far = [shuffled.autocorrelation[i] for i in far]
    assert min(real_far) > 0  # names and topics keep coming back
    assert np.mean(shuffled_far) < 0.2 * np.mean(real_far)


def test_a_power_law_curve_is_fitted_by_the_power_law():
    d = np.geomspace(1, 2000, 30)
    wobble = 1 + 0.03 * np.sin(np.arange(30))  # deterministic 3% measurement noise
    fit = fit_decay(d, 0.02 * d ** -0.7 * wobble)
    assert fit.power_mape < 0.03
    assert fit.ratio < 0.2
    assert fit.power_exponent == pytest.approx(0.7, abs=0.02)
    assert fit.fit_start == 0 and fit.fit_points == 30


def test_an_exponential_curve_is_fitted_by_the_exponential():
    d = np.geomspace(1, 1000, 30)
    fit = fit_decay(d, 0.5 * np.exp(-0.01 * d))
    assert fit.exp_mape < 0.01
    assert fit.ratio > 1
    assert fit.exp_rate == pytest.approx(0.01, rel=0.02)


def test_points_before_the_peak_are_not_fitted():
    d = np.geomspace(1, 1000, 25)
    curve = 0.01 * d ** -0.5
    curve[:4] = [-0.02, -0.01, 0.0, 0.005]  # grammar's dip at the shortest distances
    fit = fit_decay(d, curve)
    assert fit.fit_start == 4 and fit.fit_points == 21
    assert fit.power_mape < 1e-3


def test_a_memoryless_vector_process_decays_exponentially():
    rng = np.random.default_rng(7)
    x = np.zeros((60_000, 2))
    noise = rng.standard_normal(x.shape)
    for i in range(1, len(x)):
        x[i] = 0.97 * x[i - 1] + noise[i]
    fit = structure_fit(x, max_distance=500)  # by 500 steps 0.97^d is far below the noise
    assert fit.measured and fit.ratio > 1.5  # measured 6.6 (2.4 to 7.4 over seeds 7-9)
    assert fit.exp_rate == pytest.approx(-math.log(0.97), rel=0.2)  # measured 0.029 for 0.030


def test_autocorrelation_matches_the_definition():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((50, 4))
    centred = x - x.mean(axis=0)
    lags = [1, 2, 7, 49]
    expected = [np.mean(np.sum(centred[:-d] * centred[d:], axis=1)) / np.mean(np.sum(centred ** 2, axis=1)) for d in lags]
    assert autocorrelation(x, lags) == pytest.approx(expected, abs=1e-12)
    assert math.isnan(autocorrelation(x, [50])[0])  # no pair is 50 apart in 50 items


def test_empty_and_tiny_texts_are_not_measured_and_do_not_raise():
    for text in ("", "Three little words"):
        fit = text_structure(text)
        assert isinstance(fit, StructureFit)
        assert not fit.measured and math.isnan(fit.ratio) and math.isnan(fit.power_mape)
        assert fit.fit_points == 0
    assert text_structure("Three little words").n_items == 3


def test_a_constant_sequence_has_nothing_to_fit():
    assert autocorrelation(np.ones((100, 3)), [1, 5]).tolist() == [0.0, 0.0]
    assert not structure_fit(np.ones((5000, 3))).measured


def test_misuse_raises_a_value_error():
    with pytest.raises(ValueError, match="2-D"):
        structure_fit(np.zeros((4, 4, 4)))
    with pytest.raises(ValueError, match="positive"):
        autocorrelation(np.zeros((10, 2)), [0])
    with pytest.raises(ValueError, match="2 vectors for 3 words"):
        text_structure("one two three", embed=lambda words: np.zeros((2, 8)))


def test_word_vectors_are_stable_and_a_custom_embedding_gets_the_words_in_order():
    first, again, other = hashed_word_vectors(["Susan", "susan", "Frederica"])
    assert np.array_equal(first, again) and abs(first @ other) < 0.3
    assert np.linalg.norm(first) == pytest.approx(1.0)
    seen: list[list[str]] = []

    def embed(words: list[str]) -> np.ndarray:
        seen.append(words)
        return hashed_word_vectors(words, dim=16)

    fit = text_structure("Lady Susan wrote; Reginald didn't answer.", embed=embed)
    assert seen == [["Lady", "Susan", "wrote", "Reginald", "didn't", "answer"]]
    assert fit.n_items == 6
