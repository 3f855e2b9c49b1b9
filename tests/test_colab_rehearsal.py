"""Colab, rehearsed offline (tools/colab_rehearsal.py): a fresh environment with only Colab's
preinstalled packages, the first cell run as written against a local clone at course.REF.

The suite runs the lean version, chapter 1 with pip kept offline (about 15 s); the full
rehearsal of every chapter and exercise is run by hand and its result committed in
tools/results/colab-rehearsal.json (see README, "Publishing a version")."""

import importlib.util
import json
import shutil
import subprocess
import sys

import nbformat
import pytest

from coursekit import course
from tests.conftest import BOOK, ROOT

spec = importlib.util.spec_from_file_location("colab_rehearsal",
                                              ROOT / "tools" / "colab_rehearsal.py")
rehearsal = importlib.util.module_from_spec(spec)
spec.loader.exec_module(rehearsal)


def test_only_the_repository_address_of_the_first_cell_is_swapped(tmp_path):
    notebook = nbformat.read(BOOK / "01-welcome.ipynb", as_version=4)
    before = [cell.source for cell in notebook.cells]
    clone = tmp_path / "repository.git"
    after = rehearsal.swap_repository(notebook, clone)
    first = next(i for i, cell in enumerate(notebook.cells) if cell.cell_type == "code")
    assert after == before[first].replace(course.REPOSITORY, clone.as_uri())
    assert f"git+{clone.as_uri()}@{course.REF}" in after
    assert [c.source for i, c in enumerate(notebook.cells) if i != first] == [
        s for i, s in enumerate(before) if i != first]


def test_the_preinstalled_packages_are_colabs_and_never_the_course(tmp_path):
    folder = rehearsal.preinstalled_folder(tmp_path / "pre")
    names = {path.name for path in folder.iterdir()}
    assert {"torch", "torchvision", "numpy", "ipykernel"} <= names
    assert not any(name.startswith(("coursekit", "dlvision", "otter")) for name in names)


@pytest.mark.skipif(shutil.which("git") is None or not (ROOT / ".git").exists(),
                    reason="needs git and a git checkout of the course")
def test_chapter_1_runs_as_in_colab(tmp_path):
    out = tmp_path / "result.json"
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "colab_rehearsal.py"), "--offline",
         "--out", str(out), str(BOOK / "01-welcome.ipynb")],
        capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    (chapter,) = json.loads(out.read_text())["results"]
    assert chapter["status"] == "passed"
    assert chapter["coursekit_from_the_clone"] and chapter["torch_preinstalled"]


def test_the_committed_full_rehearsal_passed_everywhere():
    summary = json.loads((ROOT / "tools" / "results" / "colab-rehearsal.json").read_text())
    assert summary["ref"] == course.REF
    rehearsed = {r["notebook"] for r in summary["results"]}
    expected = {str(p.relative_to(ROOT)) for p in rehearsal.all_notebooks()}
    assert expected <= rehearsed, f"not rehearsed: {sorted(expected - rehearsed)}"
    failed = [r["notebook"] for r in summary["results"] if r["status"] != "passed"]
    assert not failed, f"the last full rehearsal failed for {failed}"
