"""The same grader inside Gradescope, for classes that outgrow one machine.

``assign`` packs ``build/autograder/CH/gradescope.zip``: Gradescope unpacks it into
``/autograder/source``, runs ``setup.sh`` once when the image is built (bubblewrap, Python,
the course package at the book's version, otter) and ``run_autograder`` for each submission:
that calls ``python3 -m coursekit.grading gradescope`` (``gradescope_results.run``), which
grades the one notebook in ``/autograder/submission`` exactly as ``grade`` does and writes
``/autograder/results/results.json`` in Gradescope's format. The hidden
tests (``source/autograder.zip``) stay in ``/autograder/source``, which the sandbox does not
mount.
"""

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
