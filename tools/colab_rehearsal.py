"""Rehearse Colab offline: each notebook in a fresh environment, set up by its own first cell.

    .venv/bin/python tools/colab_rehearsal.py book/01-welcome.ipynb [more.ipynb ...]
    .venv/bin/python tools/colab_rehearsal.py --all [--out tools/results/colab-rehearsal.json]

What Colab does, and what this does instead:

- Colab starts each notebook in a fresh runtime that already has torch, torchvision and the
  usual scientific packages, but not the course's package. Here each notebook gets a fresh
  virtual environment that sees only those preinstalled packages (``PREINSTALLED`` and what
  they need, linked from the environment running this script), never ``coursekit``.
- Colab opens the notebook from GitHub at ``coursekit.course.REF`` and its first cell
  installs the package from GitHub at that ref. Here the repository is a local clone of the
  committed ``HEAD`` with the tag ``REF`` on it, and the first cell is run as written with
  only the repository's address swapped for that clone's ``file://`` address.
- A notebook that downloads files from the repository (an exercise's public tests, the ISBI
  2012 archive) gets them from a local HTTP server serving the tree at ``REF``
  (``COURSEKIT_FILES_URL``). MNIST, CIFAR-10 and the others come from ``COURSEKIT_DATA`` (no
  internet here); ISBI 2012 is deliberately left out of that data root, so it is downloaded.
- The notebook runs alone in an empty folder (Colab's /content), in fast mode
  (``COURSEKIT_FAST=1``), top to bottom; any cell error fails it.

``--offline`` (used by the test suite) also keeps pip off the network: no index, and the build
backend taken from the preinstalled packages instead of an isolated build environment. Only
notebooks whose needs are all preinstalled (the book's chapters, not the exercises, which
install otter-grader) can pass that way.

It rehearses what is committed: uncommitted changes are not in the clone.
"""

import argparse
import functools
import http.server
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from coursekit import course  # noqa: E402

PREINSTALLED = ["torch", "torchvision", "numpy", "scipy", "matplotlib", "pillow", "pandas",
                "tqdm", "ipywidgets", "ipykernel", "ipython", "requests", "setuptools",
                "packaging"]
"""What a Colab runtime has before the first cell runs (a subset of its many packages)."""

DATA_SETS = ["MNIST", "FashionMNIST", "cifar10-jpg", "oxford-iiit-pet"]
"""Linked into the rehearsal's data root; ISBI 2012 is not: it must come from the repository."""


def _closure(names):
    """The distributions ``names`` need (with the extras asked for), found in this
    environment, recursively."""
    seen, done, todo = {}, set(), [(name, "") for name in names]
    while todo:
        name, extra = todo.pop()
        name = re.sub(r"[-_.]+", "-", name).lower()
        if (name, extra) in done:
            continue
        done.add((name, extra))
        try:
            dist = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            continue                      # an optional dependency that is not installed
        seen[name] = dist
        for text in dist.requires or []:
            requirement = Requirement(text)
            if requirement.marker is None or requirement.marker.evaluate({"extra": extra}):
                todo.append((requirement.name, ""))
                todo.extend((requirement.name, e) for e in requirement.extras)
    return seen


def preinstalled_folder(folder: Path) -> Path:
    """A folder of links to the preinstalled packages (and their .dist-info, so pip sees them)."""
    folder.mkdir(parents=True)
    for dist in _closure(PREINSTALLED).values():
        base = Path(dist.locate_file(""))
        for file in dist.files or []:
            parts = Path(file).parts
            if not parts or parts[0] in ("..", "__pycache__") or parts[0].endswith(".pth"):
                continue
            link = folder / parts[0]
            if not link.exists() and (base / parts[0]).exists():
                link.symlink_to(base / parts[0])
    assert not (folder / "coursekit").exists()
    return folder


def fresh_environment(where: Path, preinstalled: Path) -> Path:
    """A new virtual environment that sees ``preinstalled`` and nothing else installed."""
    base_python = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base_python, "-m", "venv", "--without-pip", str(where)], check=True)
    python = where / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig."
                                "get_paths()['purelib'])"], capture_output=True, text=True,
                               check=True).stdout.strip())
    (site / "colab-preinstalled.pth").write_text(f"{preinstalled}\n")
    # pip itself, as Colab has it (linked from this environment: no network needed)
    pip = Path(importlib.metadata.distribution("pip").locate_file("pip"))
    (site / "pip").symlink_to(pip)
    for info in pip.parent.glob("pip-*.dist-info"):
        (site / info.name).symlink_to(info)
    return python


def clone_at_ref(where: Path) -> Path:
    """A bare clone of the committed HEAD with the tag ``course.REF`` on it."""
    subprocess.run(["git", "clone", "--quiet", "--bare", "--no-hardlinks", str(ROOT),
                    str(where)], check=True)
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True,
                          text=True, check=True).stdout.strip()
    subprocess.run(["git", "-C", str(where), "tag", "-f", course.REF, head], check=True,
                   capture_output=True)
    return where, head


