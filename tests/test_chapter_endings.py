"""Every chapter ends the same way: a link that opens its exercise in Colab, then what
comes next (issue 22: chapter 3 had neither; chapters 6, 8 and 9a said nothing of what
comes next). The last chapter says where to go after the course instead."""

import nbformat
import pytest

from coursekit import course
from tests.conftest import BOOK, ROOT

CHAPTERS = sorted(BOOK.glob("[0-9][0-9]*.ipynb"))
EXERCISES = sorted((ROOT / "exercises").glob("[0-9][0-9]-*.ipynb"))


def text_of(cell) -> str:
    """A cell's source and, for code, the text of its outputs."""
    parts = [cell.source]
    for output in cell.get("outputs", []):
        parts.append(output.get("text", ""))
        parts.extend(str(value) for value in output.get("data", {}).values())
    return "\n".join(parts)


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda path: path.stem)
def test_every_chapter_ends_by_saying_what_comes_next(path):
    last = nbformat.read(path, 4).cells[-1]
    heading = "## Where to go next" if path == CHAPTERS[-1] else "## What comes next"
    assert last.cell_type == "markdown" and last.source.startswith(heading + "\n"), (
        f"{path.name} must end with a markdown cell that starts with '{heading}'; it ends "
        f"with a {last.cell_type} cell: {last.source[:80]!r}")


@pytest.mark.parametrize("exercise", EXERCISES, ids=lambda path: path.stem)
def test_every_exercise_is_opened_in_colab_from_its_chapter(exercise):
    number = exercise.name[:2]
    address = course.colab_url(f"exercises/{exercise.name}")
    chapters = [path for path in CHAPTERS if path.name.startswith(number)]
    assert chapters, f"no chapter {number} for {exercise.name}"
    linked = [path.name for path in chapters
              if any(address in text_of(cell) for cell in nbformat.read(path, 4).cells)]
    assert linked, f"no chapter {number} page links {address}"


def test_a_missing_ending_is_caught(tmp_path):
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("## Summary")])
    path = tmp_path / "05-x.ipynb"
    nbformat.write(notebook, path)
    with pytest.raises(AssertionError, match="must end with a markdown cell"):
        test_every_chapter_ends_by_saying_what_comes_next(path)
