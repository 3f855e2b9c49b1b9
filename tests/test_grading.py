"""Graded exercises (coursekit.grading): masters, generated exercises, checks and grading.

For every master in solutions/: the committed exercise is in sync with it; graded with
the hidden tests, its solution gets every point, its untouched exercise none, a
planted wrong answer loses exactly its question's points, and an answer that only calls
the course's own function (where coursekit holds one) gets nothing; in a running notebook
the check cells say "not answered yet", name the failure and hint, or say all passed.
For one chapter: a submission that loops, raises or floods does not stop the others.
Submissions run in the bubblewrap sandbox where one can be made; elsewhere these tests
grade without it (``unsafe``), which is what they test here: the scores, not the sandbox
(tests/test_grading_attacks.py tests the sandbox, and skips where none can be made). With
``CI=true`` they never grade without it: no sandbox fails them, saying why.
"""

import csv
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import psutil
import pytest
import torch
import torch.nn.functional as F
from nbclient import NotebookClient

from coursekit import course, grading
from coursekit.grading import sandbox
from tests.conftest import ROOT, sandbox_here

MASTERS = grading.masters()


PLANTED_BUGS = {
    # chapter: (question, a line of its solution, the wrong line, what its check must then say)
    "02-concepts": (
        "q2",
        "    x = F.pad(x, (padding, padding, padding, padding))",
        "    padding = 0  # planted bug: the padding is forgotten",
        "did you forget the padding?",
    ),
    "03-cnn-classifier": (
        "q2",
        "        optimizer.zero_grad()\n",
        "        pass  # planted bug: the gradients are never cleared\n",
        "did you forget optimizer.zero_grad()?",
    ),
    "04-fcn": (
        "q2",
        "        return self.up(coarse) + self.score(features)",
        "        return self.up(coarse)  # planted bug: the skip is forgotten",
        "the skip is not added",
    ),
    "05-unet": (
        "q2",
        "        x = torch.cat([skip, x], dim=1)",
        "        x = torch.cat([x, skip], dim=1)  # planted bug: the wrong order",
        "the skip must come first",
    ),
    "06-losses": (
        "q1",
        "    dice = (2 * intersection + smooth) / (p.sum() + y.sum() + smooth)",
        "    dice = 2 * intersection / (p.sum() + y.sum())  # planted bug: no smooth",
        "did you add smooth to both the numerator and the denominator?",
    ),
    "07-evaluation": (
        "q3",
        "    return float(iou.nanmean())",
        "    return float(iou.nan_to_num(0.0).mean())  # planted bug: absent classes count as 0",
        "should be left out, not counted as 0",
    ),
    "08-speed": (
        "q1",
        "    for _ in range(warmup):\n        fn()\n",
        "    pass  # planted bug: the warm-up is forgotten\n",
        "warmup calls, then repeats timed calls",
    ),
    "09-regions": (
        "q1",
        "                for dr in (-1, 0, 1):\n                    for dc in (-1, 0, 1):\n",
        "                for dr, dc in ((-1, 0), (1, 0), (0, -1), (0, 1)):  # planted bug: "
        "4-connected\n                    if True:\n",
        "touch only at a corner belong to one region",
    ),
}

