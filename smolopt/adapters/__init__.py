"""DSPy adapters for tiny models: raw-text prompts, forgiving parsers, echo detection."""

from smolopt.adapters.echo import Echo, find_echoes
from smolopt.adapters.raw_text import ECHOES, PARSE_ERROR, RAW, SCORES, UNCALIBRATED, RawTextAdapter

__all__ = ["RawTextAdapter", "Echo", "find_echoes", "RAW", "PARSE_ERROR", "ECHOES", "SCORES", "UNCALIBRATED"]
