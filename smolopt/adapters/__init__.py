"""DSPy adapters for tiny models: raw-text prompts, forgiving parsers, echo detection."""

from smolopt.adapters.echo import Echo, find_echoes
from smolopt.adapters.raw_text import ECHOES, PARSE_ERROR, RAW, SCORES, UNCALIBRATED, RawTextAdapter, usable_formats

__all__ = ["RawTextAdapter", "usable_formats", "Echo", "find_echoes", "RAW", "PARSE_ERROR", "ECHOES", "SCORES", "UNCALIBRATED"]