COPIES = {
    # chapter: (question, [(a line of its solution, what replaces it)]): an answer that only
    # calls what coursekit already provides for that question (often imported under another
    # name), which must get nothing for it
    "02-concepts": ("q2", [  # another of coursekit's convolutions: not in the sandbox's copy
        ("    # BEGIN SOLUTION\n",
         "    # BEGIN SOLUTION\n    from coursekit import conv as course\n"
         "    return course.conv2d_unfold(x, weight, bias, stride, padding)\n"),
    ]),
    "03-cnn-classifier": ("q3", [  # the course's training loop
        ("    # BEGIN SOLUTION\n",
         "    # BEGIN SOLUTION\n    train.fit(model, loader, torch.optim.SGD(model.parameters(), "
         "lr=lr, momentum=0.9), epochs, 'cpu')\n    return model\n"),
    ]),
    "04-fcn": ("q1", [
        ("def bilinear_upsampler(",
         "from coursekit.fcn import bilinear_upsampler as reference\n\n\n"
         "def bilinear_upsampler("),
        ("    # BEGIN SOLUTION\n",
         "    # BEGIN SOLUTION\n    return reference(channels, factor)\n"),
    ]),
    "05-unet": ("q1", [  # the course's own block, under the answer's name
        ("class DoubleConv(nn.Module):",
         "from coursekit import unet\n\n\ndef DoubleConv(in_channels, out_channels):\n"
         "    return unet.DoubleConv(in_channels, out_channels)\n\n\n"
         "class _Unused(nn.Module):"),
    ]),
    "08-speed": ("q1", [  # the course's timer
        ("    # BEGIN SOLUTION\n",
         "    # BEGIN SOLUTION\n    from coursekit import profiling\n"
         "    return list(profiling.time_callable(fn, warmup=warmup, repeats=repeats, "
         "sync=sync, clock=clock).times)\n"),
    ]),
    "06-losses": ("q1", [
        ("def soft_dice_loss(",
         "from coursekit.losses import soft_dice_loss as reference\n\n\ndef soft_dice_loss("),
        ("    # BEGIN SOLUTION\n",
         '    # BEGIN SOLUTION\n    return reference(logits, target, mode="binary", '
         "smooth=smooth)\n"),
    ]),
    "07-evaluation": ("q3", [
        ("    # BEGIN SOLUTION\n",
         "    # BEGIN SOLUTION\n    from coursekit import metrics\n"
         "    return metrics.mean_iou(cm)\n"),
    ]),
    "09-regions": ("q1", [
        ("def label_regions(",
         "from coursekit.regions import label_regions as reference\n\n\n"
         "def label_regions("),
        ("    foreground = mask.bool().tolist()\n",
         "    return reference(mask)[0]\n    foreground = mask.bool().tolist()\n"),
    ]),
}

STAND_IN_ATTACKS = {
    # chapter: {question: [(a line of its solution, what replaces it)]}: answers that do none
    # of the work and reach instead into the stand-ins a test hands them, or into the
    # stopwatch and the slow reference that time them; each of these questions gets nothing
    "08-speed": {
        "q1": [("    # BEGIN SOLUTION\n",
                "    # BEGIN SOLUTION\n"
                "    owner = getattr(fn, '__self__', fn)  # a fake GPU's launch: the GPU\n"
                "    if hasattr(owner, 'calls'):\n"
                "        owner.calls = warmup + repeats  # it says it was called enough\n"
                "    for name in ('work', 'fast', 'seconds'):  # what each reading must be\n"
                "        if hasattr(owner, name):\n"
                "            return [float(getattr(owner, name))] * repeats\n"
                "    return [0.02] * repeats\n")],
        "q3": [("    # BEGIN SOLUTION\n",
                "    # BEGIN SOLUTION\n"
                "    import coursekit.grading.fakes as stand_ins\n"
                "    try:  # the stopwatch that ran next to it said 1000 times faster\n"
                "        stand_ins.Stopwatch.median = lambda self, fn, *args, **kwargs: (\n"
                "            1.0 if type(fn).__name__ == 'PilAugment' else 1e-3)\n"
                "    except AttributeError:  # no stopwatch in its process any more\n"
                "        pass\n"
                "    return augment_slow(images, flip)  # the slow loop itself\n")],
    },
}

TIMEOUT = 150  # seconds per submission here; a normal one takes 5-30 s on 2 busy CPUs
CELL_TIMEOUT = 100  # seconds per cell and call of an answer (exercise 3 trains a model)
LOOP_TIMEOUT = 15  # the same, where an answer loops forever

pytestmark = pytest.mark.filterwarnings(  # from traitlets, inside otter assign
    "ignore:Traits should be given as instances:DeprecationWarning")
