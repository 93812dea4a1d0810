"""RawTextAdapter: a DSPy adapter for models too small for ChatAdapter's `[[ ## field ## ]]` format.

The prompt is what a 135M model can complete: the instruction at the top of the first user turn,
the inputs as `Label: value` lines, and a trailing line that asks for the output (`Answer:`, or for
a label field "Answer with one word (positive, negative or neutral):"). Demos are earlier
user/assistant turns in the same form. Nothing asks for JSON, so no server ever sees
`response_format`.

Output fields may declare `synonyms={"pos": "positive"}` (aliases the parser accepts) and
`choices_from="choices"` (an input dict whose texts count as their keys).

Parsing never raises into the caller's loop: when no value of the asked type can be read, the
field is None and the call's `Outcome` (`smolopt.adapters.outcomes`, announced for the evaluation
core) carries the parse-failure message, which the core scores as 0 with that message as
feedback, and the echoes of the prompt, which it counts per run. The prediction keeps the raw
text (`smolopt_raw`) for whoever reads the trace.

The same adapter speaks every format of the format axis (`smolopt.adapters.formats`): a
predictor's config may carry `smolopt_format` ("completion score calibrated"), which renders its
prompt as plain text for /v1/completions and/or scores the allowed answers of a label field
instead of generating them. A format the model's server cannot serve falls back to one it can
(scored -> generated, completion -> chat), and the run is told once. A chat format asked of a model
without a chat template (a base model) is refused with one line: there is no nearest way to guess.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import dspy
from dspy.adapters.base import Adapter
from dspy.signatures import field as dspy_field

from smolopt.adapters.completion import as_labelled_reply, completion_prompt, input_lines, render_value, stop_sequences
from smolopt.adapters.echo import find_echoes
from smolopt.adapters.formats import ALL, CONFIG_KEY, SEED, Format, parse_format, seed_format
from smolopt.adapters.outcomes import OUTCOMES, Outcome
from smolopt.adapters.label_scorer import EndOfText, LabelScorer, NeedsContinuation, NoLogprobs, TextModel, text_model
from smolopt.errors import SmoloptError
from smolopt.adapters.parsing import LabelSpec, ParseFailure, coerce, field_label, label_spec, split_labelled

# DSPy keeps only the field arguments it knows; register ours so they reach json_schema_extra.
for _name in ("synonyms", "choices_from"):
    if _name not in dspy_field.DSPY_FIELD_ARG_NAMES:
        dspy_field.DSPY_FIELD_ARG_NAMES.append(_name)

RAW = "smolopt_raw"
PARSE_ERROR = "smolopt_parse_error"
ECHOES = "smolopt_echoes"
# Scored answers: every label's log-probability, and the label chosen before calibration.
SCORES = "smolopt_scores"
UNCALIBRATED = "smolopt_uncalibrated"

NO_LOGPROBS = "returns no token logprobs: scored formats fall back to generating and parsing"


def _extra(field) -> dict:
    return field.json_schema_extra or {}


def _description(field) -> str:
    """A field's desc when the author wrote one (DSPy fills in `${name}` otherwise)."""
    desc = _extra(field).get("desc") or ""
    return "" if desc.startswith("${") else desc


