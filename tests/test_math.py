"""Display math is its own paragraph in every chapter and exercise.

MyST reads ``$$ ... $$`` as display math only when the block stands apart from the prose
around it. Written inside a paragraph (chapter 3's batch-norm and residual formulas, found
by a reader in the built page), it became broken inline math: prose set as math, and
``\\epsilon``, ``\\gamma`` and a stray ``$`` printed raw. The rendered page is checked too,
in tests/test_book.py (``test_math_is_set_as_math``).
"""

import re

import nbformat
import pytest

from tests.conftest import BOOK, ROOT

NOTEBOOKS = sorted(BOOK.glob("[0-9][0-9]*.ipynb")) + sorted(
    (ROOT / "exercises").glob("[0-9][0-9]-*.ipynb"))


def misplaced_display_math(markdown: str) -> list[str]:
    """Each ``$$`` of ``markdown`` that does not open a block after a blank line (or the
    start) or does not close one before a blank line (or the end), as a short quote."""
    problems = []
    text = re.sub(r"```.*?```", "", markdown, flags=re.S)     # code blocks hold no math
    marks = [m.start() for m in re.finditer(r"\$\$", text)]
    if len(marks) % 2:
        return [f"an odd number of $$ ({len(marks)})"]
    for opening, closing in zip(marks[::2], marks[1::2], strict=True):
        before = text[:opening]
        after = text[closing + 2:]
        quote = text[opening:closing + 2].replace("\n", " ")[:60]
        if not (before == "" or before.endswith("\n\n") or before == "\n"):
            problems.append(f"{quote!r}: no blank line before the opening $$")
        if not (after.strip(" ") == "" or after.startswith("\n\n")
                or after.strip(" ") == "\n"):
            problems.append(f"{quote!r}: no blank line after the closing $$")
    return problems


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: f"{path.parent.name}/{path.stem}")
def test_display_math_stands_apart_from_the_prose(path):
    problems = [f"cell {i}: {problem}"
                for i, cell in enumerate(nbformat.read(path, 4).cells)
                if cell.cell_type == "markdown"
                for problem in misplaced_display_math(cell.source)]
    assert not problems, f"{path.name}: " + "; ".join(problems)


@pytest.mark.parametrize("markdown, expected", [
    ("text\n\n$$x = 1$$\n\nmore", 0),
    ("$$x = 1$$", 0),
    ("text\n\n$$a\n= b$$\n", 0),
    ("the mean\n$$x = 1$$\n\nmore", 1),            # glued to the paragraph above
    ("text\n\n$$x = 1$$\nstandardises", 1),         # glued to the paragraph below
    ("inline $$x$$ in a sentence", 2),
    ("```\n$$ in code\n```", 0),
    ("$$x", 1),
])
def test_the_rule_catches_display_math_inside_a_paragraph(markdown, expected):
    assert len(misplaced_display_math(markdown)) == expected
