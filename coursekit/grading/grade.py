"""Instructors: grade a folder of submitted notebooks with the hidden tests.

``python -m coursekit.grading grade SUBMISSIONS --chapter 02-concepts --out scores.csv``.
Each submission runs in a sandbox of its own (``sandbox``): its notebook is executed there
by the worker, and the hidden tests run here, in the grader's process, calling the student's
answers through proxies (``remote``) on inputs the tests choose; only data comes back, and
the comparison with the expected values, computed here from torch and coursekit, happens
here too. The notes name what was wrong; for a hidden test, only its title (never its
expected values).

Results are written to the CSV as each submission finishes; a run that is interrupted
keeps them, and the same command run again grades only what is missing (``fresh=True``
starts over). Without a working sandbox, grading refuses unless the instructor passes
``unsafe=True`` (``--unsafe-no-sandbox``).
"""

import ast
import concurrent.futures
import csv
import json
import os
import queue
import re
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path

from coursekit.grading import feedback, remote, sandbox, stripped
from coursekit.grading.student import _case_title, _failure_text, _import_otter, _unanswered

_TESTS_LOCK = threading.Lock()
"""Hidden tests of different submissions take turns in the grader's process: they seed
torch's global random generator and must not interleave (the sandboxes run in parallel)."""


def _natural_key(name):
    """Sort "q2" before "q10"."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def _extract_tests(autograder, folder):
    """The hidden test files of an autograder zip, written to ``folder``: {question: path}."""
    tests = {}
    with zipfile.ZipFile(autograder) as archive:
        for member in archive.namelist():
            if re.fullmatch(r"tests/[^/]+\.py", member):
                path = Path(folder) / Path(member).name
                path.write_bytes(archive.read(member))
                tests[path.stem] = path
    return tests


def _load_tests(tests):
    """{question: otter TestFile} in question order."""
    _import_otter()
    from otter.nbmeta_config import NBMetadataConfig
    from otter.test_files import create_test_file

    loaded = {}
    for path in tests.values():
        test_file = create_test_file(str(path), NBMetadataConfig())
        loaded[test_file.name] = (test_file, path)
    return {name: loaded[name] for name in sorted(loaded, key=_natural_key)}


def exact(points) -> float:
    """A question's points or score as meant: otter splits a question's points evenly over
    its checks, and 6 x (1/6) sums to 0.9999999999999999 in floats; rounded to 9 decimals
    it is the 1 it should be (no question has checks worth less than 1e-9)."""
    return round(float(points), 9)


def question_points(autograder) -> dict[str, float]:
    """The questions an autograder zip grades and their points, e.g. {"q1": 1, "q2": 2}."""
    with tempfile.TemporaryDirectory() as tmp:
        tests = _load_tests(_extract_tests(autograder, tmp))
        return {name: exact(test_file.possible) for name, (test_file, _) in tests.items()}


SAME_AS = {
    "max_pool2d": ("max_pool2d_loops",),
    "train_step": ("train_one_epoch", "fit"),
    "train_epoch": ("train_one_epoch", "fit"),
    "train_epochs": ("train_one_epoch", "fit"),
    "train_epoch_loss": ("train_one_epoch", "fit"),
    "test_accuracy": ("evaluate", "count_correct", "predict"),
    "UpStep": ("Up",),
    "soft_iou_loss": ("soft_jaccard_loss",),
    "soft_dice_loss_ignore": ("soft_dice_loss",),
    "precision_recall_f1": ("precision_per_class", "recall_per_class", "f1_per_class",
                            "precision", "recall", "f1_score"),
    "classify_regions": ("majority_classes",),
    "count_digits": ("count_classes", "digit_counts"),
    "score_scene": ("count_confusion",),
    "f1": ("digit_f1",),
    "time_calls": ("time_callable",),
}
"""coursekit's implementations of an answer under another name than the answer's own
(those of the same name are found without this table): tripwires while it is tested."""


def _answer_names(path):
    """The names a test file's test functions take: the answers of its question."""
    names = []
    for node in ast.walk(ast.parse(Path(path).read_text())):
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test"):
            names += [arg.arg for arg in node.args.args if arg.arg != "env"]
    return list(dict.fromkeys(names))


def _read_notebook(path):
    """The notebook's cells (type and source) as plain JSON data, whatever its version,
    kernel or metadata."""
    import nbformat

    notebook = nbformat.reads(Path(path).read_text(errors="replace"), as_version=4)
    cells = [{"cell_type": cell.get("cell_type"), "source": cell.get("source", "")}
             for cell in notebook.get("cells", [])]  # outputs and metadata play no part
    return json.loads(json.dumps({"cells": cells}))