class RawTextAdapter(Adapter):
    """Compact prompts, forgiving parsers, one LM call per prediction (or per label-scoring step)."""

    def __init__(self, calibration_inputs: Sequence[Mapping[str, Any]] = (), **kwargs):
        """`calibration_inputs`: real inputs of the task (no labels needed) that calibrated formats
        measure the prompt's label bias on; without them, content-free inputs stand in."""
        super().__init__(**kwargs)
        self.scorer = LabelScorer(calibration_inputs)

    @staticmethod
    def definition_lines(signature: type[dspy.Signature]) -> list[str]:
        """What the prompt says about the outputs (the answer line, the author's descriptions): echo sources."""
        return [RawTextAdapter.answer_line(signature)] + [
            f"{field_label(name)}: {_description(field)}" for name, field in signature.output_fields.items() if _description(field)
        ]

    @staticmethod
    def answer_line(signature: type[dspy.Signature]) -> str:
        """The trailing line the model completes.

        For one label field it names the allowed answers ("Answer with one word (positive, negative
        or neutral):"): measured on SmolLM2-135M (sentiment, train+val), this reached a 97.9% parse
        rate and 47.9% accuracy where a bare "Sentiment:" label reached 43.8% parse and 22.9%.
        """
        names = list(signature.output_fields)
        if len(names) > 1:
            return "Reply in this form:\n" + "\n".join(f"{field_label(name)}: ..." for name in names)
        spec = label_spec(signature.output_fields[names[0]].annotation)
        if spec is None:
            return f"{field_label(names[0])}:"
        unit = "letter" if all(len(label) == 1 for label in spec.labels) else "word"
        choices = ", ".join(spec.labels[:-1]) + f" or {spec.labels[-1]}" if len(spec.labels) > 1 else spec.labels[0]
        return f"Answer with one {unit} ({choices}):"

    def format(self, signature: type[dspy.Signature], demos: list[dict], inputs: dict[str, Any]) -> list[dict[str, Any]]:
        """No system message: the instruction opens the first user turn.

        SmolLM2-135M parsed 97.9% of answers with the instruction in the user turn and 91.7% with
        it in a system message (same words, sentiment train+val).
        """
        messages = self.format_demos(signature, demos) + [
            {"role": "user", "content": self.format_user_message_content(signature, inputs)}
        ]
        instruction = signature.instructions.strip()
        if instruction:
            messages[0] = {**messages[0], "content": f"{instruction}\n\n{messages[0]['content']}"}
        return messages

    def format_user_message_content(self, signature, inputs, prefix="", suffix="", main_request=False) -> str:
        return "\n".join(input_lines(signature, inputs) + [self.answer_line(signature)])

    def format_assistant_message_content(self, signature, outputs, missing_field_message=None) -> str:
        names = list(signature.output_fields)
        if len(names) == 1:
            return render_value(outputs[names[0]])
        return "\n".join(f"{field_label(name)}: {render_value(outputs[name])}" for name in names if name in outputs)

    def format_demos(self, signature, demos) -> list[dict[str, Any]]:
        messages = []
        for demo in demos:
            if not all(name in demo for name in signature.input_fields):
                continue
            if not any(name in demo for name in signature.output_fields):
                continue
            messages.append({"role": "user", "content": self.format_user_message_content(signature, demo)})
            messages.append({"role": "assistant", "content": self.format_assistant_message_content(signature, demo)})
        return messages

    def parse(self, signature: type[dspy.Signature], completion: str) -> dict[str, Any]:
        return self.parse_with_inputs(signature, completion, {})

    def parse_with_inputs(self, signature, completion: str, inputs: dict[str, Any]) -> dict[str, Any]:
        """Every output field typed, or None plus a parse-error message; never an exception."""
        text = completion or ""
        names = list(signature.output_fields)
        sections = split_labelled(text, {name: field_label(name) for name in names})
        result: dict[str, Any] = {}
        errors = []
        for index, name in enumerate(names):
            field = signature.output_fields[name]
            is_last = index == len(names) - 1
            if name in sections:
                value_text = sections[name]
            elif len(names) == 1 or (is_last and not sections):
                value_text = text  # no label at all: the whole reply is the answer
            else:
                value_text = ""
            try:
                result[name] = coerce(value_text, field.annotation, self._labels(field, inputs))
            except ParseFailure as failure:
                if name == "reasoning" and not is_last:  # ChainOfThought's rationale is optional
                    result[name] = ""
                    continue
                result[name] = None
                errors.append(f"{name}: {failure}")
        result[RAW] = text
        result[PARSE_ERROR] = "; ".join(errors) or None
        return result

    @staticmethod
    def _labels(field, inputs: dict[str, Any]) -> LabelSpec | None:
        """Allowed labels plus declared synonyms; `choices_from` adds the choice texts of an input."""
        extra = _extra(field)
        synonyms = dict(extra.get("synonyms") or {})
        source = extra.get("choices_from")
        if source and isinstance(inputs.get(source), dict):
            synonyms.update({str(text): str(key) for key, text in inputs[source].items()})
        return label_spec(field.annotation, synonyms)

    @staticmethod
    def scored_labels(signature: type[dspy.Signature], inputs: dict[str, Any]) -> LabelSpec | None:
        """The closed answer set a scored format can score: one output field, Literal or Enum."""
        names = list(signature.output_fields)
        return RawTextAdapter._labels(signature.output_fields[names[0]], inputs) if len(names) == 1 else None

    def usable_format(self, wanted: Format, signature: type[dspy.Signature], inputs: dict[str, Any], model: TextModel | None) -> Format:
        """`wanted`, or the nearest format this signature and server allow (the run is told once)."""
        if model is None:
            if wanted == SEED:
                return wanted
            raise SmoloptError(f"format '{wanted}' needs a smolopt model connection (smolopt's Models.lm), not a plain dspy.LM")
        mode, reply, calibrated = wanted.mode, wanted.reply, wanted.calibrate
        if mode == "completion" and not model.can("completions"):
            model.notice("serves no /v1/completions: completion formats run as chat")
            mode = "chat"
        if mode == "chat" and not model.can("chat"):  # a server would wrap the turns in a template it guessed
            raise SmoloptError(f"format '{wanted}' asks the model in chat turns, but it has no chat template (a base model); "
                               f"ask it as plain text: --format '{seed_format(False)}' (a label task: '{ALL[0]}')")
        if reply == "score" and self.scored_labels(signature, inputs) is None:
            reply, calibrated = "generate", False  # free-text fields have nothing to score
        if reply == "score" and not model.can("logprobs"):
            model.notice(NO_LOGPROBS)
            reply, calibrated = "generate", False
        return Format(mode, reply, calibrated)

    def __call__(self, lm, lm_kwargs, signature, demos, inputs) -> list[dict[str, Any]]:
        """Format, call the LM (once, or once per scoring step), read the answer, announce its Outcome:
        the parse and echo facts leave with the Outcome, and the prediction keeps its fields and reply."""
        values = self._answer(lm, lm_kwargs, signature, demos, inputs)
        fields = tuple(signature.output_fields)
        for value in values:
            OUTCOMES.announce(Outcome(fields, value[RAW], value.pop(PARSE_ERROR), tuple(value.pop(ECHOES)), value.pop(UNCALIBRATED, None)))
        return values

    def _answer(self, lm, lm_kwargs, signature, demos, inputs) -> list[dict[str, Any]]:
        """The values of one call in the predictor's format (echoes checked against this prompt)."""
        lm_kwargs = dict(lm_kwargs)
        wanted = parse_format(str(lm_kwargs.pop(CONFIG_KEY, SEED)), f"predictor config '{CONFIG_KEY}'")
        model = text_model(lm)
        fmt = self.usable_format(wanted, signature, inputs, model)
        if fmt.scores:
            try:
                return [self._score(model, fmt, signature, demos, inputs)]
            except NoLogprobs:
                model.disable("logprobs")
                model.notice(NO_LOGPROBS)
            except (NeedsContinuation, EndOfText):
                pass  # this example only: its labels are read from generated text instead
            fmt = Format(fmt.mode, "generate")
        if fmt.mode == "completion":
            prompt = completion_prompt(signature, demos, inputs)
            reply = model.complete(
                prompt, max_tokens=lm_kwargs.get("max_tokens"), temperature=lm_kwargs.get("temperature"), stop=stop_sequences(signature)
            )
            texts = [as_labelled_reply(signature, reply.text)]
        else:
            outputs = lm(messages=self.format(signature, demos, inputs), **lm_kwargs)
            texts = [output.get("text") if isinstance(output, dict) else output for output in outputs]
        return [self._read(signature, text or "", inputs) for text in texts]

    def _score(self, model: TextModel, fmt: Format, signature, demos, inputs) -> dict[str, Any]:
        spec = self.scored_labels(signature, inputs)
        if fmt.mode == "completion":
            def build(values):
                return completion_prompt(signature, demos, dict(values))
        else:
            def build(values):
                return self.format(signature, demos, dict(values))
        scored = self.scorer.score(model, build, inputs, spec.labels, fmt.calibrate)
        name = next(iter(signature.output_fields))
        annotation = signature.output_fields[name].annotation
        value = coerce(scored.label, annotation, spec)
        return {name: value, RAW: scored.label, PARSE_ERROR: None, ECHOES: [], SCORES: scored.logprobs,
                UNCALIBRATED: scored.uncalibrated if fmt.calibrate else None}

    def _read(self, signature, text: str, inputs: dict[str, Any]) -> dict[str, Any]:
        """Parse a generated reply and look for echoes of this prompt in it."""
        value = self.parse_with_inputs(signature, text, inputs)
        definitions = self.definition_lines(signature)
        input_texts = [render_value(item) for item in inputs.values() if isinstance(item, (str, dict, list))]
        # Prompt lines are looked for in the whole reply; input copies field by field, so two short
        # extracted spans (a bridge entity and an answer) do not add up to an "echo".
        answers = [str(value[name]) for name in signature.output_fields if value.get(name)] or [value[RAW]]
        echoes = find_echoes(value[RAW], instruction=signature.instructions, definitions=definitions)
        echoes += [echo for answer in answers for echo in find_echoes(answer, inputs=input_texts)]
        value[ECHOES] = list(dict.fromkeys(echoes))
        return value

    async def acall(self, lm, lm_kwargs, signature, demos, inputs) -> list[dict[str, Any]]:
        raise NotImplementedError("RawTextAdapter is synchronous; smolopt runs examples concurrently on threads (smolopt.parallel)")


def usable_formats(signature: type[dspy.Signature], chats: bool = True) -> list[Format]:
    """The formats a predictor with this signature can use: scored ones only for one label field,
    chat ones only when the model `chats` (has a chat template)."""
    scorable = RawTextAdapter.scored_labels(signature, {}) is not None
    return [fmt for fmt in ALL if (scorable or not fmt.scores) and (chats or fmt.mode != "chat")]
