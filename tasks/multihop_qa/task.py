"""Two-hop questions over a handful of paragraphs: find the bridge, then the answer (0.3*EM + 0.7*token F1)."""

import dspy

from smolopt.metrics.overlap import normalize_answer, token_f1

INPUTS = ("question", "context")
GOLD = ("answer", "supporting_titles")


def render_context(context) -> str:
    """The paragraphs as one "Title: text" line each (a string is passed through unchanged)."""
    if isinstance(context, str):
        return context
    lines = []
    for paragraph in context:
        if isinstance(paragraph, dict):
            lines.append(f"{paragraph.get('title', '')}: {paragraph.get('text', '')}".strip())
        else:
            lines.append(str(paragraph))
    return "\n".join(lines)


class Reason(dspy.Signature):
    """Find the paragraph about the entity in the question, name the bridge entity or facts it leads to, and give a candidate answer."""

    question: str = dspy.InputField()
    context: str = dspy.InputField()
    bridge: str = dspy.OutputField()
    candidate: str = dspy.OutputField()


class Verify(dspy.Signature):
    """Check the candidate against the context and give the final answer as a short exact span from the context."""

    question: str = dspy.InputField()
    context: str = dspy.InputField()
    bridge: str = dspy.InputField()
    candidate: str = dspy.InputField()
    answer: str = dspy.OutputField()


class MultiHop(dspy.Module):
    def __init__(self):
        super().__init__()
        self.reason = dspy.Predict(Reason, max_tokens=48)
        self.verify = dspy.Predict(Verify, max_tokens=16)

    def forward(self, question: str, context) -> dspy.Prediction:
        context = render_context(context)
        r = self.reason(question=question, context=context)
        # Unparsed reason fields come back as None; the adapter leaves None inputs out of the prompt.
        pred = self.verify(question=question, context=context, bridge=r.get("bridge"), candidate=r.get("candidate"))
        # The verify prediction is returned itself, with the first hop's fields added for the metric's feedback.
        pred.bridge = r.get("bridge")
        pred.candidate = r.get("candidate")
        return pred


def program() -> dspy.Module:
    return MultiHop()


def demo(example: dspy.Example, predictor: str) -> dict | None:
    context = render_context(example.context)
    bridge = example.get("bridge") or ""
    if predictor == "reason":
        return {"question": example.question, "context": context, "bridge": bridge, "candidate": example.answer}
    if predictor == "verify":
        return {
            "question": example.question,
            "context": context,
            "bridge": bridge,
            "candidate": example.answer,
            "answer": example.answer,
        }
    return None


def _contains(text, span) -> bool:
    """Whether the normalized span occurs, as whole tokens, in the normalized text."""
    span_norm, text_norm = normalize_answer(span), normalize_answer(text)
    return bool(span_norm) and f" {span_norm} " in f" {text_norm} "


def _recall(text, span) -> float:
    """The share of the span's tokens that the text mentions."""
    span_tokens, text_tokens = normalize_answer(span).split(), set(normalize_answer(text).split())
    if not span_tokens:
        return 0.0
    return sum(token in text_tokens for token in span_tokens) / len(span_tokens)


def metric(example: dspy.Example, prediction: dspy.Prediction) -> dspy.Prediction:
    gold = example.answer
    said = prediction.get("answer") or ""
    em = float(normalize_answer(said) == normalize_answer(gold))
    f1 = token_f1(said, gold)
    score = 0.3 * em + 0.7 * f1
    if em:
        return dspy.Prediction(score=score, feedback=f"Correct: the answer is {gold!r}.")

    gold_bridge = example.get("bridge") or ""
    titles = example.get("supporting_titles") or []
    bridge, candidate = prediction.get("bridge"), prediction.get("candidate")
    where = f" The answer is in the paragraphs {', '.join(repr(t) for t in titles)}." if titles else ""
    candidate_right = candidate is not None and _contains(candidate, gold)
    bridge_right = bool(gold_bridge) and bridge is not None and (_contains(bridge, gold_bridge) or _recall(bridge, gold_bridge) >= 0.5)

    if candidate_right:
        verdict = "partly right" if f1 > 0 else "wrong"
        feedback = f"Hop 2 (verify) failed: the candidate {candidate!r} was right but the final answer {said!r} was {verdict}; the answer is {gold!r}."
    elif bridge_right:
        feedback = (
            f"Hop 1 (reason) found the bridge ({bridge!r}) but the candidate {candidate!r} was wrong, "
            f"and the final answer was {said!r}; the answer is {gold!r}.{where}"
        )
    else:
        feedback = (
            f"Hop 1 (reason) failed: the bridge/candidate did not mention the right entity "
            f"(gold bridge: {gold_bridge!r}; the model's bridge: {bridge!r}, candidate: {candidate!r}); "
            f"the answer is {gold!r}, not {said!r}.{where}"
        )
    if f1 > 0:
        feedback += f" Partial credit (token F1 {f1:.2f}): answer with the exact span only."
    return dspy.Prediction(score=score, feedback=feedback)
