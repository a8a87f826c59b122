"""Errors about one record of one file. Bad input never disappears silently."""

from __future__ import annotations


class SampleError(ValueError):
    """A record that cannot be used, located as `file:line: reason`.

    `line` is 1-based (as editors show it); None when the problem is about the whole file.
    """

    def __init__(self, source: str, line: int | None, reason: str) -> None:
        self.source = str(source)
        self.line = line
        self.reason = reason
        where = self.source if line is None else f"{self.source}:{line}"
        super().__init__(f"{where}: {reason}")

    def __reduce__(self):
        # Picklable with its three fields, so it crosses process pools and DataLoader workers.
        return (type(self), (self.source, self.line, self.reason))


class TruncationError(SampleError):
    """max_length would cut an image block (or leave no supervised token)."""
