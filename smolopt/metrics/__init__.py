"""Metrics that score generated text: each module measures one side of its quality."""
