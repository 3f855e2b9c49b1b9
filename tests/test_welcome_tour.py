"""Chapter 1's tour of coursekit names every module of the package's own map
(``coursekit/__init__.py``), with the same chapters, and nothing that is not a module; the
README's map says the same; and each row's chapters are the chapters whose notebooks import
the module (issue 22: 11 of 22 rows had drifted from the notebooks)."""

import ast
import importlib
import pkgutil
import re

import nbformat
import pytest

import coursekit
from coursekit import course
from tests.conftest import BOOK, ROOT

CHAPTERS_COLUMN = r"((?:all|\d+(?:-\d+)?)(?:, \d+(?:-\d+)?)*)"


def package_map():
    """{module: chapters} from the table in coursekit's docstring."""
    rows = re.findall(r"^``(\w+)``\s+" + CHAPTERS_COLUMN, coursekit.__doc__, re.MULTILINE)
    return dict(rows)


def tour_map():
    """{module: chapters} from chapter 1's table of `coursekit.<module>` rows."""
    notebook = nbformat.read(BOOK / "01-welcome.ipynb", as_version=4)
    text = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "markdown")
    rows = re.findall(r"^\| `coursekit\.(\w+)` \|[^|]*\| ([^|]+) \|$", text, re.MULTILINE)
    return {module: chapters.strip() for module, chapters in rows}


def readme_map():
    """{module: chapters} from the README's section "Which module serves which chapter"
    (two modules a row)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("## Which module serves which chapter")
    section = text[start:text.index("\n## ", start + 1)]
    return dict(re.findall(r"\| `(\w+)`[^|]*\| " + CHAPTERS_COLUMN + r"(?= \|)", section))


def chapter_set(column: str, every: set[int]) -> set[int]:
    """'1-3, 5, 8' -> {1, 2, 3, 5, 8}; 'all' -> every chapter."""
    if column == "all":
        return set(every)
    chapters = set()
    for part in column.split(", "):
        first, _, last = part.partition("-")
        chapters.update(range(int(first), int(last or first) + 1))
    return chapters


def chapter_of(path) -> int:
    """The chapter a notebook belongs to: 09a and 09b are both chapter 9."""
    return int(re.match(r"\d+", path.name).group(0))


def imported_modules(notebook, modules: set[str]) -> set[str]:
    """The coursekit modules the notebook's code cells import (IPython magics and shell
    lines left out)."""
    found = set()
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        source = "\n".join(line for line in cell.source.splitlines()
                           if not line.lstrip().startswith(("%", "!")))
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                parts = node.module.split(".")
                if parts[0] != "coursekit":
                    continue
                if len(parts) > 1:
                    found.add(parts[1])
                else:
                    found.update(alias.name for alias in node.names if alias.name in modules)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    parts = alias.name.split(".")
                    if parts[0] == "coursekit" and len(parts) > 1:
                        found.add(parts[1])
    return found


def installs_the_course(notebook) -> bool:
    """Whether the notebook's first code cell installs the course from course's address
    (what the first cell of every chapter and exercise does: ``course`` serves it)."""
    first = next(cell for cell in notebook.cells if cell.cell_type == "code")
    return f"git+{course.REPOSITORY}@{course.REF}" in first.source


def used_in() -> dict[str, set[int]]:
    """{module: the chapters whose notebooks use it}: the book's chapters and the
    exercises (an exercise counts for its chapter)."""
    modules = {m.name for m in pkgutil.iter_modules(coursekit.__path__)
               if not m.name.startswith("_")}
    used = {module: set() for module in modules}
    paths = sorted(BOOK.glob("[0-9][0-9]*.ipynb")) + sorted(
        (ROOT / "exercises").glob("[0-9][0-9]-*.ipynb"))
    for path in paths:
        notebook = nbformat.read(path, as_version=4)
        for module in imported_modules(notebook, modules):
            used[module].add(chapter_of(path))
        if installs_the_course(notebook):
            used["course"].add(chapter_of(path))
    return used


def test_the_package_map_is_read_whole():
    found = package_map()
    assert len(found) >= 20 and found["setup"] == "all" and found["fcn"] == "4, 5, 7, 8"


def test_chapter_one_tours_every_module_with_its_chapters():
    tour, package = tour_map(), package_map()
    assert sorted(set(package) - set(tour)) == [], "modules the tour leaves out"
    assert sorted(set(tour) - set(package)) == [], "tour rows that are not in the map"
    assert tour == package
    for module in tour:
        importlib.import_module(f"coursekit.{module}")


def test_the_readme_has_the_same_map():
    assert readme_map() == package_map()


def test_each_module_is_mapped_to_the_chapters_that_import_it():
    used = used_in()
    every = {chapter_of(path) for path in BOOK.glob("[0-9][0-9]*.ipynb")}
    assert sorted(set(used) - set(package_map())) == [], "modules the map leaves out"
    wrong = {module: f"map says {column}, the notebooks use it in "
                     f"{sorted(used[module]) or 'none'}"
             for module, column in package_map().items()
             if chapter_set(column, every) != used[module]}
    assert not wrong, (f"the module map's chapters differ from the notebooks' imports: "
                       f"{wrong}; fix chapter 1's tour, coursekit/__init__.py and the README")


def test_the_import_reader():
    source = ("from coursekit import data, viz\nfrom coursekit.data import X\n"
              "import coursekit.unet as u\nfrom coursekit import (fcn,\n    losses)\n"
              "%matplotlib inline\nfrom other import conv\n")
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)])
    modules = {"data", "viz", "unet", "fcn", "losses", "conv"}
    assert imported_modules(notebook, modules) == {"data", "viz", "unet", "fcn", "losses"}
    assert chapter_set("1-3, 5, 8, 9", set()) == {1, 2, 3, 5, 8, 9}
    assert chapter_set("all", {1, 2}) == {1, 2}


RUN_TIMES = "# How long each chapter took"
"""The first line of chapter 1's cell that prints every chapter's recorded run time."""


def run_times_cell_output(folder, capsys, monkeypatch) -> str:
    notebook = nbformat.read(BOOK / "01-welcome.ipynb", as_version=4)
    cells = [cell for cell in notebook.cells
             if cell.cell_type == "code" and cell.source.startswith(RUN_TIMES)]
    assert len(cells) == 1, f"chapter 1 has no single cell starting {RUN_TIMES!r}"
    monkeypatch.chdir(folder)
    exec(compile(cells[0].source, "run-times cell", "exec"), {})
    return capsys.readouterr().out


def test_the_run_times_cell_lists_every_chapter_beside_the_book(capsys, monkeypatch):
    output = run_times_cell_output(BOOK, capsys, monkeypatch)
    for path in BOOK.glob("[0-9][0-9]*.ipynb"):
        assert path.stem in output, f"{path.stem} missing from the run times:\n{output}"
    assert "all " in output and "not beside" not in output, output


@pytest.mark.parametrize("where", ["alone", "repository root"])
def test_the_run_times_cell_in_colab_or_elsewhere(where, tmp_path, capsys, monkeypatch):
    """In Colab a chapter is opened alone: the cell says so in words, with no error. From
    the repository's root it finds the book."""
    folder = tmp_path if where == "alone" else ROOT
    output = run_times_cell_output(folder, capsys, monkeypatch)
    if where == "alone":
        assert "not beside this one" in output and "Error" not in output, output
    else:
        assert "01-welcome" in output and "09b-instances-and-next" in output, output