ANSWER_TAGS = {"otter_answer_cell", "otter_assign_solution_cell"}


# ------------------------------------------------------------------------------ helpers


def read(path):
    return nbformat.read(path, as_version=4)


def answer_cells(notebook):
    """{question: [indices of its answer cells]}: the answer cells above each check cell."""
    found, pending = {}, []
    for index, cell in enumerate(notebook.cells):
        check = re.fullmatch(r'grader\.check\("(\w+)"\)', cell.source.strip())
        if check:
            found[check[1]], pending = pending, []
        elif set(cell.metadata.get("tags", [])) & ANSWER_TAGS:
            pending.append(index)
    return found


def edit_answer(notebook, question, old, new):
    """A copy of ``notebook`` with ``old`` replaced by ``new`` in one answer of ``question``."""
    notebook = nbformat.from_dict(notebook)
    cells = [notebook.cells[i] for i in answer_cells(notebook)[question]]
    matching = [cell for cell in cells if old in cell.source]
    assert len(matching) == 1, f"{old!r} should be in exactly one answer cell of {question}"
    matching[0].source = matching[0].source.replace(old, new, 1)
    return notebook


def plant_bug(solution, chapter):
    if chapter not in PLANTED_BUGS:
        pytest.fail(f"add a planted wrong answer for {chapter} to PLANTED_BUGS in {__file__}")
    question, line, wrong, _ = PLANTED_BUGS[chapter]
    return edit_answer(solution, question, line, wrong)


def unanswer(solution, exercise, question):
    """``solution`` with the answer cells of ``question`` as the exercise hands them out."""
    notebook = nbformat.from_dict(solution)
    for index in answer_cells(solution)[question]:
        notebook.cells[index] = exercise.cells[index]
    return notebook


def read_csv(path):
    with open(path, newline="") as file:
        return list(csv.reader(file))


def unsafe():
    """Grade without the sandbox only where none can be made, and never in CI, where that
    fails the test, saying why (``tests.conftest.sandbox_here``)."""
    return not sandbox_here()[0]


def workers():
    """Processes of submissions being graded (the sandbox's worker)."""
    return {
        process.pid for process in psutil.process_iter(["cmdline"])
        if "coursekit.grading.worker" in " ".join(process.info["cmdline"] or [])
    }


# ----------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module", params=MASTERS)
def generated(request, tmp_path_factory):
    """(chapter, files): the master's exercise and autograder, regenerated into a tmp dir."""
    chapter = request.param
    out = tmp_path_factory.mktemp(f"assign-{chapter}")
    files = grading.assign(chapter, exercises_dir=out / "exercises", build_dir=out / "build",
                           check_solutions=False)
    return chapter, files


@pytest.fixture(scope="module")
def graded(generated, tmp_path_factory):
    """(rows by submission, CSV lines, points): the solution, the untouched exercise and
    the solution with a planted wrong answer, graded with the hidden tests."""
    chapter, files = generated
    folder = tmp_path_factory.mktemp(f"submissions-{chapter}")
    solution = read(files.solution)
    nbformat.write(solution, folder / "right.ipynb")
    nbformat.write(read(files.notebook), folder / "unanswered.ipynb")
    nbformat.write(plant_bug(solution, chapter), folder / "wrong.ipynb")
    if chapter in COPIES:
        copied = solution
        for line, replacement in COPIES[chapter][1]:
            copied = edit_answer(copied, COPIES[chapter][0], line, replacement)
        nbformat.write(copied, folder / "copies.ipynb")
    if chapter in STAND_IN_ATTACKS:
        attack = solution
        for question, edits in STAND_IN_ATTACKS[chapter].items():
            for line, replacement in edits:
                attack = edit_answer(attack, question, line, replacement)
        nbformat.write(attack, folder / "stand-ins.ipynb")
    out_csv = folder.parent / f"scores-{chapter}.csv"
    rows = grading.grade(folder, chapter, out_csv, timeout=TIMEOUT, jobs=2,
                         autograder=files.autograder, cell_timeout=CELL_TIMEOUT, unsafe=unsafe())
    points = grading.question_points(files.autograder)
    return {row["submission"]: row for row in rows}, read_csv(out_csv), points


