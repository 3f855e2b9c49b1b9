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

NOT_YET = {}
"""Chapters whose lines are known to overflow the column, each with the reason. The test
fails (strict xfail) once one of them fits, so that it leaves this list."""

PATHS_NOT_YET = {
}
"""Notebooks known to show a path of the machine (strict xfail, as NOT_YET)."""


EXCEPTION_TEXT = re.compile(r"\b(\w+(?:Error|Exception)):|\[Errno -?\d+\]|Traceback \(most recent")
"""An exception's own words in an output: a reader should get a sentence written for them."""

EXCEPTION_TEXT_NOT_YET = {
}
"""Chapters known to show an exception's text (strict xfail, as NOT_YET)."""


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


def fenced_lines(markdown):
    """The lines inside the text's fenced code blocks (```), which the book sets in the
    same monospace column as code; a MyST directive (```{warning}) is text, not code."""
    inside, directive, lines = False, False, []
    for line in markdown.splitlines():
        if line.lstrip().startswith("```"):
            inside = not inside
            directive = inside and line.lstrip()[3:].startswith("{")
        elif inside and not directive:
            lines.append(line)
    return lines


def test_fenced_lines_are_the_lines_of_code_blocks_only():
    text = ("a long line of prose " * 9 + "\n```bash\nmake test\n```\nmore\n```\nx = 1\n```"
            "\n```{warning}\n" + "a long line of prose " * 9 + "\n```")
    assert fenced_lines(text) == ["make test", "x = 1"]


def overlong(path):
    notebook = nbformat.read(path, as_version=4)
    long = []
    for number, cell in enumerate(notebook.cells):
        if cell.cell_type == "markdown":
            long += [f"cell {number}, code block in the text ({len(line)}): {line}"
                     for line in fenced_lines(cell.source) if len(line) > COLUMN]
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


def exception_texts(path):
    """Outputs that quote an exception, except one the cell catches by name and prints on
    purpose (``except ValueError as error: print("ValueError:", error)``)."""
    notebook = nbformat.read(path, as_version=4)
    found = []
    for number, cell in enumerate(notebook.cells):
        if cell.cell_type != "code":
            continue
        for kind, text in output_texts(cell):
            for match in EXCEPTION_TEXT.finditer(text):
                name = match.group(1)
                if kind != "error" and name and re.search(rf"except\b[^:]*\b{name}\b",
                                                          cell.source):
                    continue
                context = text[max(0, match.start() - 60):match.end() + 60]
                found.append(f"cell {number} ({kind}): ...{context}...")
    return found


@pytest.mark.parametrize("path", known(CHAPTERS, EXCEPTION_TEXT_NOT_YET), ids=ids)
def test_no_exception_text_in_any_output(path):
    found = exception_texts(path)
    assert not found, (f"{ids(path)} shows an exception's own text where a reader should get "
                       "a sentence:\n" + "\n".join(found[:6]))


def test_exception_text_is_found_unless_caught_on_purpose(tmp_path):
    notebook = nbformat.v4.new_notebook()
    shown = nbformat.v4.new_code_cell("try:\n    f()\nexcept ValueError as error:\n"
                                      "    print('ValueError:', error)")
    shown.outputs = [nbformat.v4.new_output("stream", text="ValueError: images: bad\n")]
    leaked = nbformat.v4.new_code_cell("weights = download()")
    leaked.outputs = [nbformat.v4.new_output(
        "stream", text="not available (URLError: <urlopen error [Errno -2] Name>)\n")]
    notebook.cells = [shown, leaked]
    nbformat.write(notebook, tmp_path / "n.ipynb")
    found = exception_texts(tmp_path / "n.ipynb")
    assert len(found) == 2 and all(line.startswith("cell 1 ") for line in found)
