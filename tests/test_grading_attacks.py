"""Grading holds against submissions that cheat, crash, exhaust resources or interfere.

The planted submissions of tests/attacks.py (exercise 02-concepts) are graded together, two
at a time, in the bubblewrap sandbox, with the instructor's command; each must get exactly
the marks its real answers deserve, and none may read the hidden tests, reach the network,
change another submission, the grader or the results, or leave a process behind. Then the
same grader in a local imitation of Gradescope's layout, and an interrupted run resumed.
Skipped, saying why, where no sandbox can be made (CI installs bubblewrap: .ci/run).
"""

import csv
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
import zipfile

import nbformat
import psutil
import pytest

from coursekit import grading
from coursekit.grading import sandbox
from tests import attacks

SANDBOX, WHY_NOT = sandbox.works()
pytestmark = [
    pytest.mark.skipif(not SANDBOX, reason=f"no sandbox can be made here: {WHY_NOT}"),
    pytest.mark.filterwarnings("ignore:Traits should be given as instances:DeprecationWarning"),
]

CHAPTER = "02-concepts"
TIMEOUT, CELL_TIMEOUT = 120, 15


def read_rows(path):
    with open(path, newline="") as file:
        return {row["submission"]: row for row in csv.DictReader(file)}


def digest(folder):
    return {path.name: hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(folder.glob("*.ipynb"))}


def sandbox_processes():
    """Processes still running as one of the sandbox's users."""
    return [process.pid for process in psutil.process_iter(["uids"])
            if process.info["uids"] and sandbox.FIRST_UID <= process.info["uids"].real
            < sandbox.FIRST_UID + 8]


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    out = tmp_path_factory.mktemp("attacks")
    files = grading.assign(CHAPTER, exercises_dir=out / "exercises", build_dir=out / "build",
                           check_solutions=False)
    return out, files


@pytest.fixture(scope="module")
def attacked(generated):
    """Every attack graded together, --jobs 2, by the command line: (rows, stdout, folder,
    deserved marks, notebook digests before)."""
    out, files = generated
    folder = out / "submissions"
    deserved = attacks.build_all(nbformat.read(files.solution, 4),
                                 nbformat.read(files.notebook, 4), folder)
    before = digest(folder)
    grader_source = digest_tree()
    start = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "coursekit.grading", "grade", str(folder), "--chapter", CHAPTER,
         "--out", str(out / "scores.csv"), "--timeout", str(TIMEOUT), "--cell-timeout",
         str(CELL_TIMEOUT), "--jobs", "2", "--autograder", str(files.autograder)],
        capture_output=True, text=True, cwd=out,
    )
    elapsed = time.monotonic() - start
    assert result.returncode == 0, result.stderr[-3000:]
    time.sleep(3)  # anything an attack left behind would act now
    print(f"{len(deserved)} attacks graded in {elapsed:.0f} s")
    return {"rows": read_rows(out / "scores.csv"), "stdout": result.stdout, "folder": folder,
            "deserved": deserved, "before": before, "grader_source": grader_source,
            "out": out}


def digest_tree():
    root = os.path.dirname(grading.__file__)
    return {name: hashlib.sha256(open(os.path.join(root, name), "rb").read()).hexdigest()
            for name in sorted(os.listdir(root)) if name.endswith(".py")}


def test_every_attack_gets_exactly_what_its_answers_deserve(attacked):
    rows, wrong = attacked["rows"], []
    assert sorted(rows) == sorted(attacked["deserved"])
    for name, marks in attacked["deserved"].items():
        got = {question: float(rows[name][question]) for question in marks}
        if got != {question: float(points) for question, points in marks.items()}:
            wrong.append(f"{name}: got {got}, deserves {marks} ({rows[name]['notes']})")
    assert not wrong, "\n".join(wrong)


