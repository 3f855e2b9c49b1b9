"""coursekit.grading.public_tests: a question's public tests run without otter-grader.

Students' check cells use it (otter cannot be installed beside Colab's ipywidgets 7.7.1), so
it must read every committed public test file as otter reads it, and report what otter
would: the same tests, the same names, the same pass/fail and the same failure text.
"""

import sys
import textwrap
from pathlib import Path

import pytest

from coursekit.grading import public_tests, student
from tests.conftest import ROOT

PUBLIC_TEST_FILES = sorted((ROOT / "exercises" / "tests").glob("*/q*.py"))


def _write(tmp_path, text, name="q1.py"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


SAMPLE = """
    from otter.test_files import test_case

    OK_FORMAT = False
    name = "q1"
    points = 2

    @test_case(points=None, hidden=False)
    def test_adds(add):
        \"\"\"add(2, 3) is 5\"\"\"
        assert add(2, 3) == 5, "add(2, 3) should be 5"

    @test_case(points=None, hidden=False)
    def test_sees_env(env):
        assert "add" in env, "define add"

    @test_case(points=None, hidden=True)
    def test_hidden(add):
        assert False, "hidden tests never run in a student's check"
"""


def test_runs_the_public_tests_in_order_with_names_from_the_notebook(tmp_path):
    path = _write(tmp_path, SAMPLE)
    result = public_tests.run(path, {"add": lambda a, b: a + b})
    assert result.name == "q1" and result.passed_all
    assert [r.test_case.name for r in result.test_case_results] == ["q1 - 1", "q1 - 2"]
    assert all(r.message == "✅ Test case passed" for r in result.test_case_results)


def test_a_failing_test_is_reported_as_otter_reports_it(tmp_path):
    path = _write(tmp_path, SAMPLE)
    result = public_tests.run(path, {"add": lambda a, b: a - b})
    assert not result.passed_all
    failed, passed = result.test_case_results
    assert passed.passed and not failed.passed
    assert failed.message.splitlines() == [
        "❌ Test case failed",
        "Error at line 11 in test q1:",
        '      assert add(2, 3) == 5, "add(2, 3) should be 5"',
        "AssertionError: add(2, 3) should be 5",
    ]
    assert student._failure_text(failed.message) == "add(2, 3) should be 5"
    feedback = student.Feedback(result).text
    assert feedback.startswith("q1: 1 of 2 checks passed.")
    assert "❌ FAILED: add(2, 3) is 5" in feedback and "add(2, 3) should be 5" in feedback


def test_a_missing_variable_is_none_as_in_otter(tmp_path):
    path = _write(tmp_path, SAMPLE)
    result = public_tests.run(path, {})
    assert [r.passed for r in result.test_case_results] == [False, False]
    assert "TypeError" in result.test_case_results[0].message


@pytest.mark.parametrize("text, says", [
    ("import otter\nname = 'q1'\n", "imports otter"),
    ("from otter.test_files import test_case as tc\nname = 'q1'\n", "only test_case"),
    ("from otter.test_files import test_case\nvalue = 1\n", "must set name"),
    ("from otter.test_files import test_case\nOK_FORMAT = True\nname = 'q1'\n", "OK-format"),
])
def test_files_it_cannot_read_say_why(tmp_path, text, says):
    with pytest.raises(ValueError, match=says):
        public_tests.load(_write(tmp_path, text))


def test_bad_arguments_say_what_was_expected(tmp_path):
    with pytest.raises(FileNotFoundError, match="public test file"):
        public_tests.load(tmp_path / "q9.py")
    with pytest.raises(TypeError, match="env: expected"):
        public_tests.run(_write(tmp_path, SAMPLE), env=[])


def test_every_committed_public_test_file_reads_as_otter_reads_it():
    """The same test names and hidden flags as otter's own reader, for every file."""
    otter_test_files = pytest.importorskip("otter.test_files.exception_test")
    assert PUBLIC_TEST_FILES, "no public test files under exercises/tests"
    for path in PUBLIC_TEST_FILES:
        ours = public_tests.load(path)
        theirs = otter_test_files.ExceptionTestFile.from_file(str(path))
        assert ours.name == theirs.name, path
        public = [tc for tc in theirs.test_cases if not tc.hidden]
        assert [tc.name for tc in ours.test_cases] == [tc.name for tc in public], path
        assert [c.body.test_func.__doc__ for c in ours.test_cases] == \
            [tc.body.test_func.__doc__ for tc in public], path


def test_the_student_side_never_imports_otter(tmp_path, monkeypatch):
    """With otter made unimportable, an exercise's grader still finds and runs its checks."""
    monkeypatch.setitem(sys.modules, "otter", None)   # import otter -> ImportError
    grader = student.exercise_grader("02-concepts")
    assert Path(grader.tests_dir).is_dir()
    feedback = grader.check("q1", env={})
    assert not feedback.passed
    assert feedback.text.startswith("q1: ")


def test_the_exercises_first_cell_installs_no_extra():
    source = student.first_cell_source("02-concepts")
    assert "dlvision-coursekit @ {COURSE}" in source and "otter" not in source
