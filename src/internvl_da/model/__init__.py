"""Model registry, loading, conversion and the tiny in-process model."""
