"""Test the oldest versions the package claims: its unit tests on its lower bounds.

    .venv/bin/python tools/lower_bounds.py [--out tools/results/lower-bounds.json]

Reads ``pyproject.toml``: the oldest Python ``requires-python`` admits (found on the PATH
as ``python3.X`` or under pyenv; ``--python`` to name one), and every runtime dependency
at exactly its lower bound (``torch>=2.11`` gives ``torch==2.11``). Makes a virtual
environment with them (``--env``, default ``$LOWER_BOUNDS_ENV`` or
``~/.cache/coursekit/lower-bounds``, outside the repository; remade when the bounds
change), adds the test tools of the ``dev`` extra (under the same pins, so they cannot
lift one; otter-grader and JupyterLab left out, see ``NOT_INSTALLED``), installs the
course from this checkout without its dependencies, and runs the unit tests in fast mode.
Test files that run notebooks or grade with otter are left out (``LEFT_OUT``, with why):
they are run by ``make test`` and by the Colab rehearsals. Needs PyPI; the torch wheel
with its CUDA libraries is a few GB (pip's cache keeps it).
"""

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

try:
    import tomllib
except ImportError:  # Python 3.10 (the oldest the package claims): the same parser, as tomli
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_ENV = Path(os.environ.get("LOWER_BOUNDS_ENV",
                                  Path.home() / ".cache" / "coursekit" / "lower-bounds"))

NOT_INSTALLED = {
    "otter-grader": "the instructor's tool; every release asks (through ipylab) for "
                    "ipywidgets 8, above the lower bound 7.7 being tested",
    "jupyterlab": "an editor, not used by any test",
}
LEFT_OUT = {
    "tests/test_book.py": "builds the book (jupyter-book, the book extra)",
    "tests/test_notebook_outputs.py": "checks the committed notebooks' outputs and hashes",
    "tests/test_colab_rehearsal.py": "runs chapter 1 as in Colab (the rehearsal tools)",
    "tests/test_grading.py": "makes and grades exercises with otter-grader (not installed)",
    "tests/test_grading_attacks.py": "grades attacking submissions with otter-grader",
    "tests/test_grading_boundary.py": "grades submissions with otter-grader",
}
DESELECTED = {
    "tests/test_colab_versions.py::test_the_committed_lower_bound_run_tested_todays_bounds"
    "_and_passed": "checks the committed result of this very run",
}


def log(text):
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


def _name(requirement):
    return re.split(r"[<>=!~\[ ;]", requirement, maxsplit=1)[0].strip()


def lower_bounds(project) -> tuple[str, list[str]]:
    """("3.10", ["torch==2.11", ...]) from pyproject's ``project`` table; every runtime
    dependency must have a lower bound (``>=``), or this says which has none."""
    python = re.fullmatch(r">=\s*(\d+\.\d+)", project["requires-python"].strip())
    if not python:
        raise ValueError(f"requires-python: expected '>=3.N', got {project['requires-python']!r}")
    pins = []
    for requirement in project["dependencies"]:
        bound = re.search(r">=\s*([0-9][0-9A-Za-z.]*)", requirement)
        if not bound:
            raise ValueError(f"dependency {requirement!r} has no lower bound (>=) to test")
        pins.append(f"{_name(requirement)}=={bound[1]}")
    return python[1], pins


def find_python(version: str) -> Path:
    """An interpreter of Python ``version`` (e.g. "3.10"): on the PATH, or under pyenv."""
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    candidates = [shutil.which(f"python{version}"),
                  *sorted(pyenv.glob(f"{version}.*/bin/python{version}"), reverse=True)]
    for candidate in filter(None, candidates):
        works = subprocess.run([str(candidate), "-c", "import sys, venv; print(sys.version)"],
                               capture_output=True, text=True)
        if works.returncode == 0:   # (a pyenv shim of a version not selected does not)
            return Path(candidate)
    raise SystemExit(f"no Python {version} found (python{version} on the PATH or under "
                     f"{pyenv}); install it (e.g. pyenv install {version}) or pass --python")