# ------------------------------------------------------------------- every master: files


def test_every_master_has_questions_and_a_planted_bug():
    assert MASTERS, "no exercise master found in solutions/"
    for chapter in MASTERS:
        assert chapter in PLANTED_BUGS, f"add a planted wrong answer for {chapter}"


def test_committed_exercise_is_in_sync_with_its_master(generated):
    chapter, files = generated
    fix = f"run: python -m coursekit.grading assign {chapter}"
    committed = ROOT / "exercises" / f"{chapter}.ipynb"
    assert committed.is_file(), f"{committed} is missing; {fix}"
    assert committed.read_text() == files.notebook.read_text(), f"{committed} is stale; {fix}"
    committed_tests = ROOT / "exercises" / "tests" / chapter
    expected_names = sorted(path.name for path in files.tests_dir.iterdir())
    assert sorted(path.name for path in committed_tests.iterdir()) == expected_names, fix
    for name in expected_names:
        assert (committed_tests / name).read_text() == (files.tests_dir / name).read_text(), (
            f"{committed_tests / name} is stale; {fix}")


def test_first_code_cell_sets_up_the_course_and_the_grader(generated):
    chapter, files = generated
    for notebook in (read(ROOT / "solutions" / f"{chapter}.ipynb"), read(files.notebook)):
        first = next(cell for cell in notebook.cells if cell.cell_type == "code")
        assert first.source == grading.first_cell_source(chapter), (
            f"the first code cell of solutions/{chapter}.ipynb must be "
            f"grading.first_cell_source({chapter!r}); put it there, then run "
            f"python -m coursekit.grading assign {chapter}")
    # the course package alone: students' checks need no otter (grading.public_tests)
    assert course.setup_cell_source() in first.source and "otter" not in first.source


def test_public_tests_hold_no_hidden_test(generated):
    chapter, files = generated
    for path in files.tests_dir.glob("q*.py"):
        assert "hidden=True" not in path.read_text(), f"{path} holds a hidden test"
        assert "hidden=False" in path.read_text(), f"{path} holds no public test"


# ----------------------------------------------------------------- every master: grading


def test_solution_gets_every_point(graded):
    rows, _, points = graded
    right = rows["right.ipynb"]
    assert right["status"] == "graded"
    assert {q: right[q] for q in points} == points, right["notes"]
    assert right["total"] == sum(points.values())
    assert right["notes"] == ""


def test_untouched_exercise_scores_zero(graded):
    rows, _, points = graded
    unanswered = rows["unanswered.ipynb"]
    assert unanswered["status"] == "graded"
    assert {q: unanswered[q] for q in points} == {q: 0 for q in points}
    assert unanswered["total"] == 0
    assert unanswered["notes"] == f"not answered: {', '.join(points)}"


def test_planted_wrong_answer_loses_exactly_its_points(generated, graded):
    chapter, _ = generated
    rows, _, points = graded
    question, _, _, feedback = PLANTED_BUGS[chapter]
    wrong = rows["wrong.ipynb"]
    expected = {**points, question: 0}
    assert {q: wrong[q] for q in points} == expected
    assert wrong["total"] == sum(points.values()) - points[question]
    assert wrong["notes"].startswith(f"{question}: ") and feedback in wrong["notes"]


def test_an_answer_that_calls_the_course_gets_nothing_for_it(generated, graded):
    chapter, _ = generated
    assert chapter in COPIES, f"add to COPIES an answer of {chapter} that calls the course"
    rows, _, points = graded
    question = COPIES[chapter][0]
    copies = rows["copies.ipynb"]
    assert {q: copies[q] for q in points} == {**points, question: 0}
    assert copies["notes"].startswith(
        f"{question}: your answer calls a function this question asks you to write")


