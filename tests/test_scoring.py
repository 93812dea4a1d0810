"""Label scoring over top logprobs, as pure functions: a fake next-token table stands in for the server."""

import math

import pytest
from hypothesis import given, strategies as st

from smolopt.adapters.formats import ALL, SEED, Format, parse_format
from smolopt.adapters.scoring import NoLogprobs, best, calibrate, label_logprobs, label_masses
from smolopt.errors import SmoloptError


def table(entries: dict[str, dict[str, float]]):
    """next_tokens(prefix) from {prefix: {token: probability}}; records which prefixes were asked."""
    asked = []

    def next_tokens(prefix):
        asked.append(prefix)
        return {token: math.log(p) for token, p in entries.get(prefix, {}).items()}
    return next_tokens, asked


def test_distinct_first_tokens_decide_in_one_call():
    next_tokens, asked = table({"": {" negative": 0.5, " positive": 0.2, " neutral": 0.1, " Un": 0.2}})
    scores = label_logprobs(next_tokens, ["positive", "negative", "neutral"])
    assert best(scores) == "negative" and asked == [""]
    assert math.isclose(sum(math.exp(v) for v in scores.values()), 1.0)


def test_case_fragments_and_punctuation_count_toward_their_label():
    next_tokens, _ = table({"": {" Positive": 0.3, " pos": 0.1, " negative": 0.35, " A)": 0.05}})
    masses = label_masses(next_tokens, ["positive", "negative", "A"])
    assert math.isclose(masses["positive"], 0.4) and math.isclose(masses["A"], 0.05)


def test_a_shared_first_token_is_followed_to_tell_multi_token_labels_apart():
    next_tokens, asked = table({
        "": {" not": 0.6, " done": 0.1},
        " not": {"_sure": 0.2, "_found": 0.7},
    })
    masses = label_masses(next_tokens, ["not_sure", "not_found", "done"])
    assert asked == ["", " not"]
    assert math.isclose(masses["not_found"], 0.6 * 0.7) and math.isclose(masses["not_sure"], 0.6 * 0.2)


def test_a_rare_shared_fragment_costs_no_extra_call():
    next_tokens, asked = table({"": {" negative": 0.4, " neutral": 0.3, " Ne": 0.01}})
    label_masses(next_tokens, ["negative", "neutral"])
    assert asked == [""]


def test_labels_missing_from_the_top_k_get_a_floor_below_it():
    next_tokens, _ = table({"": {" positive": 0.5, " Un": 0.3, " L": 0.2}})
    scores = label_logprobs(next_tokens, ["positive", "negative", "neutral"])
    assert best(scores) == "positive" and scores["negative"] == scores["neutral"] < scores["positive"]


def test_no_logprobs_is_its_own_error():
    with pytest.raises(NoLogprobs):
        label_logprobs(lambda prefix: None, ["a", "b"])


def test_calibration_removes_the_prompts_pull_toward_one_label():
    # the prompt alone says "positive" 80% of the time; this input moved it to 60%
    raw = {"positive": math.log(0.6), "negative": math.log(0.3), "neutral": math.log(0.1)}
    prior = [{"positive": math.log(0.8), "negative": math.log(0.1), "neutral": math.log(0.1)}]
    assert best(raw) == "positive" and best(calibrate(raw, prior)) == "negative"
    assert calibrate(raw, []) == raw


@given(st.dictionaries(st.sampled_from([" a", " b", " c", " x", " ab"]), st.floats(0.001, 1.0), min_size=1))
def test_scores_are_a_distribution_over_the_labels(probabilities):
    scores = label_logprobs(lambda prefix: {t: math.log(p) for t, p in probabilities.items()} if not prefix else {}, ["a", "b", "c"])
    assert set(scores) == {"a", "b", "c"}
    assert math.isclose(sum(math.exp(v) for v in scores.values()), 1.0, rel_tol=1e-9)


def test_formats_read_and_write_as_text():
    for fmt in ALL:
        assert parse_format(str(fmt)) == fmt
    assert parse_format("completion/score/calibrated") == Format("completion", "score", True)
    assert str(SEED) == "chat generate"
    with pytest.raises(SmoloptError, match="--format: 'chat generate calibrated' is not a format"):
        parse_format("chat generate calibrated", "--format")


def test_a_shared_first_token_that_cannot_change_the_winner_costs_no_extra_call():
    """" N" begins " Negative" and " Neutral", but " positive" wins however it splits."""
    next_tokens, asked = table({"": {" positive": 0.6, " N": 0.2, " negative": 0.1, " neutral": 0.05}})
    as_is = {"positive": 1.0, "negative": 1.0, "neutral": 1.0}
    assert best(label_logprobs(next_tokens, ["positive", "negative", "neutral"], [as_is])) == "positive" and asked == [""]


def test_a_shared_first_token_that_could_change_the_winner_is_followed():
    entries = {"": {" positive": 0.3, " N": 0.4, " negative": 0.2, " neutral": 0.05}, " N": {"egative": 0.9, "eutral": 0.1}}
    labels = ["positive", "negative", "neutral"]
    next_tokens, asked = table(entries)
    walked, every = label_logprobs(next_tokens, labels, [dict.fromkeys(labels, 1.0)]), label_logprobs(table(entries)[0], labels)
    assert asked == ["", " N"] and best(walked) == best(every) == "negative"
    # calibration can make a split matter that does not matter as is: then it is followed too
    next_tokens, asked = table({"": {" positive": 0.6, " N": 0.2, " negative": 0.1, " neutral": 0.05}, " N": {"eutral": 1.0}})
    label_logprobs(next_tokens, labels, [dict.fromkeys(labels, 1.0), {"positive": 1.0, "negative": 1.0, "neutral": 4.0}])
    assert asked == ["", " N"]
