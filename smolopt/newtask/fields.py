"""Column names as the Python names task.py and data.jsonl use for them.

A column becomes a field of a DSPy signature and a key of each example, so it must be an
identifier: "Customer message" becomes customer_message, "2nd opinion" column_2nd_opinion, and
a name Python, DSPy or the task file already uses ("class", "keys", "json", "id", "split") gets a
trailing underscore.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Sequence
from functools import cache

from smolopt.errors import SmoloptError


@cache
def _taken() -> frozenset[str]:
    """Names a field may not have: data.jsonl's own keys, and the attributes of dspy.Example (a task
    file reads `example.<field>`) and of dspy.Signature and its class (DSPy refuses a field named
    like one: "instructions", "fields", "json")."""
    import dspy

    kinds = (dspy.Example, dspy.Prediction, dspy.Signature, type(dspy.Signature))
    attributes = {name for kind in kinds for name in dir(kind) if not name.startswith("_")}
    return frozenset({"id", "split", *attributes})


def field_name(column: str) -> str:
    """The Python name of a column: lower case, runs of other characters as one underscore."""
    name = re.sub(r"\W+", "_", column).strip("_").lower()
    if not name:
        raise SmoloptError(f"column '{column}' has no letter or digit to name a field after; rename it")
    if name[0].isdigit():
        name = f"column_{name}"
    if keyword.iskeyword(name) or name in _taken():
        name += "_"
    return name


def field_names(columns: Sequence[str]) -> dict[str, str]:
    """{column: field} for the columns a task uses; two columns that would share a name are an error."""
    fields: dict[str, str] = {}
    for column in columns:
        name = field_name(column)
        clash = next((other for other, taken in fields.items() if taken == name), None)
        if clash is not None:
            raise SmoloptError(f"columns '{clash}' and '{column}' would both be the field '{name}'; rename one")
        fields[column] = name
    return fields
