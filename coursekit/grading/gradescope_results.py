"""Gradescope's side of a run: grade the one notebook in ``/autograder/submission`` exactly
as ``grade`` does (the same sandbox, the tests in this process) and write
``/autograder/results/results.json`` in Gradescope's format (``gradescope`` builds the
archive that calls this: ``python3 -m coursekit.grading gradescope``).

Every text in the results is the grader's own (``feedback``): a question's output is its
note, the overall output the status and the notes, each capped and on one line."""

import json
from pathlib import Path

from coursekit.grading import feedback
from coursekit.grading.grade import Grader, _number


def run(root="/autograder", unsafe=False):
    """Grade the notebook in ``root/submission``; write ``root/results/results.json``."""
    root = Path(root)
    results = root / "results" / "results.json"
    results.parent.mkdir(parents=True, exist_ok=True)
    notebooks = sorted((root / "submission").rglob("*.ipynb"))
    grader = Grader(root / "source" / "autograder.zip", unsafe=unsafe)
    try:
        if len(notebooks) != 1:
            row = {"status": "crashed", **{q: 0 for q in grader.points}, "feedback": {},
                   "notes": f"expected one .ipynb file in the submission, found {len(notebooks)}"}
        else:
            row = grader.grade_notebook(notebooks[0])
    finally:
        grader.close()
    notes = feedback.one_line(row.get("notes", ""), feedback.CELL_CHARS)
    tests = [{"name": question, "score": _number(row[question]),
              "max_score": _number(possible),
              "output": feedback.one_line(row.get("feedback", {}).get(question, ""))}
             for question, possible in grader.points.items()]
    total = sum(row[question] for question in grader.points)
    results.write_text(json.dumps({
        "score": _number(total), "tests": tests,
        "output": f"status: {row['status']}" + (f"; {notes}" if notes else ""),
    }, indent=1))
    print(f"{notebooks[0].name if notebooks else '?'}: {row['status']}, {_number(total)} points")
    return row