def test_an_answer_that_reaches_the_tests_stand_ins_gets_nothing(generated, graded):
    """Exercise 8 hands its answers stand-ins (a fake clock, a function whose first calls
    are slow, a fake GPU, a real sleep) and times its q3 against a slow reference. Answers
    that do none of the work but set what the stand-ins say of themselves, or patch the
    stopwatch, got full marks while those lived in the answer's own process (q1 3/3, q3
    2/2); now the stand-ins stay in the grader and are only called from the answer, and the
    grader times both sides itself: nothing. A chapter whose tests hand out no stand-in
    needs no such attack."""
    chapter, _ = generated
    master = "\n".join(cell.source
                       for cell in read(ROOT / "solutions" / f"{chapter}.ipynb").cells)
    if chapter not in STAND_IN_ATTACKS:
        assert "fake(" not in master, f"add to STAND_IN_ATTACKS an attack on {chapter}"
        return
    rows, _, points = graded
    row = rows["stand-ins.ipynb"]
    attacked = STAND_IN_ATTACKS[chapter]
    assert {q: row[q] for q in points} == {
        q: 0 if q in attacked else points[q] for q in points}, row["notes"]


def test_csv_has_one_row_per_submission_and_a_column_per_question(generated, graded):
    chapter, _ = generated
    _, lines, points = graded
    assert lines[0] == ["submission", *points, "total", "status", "notes"]
    by_name = {line[0]: line for line in lines[1:]}
    expected = ["right.ipynb", "unanswered.ipynb", "wrong.ipynb"]
    expected += ["copies.ipynb"] + (["stand-ins.ipynb"] if chapter in STAND_IN_ATTACKS else [])
    assert sorted(by_name) == sorted(expected)
    full = [str(grading._number(p)) for p in points.values()]
    assert by_name["right.ipynb"][1:-2] == [*full, str(grading._number(sum(points.values())))]
    assert by_name["unanswered.ipynb"][1:-2] == ["0"] * (len(points) + 1)
    assert by_name["wrong.ipynb"][-2] == "graded"


# -------------------------------------------------------------- every master: feedback


def test_public_check_of_an_untouched_question_says_not_answered_yet(
        generated, tmp_path, monkeypatch):
    chapter, files = generated
    monkeypatch.chdir(tmp_path)  # otter writes its log file where it runs
    exercise = read(ROOT / "exercises" / f"{chapter}.ipynb")
    env = {"torch": torch, "F": F}
    for cell in exercise.cells:
        if set(cell.metadata.get("tags", [])) & ANSWER_TAGS:
            exec(cell.source, env)
    grader = grading.ExerciseGrader(chapter, ROOT / "exercises" / "tests" / chapter)
    assert grader.questions == list(answer_cells(exercise))
    for question in grader.questions:
        feedback = grader.check(question, env)
        assert not feedback.passed
        assert feedback.text.startswith(f"{question}: not answered yet: ")
        assert "Traceback" not in feedback.text and "\n" not in feedback.text


def test_check_cells_speak_plainly_in_a_running_notebook(generated, tmp_path):
    """One notebook in three states: a wrong answer, an untouched one, the others right."""
    chapter, files = generated
    wrong_question, _, _, hint = PLANTED_BUGS[chapter]
    questions = list(answer_cells(read(files.notebook)))
    untouched = [q for q in questions if q != wrong_question][-1]
    notebook = unanswer(plant_bug(read(files.solution), chapter), read(files.notebook), untouched)
    shutil.copytree(files.tests_dir, tmp_path / "tests" / chapter)
    NotebookClient(notebook, timeout=300, resources={"metadata": {"path": str(tmp_path)}}).execute()

    said = {}
    for cell in notebook.cells:
        check = re.fullmatch(r'grader\.check\("(\w+)"\)', cell.source.strip())
        if check:
            said[check[1]] = "".join(output.get("data", {}).get("text/plain", "")
                                     for output in cell.outputs)
    assert said[untouched].startswith(f"{untouched}: not answered yet")
    assert "❌ FAILED" in said[wrong_question] and hint in said[wrong_question]
    assert "Traceback" not in said[wrong_question]
    for question in questions:
        if question not in (untouched, wrong_question):
            assert re.match(f"{question}: all checks passed", said[question]), said[question]