def test_no_attack_reached_anything_outside_its_sandbox(attacked):
    notes = {name: row["notes"] for name, row in attacked["rows"].items()}
    assert "hidden tests read" not in notes["read-hidden-tests.ipynb"]
    assert "reached" not in notes["network.ipynb"], notes["network.ipynb"]
    assert "killed 0 processes" in notes["killer.ipynb"], notes["killer.ipynb"]
    vandal = notes["vandal.ipynb"]  # it may start a process: that ends with its sandbox
    assert not any(done in vandal for done in ("blanked", "wrote its own", "could write")), vandal
    started = int(notes["fork-bomb.ipynb"].split("started ")[1].split()[0])
    assert started < sandbox.Limits().processes, "the process limit did not hold"
    assert "held 6 GiB" not in notes["memory-hog.ipynb"], "the memory limit did not hold"
    assert digest(attacked["folder"]) == attacked["before"], "a submission was changed"
    assert digest_tree() == attacked["grader_source"], "the grader's source was changed"
    assert "OWNED" not in (attacked["out"] / "scores.csv").read_text()
    assert sandbox_processes() == [], "a process of a submission is still running"
    assert "x" * 1023 not in attacked["stdout"]


def test_feedback_never_shows_hidden_expected_values(attacked):
    """A wrong answer to a hidden test is named by the test's title, not its values."""
    notes = attacked["rows"]["copies-coursekit.ipynb"]["notes"]
    assert "your answer calls" in notes and "coursekit/conv.py" in notes
    for row in attacked["rows"].values():
        assert "test_random_against_torch" not in row["notes"]


def test_gradescope_grades_the_same_with_the_same_protections(generated, attacked, tmp_path):
    """A local imitation of Gradescope: /autograder/{source,submission,results}."""
    out, files = generated
    expected = attacked["rows"]
    for name in ("right.ipynb", "read-hidden-tests.ipynb"):
        root = tmp_path / name.removesuffix(".ipynb")
        (root / "submission").mkdir(parents=True)
        (root / "results").mkdir()
        with zipfile.ZipFile(files.gradescope) as archive:
            archive.extractall(root / "source")
        os.chmod(root / "source" / "run_autograder", 0o755)
        nbformat.write(nbformat.read(attacked["folder"] / name, 4),
                       root / "submission" / "submission.ipynb")
        result = subprocess.run(
            ["bash", str(root / "source" / "run_autograder")], capture_output=True, text=True,
            env={**os.environ, "COURSEKIT_GRADESCOPE_ROOT": str(root),
                 "COURSEKIT_GRADESCOPE_PYTHON": sys.executable})
        assert result.returncode == 0, result.stderr[-2000:]
        results = json.loads((root / "results" / "results.json").read_text())
        scores = {test["name"]: test["score"] for test in results["tests"]}
        assert scores == {q: grading._number(float(expected[name][q])) for q in scores}, name
        assert results["score"] == grading._number(float(expected[name]["total"]))
        assert "hidden tests read" not in results["output"]


def test_an_interrupted_run_keeps_what_it_graded_and_resumes(generated, tmp_path):
    out, files = generated
    folder = tmp_path / "submissions"
    folder.mkdir()
    solution = nbformat.read(files.solution, 4)
    for name in ("a", "b", "c"):
        nbformat.write(solution, folder / f"{name}.ipynb")
    command = [sys.executable, "-m", "coursekit.grading", "grade", str(folder), "--chapter",
               CHAPTER, "--out", str(tmp_path / "scores.csv"), "--autograder",
               str(files.autograder), "--timeout", str(TIMEOUT)]
    first = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    for line in first.stdout:  # stop the grader once it has graded one submission
        if line.startswith("a.ipynb: graded"):
            first.send_signal(signal.SIGKILL)
            break
    first.wait()
    assert list(read_rows(tmp_path / "scores.csv")) == ["a.ipynb"]
    second = subprocess.run(command, capture_output=True, text=True)
    assert second.returncode == 0, second.stderr[-2000:]
    assert "1 submissions graded by an earlier run are kept" in second.stdout
    assert "a.ipynb: graded" not in second.stdout
    rows = read_rows(tmp_path / "scores.csv")
    assert sorted(rows) == ["a.ipynb", "b.ipynb", "c.ipynb"]
    assert {row["total"] for row in rows.values()} == {str(attacks.FULL)}
