"""Committed notebooks show nothing of the machine that ran them, and fit the book's column.

The column: sphinx-book-theme (1.3, the version `make book` installs) sets code and outputs
in 11.84 px monospace, 7.12 px a character; at a 1280-px window, with both sidebars, a code
cell's text area is 640 px wide: 89.9 characters (measured in headless Chromium on the built
book). A longer line is cut off, and a reader has to scroll sideways for the rest.
"""

import re

import nbformat
import pytest

from tests.conftest import BOOK, ROOT

COLUMN = 88
"""Characters a code or output line may have: what the book's column holds at 1280 px."""

MACHINE_PATHS = re.compile(
    r"(/work/|/root/|/home/|/tmp/|/Users/|/content/|/private/var/|[A-Za-z]:\\\\Users|"
    r"site-packages|dist-packages|\.venv/|/usr/lib/python|/opt/conda|\.cache/torch)")
"""Folders that only mean something on the machine that ran the notebook."""

CHAPTERS = sorted(BOOK.glob("[0-9][0-9]*.ipynb"))
NOTEBOOKS = (CHAPTERS + sorted((ROOT / "exercises").glob("*.ipynb"))
             + sorted((ROOT / "solutions").glob("*.ipynb")))
"""Every committed notebook is checked for paths; the column applies to the book's chapters
(exercises and their masters open in Colab or Jupyter, whose code column is wider)."""

NOT_YET = {
    "book/06-losses.ipynb": "issue 13 fixed chapters 1-5; chapter 6 still has about 20 code "
                            "lines of 89-95 characters and 90-character tables",
    "book/07-evaluation.ipynb": "as chapter 6: about 20 code lines of 89-95 characters",
}
"""Chapters whose lines are known to overflow the column, each with the reason. The test
fails (strict xfail) once one of them fits, so that it leaves this list."""

PATHS_NOT_YET = {
}
"""Notebooks known to show a path of the machine (strict xfail, as NOT_YET)."""


def ids(path):
    return str(path.relative_to(ROOT))


def output_texts(cell):
    """Each output of a code cell as text (streams, plain text, HTML, error tracebacks)."""
    for output in cell.get("outputs", []):
        if output.output_type == "stream":
            yield "stream", output.text
        elif output.output_type == "error":
            yield "error", "\n".join(output.traceback)
        else:
            for kind, value in output.get("data", {}).items():
                if kind.startswith("text/") or kind.endswith("json"):
                    yield kind, value if isinstance(value, str) else str(value)


def known(paths, reasons):
    return [pytest.param(p, marks=pytest.mark.xfail(strict=True, reason=reasons[ids(p)]))
            if ids(p) in reasons else p for p in paths]


@pytest.mark.parametrize("path", known(NOTEBOOKS, PATHS_NOT_YET), ids=ids)
def test_no_path_of_the_machine_in_any_output(path):
    notebook = nbformat.read(path, as_version=4)
    for number, cell in enumerate(notebook.cells):
        for kind, text in output_texts(cell):
            found = MACHINE_PATHS.search(text)
            assert not found, (
                f"{ids(path)}, cell {number} ({kind}) shows the machine's "
                f"{found.group(0)!r}: ...{text[max(0, found.start() - 80):found.end() + 80]}...")


def overlong(path):
    notebook = nbformat.read(path, as_version=4)
    long = []
    for number, cell in enumerate(notebook.cells):
        if cell.cell_type != "code":
            continue
        for line in cell.source.splitlines():
            if len(line) > COLUMN:
                long.append(f"cell {number}, code ({len(line)}): {line}")
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if output.output_type == "stream":
                text = output.text
            elif "text/plain" in data and len(data) == 1:
                text = data["text/plain"]      # shown only when there is nothing richer
            else:
                continue                       # HTML wraps; images and widgets have no lines
            for line in text.splitlines():
                shown = line.split("\r")[-1]   # a progress bar redraws itself after \r
                if len(shown) > COLUMN:
                    long.append(f"cell {number}, output ({len(shown)}): {shown}")
    return long


@pytest.mark.parametrize("path", known(CHAPTERS, NOT_YET), ids=ids)
def test_every_line_fits_the_column(path):
    long = overlong(path)
    assert not long, (f"{ids(path)}: {len(long)} lines longer than {COLUMN} characters "
                      "(the book's column):\n" + "\n".join(long[:12]))


def test_the_machine_path_pattern_catches_what_it_should():
    for bad in ["/work/main/data", "/root/.cache/torch/hub/checkpoints/x.pth", "/tmp/tmpab/x",
                "/home/me/coursekit-data", "lib/python3.11/site-packages/torch/nn.py",
                "C:\\\\Users\\\\me"]:
        assert MACHINE_PATHS.search(bad), bad
    for fine in ["$COURSEKIT_DATA/MNIST", "data root: $COURSEKIT_DATA", "https://example.org/a/b"]:
        assert not MACHINE_PATHS.search(fine), fine