def make_env(env: Path, python: Path, pins: list[str], tools: list[str]) -> Path:
    """The virtual environment with ``pins`` and ``tools``; reused while they are the same."""
    digest = hashlib.sha256(json.dumps([str(python), pins, tools]).encode()).hexdigest()
    marker = env / ".lower-bounds"
    exe = env / "bin" / "python"
    if marker.is_file() and marker.read_text().strip() == digest:
        log(f"environment {env} has these pins: reused")
    else:
        shutil.rmtree(env, ignore_errors=True)
        log(f"making {env} with {python}")
        subprocess.run([str(python), "-m", "venv", str(env)], check=True)
        subprocess.run([str(exe), "-m", "pip", "install", "--quiet", "--upgrade", "pip"],
                       check=True)
        constraints = env / "lower-bounds.txt"
        constraints.write_text("\n".join(pins) + "\n")
        log(f"installing {' '.join(pins)} and the test tools (torch's CUDA wheels are large)")
        subprocess.run([str(exe), "-m", "pip", "install", "--progress-bar", "off",
                        "-c", str(constraints), *pins, *tools], check=True)
        marker.write_text(digest + "\n")
    log("installing the course from this checkout, without dependencies")
    subprocess.run([str(exe), "-m", "pip", "install", "--quiet", "--no-deps", str(ROOT)],
                   check=True)
    return exe


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", type=Path, default=DEFAULT_ENV)
    parser.add_argument("--python", type=Path, help="the interpreter (default: found)")
    parser.add_argument("--out", type=Path, help="write the result as JSON here")
    parser.add_argument("--install-only", action="store_true",
                        help="make the environment and stop (e.g. before a queued test run)")
    parser.add_argument("pytest_args", nargs="*", help="more pytest arguments (after --)")
    args = parser.parse_args(argv)
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    version, pins = lower_bounds(project)
    build = tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]["requires"]
    tools = [r for r in project["optional-dependencies"]["dev"]
             if _name(r).lower() not in NOT_INSTALLED] + build
    python = args.python or find_python(version)
    start = time.perf_counter()
    exe = make_env(args.env, python, pins, tools)
    if args.install_only:
        return 0
    freeze = subprocess.run([str(exe), "-m", "pip", "freeze"], capture_output=True, text=True,
                            check=True).stdout.splitlines()
    got = {line.split("==")[0].lower(): line.split("==")[1] for line in freeze if "==" in line}
    python_version = subprocess.run([str(exe), "-c", "import platform; print(platform."
                                     "python_version())"], capture_output=True, text=True,
                                    check=True).stdout.strip()
    command = [str(exe), "-m", "pytest", "tests", "-o", "addopts=", "-p", "no:cacheprovider",
               "-q", "-rfEs", *(f"--ignore={path}" for path in LEFT_OUT),
               *(f"--deselect={test}" for test in DESELECTED), *args.pytest_args]
    log(f"running the unit tests on Python {python_version} with "
        + ", ".join(f"{_name(p)} {got.get(_name(p).lower(), '?')}" for p in pins))
    env = {**os.environ, "COURSEKIT_FAST": "1", "MPLBACKEND": "Agg"}
    env.pop("PYTHONPATH", None)
    run_start = time.perf_counter()
    tests = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    (args.env / "last-run.log").write_text(tests.stdout + tests.stderr)   # the whole output
    print(tests.stdout[-6000:] + tests.stderr[-2000:], flush=True)
    summary = (tests.stdout.strip().splitlines() or ["(no output)"])[-1]
    passed = tests.returncode == 0
    log(f"{'PASSED' if passed else 'FAILED'}: {summary} "
        f"({time.perf_counter() - run_start:.0f} s of tests)")
    if args.out:
        commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True).stdout.strip()
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({
            "commit": commit, "status": "passed" if passed else "failed", "summary": summary,
            "python": python_version, "requires_python": f">={version}",
            "bounds_tested": {_name(p): got.get(_name(p).lower()) for p in pins},
            "test_tools_left_out": NOT_INSTALLED, "test_files_left_out": LEFT_OUT,
            "tests_deselected": DESELECTED,
            "failures": [line for line in tests.stdout.splitlines()
                         if line.startswith(("FAILED", "ERROR"))][:40],
            "seconds": round(time.perf_counter() - start, 1),
        }, indent=1) + "\n")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