# ------------------------------------------------------------ one chapter: robustness


def test_loops_crashes_and_floods_do_not_stop_the_others(tmp_path):
    """The instructor's command on a folder where one answer loops forever when tested,
    one notebook raises, one prints a flood and one is not a notebook at all, next to a
    right one: each loses only what it deserves, and nothing of theirs is left running."""
    chapter = "02-concepts"
    files = grading.assign(chapter, exercises_dir=tmp_path / "exercises",
                           build_dir=tmp_path / "build", check_solutions=False)
    solution = read(files.solution)
    folder = tmp_path / "submissions"
    (folder / "alice").mkdir(parents=True)
    nbformat.write(solution, folder / "alice" / "right.ipynb")
    loops = edit_answer(solution, "q2", "    # BEGIN SOLUTION\n",
                        "    # BEGIN SOLUTION\n    while True:\n        pass\n")
    # named to be graded first, so that its time limit runs while the others are graded
    nbformat.write(loops, folder / "a-loops.ipynb")
    raises = edit_answer(solution, "q3", "def conv2d_unfold",
                         "import this_module_does_not_exist\n\ndef conv2d_unfold")
    nbformat.write(raises, folder / "raises.ipynb")
    flood = edit_answer(solution, "q1", "def conv_output_size",
                        "for i in range(20_000):\n    print('flood', i)\n\ndef conv_output_size")
    nbformat.write(flood, folder / "flood.ipynb")
    (folder / "broken.ipynb").write_text("this is not a notebook")

    workers_before = workers()
    start = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "coursekit.grading", "grade", str(folder), "--chapter", chapter,
         "--out", str(tmp_path / "scores.csv"), "--timeout", str(TIMEOUT), "--jobs", "2",
         "--cell-timeout", str(LOOP_TIMEOUT), "--autograder", str(files.autograder),
         *(["--unsafe-no-sandbox"] if unsafe() else [])],
        capture_output=True, text=True, cwd=tmp_path,
    )
    elapsed = time.monotonic() - start
    assert result.returncode == 0, result.stderr
    lines = read_csv(tmp_path / "scores.csv")
    points = grading.question_points(files.autograder)
    full = str(grading._number(sum(points.values())))
    assert lines[0] == ["submission", *points, "total", "status", "notes"]
    rows = {line[0]: dict(zip(lines[0], line, strict=True)) for line in lines[1:]}
    assert sorted(rows) == ["a-loops.ipynb", "alice/right.ipynb", "broken.ipynb",
                            "flood.ipynb", "raises.ipynb"]

    loops = rows["a-loops.ipynb"]
    assert (loops["status"], loops["q2"]) == ("graded", "0")
    assert loops["total"] == str(grading._number(sum(points.values()) - points["q2"]))
    assert loops["notes"].startswith("q2: ") and f"took longer than {LOOP_TIMEOUT}" in loops[
        "notes"]
    assert elapsed < 2 * TIMEOUT, f"grading took {elapsed:.0f} s"
    time.sleep(1)
    assert workers() - workers_before == set(), "a submission's process was left running"

    broken = rows["broken.ipynb"]
    assert (broken["status"], broken["total"]) == ("crashed", "0")
    assert broken["notes"].startswith("grading failed: ") and "NotJSONError" in broken["notes"]

    raises = rows["raises.ipynb"]
    assert (raises["status"], raises["q3"]) == ("graded", "0")
    assert raises["total"] == str(grading._number(sum(points.values()) - points["q3"]))
    assert "not answered: q3" in raises["notes"]
    assert "raised ModuleNotFoundError" in raises["notes"]  # by name: the grader's words

    assert (rows["flood.ipynb"]["total"], rows["flood.ipynb"]["notes"]) == (full, "")
    assert rows["alice/right.ipynb"]["total"] == full
    assert "flood 19999" not in result.stdout  # the flood stays inside its own process
    assert "a-loops.ipynb" in result.stdout


