from __future__ import annotations


class NormalisationError(ValueError):
    """A value that cannot be normalised; `code` is machine-readable, `message` is for people."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