class Grader:
    """Grades single notebooks against one autograder; used by ``grade`` and Gradescope."""

    def __init__(self, autograder, timeout=600, cell_timeout=None, unsafe=False,
                 limits=None, log=print):
        self._tmp = tempfile.TemporaryDirectory(prefix="coursekit-grader-")
        os.chmod(self._tmp.name, 0o700)
        try:  # the hidden tests live in memory only: their files go at once
            self.tests = _load_tests(_extract_tests(autograder, self._tmp.name))
            self.points = {name: exact(test_file.possible)
                           for name, (test_file, _) in self.tests.items()}
            self.answers = {name: _answer_names(path) for name, (_, path) in self.tests.items()}
            self.sources = {name: feedback.function_sources(path)
                            for name, (_, path) in self.tests.items()}
        finally:
            self._tmp.cleanup()
        import coursekit

        # coursekit without the answers, made once here, before the grading threads start
        stripped.stripped_sources(str(Path(coursekit.__file__).resolve().parent), tuple(
            sorted({name for names in self.answers.values() for name in names})))
        self.tripwires = {question: [*names, *(alias for name in names
                                              for alias in SAME_AS.get(name, ()))]
                          for question, names in self.answers.items()}
        self.timeout = timeout
        self.cell_timeout = cell_timeout or max(5.0, min(timeout / 2, 300))
        self.limits = limits or sandbox.Limits()
        ok, why = sandbox.works()
        if ok:
            self.mode = "bwrap"
            log("sandbox limits of each submission: " + sandbox.describe(self.limits))
        elif unsafe:
            self.mode = "unsafe"
            log("WARNING: grading WITHOUT a sandbox (--unsafe-no-sandbox): " + why + ". "
                "Submissions run as plain processes: they can read and change what this "
                "user can. Grade untrusted work only in a sandbox.")
        else:
            raise RuntimeError(
                "no sandbox to grade untrusted notebooks in: " + why + ". Install it "
                "(Debian/Ubuntu: sudo apt-get install bubblewrap), or, on a machine that holds "
                "nothing of value, pass --unsafe-no-sandbox (unsafe=True).")
        remote.install_backward()

    def close(self):
        self._tmp.cleanup()
        sandbox.release_all()

    def grade_notebook(self, path, slot=0):
        """One submission: {question: points, "status", "notes", "feedback": {question:
        note}}, every word of the notes and the feedback the grader's own (``feedback``).
        Whatever the submission does, it gets a row: an error of the grader's while grading
        it (which it may have caused) makes it "crashed", and grading goes on."""
        try:
            return self._grade_notebook(path, slot)
        except Exception as error:  # noqa: BLE001 (one submission never ends the run)
            import traceback

            print(feedback.one_line("".join(traceback.format_exception_only(error)), 300),
                  file=sys.stderr)
            return {"status": "crashed", **{question: 0 for question in self.points},
                    "notes": f"grading failed: the grader met a {type(error).__name__} "
                             "(the grader's log says where)", "feedback": {}}

    def _grade_notebook(self, path, slot):
        row = {"status": "graded", **{question: 0 for question in self.points}, "feedback": {}}
        try:
            notebook = _read_notebook(path)
        except Exception as error:  # not a notebook at all
            row.update(status="crashed", notes="grading failed: not a readable notebook "
                                               f"({type(error).__name__})")
            return row
        deadline = time.monotonic() + self.timeout
        submission = remote.Submission(
            notebook, self.mode, slot, self.limits, self.cell_timeout, deadline,
            self.tripwires, answers=[name for names in self.answers.values() for name in names])
        outcome = {"scores": {}, "failures": {}, "unanswered": [], "errors": []}
        try:
            started = submission.start()
            for question, (test_file, _) in self.tests.items():
                if not started or time.monotonic() > deadline:
                    break
                with _TESTS_LOCK:
                    self._run_question(submission, question, test_file, outcome)
        finally:
            submission.kill()
            sandbox.release(slot)  # whatever is left of it ends; its user is handed back
        outcome["errors"] = [submission.cell_errors[i] for i in sorted(submission.cell_errors)]
        row["said"] = {i: submission.said[i] for i in sorted(submission.said)}  # cell log only
        timed_out = submission.timed_out or time.monotonic() > deadline
        for question in self.points:
            row[question] = outcome["scores"].get(question, 0)
        if timed_out and not outcome["scores"]:
            row.update(status="timed out", notes=f"stopped at the time limit "
                                                 f"({self.timeout:g} s): 0 for every question")
            return row
        if not started and not outcome["scores"]:
            row.update(status="crashed", notes="; ".join(
                ["grading failed: " + "; ".join(submission.notes or ["?"])]
                + outcome["errors"][:1]))
            return row
        if timed_out:
            row["status"] = "timed out"
        row["notes"] = _notes(outcome, self.points, extra=submission.notes)
        row["feedback"] = {question: text for question, text in outcome["failures"].items()
                           if outcome["scores"].get(question, 0) < self.points[question]}
        return row

    def _run_question(self, submission, question, test_file, outcome):
        try:
            submission.ensure()
            submission.reset()
            env = {name: submission.lookup(name) for name in self.answers[question]}
        except remote.SubmissionGone as error:  # its words are the grader's
            outcome["failures"][question] = f"the notebook's process ended: {error}"
            return
        with remote.testing(submission, question):
            test_file.run(env)
        outcome["scores"][question] = exact(test_file.score)
        failed = [case for case in test_file.test_case_results if not case.passed]
        if failed:
            outcome["failures"][question] = self._failure_note(question, failed[0],
                                                               submission)
        if _unanswered(test_file):
            outcome["unanswered"].append(question)

    def _failure_note(self, question, result, submission):
        """The note of a question's first failed test, in the grader's words only."""
        title = _case_title(result.test_case)
        if submission.gone:  # its process ended or hung during this question
            return f"{submission.gone} (in the test: {feedback.one_line(title, 80)})"
        if submission.refused:
            return ("your answer calls a function this question asks you to write (in the "
                    f"test: {feedback.one_line(title, 80)})")
        if submission.raised:
            return (f"your answer raised {submission.raised} (in the test: "
                    f"{feedback.one_line(title, 80)})")
        if result.test_case.hidden:
            return feedback.hidden_failure(title)
        name = getattr(getattr(result.test_case.body, "test_func", None), "__name__", "")
        return feedback.public_failure(title, _failure_text(result.message or ""),
                                       self.sources[question].get(name, ""))


