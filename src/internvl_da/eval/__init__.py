"""Evaluation: inference runner, one module per benchmark, scoring and report."""
