"""Which rows of a pass share a prompt prefix worth running once (`smolopt.tune.prefix_cache` runs it).

Training in the format that ships renders each example twice, zero-shot and inside the chosen
prompt; on agent monitoring the in-prompt rows are about 1,800 tokens, of which about 1,400
(instruction and four demo traces) are the same in every row, and run once per row they were
about 80% of a 994 s tune. Rows sharing a prefix run it once per pass instead.

What is shared is found by comparing token ids (the texts may agree where the tokens do not: a
prompt's last token can merge with what follows it). The caller passes only what may be shared:
the prompt without its last token, where the first target is read, so that token and every
target stay in each row's own part.
"""

from __future__ import annotations

# Fewest shared tokens worth a run of their own. A trained token costs about 6 ms on 2 cores (an
# agent-monitoring epoch took about 5 minutes for about 43,000 trained and 26,000 scored tokens, a
# scored token a quarter of a trained one: forward only, against forward, recomputed forward and
# backward), so two rows sharing 64 tokens save about 0.4 s, against tens of milliseconds for the
# extra model call (an estimate: a few hundred small operations). Below it the overlap is a
# prompt's first words (a BOS, a field label), too little to be worth a second call.
MIN_SHARED = 64


def common_length(a: list[int], b: list[int]) -> int:
    """How many leading tokens `a` and `b` have in common."""
    length = 0
    for x, y in zip(a, b):
        if x != y:
            break
        length += 1
    return length


def prefix_groups(prompts: list[list[int]]) -> list[tuple[int, list[int]]]:
    """Rows (indices into `prompts`, the part of each prompt that may be shared) grouped to save the
    most tokens: (shared length, at least MIN_SHARED; the group's indices), groups of two or more.

    In token order rows sharing a prefix are neighbours, and a run of neighbours shares the least of
    their neighbours' common lengths. The run boundaries are chosen to maximise the tokens saved,
    (rows - 1) × shared per group: zero-shot and in-prompt rows may share an instruction of about 70
    tokens, but the in-prompt rows alone share about 1,400, and one group of all of them would lose that.
    """
    order = sorted(range(len(prompts)), key=lambda index: prompts[index])
    common = [common_length(prompts[a], prompts[b]) for a, b in zip(order, order[1:])]
    saved = [0] * (len(order) + 1)  # saved[end]: the most tokens order[:end] can save
    start = list(range(len(order) + 1))  # start[end]: where its last run begins
    for end in range(1, len(order) + 1):
        saved[end], start[end] = saved[end - 1], end - 1
        shared = len(prompts[order[end - 1]])
        for first in range(end - 2, -1, -1):
            shared = min(shared, common[first])
            if shared < MIN_SHARED:
                break
            if saved[first] + (end - first - 1) * shared > saved[end]:
                saved[end], start[end] = saved[first] + (end - first - 1) * shared, first
    groups = []
    end = len(order)
    while end:
        first = start[end]
        if end - first > 1:
            groups.append((min(common[first:end - 1]), [order[index] for index in range(first, end)]))
        end = first
    return groups[::-1]
