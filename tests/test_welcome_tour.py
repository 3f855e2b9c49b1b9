"""Chapter 1's tour of coursekit names every module of the package's own map
(``coursekit/__init__.py``), with the same chapters, and nothing that is not a module."""

import importlib
import re

import nbformat

import coursekit
from tests.conftest import BOOK


def package_map():
    """{module: chapters} from the table in coursekit's docstring."""
    rows = re.findall(r"^``(\w+)``\s+((?:all|\d+(?:-\d+)?)(?:, \d+(?:-\d+)?)*)",
                      coursekit.__doc__, re.MULTILINE)
    return dict(rows)


def tour_map():
    """{module: chapters} from chapter 1's table of `coursekit.<module>` rows."""
    notebook = nbformat.read(BOOK / "01-welcome.ipynb", as_version=4)
    text = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "markdown")
    rows = re.findall(r"^\| `coursekit\.(\w+)` \|[^|]*\| ([^|]+) \|$", text, re.MULTILINE)
    return {module: chapters.strip() for module, chapters in rows}


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