class FileServer:
    """The repository's files at REF over HTTP, like raw.githubusercontent.com."""

    def __init__(self, clone: Path, folder: Path):
        folder.mkdir(parents=True)
        archive = subprocess.run(["git", "-C", str(clone), "archive", course.REF],
                                 capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
        handler = functools.partial(_QuietHandler, directory=str(folder))
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def swap_repository(notebook, clone: Path) -> str:
    """Replace the repository's address in the first code cell (only there) by the clone's."""
    first = next(cell for cell in notebook.cells if cell.cell_type == "code")
    if course.REPOSITORY not in first.source:
        raise ValueError(f"the first code cell does not name {course.REPOSITORY}")
    first.source = first.source.replace(course.REPOSITORY, clone.as_uri())
    return first.source


def rehearse(path: Path, work: Path, clone: Path, files_url: str, data: Path,
             preinstalled: Path, offline: bool, timeout: int) -> dict:
    """Run one notebook as Colab would; return what happened."""
    name = path.stem if path.parent.name == "book" else f"{path.parent.name}/{path.stem}"
    place = work / "runs" / name.replace("/", "-")
    python = fresh_environment(place / "venv", preinstalled)
    content = place / "content"
    content.mkdir()
    kernels = place / "jupyter" / "kernels" / "colab"
    kernels.mkdir(parents=True)
    (kernels / "kernel.json").write_text(json.dumps({
        "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "colab rehearsal", "language": "python"}))
    notebook = nbformat.read(path, as_version=4)
    swap_repository(notebook, clone)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("PYTHON", "VIRTUAL_ENV", "PIP_", "JUPYTER", "MPLBACKEND"))}
    env.update(COURSEKIT_FAST="1", COURSEKIT_DATA=str(data), JUPYTER_PATH=str(place / "jupyter"),
               PATH=f"{python.parent}:{env.get('PATH', '')}", PIP_DISABLE_PIP_VERSION_CHECK="1")
    env[course.FILES_URL_VARIABLE] = files_url
    if offline:
        env.update(PIP_NO_INDEX="1", PIP_NO_BUILD_ISOLATION="0")
    start, result = time.perf_counter(), {"notebook": str(path.relative_to(ROOT))}
    saved = os.environ.copy()
    os.environ.clear()
    os.environ.update(env)                # the kernel inherits this environment
    try:
        client = NotebookClient(notebook, timeout=timeout, kernel_name="colab",
                                resources={"metadata": {"path": str(content)}})
        client.execute()
        result["status"] = "passed"
    except Exception as error:           # noqa: BLE001 -- any failure is the result
        result["status"] = "failed"
        result["error"] = f"{type(error).__name__}: {str(error)[-1500:]}"
    finally:
        os.environ.clear()
        os.environ.update(saved)
    first = next(cell for cell in notebook.cells if cell.cell_type == "code")
    installed = subprocess.run([str(python), "-c", "import coursekit, torch; print(coursekit."
                                "__file__, torch.__file__)"], capture_output=True, text=True,
                               env={"PATH": env["PATH"]}, cwd=content)
    paths = installed.stdout.split()
    result["coursekit_from_the_clone"] = bool(paths) and str(place / "venv") in paths[0]
    result["torch_preinstalled"] = len(paths) > 1 and str(preinstalled) in paths[1]
    result["first_cell_output"] = "".join(o.get("text", "") for o in first.outputs)[-500:]
    result["seconds"] = round(time.perf_counter() - start, 1)
    if result["status"] == "passed" and not (result["coursekit_from_the_clone"]
                                             and result["torch_preinstalled"]):
        result["status"] = "failed"
        result["error"] = f"the environment was not Colab's: {installed.stdout}{installed.stderr}"
    return result


def all_notebooks() -> list[Path]:
    return (sorted((ROOT / "book").glob("[0-9][0-9]*.ipynb"))
            + sorted((ROOT / "exercises").glob("[0-9][0-9]*.ipynb")))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--all", action="store_true", help="every chapter and exercise")
    parser.add_argument("--offline", action="store_true", help="pip uses no network")
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    parser.add_argument("--timeout", type=int, default=900, help="seconds per cell")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args(argv)
    notebooks = all_notebooks() if args.all else [p.resolve() for p in args.notebooks]
    if not notebooks:
        parser.error("notebooks: name at least one notebook, or --all")
    source_data = Path(os.environ.get("COURSEKIT_DATA", Path.home() / "coursekit-data"))
    work = Path(tempfile.mkdtemp(prefix="colab-rehearsal-"))
    results, head = [], ""
    try:
        clone, head = clone_at_ref(work / "repository.git")
        files = FileServer(clone, work / "files")
        data = work / "data"
        data.mkdir()
        for name in DATA_SETS:
            if (source_data / name).exists():
                (data / name).symlink_to(source_data / name)
        preinstalled = preinstalled_folder(work / "preinstalled")
        for path in notebooks:
            result = rehearse(path, work, clone, files.url, data, preinstalled, args.offline,
                              args.timeout)
            results.append(result)
            print(f"{result['notebook']}: {result['status']} in {result['seconds']:.0f} s"
                  + (f"\n    {result['error'][:600]}" if "error" in result else ""), flush=True)
        files.close()
    finally:
        if args.keep:
            print(f"work folder kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        summary = {"ref": course.REF, "commit": head[:7], "offline_pip": args.offline,
            "results": [{k: v for k, v in r.items() if k != "first_cell_output"}
                        for r in results]}
        args.out.write_text(json.dumps(summary, indent=1) + "\n")
    failed = [r["notebook"] for r in results if r["status"] != "passed"]
    print(f"{len(results) - len(failed)} of {len(results)} passed" +
          (f"; failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
