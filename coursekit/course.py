"""Facts about the course that every other place reads from here.

The repository URL and the version live in this module and nowhere else: the
first cell of every notebook, the book's launch buttons and the README are
generated from (or checked against) these values by the test suite.
"""

VERSION = "0.1.0"
"""The book's version; Colab installs the course package at the git tag ``v{VERSION}``."""

REPOSITORY = "https://github.com/dlvision-course/dlvision-course"
"""The course repository: the one place its URL is written."""

BRANCH = "main"
DISTRIBUTION = "dlvision-coursekit"
"""The package's name for pip (import name ``coursekit``; "coursekit" on PyPI is someone else's)."""


def install_spec(extras: str = "") -> str:
    """The pip requirement that installs this course package from the repository.

    >>> install_spec()
    'dlvision-coursekit @ git+https://github.com/dlvision-course/dlvision-course@v0.1.0'
    """
    extra = f"[{extras}]" if extras else ""
    return f"{DISTRIBUTION}{extra} @ git+{REPOSITORY}@v{VERSION}"


def colab_url(notebook_path: str) -> str:
    """The Colab address that opens ``notebook_path`` (relative to the repository root)."""
    owner_repo = REPOSITORY.removeprefix("https://github.com/")
    return f"https://colab.research.google.com/github/{owner_repo}/blob/{BRANCH}/{notebook_path}"


def raw_url(path: str) -> str:
    """The address of a file of the repository at the book's version, as plain bytes."""
    owner_repo = REPOSITORY.removeprefix("https://github.com/")
    return f"https://raw.githubusercontent.com/{owner_repo}/v{VERSION}/{path}"


def setup_cell_source(extras: str = "") -> str:
    """The first code cell of every notebook of the course.

    In Colab (or anywhere ``coursekit`` is missing) it installs the course package from
    the repository at the book's version; pip keeps the torch and torchvision already
    there because the package asks only for lower bounds. Locally it installs nothing.
    """
    return "\n".join([
        "# Set-up. In Colab this installs the course package (Colab's own torch stays as it is);",
        "# where the package is already installed it does nothing.",
        "import importlib.util",
        "import subprocess",
        "import sys",
        "",
        "if importlib.util.find_spec(\"coursekit\") is None:",
        "    subprocess.run([sys.executable, \"-m\", \"pip\", \"install\", \"-q\",",
        f"                    \"{install_spec(extras)}\"], check=True)",
        "from coursekit import setup",
        "device = setup.start(seed=0)",
    ])
