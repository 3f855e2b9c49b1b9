"""Committed book outputs are real and current: made by a full (non-fast) run of the
code as it is now. Re-run a chapter with `tools/run_notebooks.py` after changing it."""

import importlib.util

import nbformat
import pytest

from tests.conftest import BOOK, ROOT

spec = importlib.util.spec_from_file_location("run_notebooks", ROOT / "tools" / "run_notebooks.py")
run_notebooks = importlib.util.module_from_spec(spec)
spec.loader.exec_module(run_notebooks)

BOOK_NOTEBOOKS = sorted(BOOK.glob("[0-9][0-9]*.ipynb"))
FIX = "re-run it: .venv/bin/python tools/run_notebooks.py {}"


@pytest.mark.parametrize("path", BOOK_NOTEBOOKS, ids=lambda p: p.name)
def test_outputs_come_from_a_real_run_of_the_current_code(path):
    notebook = nbformat.read(path, as_version=4)
    stamp = notebook.metadata.get("coursekit")
    fix = FIX.format(path.relative_to(ROOT))
    assert stamp is not None, f"{path.name} was never run by tools/run_notebooks.py; {fix}"
    assert stamp["code_sha256"] == run_notebooks.code_hash(notebook), (
        f"{path.name}: code changed after its outputs were made; {fix}")
    assert stamp["fast_mode"] is False and stamp["device"], stamp
    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    counts = [cell.execution_count for cell in code_cells]
    assert counts == list(range(1, len(code_cells) + 1)), (
        f"{path.name}: cells were not run once each, top to bottom; {fix}")
    errors = [o for c in code_cells for o in c.outputs if o.output_type == "error"]
    assert not errors, f"{path.name}: committed outputs contain an error: {errors[0].ename}"


def test_the_hash_sees_a_changed_code_cell():
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
    before = run_notebooks.code_hash(notebook)
    notebook.cells.append(nbformat.v4.new_markdown_cell("prose does not count"))
    assert run_notebooks.code_hash(notebook) == before
    notebook.cells[0].source = "x = 2"
    assert run_notebooks.code_hash(notebook) != before
