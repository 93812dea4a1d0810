"""Echo detection flags a reply that repeats its prompt (outputs modelled on real SmolLM2-135M replies)."""

from smolopt.adapters.echo import find_echoes

INSTRUCTION = "Classify the sentiment of the text.\nDO NOT echo the input."


def test_a_repeated_prohibition_is_flagged_as_such():
    echoes = find_echoes("DO NOT echo the input. The gym is overcrowded.", instruction=INSTRUCTION,
                         inputs=["The gym is overcrowded and half the machines are broken."])
    assert [e.kind for e in echoes] == ["prohibition"]
    assert echoes[0].line == "DO NOT echo the input."


def test_a_copied_input_is_flagged():
    text = "The gym is overcrowded and half the machines are broken."
    echoes = find_echoes(text, instruction=INSTRUCTION, inputs=[text])
    assert [e.kind for e in echoes] == ["input"]


def test_label_definitions_echoed_back():
    echoes = find_echoes("Answer with one word (positive, negative or neutral):", instruction="Classify.",
                         definitions=["Answer with one word (positive, negative or neutral):"])
    assert [e.kind for e in echoes] == ["definition"]


def test_a_plain_answer_is_not_an_echo():
    assert find_echoes("negative", instruction=INSTRUCTION, inputs=["Terrible battery."]) == []
    assert find_echoes("The text is negative.", instruction=INSTRUCTION, inputs=["Terrible battery, it dies before lunch."]) == []


def test_quoting_a_few_words_of_a_long_input_inside_a_longer_answer_is_not_an_echo():
    source = "The agent called search_files with the same query four times and got the same three results back each time."
    reply = "doom_loop because the agent called search_files with the same query again and again without ever changing what it asked for or reading the results"
    assert find_echoes(reply, inputs=[source]) == []
