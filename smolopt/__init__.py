"""smolopt: a local small-model lab. DSPy + GEPA prompt optimization for tiny models."""

__version__ = "0.1.0"
