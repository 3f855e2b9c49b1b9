"""What a failed check is called, for every layer of the grader: the words that mark an
untouched question, and the exception of an answer that calls what it may not."""

NOT_ANSWERED = "not answered yet"
"""How every message about an untouched question starts."""


class ForbiddenCall(AssertionError):
    """Raised when an answer calls a torch function that its question asks us to write."""