def test_without_a_sandbox_grading_refuses_unless_told(tmp_path, monkeypatch):
    """No bubblewrap: the grader says so and grades nothing, unless --unsafe-no-sandbox."""
    files = grading.assign("02-concepts", exercises_dir=tmp_path / "exercises",
                           build_dir=tmp_path / "build", check_solutions=False)
    nbformat.write(read(files.notebook), tmp_path / "a.ipynb")
    monkeypatch.setattr(sandbox, "_WORKS", {"result": (False, "bubblewrap is not here")})
    with pytest.raises(RuntimeError, match="no sandbox .* bubblewrap is not here.* "
                                           "--unsafe-no-sandbox"):
        grading.grade(tmp_path, "02-concepts", tmp_path / "s.csv", autograder=files.autograder)
    assert not (tmp_path / "s.csv").exists()


# --------------------------------------------------------------------- small helpers


def test_call_says_not_answered_yet_for_a_stub_or_a_missing_function():
    def stub(x):
        ...

    with pytest.raises(AssertionError, match="^not answered yet: stub returned None"):
        grading.call(stub, "stub", 1)
    with pytest.raises(AssertionError, match="^not answered yet: `gone` is not defined"):
        grading.call(None, "gone", 1)


def test_call_turns_an_error_in_the_answer_into_one_sentence():
    def broken(x):
        return x / 0

    with pytest.raises(AssertionError, match=r"^broken\(1\) raised ZeroDivisionError: division"):
        grading.call(broken, "broken", 1)


def test_expect_tensor_names_the_wrong_shape_and_its_hint():
    got, expected = torch.zeros(1, 2, 3, 3), torch.zeros(1, 2, 4, 4)
    hints = {(1, 2, 3, 3): "did you forget the padding?"}
    with pytest.raises(AssertionError) as error:
        grading.expect_tensor(got, expected, "conv2d_loops(x)", shape_hints=hints)
    assert str(error.value) == ("conv2d_loops(x): output shape (1, 2, 3, 3), expected "
                                "(1, 2, 4, 4) — did you forget the padding?")


def test_expect_tensor_names_a_wrong_value():
    expected = torch.arange(4.0).reshape(2, 2)
    got = expected.clone()
    got[1, 0] = 7
    with pytest.raises(AssertionError, match=r"at index \(1, 0\) got 7, expected 2"):
        grading.expect_tensor(got, expected, "f(x)")
    grading.expect_tensor(expected.double(), expected, "f(x)")  # dtypes may differ


def test_expect_equal_tells_a_float_from_an_int():
    with pytest.raises(AssertionError, match=r"returned 26.0 \(float\), expected 26 \(int\)"):
        grading.expect_equal(26.0, 26, "conv_output_size(28, 3)")


def test_forbidden_refuses_torch_functions_only_inside_the_block():
    x, weight = torch.ones(1, 1, 3, 3), torch.ones(1, 1, 2, 2)
    with grading.forbidden("conv2d"):
        for conv in (F.conv2d, torch.conv2d, torch.nn.Conv2d(1, 1, 2)):
            with pytest.raises(grading.ForbiddenCall, match="calls torch's own conv2d"):
                conv(x) if isinstance(conv, torch.nn.Module) else conv(x, weight)
    assert F.conv2d(x, weight).shape == (1, 1, 2, 2)


