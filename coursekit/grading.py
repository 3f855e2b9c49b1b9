"""Graded exercises: thin glue over otter-grader.

Each chapter's exercise is written once, as an otter-assign master notebook
``solutions/NN-name.ipynb`` (solutions, public tests, hidden tests). From it this module
makes everything else; it uses otter wherever otter does the job and adds only what
otter lacks:

- **Students.** The first cell of ``exercises/NN-name.ipynb`` calls
  ``grader = exercise_grader("NN-name")``, which finds the chapter's public tests next to
  the notebook, or downloads them in Colab (otter's own download works only in
  JupyterLite). Each check cell calls ``grader.check("q1")``, which runs otter's check and
  says in plain words what passed, what failed and a hint; an untouched question says
  "not answered yet".
- **Test files.** The tests in a master call the helpers below (mostly
  ``expect_result``, which calls the answer, with ``forbidden`` torch functions switched
  off, and compares), so each test stays a few lines long and a failure reads as one
  sentence.
- **Instructors.** ``python -m coursekit.grading assign 02-concepts`` runs otter assign:
  the student notebook and public tests go to ``exercises/``, the autograder (with the
  hidden tests) to ``build/autograder/02-concepts/``.
  ``python -m coursekit.grading grade SUBMISSIONS --chapter 02-concepts --out scores.csv``
  grades a folder of notebooks. otter's own ``otter grade`` needs Docker, so each
  submission is graded by otter run (no Docker) in a process of its own with a time limit:
  a notebook that loops, crashes or prints a flood cannot stop the others.
"""

import argparse
import concurrent.futures
import contextlib
import csv
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

import torch
import torch.nn.functional as F

from coursekit import course

REPO_ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS_DIR = REPO_ROOT / "solutions"
EXERCISES_DIR = REPO_ROOT / "exercises"
BUILD_DIR = REPO_ROOT / "build" / "autograder"

NOT_ANSWERED = "not answered yet"
"""How every message about an untouched question starts."""

QUESTIONS_FILE = "questions.txt"
"""Written next to a chapter's public tests: the question names, one a line (for downloads)."""


def _import_otter():
    """otter-grader, or a clear error saying how to install it."""
    try:
        import otter
    except ImportError as error:
        raise ImportError(
            "the graded exercises need otter-grader: "
            f"pip install \"{course.install_spec('exercises')}\""
        ) from error
    return otter


# --------------------------------------------------------------------------------------
# 1. Helpers for the tests in a master notebook
# --------------------------------------------------------------------------------------
# A test fails by raising AssertionError with one plain sentence; otter records it and
# grader.check shows the sentence to the student.


class ForbiddenCall(AssertionError):
    """Raised when an answer calls a torch function that its question asks us to write."""


def _argument_text(key, value):
    """One argument of ``describe``: tensors by their shape, anything else by its repr."""
    if isinstance(value, torch.Tensor):
        return f"{key or 'a tensor'} of shape {tuple(value.shape)}"
    return f"{key}={value!r}" if key else repr(value)


def describe(name, *args, **kwargs):
    """A short text for a call, tensors shown by their shape.

    >>> describe("conv2d_loops", x=torch.zeros(1, 1, 4, 4), padding=1)
    'conv2d_loops(x of shape (1, 1, 4, 4), padding=1)'
    """
    parts = [_argument_text(None, value) for value in args]
    parts += [_argument_text(key, value) for key, value in kwargs.items()]
    return f"{name}({', '.join(parts)})"


def call(function, name, *args, **kwargs):
    """Call a student's ``function(*args, **kwargs)`` and return its result.

    ``name`` is the function's name in the notebook (``function`` is None when it is not
    defined). An untouched stub (body ``...``, so it returns None) fails with "not answered
    yet"; an exception inside the answer fails with one line naming it, not a stack trace.
    """
    if function is None:
        raise AssertionError(
            f"{NOT_ANSWERED}: `{name}` is not defined. Run the cell that defines it, "
            "then run this check again."
        )
    try:
        result = function(*args, **kwargs)
    except ForbiddenCall:
        raise
    except NotImplementedError:
        raise AssertionError(f"{NOT_ANSWERED}: {name} raised NotImplementedError.") from None
    except Exception as error:
        raise AssertionError(
            f"{describe(name, *args, **kwargs)} raised {type(error).__name__}: {error}"
        ) from None
    if result is None or result is Ellipsis:
        raise AssertionError(
            f"{NOT_ANSWERED}: {name} returned {result!r}. Replace the `...` in its body with "
            "your code (and `return` the result), run that cell, then this check again."
        )
    return result