def minutes_by_notebook(output: str) -> dict[str, float]:
    """{notebook: minutes} from the run-times cell's table (its header and total left out)."""
    rows = {}
    for line in output.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0][:2].isdigit() and parts[0][2:3] in "ab-":
            rows[parts[0]] = float(parts[1])
    return rows


def stored_run_times() -> str:
    notebook = nbformat.read(BOOK / "01-welcome.ipynb", as_version=4)
    cell = next(cell for cell in notebook.cells
                if cell.cell_type == "code" and cell.source.startswith(RUN_TIMES))
    return "".join(output.get("text", "") for output in cell.outputs)


def test_the_page_shows_the_run_times_the_notebooks_record_now(capsys, monkeypatch):
    """Chapter 1's committed table is current: re-running any other chapter changes its
    recorded time, and then chapter 1 must be run again (its own row is from its previous
    run, since a notebook records its time when the run ends)."""
    now = minutes_by_notebook(run_times_cell_output(BOOK, capsys, monkeypatch))
    shown = minutes_by_notebook(stored_run_times())
    assert set(now) == set(shown), (sorted(now), sorted(shown))
    stale = {stem: (shown[stem], now[stem]) for stem in now
             if stem != "01-welcome" and abs(shown[stem] - now[stem]) > 0.2}
    assert not stale, ("chapter 1's run-time table is out of date (shown, recorded now, "
                       f"in minutes): {stale}; run book/01-welcome.ipynb again")


def test_the_table_reader():
    table = ("notebook                     minutes  device\n"
             "01-welcome                       0.1  cpu (2 threads)\n"
             "09a-segment-then-classify       18.4  cpu (2 threads)\n"
             "all 10 notebooks                80.3\n")
    assert minutes_by_notebook(table) == {"01-welcome": 0.1, "09a-segment-then-classify": 18.4}
