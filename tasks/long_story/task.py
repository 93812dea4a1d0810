"""A long story in chapters (outline → chapter plan → chapter text), scored by its structure after GAPELMAPER and chapter length."""

import dspy

from smolopt.metrics.parts import Part, combine
from smolopt.metrics.structure import text_structure
from smolopt.metrics.word_range import word_range_part

INPUTS = ("title", "genre", "premise", "chapters", "words_per_chapter")
GOLD = ()
OUTPUT = "story"  # the module assembles it from the chapters; its last predictor writes one "chapter"

WEIGHTS = {"structure": 0.5, "chapter length": 0.5}
# GAPELMAPER at or below BOOKLIKE scores 1 (whole novels measure about 0.4); at UNSTRUCTURED and above, 0.
BOOKLIKE, UNSTRUCTURED = 0.5, 1.5


class Outline(dspy.Signature):
    """Outline the story: one short line per chapter saying what happens in it."""

    title: str = dspy.InputField()
    genre: str = dspy.InputField()
    premise: str = dspy.InputField()
    chapters: int = dspy.InputField()
    outline: str = dspy.OutputField()


class ChapterPlan(dspy.Signature):
    """Plan the chapter in two or three sentences that follow the outline."""

    title: str = dspy.InputField()
    outline: str = dspy.InputField()
    chapter_number: int = dspy.InputField()
    plan: str = dspy.OutputField()


class ChapterText(dspy.Signature):
    """Write the chapter from its plan, carrying on from where the story so far ends."""

    title: str = dspy.InputField()
    genre: str = dspy.InputField()
    story_so_far: str = dspy.InputField(desc="the end of the previous chapter")
    plan: str = dspy.InputField()
    words_per_chapter: str = dspy.InputField()
    chapter: str = dspy.OutputField()


class LongStory(dspy.Module):
    """Three predictors, the source article's hierarchy: the outline is written once, then each
    chapter is planned from it and written from its plan and the end of the chapter before."""

    def __init__(self):
        super().__init__()
        self.outline = dspy.Predict(Outline, max_tokens=200)
        self.plan = dspy.Predict(ChapterPlan, max_tokens=120)
        self.write = dspy.Predict(ChapterText, max_tokens=360)

    def forward(self, title: str, genre: str, premise: str, chapters: int, words_per_chapter: str) -> dspy.Prediction:
        outline = self.outline(title=title, genre=genre, premise=premise, chapters=chapters).get("outline") or premise
        texts: list[str] = []
        for number in range(1, int(chapters) + 1):
            plan = self.plan(title=title, outline=outline, chapter_number=number).get("plan") or f"Chapter {number} of: {premise}"
            so_far = texts[-1][-400:] if texts else "(nothing yet: this is the first chapter)"
            chapter = self.write(title=title, genre=genre, story_so_far=so_far, plan=plan, words_per_chapter=words_per_chapter)
            texts.append((chapter.get("chapter") or "").strip())
        story = "\n\n".join(f"Chapter {number}\n\n{text}" for number, text in enumerate(texts, start=1))
        return dspy.Prediction(story=story, outline=outline, chapter_texts=texts)


def program() -> dspy.Module:
    return LongStory()


def demo(example: dspy.Example, predictor: str) -> dict | None:
    return None  # no gold stories: few-shot injection has nothing to show


def structure_part(text: str) -> tuple[Part | None, dict[str, float], str]:
    """The structure part, GAPELMAPER's numbers as measures, and why it is missing when it is."""
    fit = text_structure(text)
    if not fit.measured:
        return None, {}, f"{fit.n_items} words are too few to fit an autocorrelation curve"
    score = min(1.0, max(0.0, (UNSTRUCTURED - fit.ratio) / (UNSTRUCTURED - BOOKLIKE)))
    verdict = "power law: the text keeps returning to its people and places" if fit.ratio < 1 else "exponential: each part forgets the one before"
    part = Part("structure", score, f"GAPELMAPER {fit.ratio:.2f} (power-law error {fit.power_mape:.2f}, exponential {fit.exp_mape:.2f}): {verdict}.")
    return part, {"gapelmaper": fit.ratio, "power-law MAPE": fit.power_mape, "exponential MAPE": fit.exp_mape}, ""


def metric(example: dspy.Example, prediction: dspy.Prediction) -> dspy.Prediction:
    chapters = prediction.get("chapter_texts") or []
    lengths = [word_range_part(text, example.words_per_chapter) for text in chapters] or [word_range_part("", example.words_per_chapter)]
    worst = min(lengths, key=lambda part: part.score)
    length = Part("chapter length", sum(p.score for p in lengths) / len(lengths), f"the weakest chapter: {worst.feedback}")
    structure, measures, why = structure_part(prediction.get("story") or "")
    return combine([length, *([structure] if structure else [])], WEIGHTS, {"structure": why} if why else None, measures)