def _fail(message, hint=""):
    """Raise the AssertionError of a failed test: the message, then the hint if any."""
    raise AssertionError(f"{message} — {hint}" if hint else message)


def expect_equal(got, expected, what, hint=""):
    """Fail unless ``got == expected`` and both have the same type (so 26.0 is not 26).

    ``what`` names the value in the message, e.g. "conv_output_size(28, 3)".
    """
    if type(got) is not type(expected):
        _fail(
            f"{what} returned {got!r} ({type(got).__name__}), "
            f"expected {expected!r} ({type(expected).__name__})",
            hint,
        )
    if got != expected:
        _fail(f"{what} returned {got!r}, expected {expected!r}", hint)


def expect_tensor(got, expected, what, hint="", shape_hints=None, atol=1e-4, rtol=1e-4):
    """Fail unless ``got`` is a tensor of ``expected``'s shape with close values.

    got, expected: tensors of any shape (compared in float64). ``what`` names the value
    in the message. ``hint`` is added to any failure; ``shape_hints`` maps a wrong shape
    (a tuple) to the hint for it, e.g. ``{(1, 2, 3, 3): "did you forget the padding?"}``.
    """
    if not isinstance(got, torch.Tensor):
        _fail(f"{what} returned a {type(got).__name__}, expected a torch.Tensor", hint)
    got_shape, expected_shape = tuple(got.shape), tuple(expected.shape)
    if got_shape != expected_shape:
        shape_hint = (shape_hints or {}).get(got_shape, hint)
        _fail(f"{what}: output shape {got_shape}, expected {expected_shape}", shape_hint)
    got64 = got.detach().to("cpu", torch.float64)
    expected64 = expected.detach().to("cpu", torch.float64)
    close = torch.isclose(got64, expected64, atol=atol, rtol=rtol)
    if not bool(close.all()):
        first = tuple(int(i) for i in (~close).nonzero()[0])
        worst = float((got64 - expected64).abs().max())
        _fail(
            f"{what}: wrong values, e.g. at index {first} got {float(got64[first]):.4g}, "
            f"expected {float(expected64[first]):.4g} (largest difference {worst:.3g})",
            hint,
        )


@contextlib.contextmanager
def forbidden(*names):
    """Within this block, torch's own ``names`` (e.g. "conv2d") fail with a plain message.

    Patches ``torch.<name>`` and ``torch.nn.functional.<name>`` (``nn.Conv2d`` and
    ``nn.MaxPool2d`` call those too). Compute the reference result before the block.
    """
    def refuse(name):
        def refused(*args, **kwargs):
            raise ForbiddenCall(
                f"your answer calls torch's own {name}; this question asks you to compute it "
                "yourself, without it"
            )
        return refused

    with contextlib.ExitStack() as stack:
        for name in names:
            for module in (torch, F):
                if hasattr(module, name):
                    stack.enter_context(mock.patch.object(module, name, refuse(name)))
        yield


OWN_IMPLEMENTATIONS = ("coursekit/losses.py", "coursekit/metrics/", "torchmetrics/",
                       "sklearn/metrics/", "torchvision/ops/", "segmentation_models_pytorch/",
                       "monai/")
"""Where ready-made losses and metrics live: an answer that calls into them is not the
student's own computation (``computed_by_hand``)."""


@contextlib.contextmanager
def computed_by_hand(off_limits=OWN_IMPLEMENTATIONS):
    """Within this block, watch every Python call; when it ends, fail the check if the
    student's answer called a function whose file lies under one of ``off_limits``.

    Unlike ``forbidden``, this also catches an implementation imported under another
    name before the test ran (``from coursekit.losses import soft_dice_loss as mine``).
    Compute the reference result before the block. (The student's own process could still
    switch the watch off; the sandboxed grader of issue 14 is the real answer to that.)
    """
    calls = []

    def notice(frame, event, arg):
        if event == "call":
            path = frame.f_code.co_filename.replace("\\", "/")
            calls.extend(f"{frame.f_code.co_name} from {part.rstrip('/')}"
                         for part in off_limits if part in path)

    profiler = sys.getprofile()
    sys.setprofile(notice)
    try:
        yield
    finally:
        sys.setprofile(profiler)
    if calls:
        _fail(f"your answer calls {calls[0]}: this question asks you to compute it yourself",
              "write it yourself, with torch")


