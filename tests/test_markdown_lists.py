"""No prose line of a chapter or exercise starts a list by accident.

In markdown a line that begins with "- ", "+ " or "* " starts a list item even in the
middle of a paragraph. Rewrapping prose can put a minus sign at the start of a line
("... and there log σ(-20) =\n- 20 ..."), and the page then shows a bullet where the
sentence was: chapter 6 had two such lines after a rewrap. Lists in this book stand apart
from the prose before them (a blank line, or another item, comes first)."""

import re

import nbformat
import pytest

from tests.conftest import BOOK, ROOT

NOTEBOOKS = sorted(BOOK.glob("[0-9][0-9]*.ipynb")) + sorted(
    (ROOT / "exercises").glob("[0-9][0-9]-*.ipynb"))
BULLET = re.compile(r"^[-+*] ")
ITEM_OR_MORE = re.compile(r"^(\s|[-+*] |\d+[.)] |>|\||#)")


def accidental_bullets(markdown: str) -> list[str]:
    """Each line of ``markdown`` that starts a bullet right after a prose line (not after
    a blank line, a list item, an indented continuation, a quote, a table or a heading),
    outside fenced code."""
    found, fenced, previous = [], False, ""
    for line in markdown.split("\n"):
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and BULLET.match(line) and previous.strip() \
                and not ITEM_OR_MORE.match(previous):
            found.append(f"{previous[-40:]!r} / {line[:40]!r}")
        previous = line
    return found


def test_the_check_finds_a_bullet_made_by_a_rewrap():
    assert accidental_bullets("so the sum is\n- 20 plus a little") != []
    assert accidental_bullets("Three kinds:\n\n- one\n- two\n  and more\n- three") == []
    assert accidental_bullets("```\nx = 1\n- 2\n```") == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_no_prose_line_starts_a_bullet(path):
    notebook = nbformat.read(path, as_version=4)
    problems = [f"cell {i}: {problem}" for i, cell in enumerate(notebook.cells)
                if cell.cell_type == "markdown"
                for problem in accidental_bullets(cell.source)]
    assert not problems, f"{path.name}: a line starts a list inside a paragraph: {problems}"
