"""The judge parts: a model reads the story against its brief, as the source article's LLM judge did.

The judge is a DSPy signature asked through RawTextAdapter (the same raw path and forgiving parsers
as any student, at temperature 0 so a resumed run replays it from the cache), because the judge may
itself be small. Each answer it gives becomes a part; an answer it gives that cannot be read drops
that part for this story, with the reason in the feedback, rather than scoring it 0.

Which model judges is decided by the caller (the CLI and API open the registry's reflection model
by default, where runs are scaffolded: `smolopt.scaffold.open_judge`; this module imports no backend,
so loading the task protocol stays light) and handed to the task's metric as its `judge` argument (see the Task
protocol in smolopt.tasks): nothing is held per process, so two runs in one process, or examples
scored on several threads, each see their own judge. A run without a reachable judge hands over
an absent one (`Judge.absent(why)`), whose parts are all "not measured", with the reason.
"""

from __future__ import annotations

from typing import Literal

import dspy

from smolopt.metrics.parts import Part

JUDGE_MAX_TOKENS = 200


class JudgeStory(dspy.Signature):
    """Judge a short text against its brief. Be strict and brief."""

    title: str = dspy.InputField()
    genre: str = dspy.InputField()
    characters_number: int = dspy.InputField(desc="how many primary characters the brief asks for")
    constraints: str = dspy.InputField()
    story: str = dspy.InputField()
    genre_fit: Literal["yes", "no"] = dspy.OutputField(desc="does the text read as the genre asked for?")
    primary_speakers: int = dspy.OutputField(desc="how many characters act or speak in it")
    constraints_met: Literal["yes", "partly", "no"] = dspy.OutputField(desc="does it follow every constraint?")
    liking: int = dspy.OutputField(desc="how much a reader would like it, 1 (not at all) to 5 (very much)")
    critique: str = dspy.OutputField(desc="one sentence: the biggest thing to fix")


class Judge:
    """A judge model and the predictor that asks it, or an absent judge and why there is none."""

    def __init__(self, lm: dspy.LM | None, name: str, why_absent: str = ""):
        self.lm, self.name, self.why_absent = lm, name, why_absent
        self.predict = dspy.Predict(JudgeStory, temperature=0.0, max_tokens=JUDGE_MAX_TOKENS) if lm is not None else None

    @classmethod
    def absent(cls, why: str) -> Judge:
        """No judge for this run: every judged part is left out, with `why`."""
        return cls(None, "", why)

    def story_parts(self, brief: dict, story: str) -> tuple[list[Part], dict[str, str]]:
        """The judge's parts for one story, and the parts it left unreadable (name → why); an absent
        judge leaves them all out, as "judge" with its reason."""
        from smolopt.adapters import RawTextAdapter  # the adapters package registers field options on import

        if self.predict is None:
            return [], {"judge": self.why_absent}
        with dspy.context(lm=self.lm, adapter=RawTextAdapter()):
            verdict = self.predict(**{key: brief[key] for key in ("title", "genre", "characters_number", "constraints")}, story=story)
        critique = verdict.get("critique") or ""
        parts, dropped = [], {}

        def unread(name: str) -> None:
            dropped[name] = f"the judge {self.name} gave no readable answer"

        if (fit := verdict.get("genre_fit")) is None:
            unread("genre fit")
        else:
            parts.append(Part("genre fit", float(fit == "yes"), f"the judge says it does {'' if fit == 'yes' else 'not '}read as {brief['genre']}."))
        if (speakers := verdict.get("primary_speakers")) is None:
            unread("speakers")
        else:
            wanted = int(brief["characters_number"])
            off = abs(int(speakers) - wanted)
            parts.append(Part("speakers", max(0.0, 1 - off / max(wanted, 1)), f"the judge counts {speakers} primary characters; the brief asks for {wanted}."))
        if (met := verdict.get("constraints_met")) is None:
            unread("constraints")
        else:
            parts.append(Part("constraints", {"yes": 1.0, "partly": 0.5, "no": 0.0}[met], f"constraints met: {met} ({brief['constraints']}). {critique}".strip()))
        if (liking := verdict.get("liking")) is None:
            unread("liking")
        else:
            stars = min(5, max(1, int(liking)))
            parts.append(Part("liking", (stars - 1) / 4, f"the judge likes it {stars}/5. {critique}".strip()))
        return parts, dropped

