"""What the grader writes back: notes in its own words, and the cells of the scores CSV.

Nothing a submission says reaches the feedback. A failed test is named by its title (the
first line of its docstring, in the master); a public test's hint is added only where it is
the test's own text, word for word (a string in the test's source); a cell that raised is
named by the exception's built-in name; a process that ended or hung by the grader's
account of it. So a submission cannot write into the CSV or onto Gradescope (a formula, a
fake "passed every hidden test"), nor have a hidden input it was called with, or an
expected value, shown back to it. Each cell of the CSV is printable, one line, capped
(``CELL_CHARS``), and never starts like a formula (= + - @, a tab or a carriage return).
"""

import ast
import csv
import functools
import re
import sys

CELL_CHARS = 2000
"""Characters of one CSV cell at most."""

NOTE_CHARS = 160
"""Characters of one note (one question's) at most."""

_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def one_line(text, limit=NOTE_CHARS):
    """``text`` on one line of printable characters, at most ``limit`` of them."""
    text = " ".join("".join(c if c.isprintable() else " " for c in str(text)).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def cell(value, limit=CELL_CHARS):
    """A CSV cell for ``value``: a number as it is, text on one printable line of at most
    ``limit`` characters, with a ' before a character a spreadsheet reads as a formula."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    text = one_line(value, limit)
    return "'" + text if text.startswith(_FORMULA) else text


def read_rows(path):
    """The rows of a CSV the grader wrote (header first), whatever the size of a field
    (an older grader wrote fields of any length)."""
    saved = csv.field_size_limit()
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    try:
        with open(path, newline="", errors="replace") as file:
            return list(csv.reader(file))
    except csv.Error:
        return []
    finally:
        csv.field_size_limit(saved)


# --------------------------------------------------------------------------- notes


def hidden_failure(title):
    """The note of a failed hidden test: its title only."""
    return f"failed a hidden test: {one_line(title)}"


def public_failure(title, message, test_source):
    """The note of a failed public test: its title, then the parts of its ``message`` (a
    failure message is "what was wrong — a hint") that are the test's own words: found
    verbatim in a string of ``test_source``, the test function's source. A part with
    anything of the submission's in it (a value it returned, its exception's message) is
    left out."""
    strings = _strings(test_source)
    parts = [part.strip() for part in message.split(" — ")]
    kept = [part for part in parts if part and any(part in text for text in strings)]
    return " — ".join([f"failed a check: {one_line(title)}", *kept])


@functools.lru_cache(maxsize=256)
def _strings(source):
    """The string constants of ``source`` (the literal parts of f-strings included)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return ()
    return tuple(node.value for node in ast.walk(tree)
                 if isinstance(node, ast.Constant) and isinstance(node.value, str))


def function_sources(path):
    """{name: source} of the top-level functions of the test file at ``path``."""
    from pathlib import Path

    text = Path(path).read_text()
    return {node.name: ast.get_source_segment(text, node) or ""
            for node in ast.parse(text).body if isinstance(node, ast.FunctionDef)}


def natural_key(name):
    """Sort "q2" before "q10"."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]
