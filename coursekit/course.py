"""Facts about the course that every other place reads from here.

The repository URL and the version live in this module and nowhere else: the
first cell of every notebook, the book's launch buttons and the README are
generated from (or checked against) these values by the test suite.
"""

import os
import re
from pathlib import PurePosixPath

VERSION = "0.1.0"
"""The book's version. Publishing it means pushing the git tag ``REF`` (see README)."""

REPOSITORY = "https://github.com/dlvision-course/dlvision-course"
"""The course repository: the one place its URL is written."""

REF = f"v{VERSION}"
"""The one git ref everything Colab touches comes from: the notebook a launch button opens
(``colab_url``; the book's ``_config.yml`` names the same ref), the package the first cell
installs (``install_spec``), and the files a notebook downloads (``raw_url``: an exercise's
public tests, the ISBI 2012 archive). The book is published when this tag is pushed
(``.github/workflows/book.yml``), so a published page never opens a notebook that its
package does not match. ``tests/test_course.py`` holds the pieces together."""

FILES_URL_VARIABLE = "COURSEKIT_FILES_URL"
"""An environment variable that, when set, replaces the address ``raw_url`` fetches files
from (a mirror of the repository at ``REF``). Unset everywhere but in rehearsals of Colab
(``tools/colab_rehearsal.py``) and tests; what is downloaded through it is still checked."""

DISTRIBUTION = "dlvision-coursekit"
"""The package's name for pip (import name ``coursekit``; "coursekit" on PyPI is someone else's)."""


def install_spec(extras: str = "") -> str:
    """The pip requirement that installs this course package from the repository.

    extras: "" or a pip extra such as "exercises" (names separated by commas).

    >>> install_spec()
    'dlvision-coursekit @ git+https://github.com/dlvision-course/dlvision-course@v0.1.0'
    """
    return f"{DISTRIBUTION}{_extras(extras)} @ git+{REPOSITORY}@{REF}"


def _extras(extras) -> str:
    """``extras`` ("" or names separated by commas) as pip writes them: "" or "[a,b]"."""
    if not isinstance(extras, str):
        raise TypeError(f"extras: expected a str such as 'exercises', got {extras!r}")
    if extras and not re.fullmatch(r"[A-Za-z0-9_.-]+(,[A-Za-z0-9_.-]+)*", extras):
        raise ValueError(f"extras: expected extra names separated by commas, e.g. 'exercises', "
                         f"got {extras!r}")
    return f"[{extras}]" if extras else ""


def _repository_path(path, name: str) -> str:
    """``path`` (str or Path, relative to the repository root) with forward slashes."""
    if not isinstance(path, str | os.PathLike):
        raise TypeError(f"{name}: expected a path (str or Path) relative to the repository "
                        f"root, got {path!r}")
    text = os.fspath(path).replace("\\", "/")          # a Windows path too
    parts = PurePosixPath(text).parts                   # "./book//x" -> ("book", "x")
    if not parts or text.startswith("/") or ":" in parts[0] or ".." in parts:
        raise ValueError(f"{name}: expected a path relative to the repository root, e.g. "
                         f"'book/02-concepts.ipynb', got {os.fspath(path)!r}")
    return "/".join(parts)


def colab_url(notebook_path) -> str:
    """The Colab address that opens ``notebook_path``: a notebook (.ipynb), as a path (str
    or Path) relative to the repository root, e.g. 'book/02-concepts.ipynb'."""
    notebook_path = _repository_path(notebook_path, "notebook_path")
    if not notebook_path.endswith(".ipynb"):
        raise ValueError(f"notebook_path: expected a notebook (.ipynb), got {notebook_path!r}")
    owner_repo = REPOSITORY.removeprefix("https://github.com/")
    return f"https://colab.research.google.com/github/{owner_repo}/blob/{REF}/{notebook_path}"


def raw_url(path) -> str:
    """The address of a file of the repository at ``REF``, as plain bytes.

    path: relative to the repository root (str or Path), e.g. 'exercises/tests/q1.py'.
    Where the environment variable ``COURSEKIT_FILES_URL`` is set, the address is under it
    instead (a mirror of the repository at ``REF``; for rehearsals and tests)."""
    path = _repository_path(path, "path")
    mirror = os.environ.get(FILES_URL_VARIABLE)
    if mirror:
        return f"{mirror.rstrip('/')}/{path}"
    owner_repo = REPOSITORY.removeprefix("https://github.com/")
    return f"https://raw.githubusercontent.com/{owner_repo}/{REF}/{path}"


def setup_cell_source(extras: str = "") -> str:
    """The first code cell of every notebook of the course.

    In Colab (or anywhere ``coursekit`` is missing) it installs the course package from
    the repository at the book's version; pip keeps the torch and torchvision already
    there because the package asks only for lower bounds. Locally it installs nothing.
    """
    return "\n".join([
        "# Set-up. In Colab: installs the course package (Colab's torch stays as it is).",
        "# Where the package is already installed, it does nothing.",
        "import importlib.util",
        "import subprocess",
        "import sys",
        "",
        f"COURSE = \"git+{REPOSITORY}@{REF}\"",
        "if importlib.util.find_spec(\"coursekit\") is None:",
        "    subprocess.run([sys.executable, \"-m\", \"pip\", \"install\", \"-q\",",
        f"                    f\"{DISTRIBUTION}{_extras(extras)} @ {{COURSE}}\"], check=True)",
        "from coursekit import setup",
        "device = setup.start(seed=0)",
    ])