def test_bad_arguments_get_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="chapter: expected one of the masters"):
        grading.assign("99-nothing")
    with pytest.raises(ValueError, match="chapter: expected a chapter name like"):
        grading.exercise_grader("concepts")
    with pytest.raises(ValueError, match="submissions_dir: expected a folder"):
        grading.grade(tmp_path / "missing", "02-concepts", tmp_path / "s.csv")
    with pytest.raises(ValueError, match="submissions_dir: expected .ipynb files"):
        grading.grade(tmp_path, "02-concepts", tmp_path / "s.csv")
    (tmp_path / "a.ipynb").write_text("{}")
    with pytest.raises(ValueError, match="timeout: expected a positive number"):
        grading.grade(tmp_path, "02-concepts", tmp_path / "s.csv", timeout=0)
    grader = grading.ExerciseGrader("02-concepts", ROOT / "exercises" / "tests" / "02-concepts")
    with pytest.raises(ValueError, match="question: expected one of q1, q2, q3, q4, got 'q9'"):
        grader.check("q9", env={})


def test_without_local_tests_the_grader_downloads_them(tmp_path, monkeypatch):
    """As in Colab: no tests next to the notebook nor in a repository; fetched by URL."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(grading.student, "EXERCISES_DIR", tmp_path / "no-repository")
    monkeypatch.setattr(grading.student.course, "raw_url", lambda path: (ROOT / path).as_uri())
    grader = grading.exercise_grader("02-concepts")
    assert grader.tests_dir == Path("tests") / "02-concepts"
    assert grader.questions == ["q1", "q2", "q3", "q4"]
    for question in grader.questions:
        downloaded = (tmp_path / "tests" / "02-concepts" / f"{question}.py").read_text()
        assert downloaded == (ROOT / "exercises/tests/02-concepts" / f"{question}.py").read_text()
    assert grader.check("q1", env={}).text.startswith("q1: not answered yet: `conv_output_size`")


def test_a_failed_download_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(grading.student, "EXERCISES_DIR", tmp_path / "no-repository")
    monkeypatch.setattr(grading.student.course, "raw_url",
                        lambda path: (tmp_path / "gone").as_uri())
    with pytest.raises(RuntimeError, match="could not download .* open the notebook from"):
        grading.exercise_grader("02-concepts")


def test_computed_by_hand_catches_a_renamed_import_and_lets_own_work_pass():
    import torch

    from coursekit.grading import computed_by_hand
    from coursekit.losses import soft_dice_loss as mine  # imported before the check

    logits, target = torch.zeros(1, 4, 4), torch.ones(1, 4, 4)
    with pytest.raises(AssertionError, match="your answer calls .* from coursekit/losses.py"):
        with computed_by_hand():
            mine(logits, target, mode="binary")
    with computed_by_hand():                              # plain torch is the student's own
        value = 1 - (2 * torch.sigmoid(logits).sum()) / (torch.sigmoid(logits).sum() + 16)
    assert 0 < value.item() < 1


def test_computed_by_hand_catches_compiled_functions_by_their_module():
    """cv2.connectedComponents is compiled: no Python frame, so it is known by its module
    (``math`` stands in for it here, in this process and in a submission's worker)."""
    import math

    from coursekit.grading import computed_by_hand, worker

    with pytest.raises(AssertionError, match="your answer calls sqrt from math"):
        with computed_by_hand(off_limits=("math/",)):
            math.sqrt(2.0)
    with computed_by_hand(off_limits=("math/",)):
        [1, 2].append(3)                                  # builtins of no module pass
        sum(range(3))
    seen = []
    with worker._watching(("math/",), seen):
        math.floor(2.5)
    assert seen == ["floor from math"]


def test_points_split_over_checks_add_up_to_the_question():
    """otter gives each of a question's n checks 1/n of its points; summed in floats, six
    sixths are 0.9999999999999999, and a right answer 'lost' marks (boundary test, 02 q1)."""
    from coursekit.grading.grade import exact

    assert sum([1 / 6] * 6) != 1 and exact(sum([1 / 6] * 6)) == 1
    assert exact(sum([2 / 3] * 3)) == 2 and exact(2 / 3) == 0.666666667
    assert exact(0) == 0 and exact(5) == 5
