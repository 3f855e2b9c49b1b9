"""What students see: the ``grader`` of an exercise notebook and its plain-words feedback.

The first cell of ``exercises/NN-name.ipynb`` calls ``grader = exercise_grader("NN-name")``,
which finds the chapter's public tests next to the notebook, or downloads them in Colab
(otter's own download works only in JupyterLite). Each check cell calls
``grader.check("q1")``, which runs the question's public tests (``public_tests``: otter's
test-file format, run without otter, which cannot be installed beside Colab's ipywidgets
7.7.1) and says in plain words what passed, what failed and a hint; an untouched question
says "not answered yet". otter-grader is needed only by instructors (``assign``, ``grade``)
and where otter itself grades a notebook (Gradescope).
"""

import re
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from coursekit import course
from coursekit.grading import public_tests
from coursekit.grading.failures import NOT_ANSWERED

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
EXERCISES_DIR = REPO_ROOT / "exercises"

QUESTIONS_FILE = "questions.txt"
"""Written next to a chapter's public tests: the question names, one a line (for downloads)."""

IN_GRADING_SANDBOX = False
"""Set by the grading sandbox's worker: checks then do nothing (the grader tests from outside)."""


def _import_otter():
    """otter-grader, or a clear error saying how to install it."""
    try:
        import otter
    except ImportError as error:
        raise ImportError(
            "making and grading the exercises needs otter-grader: "
            f"pip install \"{course.install_spec('grading')}\""
        ) from error
    return otter


def _otter_is_grading():
    """Whether otter-grader is grading this notebook (then checks use its hidden tests).
    Students do not install otter: where it is missing, nothing is grading."""
    try:
        import otter
    except ImportError:
        return False
    return bool(otter.Notebook._grading_mode)




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

    result: the question's test file after running its tests (``public_tests.TestFile``,
    or otter's TestFile where otter grades: the two have the same fields).
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
    """The ``grader`` of an exercise notebook: the public checks, with plain-words feedback.

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
        if IN_GRADING_SANDBOX:  # the grader tests this answer from outside
            return f"{question}: checked by the grader"
        env = _notebook_namespace() if env is None else env
        if self.tests_dir is None:  # otter is grading: its own check, on the hidden tests
            notebook = _import_otter().Notebook(tests_dir="tests")
            return Feedback(notebook.check(question, env))
        return Feedback(public_tests.run(self.tests_dir / f"{question}.py", env))


def first_cell_source(chapter: str) -> str:
    """The first code cell of an exercise: the course's set-up cell, then the grader.
    It installs the course package alone (no otter-grader: see ``public_tests``)."""
    return "\n".join([
        course.setup_cell_source(),
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
    if IN_GRADING_SANDBOX:
        return ExerciseGrader(chapter, tests_dir=None)
    if _otter_is_grading():  # otter is grading this notebook with hidden tests
        return ExerciseGrader(chapter, tests_dir=None)
    next_to_notebook = Path("tests") / chapter
    for folder in (next_to_notebook, EXERCISES_DIR / "tests" / chapter):
        if (folder / QUESTIONS_FILE).is_file():
            return ExerciseGrader(chapter, folder)
    _download_public_tests(chapter, next_to_notebook)
    return ExerciseGrader(chapter, next_to_notebook)


