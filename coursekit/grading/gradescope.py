"""The same grader inside Gradescope, for classes that outgrow one machine.

``assign`` packs ``build/autograder/CH/gradescope.zip``: Gradescope unpacks it into
``/autograder/source``, runs ``setup.sh`` once when the image is built (bubblewrap, Python,
the course package at the book's version, otter) and ``run_autograder`` for each submission:
that calls ``python3 -m coursekit.grading gradescope``, which grades the one notebook in
``/autograder/submission`` exactly as ``grade`` does (the same sandbox, the tests in this
process) and writes ``/autograder/results/results.json`` in Gradescope's format. The hidden
tests (``source/autograder.zip``) stay in ``/autograder/source``, which the sandbox does not
mount.
"""

import json
import zipfile
from pathlib import Path

from coursekit import course

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this for each submission (written by python -m coursekit.grading assign).
set -euo pipefail
root="${COURSEKIT_GRADESCOPE_ROOT:-/autograder}"
python="${COURSEKIT_GRADESCOPE_PYTHON:-python3}"
"$python" -m coursekit.grading gradescope --root "$root"
"""

SETUP = """#!/usr/bin/env bash
# Gradescope runs this once, when it builds the image (written by coursekit.grading assign).
set -euo pipefail
apt-get update
apt-get install -y bubblewrap python3 python3-pip python3-venv git
python3 -m pip install "{spec}"
"""


def write_archive(path, autograder_zip, chapter):
    """Write Gradescope's archive: run_autograder, setup.sh, the autograder zip, the chapter."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in (("run_autograder", RUN_AUTOGRADER),
                           ("setup.sh", SETUP.format(spec=course.install_spec("grading")))):
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.external_attr = 0o755 << 16
            archive.writestr(info, text)
        info = zipfile.ZipInfo("autograder.zip", date_time=(2020, 1, 1, 0, 0, 0))
        archive.writestr(info, Path(autograder_zip).read_bytes())
        info = zipfile.ZipInfo("chapter.txt", date_time=(2020, 1, 1, 0, 0, 0))
        archive.writestr(info, chapter + "\n")


def run(root="/autograder", unsafe=False):
    """Grade the notebook in ``root/submission``; write ``root/results/results.json``."""
    from coursekit.grading.grade import Grader, _number

    root = Path(root)
    results = root / "results" / "results.json"
    results.parent.mkdir(parents=True, exist_ok=True)
    notebooks = sorted((root / "submission").rglob("*.ipynb"))
    grader = Grader(root / "source" / "autograder.zip", unsafe=unsafe)
    try:
        if len(notebooks) != 1:
            row = {"status": "crashed", **{q: 0 for q in grader.points},
                   "notes": f"expected one .ipynb file in the submission, found {len(notebooks)}"}
        else:
            row = grader.grade_notebook(notebooks[0])
    finally:
        grader.close()
    notes = row.get("notes", "")
    tests = []
    for question, possible in grader.points.items():
        mine = [part.split(": ", 1)[1] for part in notes.split("; ")
                if part.startswith(f"{question}: ")]
        tests.append({"name": question, "score": _number(row[question]),
                      "max_score": _number(possible), "output": mine[0] if mine else ""})
    total = sum(row[question] for question in grader.points)
    results.write_text(json.dumps({
        "score": _number(total), "tests": tests,
        "output": f"status: {row['status']}" + (f"; {notes}" if notes else ""),
    }, indent=1))
    print(f"{notebooks[0].name if notebooks else '?'}: {row['status']}, {_number(total)} points")
    return row