def expect_result(function, name, kwargs, expected, hint="", shape_hints=None, forbid=()):
    """The usual test: call ``function(**kwargs)`` and compare its result with ``expected``.

    function: the student's function (None if undefined); name: its name in the notebook;
    kwargs: its arguments by name; expected: a tensor (compared by ``expect_tensor``) or a
    plain value (``expect_equal``); forbid: torch functions the answer may not call, e.g.
    ["conv2d"].
    """
    with forbidden(*forbid):
        got = call(function, name, **kwargs)
    what = describe(name, **kwargs)
    if isinstance(expected, torch.Tensor):
        expect_tensor(got, expected, what, hint=hint, shape_hints=shape_hints)
    else:
        expect_equal(got, expected, what, hint=hint)


# --------------------------------------------------------------------------------------
# 2. Students: the grader of an exercise notebook
# --------------------------------------------------------------------------------------


def _failure_text(message):
    """The sentence a test raised, out of otter's failure message.

    otter writes "❌ Test case failed", "Error at line N in test qK:", the test's source
    line, then "AssertionError: <sentence>" (or "ForbiddenCall: <sentence>"). Anything else
    is returned as it is.
    """
    lines = message.strip().splitlines()
    if len(lines) >= 4 and lines[1].startswith("Error at line"):
        text = "\n".join(lines[3:])
        return text.removeprefix("AssertionError: ").removeprefix("ForbiddenCall: ")
    return message.strip()


def _unanswered(test_file):
    """The "not answered yet" sentence when no test of a question passed because the
    answer is untouched (or undefined), else None. test_file: otter's TestFile, run."""
    cases = test_file.test_case_results
    if any(case.passed for case in cases):
        return None
    for case in cases:
        text = _failure_text(case.message or "")
        if text.startswith(NOT_ANSWERED):
            return text
    return None


def _case_title(test_case):
    """The first line of a test's docstring, else otter's name for it ("q2 - 3")."""
    function = getattr(test_case.body, "test_func", None)
    doc = getattr(function, "__doc__", None)
    return doc.strip().splitlines()[0] if doc else test_case.name


@dataclass
class Feedback:
    """What ``grader.check("qK")`` shows: one plain-words line per test case.

    result: otter's TestFile for the question, after running its tests.
    """

    result: object

    @property
    def passed(self) -> bool:
        return self.result.passed_all

    @property
    def text(self) -> str:
        name, cases = self.result.name, self.result.test_case_results
        if _unanswered(self.result):
            return f"{name}: {_unanswered(self.result)}"
        if self.passed:
            return (
                f"{name}: all checks passed ({len(cases)} of {len(cases)}). "
                "When your work is graded, hidden tests try more inputs."
            )
        passed = sum(case.passed for case in cases)
        lines = [f"{name}: {passed} of {len(cases)} checks passed."]
        for case in cases:
            mark = "✅ passed:" if case.passed else "❌ FAILED:"
            lines.append(f"  {mark} {_case_title(case.test_case)}")
            if not case.passed:
                lines.append(f"      {_failure_text(case.message or '')}")
        return "\n".join(lines)

    def __repr__(self):
        return self.text


def _notebook_namespace():
    """The variables of the notebook we run in (where the student's answers are)."""
    from IPython import get_ipython

    shell = get_ipython()
    if shell is None:
        raise RuntimeError(
            "grader.check(question) reads the answers from the notebook it runs in; "
            "outside a notebook pass them: grader.check(question, env=globals())"
        )
    return shell.user_ns


