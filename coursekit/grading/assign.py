"""Instructors: generate the exercises and the autograders from the masters (otter assign).

``python -m coursekit.grading assign 02-concepts`` runs otter assign on
``solutions/02-concepts.ipynb``: the student notebook and public tests go to ``exercises/``;
the autograder with the hidden tests to ``build/autograder/02-concepts/autograder.zip``, and
the same grader packed for Gradescope to ``build/autograder/02-concepts/gradescope.zip``.
"""

import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from coursekit.grading.student import (
    EXERCISES_DIR,
    QUESTIONS_FILE,
    REPO_ROOT,
    _check_chapter_name,
    _import_otter,
)

SOLUTIONS_DIR = REPO_ROOT / "solutions"
BUILD_DIR = REPO_ROOT / "build" / "autograder"


def masters() -> list[str]:
    """The chapters that have an exercise master in ``solutions/``, e.g. ["02-concepts"]."""
    return sorted(path.stem for path in SOLUTIONS_DIR.glob("[0-9][0-9]*.ipynb"))


def _master_path(chapter):
    """``solutions/<chapter>.ipynb``, or a clear error naming the masters there are."""
    _check_chapter_name(chapter)
    path = SOLUTIONS_DIR / f"{chapter}.ipynb"
    if not path.is_file():
        raise ValueError(
            f"chapter: expected one of the masters in {SOLUTIONS_DIR} "
            f"({', '.join(masters()) or 'none'}), got {chapter!r}"
        )
    return path


def _natural_key(name):
    """Sort "q2" before "q10"."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def _write_normalised_notebook(source, destination):
    """Copy a notebook, numbering its cell ids (otter makes random ones) so output repeats."""
    import nbformat

    notebook = nbformat.read(source, as_version=4)
    for index, cell in enumerate(notebook.cells):
        cell["id"] = f"cell-{index}"
    destination.write_text(nbformat.writes(notebook) + "\n")


def _test_header(chapter):
    """The first lines of a generated public test file (ruff checks the master instead)."""
    return (
        f"# Public tests written by otter assign from solutions/{chapter}.ipynb\n"
        "# (python -m coursekit.grading assign): do not edit.\n"
        "# ruff: noqa\n\n"
    )


@dataclass
class Generated:
    """Where ``assign`` put a chapter's files."""

    notebook: Path  # exercises/<chapter>.ipynb: the student notebook
    tests_dir: Path  # exercises/tests/<chapter>/: its public tests
    autograder: Path  # build/autograder/<chapter>/autograder.zip: with the hidden tests
    gradescope: Path  # build/autograder/<chapter>/gradescope.zip: the same, for Gradescope
    solution: Path  # build/autograder/<chapter>/<chapter>.ipynb: the filled-in notebook


def assign(chapter, exercises_dir=EXERCISES_DIR, build_dir=BUILD_DIR, check_solutions=True):
    """Run otter assign on ``solutions/<chapter>.ipynb``; returns where the files went.

    Writes the student notebook to ``exercises_dir/<chapter>.ipynb``, its public tests to
    ``exercises_dir/tests/<chapter>/``, and the autograder zip and solution notebook to
    ``build_dir/<chapter>/``. With ``check_solutions`` otter first grades the solution and
    fails unless it gets every point. The same master always gives the same files.
    """
    _import_otter()
    import otter.assign

    master = _master_path(chapter)
    exercises_dir, build_dir = Path(exercises_dir), Path(build_dir) / chapter
    with tempfile.TemporaryDirectory() as tmp:
        otter.assign.main(str(master), tmp, no_pdfs=True, no_run_tests=not check_solutions)
        student, autograder = Path(tmp) / "student", Path(tmp) / "autograder"

        tests_dir = exercises_dir / "tests" / chapter
        shutil.rmtree(tests_dir, ignore_errors=True)
        tests_dir.mkdir(parents=True)
        questions = sorted((path.stem for path in (student / "tests").glob("*.py")),
                           key=_natural_key)
        for question in questions:
            test_source = (student / "tests" / f"{question}.py").read_text()
            (tests_dir / f"{question}.py").write_text(_test_header(chapter) + test_source)
        (tests_dir / QUESTIONS_FILE).write_text("\n".join(questions) + "\n")
        notebook = exercises_dir / f"{chapter}.ipynb"
        _write_normalised_notebook(student / master.name, notebook)

        build_dir.mkdir(parents=True, exist_ok=True)
        (zip_path,) = autograder.glob("*-autograder_*.zip")  # otter adds a timestamp
        shutil.copyfile(zip_path, build_dir / "autograder.zip")
        solution = build_dir / master.name
        _write_normalised_notebook(autograder / master.name, solution)
    from coursekit.grading.gradescope import write_archive

    write_archive(build_dir / "gradescope.zip", build_dir / "autograder.zip", chapter)
    return Generated(notebook, tests_dir, build_dir / "autograder.zip",
                     build_dir / "gradescope.zip", solution)