def _shorten(text, limit=160):
    """One line of at most ``limit`` printable characters."""
    return feedback.one_line(text, limit)


def _notes(outcome, points, extra=()):
    """The notes column: unanswered questions, the first failure of others, cell errors."""
    unanswered = sorted(outcome["unanswered"], key=_natural_key)
    notes = [f"not answered: {', '.join(unanswered)}"] if unanswered else []
    for question, text in outcome["failures"].items():
        lost = outcome["scores"].get(question, 0) < points.get(question, 0)
        if question not in unanswered and lost:
            notes.append(f"{question}: {_shorten(text, 300)}")
    errors = list(dict.fromkeys(outcome["errors"]))  # distinct, in order
    if errors:
        notes.append(" | ".join(_shorten(error, 80) for error in errors[:3]))
    notes += [_shorten(note) for note in dict.fromkeys(extra)]  # distinct, in order
    return "; ".join(notes)


def _number(value):
    """2.0 -> 2, 1.3333333 -> 1.333: how a score is written."""
    value = round(float(value), 3)
    return int(value) if value.is_integer() else value


def _print_table(rows, points):
    """A short table of the scores, one line per submission."""
    columns = ["submission", *points, "total", "status"]
    names = {id(row): feedback.one_line(row["submission"], 80) for row in rows}
    width = max(len("submission"), *(len(name) for name in names.values()))
    print(f"{'submission':<{width}}  " + "  ".join(f"{c:>5}" for c in columns[1:-1])
          + "  status")
    for row in rows:
        scores = "  ".join(f"{_number(row[c]):>5}" for c in columns[1:-1])
        print(f"{names[id(row)]:<{width}}  {scores}  {row['status']}")
    print(f"(out of {_number(sum(points.values()))}; notes in the CSV)")