class ExerciseGrader:
    """The ``grader`` of an exercise notebook: otter's checks, with plain-words feedback.

    chapter: e.g. "02-concepts"; tests_dir: the folder of its public tests (None while
    otter grades a submission: otter then points every check at the hidden tests).
    """

    def __init__(self, chapter: str, tests_dir: Path | None):
        self.chapter = chapter
        self.tests_dir = tests_dir

    @property
    def questions(self) -> list[str]:
        """The chapter's question names, e.g. ["q1", "q2", "q3", "q4"]."""
        if self.tests_dir is None:
            return []
        return (self.tests_dir / QUESTIONS_FILE).read_text().split()

    def check(self, question: str, env: dict | None = None) -> Feedback:
        """Run the public tests of ``question`` (e.g. "q1") against the notebook's answers."""
        if self.tests_dir is not None and question not in self.questions:
            raise ValueError(
                f"question: expected one of {', '.join(self.questions)}, got {question!r}"
            )
        otter = _import_otter()
        notebook = otter.Notebook(tests_dir=str(self.tests_dir or "tests"))
        result = notebook.check(question, _notebook_namespace() if env is None else env)
        return Feedback(result)


def first_cell_source(chapter: str) -> str:
    """The first code cell of an exercise: the course's set-up cell, then the grader."""
    return "\n".join([
        course.setup_cell_source(extras="exercises"),
        "from coursekit import grading",
        f'grader = grading.exercise_grader("{chapter}")',
    ])


def _check_chapter_name(chapter):
    """Fail unless ``chapter`` looks like "02-concepts" (two digits, a dash, a name)."""
    if not isinstance(chapter, str) or not re.fullmatch(r"\d\d[a-z]?-[a-z0-9-]+", chapter):
        raise ValueError(
            f"chapter: expected a chapter name like '02-concepts', got {chapter!r}"
        )


def _download(url, path):
    """Save the file at ``url`` as ``path``, or fail saying what to do instead."""
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            path.write_bytes(response.read())
    except OSError as error:
        raise RuntimeError(
            f"could not download {url} ({error}). Check the internet connection, or open "
            "the notebook from the exercises/ folder of the course repository, where its "
            "tests are."
        ) from error


def _download_public_tests(chapter, tests_dir):
    """Fetch the chapter's public tests from the course repository, at the book's version."""
    base = course.raw_url(f"exercises/tests/{chapter}")
    tests_dir.mkdir(parents=True, exist_ok=True)
    _download(f"{base}/{QUESTIONS_FILE}", tests_dir / QUESTIONS_FILE)
    for question in (tests_dir / QUESTIONS_FILE).read_text().split():
        _download(f"{base}/{question}.py", tests_dir / f"{question}.py")


def exercise_grader(chapter: str) -> ExerciseGrader:
    """The grader an exercise notebook creates in its first cell.

    Its public tests are looked for in ``tests/<chapter>/`` next to the notebook, then in
    the course repository's ``exercises/tests/<chapter>/``; where neither exists (Colab)
    they are downloaded from the repository at the book's version.
    """
    _check_chapter_name(chapter)
    otter = _import_otter()
    if otter.Notebook._grading_mode:  # otter is grading this notebook with hidden tests
        return ExerciseGrader(chapter, tests_dir=None)
    next_to_notebook = Path("tests") / chapter
    for folder in (next_to_notebook, EXERCISES_DIR / "tests" / chapter):
        if (folder / QUESTIONS_FILE).is_file():
            return ExerciseGrader(chapter, folder)
    _download_public_tests(chapter, next_to_notebook)
    return ExerciseGrader(chapter, next_to_notebook)


# --------------------------------------------------------------------------------------
# 3. Instructors: generate the exercises and the autograder (otter assign)
# --------------------------------------------------------------------------------------


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
    return Generated(notebook, tests_dir, build_dir / "autograder.zip", solution)


# --------------------------------------------------------------------------------------
# 4. Instructors: grade a folder of submissions (otter run, one process each)
# --------------------------------------------------------------------------------------


def question_points(autograder) -> dict[str, float]:
    """The questions an autograder zip grades and their points, e.g. {"q1": 1, "q2": 2}."""
    _import_otter()
    from otter.nbmeta_config import NBMetadataConfig
    from otter.test_files import create_test_file

    points = {}
    with tempfile.TemporaryDirectory() as tmp, zipfile.ZipFile(autograder) as archive:
        for member in archive.namelist():
            if re.fullmatch(r"tests/[^/]+\.py", member):
                path = archive.extract(member, tmp)
                test_file = create_test_file(path, NBMetadataConfig())
                points[test_file.name] = test_file.possible
    return {name: points[name] for name in sorted(points, key=_natural_key)}


