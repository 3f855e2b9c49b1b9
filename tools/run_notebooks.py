"""Execute book notebooks for real and stamp them, so committed outputs stay honest.

    .venv/bin/python tools/run_notebooks.py book/02-concepts.ipynb [more.ipynb ...]
    .venv/bin/python tools/run_notebooks.py --smoke report.json book/*.ipynb solutions/*.ipynb

Runs each notebook top to bottom in a fresh kernel with fast mode OFF (the real
thing), saves the outputs in place, and records in the notebook's metadata
``coursekit``: the SHA-256 of its code cells, the device it ran on, the date,
the run time and the coursekit version. ``tests/test_notebook_outputs.py`` fails
when a code cell changed after its outputs were made.

``--smoke FILE`` is a smoke test instead: each notebook runs in fast mode
(``COURSEKIT_FAST=1``), nothing is saved, a failure does not stop the others, and FILE
gets one row per notebook (passed or failed, seconds, the device, the error's last line).
"""

import argparse
import datetime
import hashlib
import json
import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from coursekit import setup
from coursekit.course import VERSION


def code_hash(notebook) -> str:
    """SHA-256 over the sources of the notebook's code cells, in order."""
    sources = [cell.source for cell in notebook.cells if cell.cell_type == "code"]
    return hashlib.sha256(json.dumps(sources).encode("utf-8")).hexdigest()


def run(path: Path, timeout: int) -> None:
    notebook = nbformat.read(path, as_version=4)
    os.environ.pop("COURSEKIT_FAST", None)  # the real run, never fast mode
    os.environ.pop("MPLBACKEND", None)      # let the kernel use its inline backend
    start = time.perf_counter()
    client = NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    seconds = time.perf_counter() - start
    notebook.metadata["coursekit"] = {
        "code_sha256": code_hash(notebook),
        "device": setup.describe_device(setup.get_device()),
        "executed": datetime.date.today().isoformat(),
        "seconds": round(seconds, 1),
        "coursekit_version": VERSION,
        "fast_mode": False,
    }
    nbformat.write(notebook, path)
    print(f"{path}: ran in {seconds:.0f} s on {notebook.metadata['coursekit']['device']}")


def smoke(path: Path, timeout: int) -> dict:
    """Run one notebook in fast mode without saving it: its row of the smoke report."""
    notebook = nbformat.read(path, as_version=4)
    os.environ["COURSEKIT_FAST"] = "1"
    os.environ["MPLBACKEND"] = "Agg"
    start = time.perf_counter()
    client = NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    row = {"notebook": path.as_posix(), "device": setup.describe_device(setup.get_device())}
    try:
        client.execute()
        row["status"] = "passed"
    except Exception as error:   # a failing cell: record it, go on with the next notebook
        lines = [line for line in str(error).splitlines() if line.strip()]
        row["status"] = "failed"
        row["error"] = lines[-1][:300] if lines else type(error).__name__
    row["seconds"] = round(time.perf_counter() - start, 1)
    print(f"{path}: {row['status']} in {row['seconds']:.0f} s"
          + (f": {row['error']}" if "error" in row else ""), flush=True)
    return row


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--timeout", type=int, default=3600, help="seconds per cell")
    parser.add_argument("--smoke", type=Path, default=None, metavar="FILE",
                        help="fast mode, nothing saved, one row per notebook written to FILE")
    args = parser.parse_args(argv)
    for path in args.notebooks:
        if not path.exists():
            parser.error(f"notebooks: {path} does not exist")
    if args.smoke is None:
        for path in args.notebooks:
            run(path, args.timeout)
        return 0
    rows = []
    for path in args.notebooks:
        rows.append(smoke(path, args.timeout))
        args.smoke.write_text(json.dumps({"fast_mode": True, "notebooks": rows}, indent=1)
                              + "\n")                   # after each: a timeout keeps the rest
    return 0 if all(row["status"] == "passed" for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