def _write_csv(out_csv, rows, points):
    """Write all rows so far (atomically: a reader never sees half a file); every cell
    through ``feedback.cell`` (one printable line, capped, never a formula)."""
    columns = ["submission", *points, "total", "status", "notes"]
    partial = out_csv.with_name(out_csv.name + ".partial")
    with open(partial, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(columns)
        for row in sorted(rows, key=lambda row: str(row["submission"])):
            numbers = {c: _number(row[c]) for c in [*points, "total"]}
            writer.writerow([feedback.cell(numbers.get(c, row.get(c, ""))) for c in columns])
    os.replace(partial, out_csv)


def _already_graded(out_csv, points):
    """Rows of an earlier, interrupted run of the same grading (same columns), by their
    submission cell; a row that cannot be read is left out (graded again)."""
    if not out_csv.is_file():
        return {}
    lines = feedback.read_rows(out_csv)
    if not lines or lines[0] != ["submission", *points, "total", "status", "notes"]:
        return {}
    rows = {}
    for line in lines[1:]:
        if len(line) == len(lines[0]):
            row = dict(zip(lines[0], line, strict=True))
            try:
                for column in [*points, "total"]:
                    row[column] = float(row[column])
            except ValueError:
                continue
            rows[row["submission"]] = row
    return rows


def grade(submissions_dir, chapter, out_csv, timeout=600, jobs=1, autograder=None,
          cell_timeout=None, unsafe=False, fresh=False, limits=None, cell_log=None):
    """Grade every notebook under ``submissions_dir`` with the chapter's hidden tests.

    Each submission runs in a sandbox with a limit of ``timeout`` seconds in all and
    ``cell_timeout`` for each cell and each call of an answer (``jobs`` at a time). A cell
    that hangs or ends the process is skipped; an answer that does costs its question. Writes
    ``out_csv`` as it goes: one row per submission, one column per question (points),
    total, status, notes; rows already there from an interrupted run are kept unless
    ``fresh``. Returns the rows. ``autograder`` is the zip to use; by default it is built
    afresh from ``solutions/<chapter>.ipynb``. ``COURSEKIT_FAST`` and ``COURSEKIT_DATA`` of
    the caller apply to the submissions. ``cell_log``: a file to which a JSON line per
    submission is added with what each of its cells raised, in the submission's own words
    (one printable line each, capped): for the instructor who debugs a submission; it is
    never copied into the CSV.
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
        from coursekit.grading.assign import assign

        print(f"building the autograder of {chapter} from its master...")
        with tempfile.TemporaryDirectory(prefix="coursekit-autograder-") as build:
            os.chmod(build, 0o700)
            autograder = assign(chapter, exercises_dir=Path(build) / "exercises",
                                build_dir=build, check_solutions=False).autograder
            grader = Grader(autograder, timeout=timeout, cell_timeout=cell_timeout,
                            unsafe=unsafe, limits=limits)
    elif not Path(autograder).is_file():
        raise ValueError(f"autograder: expected an autograder zip file, got {autograder}")
    else:
        grader = Grader(autograder, timeout=timeout, cell_timeout=cell_timeout, unsafe=unsafe,
                        limits=limits)
    points = grader.points
    out_csv = Path(out_csv)
    out_csv.parent.mkdir(parents=True, exist_ok=True)
    names = [str(path.relative_to(folder)) for path in submissions]
    earlier = {} if fresh else _already_graded(out_csv, points)
    done = {name: earlier[feedback.cell(name)] for name in names
            if feedback.cell(name) in earlier}
    if done:
        print(f"{out_csv}: {len(done)} submissions graded by an earlier run are kept "
              "(fresh=True / --fresh grades them again)")
    rows, lock = list(done.values()), threading.Lock()
    slots = queue.Queue()
    for slot in range(jobs):
        slots.put(slot)

    def grade_submission(submission):
        start = time.monotonic()
        slot = slots.get()
        try:
            row = grader.grade_notebook(submission, slot)
        finally:
            slots.put(slot)
        row["submission"] = str(submission.relative_to(folder))
        row["total"] = sum(row[question] for question in points)
        with lock:
            rows.append(row)
            _write_csv(out_csv, rows, points)
            if cell_log and row.get("said"):
                with open(cell_log, "a") as log:
                    log.write(json.dumps({"submission": row["submission"],
                                          "cells": row["said"]}) + "\n")
        print(f"{feedback.one_line(row['submission'], 200)}: {row['status']}, "
              f"{_number(row['total'])} points "
              f"({time.monotonic() - start:.0f} s)", flush=True)
        return row

    todo = [path for path, name in zip(submissions, names, strict=True) if name not in done]
    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
            list(pool.map(grade_submission, todo))
    finally:
        grader.close()
    _write_csv(out_csv, rows, points)
    rows.sort(key=lambda row: row["submission"])
    _print_table(rows, points)
    print(f"wrote {out_csv}")
    return rows