def grade_one(submission, autograder, result_path):
    """Grade one notebook here, in this process, and write what came out as JSON.

    ``grade`` runs this in a process of its own (``python -m coursekit.grading grade-one``).
    The JSON holds the score of each question, the first failure message of each question
    that failed a test, the questions not answered, and the errors the notebook's cells
    raised.
    """
    otter = _import_otter()
    results = otter.api.grade_submission(str(submission), str(autograder), quiet=True)
    if results.catastrophic_error is not None:
        raise RuntimeError(f"otter could not grade the notebook: {results.catastrophic_error}")
    scores, failures, unanswered = {}, {}, []
    for name, test_file in results.results.items():
        scores[name] = test_file.score
        failed = [case for case in test_file.test_case_results if not case.passed]
        if failed:
            failures[name] = _failure_text(failed[0].message or "")
        if _unanswered(test_file):
            unanswered.append(name)
    errors = []
    for cell in (results.notebook or {}).get("cells", []):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                errors.append(f"{output['ename']}: {output['evalue']}")
    Path(result_path).write_text(json.dumps(
        {"scores": scores, "failures": failures, "unanswered": unanswered, "errors": errors},
        indent=1,
    ))


def _stop_process_tree(process):
    """Kill a grading process and the notebook kernel it started (in a session of its own)."""
    import psutil  # comes with IPython, which otter needs

    try:
        children = psutil.Process(process.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        children = []
    for child in children:
        with contextlib.suppress(psutil.NoSuchProcess):
            child.kill()
    process.kill()
    process.wait()


def _shorten(text, limit=160):
    """One line of at most ``limit`` characters."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _notes(outcome, points):
    """The notes column: unanswered questions, the first failure of others, cell errors."""
    unanswered = sorted(outcome["unanswered"], key=_natural_key)
    notes = [f"not answered: {', '.join(unanswered)}"] if unanswered else []
    for question, text in outcome["failures"].items():
        lost = outcome["scores"].get(question, 0) < points.get(question, 0)
        if question not in unanswered and lost:
            notes.append(f"{question}: {_shorten(text)}")
    errors = list(dict.fromkeys(outcome["errors"]))  # distinct, in order
    if errors:
        notes.append("cells raised " + " | ".join(_shorten(error, 80) for error in errors[:3]))
    return "; ".join(notes)


def _grade_in_subprocess(submission, autograder, points, timeout):
    """Grade one submission in its own process, within ``timeout`` seconds; one CSV row."""
    row = {"status": "graded", **{question: 0 for question in points}}
    with tempfile.TemporaryDirectory() as tmp:
        result_path, log_path = Path(tmp) / "result.json", Path(tmp) / "output.log"
        command = [
            sys.executable, "-m", "coursekit.grading", "grade-one", str(submission.resolve()),
            "--autograder", str(Path(autograder).resolve()), "--result", str(result_path),
        ]
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, cwd=tmp, start_new_session=True
            )
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                _stop_process_tree(process)
                row.update(status="timed out",
                           notes=f"stopped at the time limit ({timeout:g} s): 0 for every question")
                return row
        if process.returncode != 0 or not result_path.is_file():
            last_lines = log_path.read_text(errors="replace").strip().splitlines()[-1:]
            row.update(status="crashed",
                       notes=f"grading failed: {_shorten(last_lines[0] if last_lines else '?')}")
            return row
        outcome = json.loads(result_path.read_text())
    for question in points:
        row[question] = outcome["scores"].get(question, 0)
    row["notes"] = _notes(outcome, points)
    return row


def _number(value):
    """2.0 -> 2, 1.3333333 -> 1.333: how a score is written."""
    value = round(float(value), 3)
    return int(value) if value.is_integer() else value


def _print_table(rows, points):
    """A short table of the scores, one line per submission."""
    columns = ["submission", *points, "total", "status"]
    width = max(len("submission"), *(len(row["submission"]) for row in rows))
    print(f"{'submission':<{width}}  " + "  ".join(f"{c:>5}" for c in columns[1:-1])
          + "  status")
    for row in rows:
        scores = "  ".join(f"{_number(row[c]):>5}" for c in columns[1:-1])
        print(f"{row['submission']:<{width}}  {scores}  {row['status']}")
    print(f"(out of {_number(sum(points.values()))}; notes in the CSV)")


def grade(submissions_dir, chapter, out_csv, timeout=600, jobs=1, autograder=None):
    """Grade every notebook under ``submissions_dir`` with the chapter's hidden tests.

    Each submission runs in its own process with a limit of ``timeout`` seconds (``jobs``
    at a time); a timed-out or crashed one gets 0 for every question and a note. Writes
    ``out_csv``: one row per submission, one column per question (points), total, status,
    notes. Returns the rows. ``autograder`` is the zip to use; by default it is built
    afresh from ``solutions/<chapter>.ipynb``. Submissions inherit the environment, so
    ``COURSEKIT_FAST=1`` set by the caller applies to them.
    """
    folder = Path(submissions_dir)
    if not folder.is_dir():
        raise ValueError(f"submissions_dir: expected a folder of .ipynb files, got {folder}")
    submissions = sorted(path for path in folder.rglob("*.ipynb")
                         if ".ipynb_checkpoints" not in path.parts)
    if not submissions:
        raise ValueError(f"submissions_dir: expected .ipynb files in {folder}, found none")
    if not isinstance(timeout, (int, float)) or timeout <= 0:
        raise ValueError(f"timeout: expected a positive number of seconds, got {timeout!r}")
    if not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs: expected a positive int, got {jobs!r}")
    if autograder is None:
        print(f"building the autograder of {chapter} from its master...")
        with tempfile.TemporaryDirectory() as tmp:
            autograder = assign(chapter, exercises_dir=tmp, check_solutions=False).autograder
    elif not Path(autograder).is_file():
        raise ValueError(f"autograder: expected an autograder zip file, got {autograder}")
    points = question_points(autograder)

    def grade_submission(submission):
        start = time.monotonic()
        row = _grade_in_subprocess(submission, autograder, points, timeout)
        row["submission"] = str(submission.relative_to(folder))
        row["total"] = sum(row[question] for question in points)
        print(f"{row['submission']}: {row['status']}, {_number(row['total'])} points "
              f"({time.monotonic() - start:.0f} s)", flush=True)
        return row

    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        rows = list(pool.map(grade_submission, submissions))

    out_csv = Path(out_csv)
    out_csv.parent.mkdir(parents=True, exist_ok=True)
    columns = ["submission", *points, "total", "status", "notes"]
    with open(out_csv, "w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({**row, **{c: _number(row[c]) for c in [*points, "total"]}})
    _print_table(rows, points)
    print(f"wrote {out_csv}")
    return rows


# --------------------------------------------------------------------------------------
# 5. Command line: python -m coursekit.grading {assign,grade,grade-one} ...
# --------------------------------------------------------------------------------------


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m coursekit.grading", description="Graded exercises of the course."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    to_assign = commands.add_parser(
        "assign", help="regenerate exercises/ and the autograder from solutions/"
    )
    to_assign.add_argument("chapters", nargs="*", help="e.g. 02-concepts")
    to_assign.add_argument("--all", action="store_true",
                           help="every master in solutions/ (also when no chapter is named)")
    to_assign.add_argument("--no-check", action="store_true",
                           help="skip grading the solution (faster)")

    to_grade = commands.add_parser("grade", help="grade a folder of submitted notebooks")
    to_grade.add_argument("submissions_dir")
    to_grade.add_argument("--chapter", required=True, help="e.g. 02-concepts")
    to_grade.add_argument("--out", required=True, help="the CSV file to write")
    to_grade.add_argument("--timeout", type=float, default=600,
                          help="seconds per submission (default 600)")
    to_grade.add_argument("--jobs", type=int, default=1,
                          help="submissions graded at the same time (default 1)")
    to_grade.add_argument("--autograder", help="an autograder zip (default: built afresh)")

    one = commands.add_parser("grade-one", help="(used by grade) grade one notebook here")
    one.add_argument("submission")
    one.add_argument("--autograder", required=True)
    one.add_argument("--result", required=True, help="the JSON file to write")

    args = parser.parse_args(argv)
    if args.command == "assign":
        for chapter in masters() if args.all or not args.chapters else args.chapters:
            generated = assign(chapter, check_solutions=not args.no_check)
            print(f"{chapter}: wrote {generated.notebook}, {generated.tests_dir}, "
                  f"{generated.autograder}")
    elif args.command == "grade":
        grade(args.submissions_dir, args.chapter, args.out, timeout=args.timeout,
              jobs=args.jobs, autograder=args.autograder)
    else:
        grade_one(args.submission, args.autograder, args.result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
