"""Rehearse Colab on Colab's own stack: a Debian 13 root with Python 3.13 and Colab's versions.

    .venv/bin/python tools/colab_replica.py build                  # make the root (cached)
    .venv/bin/python tools/colab_replica.py dry-run                # pip install --dry-run
    .venv/bin/python tools/colab_replica.py run --all --out tools/results/colab-replica.json
    .venv/bin/python tools/colab_replica.py run book/02-concepts.ipynb exercises/02-concepts.ipynb

Runs as root (it mounts overlays and uses bubblewrap); needs PyPI, ``debootstrap`` and
``bwrap``. ``tools/colab_rehearsal.py`` rehearses on this machine's own Python and packages;
this tool rehearses on the versions Colab has, read from ``tools/colab_versions.txt``:

- ``build``: ``debootstrap --variant=minbase`` a Debian 13 (trixie) root with Python 3.13
  and git, then a virtual environment ``/opt/colab`` in it with Colab's versions from PyPI
  (the kernel's Python, as Colab's is). Cached in ``--root`` (``$COLAB_REPLICA_ROOT``,
  default ``~/.cache/coursekit/colab-root``), outside the repository; rebuilt only when
  ``colab_versions.txt`` changes. The wheels go through pip's cache there too.
- ``run``: each notebook gets a fresh copy of that root (an overlay: what one notebook's
  first cell installs is gone for the next, as in a new Colab runtime) and runs in it under
  bubblewrap, in an empty folder (Colab's /content), in fast mode (``COURSEKIT_FAST=1``,
  ``COURSEKIT_DATA`` pointing at the data root, ISBI 2012 left out so it is downloaded from
  the repository). Its first cell runs first, as written, with only the repository's address
  swapped for a local clone of the committed ``HEAD`` tagged ``REF``; files the notebook
  fetches from the repository come from that commit over local HTTP (as in the rehearsal).
  ``pip freeze`` is taken before and after the first cell: a package of Colab's that the
  install replaced, upgraded or removed fails the notebook. Then the rest of the notebook.
- Exercises run twice: answered wrong (``exercises/NN.ipynb`` as students get it, nothing
  answered: every check cell must say "not answered yet") and answered right (the solution
  notebook ``otter assign`` makes from ``solutions/NN.ipynb``: every check must pass).
- ``dry-run``: ``pip install --dry-run`` of Colab's pins and the course (as committed) in a
  fresh copy of the root: it must resolve and install none of Colab's packages again.

Results go to ``--out`` as JSON, one entry per notebook. It rehearses what is committed.
Colab's front end (its widget manager, the "third-party widgets" prompt) is not rehearsed.
"""

import argparse
import contextlib
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VERSIONS_FILE = ROOT / "tools" / "colab_versions.txt"
DEFAULT_ROOT = Path(os.environ.get("COLAB_REPLICA_ROOT",
                                   Path.home() / ".cache" / "coursekit" / "colab-root"))
VENV = "/opt/colab"
"""Colab's Python inside the root: a virtual environment with Colab's versions."""
PATH = f"{VENV}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DEBIAN_MIRROR = "http://deb.debian.org/debian"
MARKER = ".colab-replica-versions"
"""Written in the root when built: the hash of the versions file it was built from."""


def log(text):
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


# ------------------------------------------------------------------- Colab's versions


def read_versions(path=VERSIONS_FILE):
    """(python "3.13", [requirement lines]) from the versions file."""
    text = Path(path).read_text()
    python = re.search(r"^#\s*python:\s*(\d+\.\d+)\s*$", text, re.MULTILINE)
    if not python:
        raise ValueError(f"{path}: expected a line '# python: 3.NN' naming Colab's Python")
    lines = [line.strip() for line in text.splitlines()
             if line.strip() and not line.lstrip().startswith("#")]
    return python[1], lines


def pinned(lines):
    """{name: version} of the requirements pinned with ==."""
    pins = {}
    for line in lines:
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)==([^\s;]+)", line)
        if match:
            pins[match[1].lower()] = match[2]
    return pins


# --------------------------------------------------------------------- the root


def bwrap(root: Path, command, binds=(), env=None, cwd="/root", capture=False, check=True):
    """Run ``command`` inside ``root`` under bubblewrap, with a clean environment.

    binds: (host path, path inside, read_only) triples."""
    args = ["bwrap", "--bind", str(root), "/", "--proc", "/proc", "--dev", "/dev",
            "--tmpfs", "/tmp", "--die-with-parent", "--clearenv",
            "--setenv", "HOME", "/root", "--setenv", "PATH", PATH, "--setenv", "LANG", "C.UTF-8",
            "--chdir", cwd]
    for host, inside, read_only in binds:
        args += ["--ro-bind" if read_only else "--bind", str(host), inside]
    for key, value in (env or {}).items():
        args += ["--setenv", key, value]
    return subprocess.run(args + list(command), check=check, text=True,
                          capture_output=capture)


def build(root: Path, versions=VERSIONS_FILE, pip_cache: Path | None = None) -> Path:
    """Make (or reuse) the root with Colab's Python and versions; return it."""
    python, lines = read_versions(versions)
    digest = hashlib.sha256(Path(versions).read_bytes()).hexdigest()
    marker = root / MARKER
    if marker.is_file() and marker.read_text().strip() == digest:
        log(f"root {root} is built from the current {Path(versions).name}: reused")
        return root
    for tool in ("debootstrap", "bwrap"):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} is needed to build the Colab root: apt-get install "
                             f"{'bubblewrap' if tool == 'bwrap' else tool}")
    if not (root / "usr" / "bin" / f"python{python}").exists():
        log(f"debootstrap Debian 13 (trixie) with Python {python} into {root} (a few minutes)")
        root.mkdir(parents=True, exist_ok=True)
        subprocess.run(["debootstrap", "--variant=minbase",
                        "--include=python3,python3-venv,python3-pip,git,ca-certificates",
                        "trixie", str(root), DEBIAN_MIRROR], check=True)
    if not (root / "usr" / "bin" / f"python{python}").exists():
        raise SystemExit(f"the root at {root} has no python{python}: Debian 13 ships "
                         f"{sorted(p.name for p in (root / 'usr/bin').glob('python3.*'))}; "
                         "change the suite or the versions file")
    # the host's certificates and name server, so that PyPI works inside
    shutil.copyfile("/etc/ssl/certs/ca-certificates.crt",
                    root / "etc/ssl/certs/ca-certificates.crt")
    shutil.copyfile(Path("/etc/resolv.conf").resolve(), root / "etc/resolv.conf")
    if not shutil.which("git", path=str(root / "usr/bin")):
        log("installing git in the root (Colab has it; the first cell's pip needs it)")
        bwrap(root, ["apt-get", "update", "-q"])
        bwrap(root, ["apt-get", "install", "-y", "-q", "--no-install-recommends", "git"])
    if marker.exists():
        marker.unlink()
    shutil.rmtree(root / VENV.lstrip("/"), ignore_errors=True)
    log(f"installing Colab's versions into {VENV} from PyPI (torch is a CUDA build of a few "
        "GB; pip's cache keeps it for the next build)")
    binds = [(versions, "/colab_versions.txt", True)]
    if pip_cache:
        pip_cache.mkdir(parents=True, exist_ok=True)
        binds.append((pip_cache, "/root/.cache/pip", False))
    bwrap(root, [f"python{python}", "-m", "venv", VENV])
    bwrap(root, [f"{VENV}/bin/python", "-m", "pip", "install", "--progress-bar", "off",
                 "-r", "/colab_versions.txt"], binds=binds)
    freeze = bwrap(root, [f"{VENV}/bin/python", "-m", "pip", "freeze"], capture=True).stdout
    (root / "colab-freeze.txt").write_text(freeze)
    marker.write_text(digest + "\n")
    log(f"root ready: {len(freeze.splitlines())} packages in {VENV}")
    return root


@contextlib.contextmanager
def fresh_copy(root: Path, where: Path):
    """A copy-on-write copy of ``root`` (an overlay): writes go to ``where`` and vanish.
    (The root is the lower layer: it must not change while the copy is mounted.)"""
    upper, work, merged = where / "upper", where / "work", where / "merged"
    for folder in (upper, work, merged):
        folder.mkdir(parents=True)
    subprocess.run(["mount", "-t", "overlay", "overlay", "-o",
                    f"lowerdir={root},upperdir={upper},workdir={work}", str(merged)],
                   check=True)
    try:
        yield merged
    finally:
        subprocess.run(["umount", str(merged)], check=False)
        shutil.rmtree(where, ignore_errors=True)


# ---------------------------------------------------------- inside the root: one notebook


def _freeze():
    result = subprocess.run([sys.executable, "-m", "pip", "freeze", "--all"],
                            capture_output=True, text=True, check=True)
    found = {}
    for line in result.stdout.splitlines():   # "name==1.2" or "name @ git+file:///..."
        name, _, version = line.partition("==") if "==" in line else line.partition(" @ ")
        if version:
            found[name.strip().lower()] = version.strip()
    return found


def _freeze_diff(before, after):
    """What changed in pip's list: changed/removed (Colab's, must be empty) and added."""
    return {
        "replaced": {name: f"{before[name]} -> {after.get(name, 'removed')}"
                     for name in before if after.get(name) != before[name]},
        "added": {name: after[name] for name in after if name not in before},
    }


def _text_of(cell):
    parts = []
    for output in cell.get("outputs", []):
        parts.append(output.get("text", ""))
        parts.append(output.get("data", {}).get("text/plain", ""))
        if output.get("output_type") == "error":
            parts.append(f"{output.get('ename')}: {output.get('evalue')}")
    return "".join(parts)


def run_inside(job: Path) -> int:
    """Run /srv/job/notebook.ipynb here (inside the root) as Colab would; write result.json.

    Only the standard library and what Colab has (nbformat, nbclient) are used here."""
    import nbformat
    from nbclient import NotebookClient

    spec = json.loads((job / "job.json").read_text())
    notebook = nbformat.read(job / "notebook.ipynb", as_version=4)
    content = Path("/content")
    content.mkdir(exist_ok=True)
    result = {"python": sys.version.split()[0]}
    code = [i for i, cell in enumerate(notebook.cells) if cell.cell_type == "code"]
    before = _freeze()
    start = time.perf_counter()
    client = NotebookClient(notebook, timeout=spec["timeout"], kernel_name="python3",
                            resources={"metadata": {"path": str(content)}})
    failed_at = None
    with client.setup_kernel():
        for n, index in enumerate(code):
            cell = notebook.cells[index]
            try:
                client.execute_cell(cell, index)
            except Exception as error:  # noqa: BLE001 -- any failure is the result
                failed_at = index
                result["error"] = (f"cell {n + 1} of {len(code)}: {type(error).__name__}: "
                                   f"{str(error)[-1500:]}")
            if n == 0:
                result["first_cell_seconds"] = round(time.perf_counter() - start, 1)
                result["first_cell_output"] = _text_of(cell)[-800:]
                result["pip"] = _freeze_diff(before, _freeze())
            if failed_at is not None:
                break
    result["seconds"] = round(time.perf_counter() - start, 1)
    versions = subprocess.run(
        [sys.executable, "-c", "import coursekit, torch, torchvision, ipywidgets, numpy; "
         "print(coursekit.__file__, torch.__version__, torchvision.__version__, "
         "ipywidgets.__version__, numpy.__version__)"],
        capture_output=True, text=True, cwd=content)
    fields = versions.stdout.split()
    result["coursekit_installed_by_the_first_cell"] = bool(fields) and fields[0].startswith(
        f"{sys.prefix}/lib/")
    names = ["torch", "torchvision", "ipywidgets", "numpy"]
    result["versions"] = dict(zip(names, fields[1:], strict=False))
    # what the exercise's check cells said, question by question
    checks = {}
    for cell in notebook.cells:
        found = re.fullmatch(r'grader\.check\("(\w+)"\)', cell.source.strip())
        if found:
            checks[found[1]] = _text_of(cell).strip()
    if checks:
        result["checks"] = checks
    expected = spec.get("checks_must_say")
    problems = []
    if failed_at is not None:
        problems.append(result["error"])
    for n, index in enumerate(code):   # errors a cell showed without failing (a display's)
        for output in notebook.cells[index].get("outputs", []):
            if output.get("output_type") == "error" and index != failed_at:
                problems.append(f"cell {n + 1} of {len(code)} showed an error: "
                                f"{output.get('ename')}: {output.get('evalue')}")
    if "pip" in result and result["pip"]["replaced"]:
        problems.append(f"the first cell replaced Colab's packages: {result['pip']['replaced']}")
    if failed_at is None and not result["coursekit_installed_by_the_first_cell"]:
        problems.append(f"coursekit was not installed by the first cell: {versions.stdout}"
                        f"{versions.stderr[-500:]}")
    if expected and failed_at is None:
        if not checks:
            problems.append("no check cell found")
        for question, said in checks.items():
            if not re.match(rf"{question}: {expected}", said):
                problems.append(f"{question} should say '{question}: {expected}', "
                                f"said: {said[:300]!r}")
    result["status"] = "failed" if problems else "passed"
    if problems:
        result["problems"] = problems
    (job / "result.json").write_text(json.dumps(result, indent=1))
    return 0


# ------------------------------------------------------------ on the host: the rehearsal


def _notebooks_at(tree: Path, names):
    return [tree / name for name in names]


def rehearse(root: Path, notebook: Path, label: str, work: Path, clone: Path, files_url: str,
             data: Path, timeout: int, checks_must_say=None) -> dict:
    """Run one notebook in a fresh copy of the root; return its result."""
    import nbformat

    from coursekit import course
    from tools.colab_rehearsal import swap_repository

    job = work / "job"
    job.mkdir(parents=True)
    nb = nbformat.read(notebook, as_version=4)
    swap_repository(nb, Path("/srv/course.git"))
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nbformat.write(nb, job / "notebook.ipynb")
    (job / "job.json").write_text(json.dumps({"timeout": timeout,
                                              "checks_must_say": checks_must_say}))
    shutil.copyfile(Path(__file__), job / "colab_replica.py")
    start = time.perf_counter()
    # the data root is writable, as Colab's disk is (ISBI 2012 is downloaded into it, chapter
    # 3 writes there), but through an overlay of its own: the data prepared here stay as they are
    with fresh_copy(root, work / "root") as merged, \
            fresh_copy(data, work / "data") as data_copy:
        for inside in ("srv/course.git", "srv/data", "srv/job", "content"):
            (merged / inside).mkdir(parents=True, exist_ok=True)
        env = {"COURSEKIT_FAST": "1", "COURSEKIT_DATA": "/srv/data",
               course.FILES_URL_VARIABLE: files_url, "PIP_DISABLE_PIP_VERSION_CHECK": "1",
               "PIP_PROGRESS_BAR": "off", "MPLBACKEND": "agg"}
        done = bwrap(merged, [f"{VENV}/bin/python", "/srv/job/colab_replica.py", "inside",
                              "/srv/job"],
                     binds=[(clone, "/srv/course.git", True), (data_copy, "/srv/data", False),
                            (job, "/srv/job", False)],
                     env=env, cwd="/content", capture=True, check=False)
    result_file = job / "result.json"
    if result_file.is_file():
        result = json.loads(result_file.read_text())
    else:
        result = {"status": "failed",
                  "problems": [f"the run inside the root crashed (exit {done.returncode}): "
                               f"{(done.stdout + done.stderr)[-1500:]}"]}
    result = {"notebook": label, "commit": clone_commit(clone), **result,
              "wall_seconds": round(time.perf_counter() - start, 1)}
    shutil.rmtree(job, ignore_errors=True)
    return result


def clone_commit(clone: Path) -> str:
    """The commit the clone's tag ``REF`` names (what a run rehearses), short."""
    from coursekit import course

    return subprocess.run(["git", "-C", str(clone), "rev-parse", "--short=7",
                           f"{course.REF}^{{commit}}"], capture_output=True, text=True,
                          check=True).stdout.strip()


def solution_notebooks(chapters, folder: Path) -> dict:
    """{chapter: the solution notebook otter assign makes from solutions/<chapter>.ipynb}."""
    from coursekit import grading

    made = {}
    for chapter in chapters:
        files = grading.assign(chapter, exercises_dir=folder / "exercises",
                               build_dir=folder / "build", check_solutions=False)
        made[chapter] = files.solution
    return made


def _plan(names, tree: Path, work: Path, every: bool):
    """[(label, notebook path, what its checks must say)] in the order they run."""
    if every:
        names = ([f"book/{p.name}" for p in sorted((tree / "book").glob("[0-9][0-9]*.ipynb"))]
                 + [f"exercises/{p.name}"
                    for p in sorted((tree / "exercises").glob("[0-9][0-9]*.ipynb"))])
    plan, chapters = [], []
    for name in names:
        name = str(Path(name).resolve().relative_to(ROOT)) if Path(name).is_absolute() else name
        if name.startswith("exercises/"):
            chapters.append(Path(name).stem)
        elif not name.startswith("book/"):
            raise SystemExit(f"notebooks: expected book/NN-*.ipynb or exercises/NN-*.ipynb, "
                             f"got {name}")
    solutions = solution_notebooks(chapters, work / "assign") if chapters else {}
    for name in names:
        name = str(Path(name).resolve().relative_to(ROOT)) if Path(name).is_absolute() else name
        if name.startswith("book/"):
            plan.append((name, tree / name, None))
        else:
            chapter = Path(name).stem
            plan.append((f"{name} (answered wrong: nothing answered)", tree / name,
                         "not answered yet"))
            plan.append((f"{name} (answered right: the solution)", solutions[chapter],
                         "all checks passed"))
    return plan


def run(args) -> int:
    from tools.colab_rehearsal import DATA_SETS, FileServer, clone_at_ref

    dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--", "book",
                            "exercises", "solutions", "coursekit", "pyproject.toml"],
                           capture_output=True, text=True).stdout
    if dirty.strip():
        log("note: uncommitted changes below are NOT rehearsed (it runs the committed HEAD):\n"
            + dirty)
    root = build(args.root, pip_cache=args.pip_cache)
    python, lines = read_versions()
    work = Path(tempfile.mkdtemp(prefix="colab-replica-"))
    results, head = [], ""
    try:
        clone, head = clone_at_ref(work / "repository.git")
        files = FileServer(clone, work / "files")
        tree = work / "files"
        data = work / "data"
        data.mkdir()
        for name in DATA_SETS:
            if (args.data / name).exists():
                shutil.copytree(args.data / name, data / name, symlinks=False,
                                copy_function=os.link if _same_device(args.data, data)
                                else shutil.copy2)
        plan = _plan(args.notebooks, tree, work, args.all)
        log(f"{len(plan)} runs on Python {python} with {', '.join(lines[:3])}, at {head[:7]}")
        for n, (label, path, must_say) in enumerate(plan, 1):
            log(f"[{n}/{len(plan)}] {label}")
            result = rehearse(root, path, label, work / "runs" / str(n), clone, files.url,
                              data, args.timeout, must_say)
            results.append(result)
            log(f"    {result['status']} in {result['wall_seconds']:.0f} s"
                + "".join(f"\n    {p[:700]}" for p in result.get("problems", [])))
            if args.out:
                _write(args.out, head, python, results, root)
        files.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    failed = [r["notebook"] for r in results if r["status"] != "passed"]
    log(f"{len(results) - len(failed)} of {len(results)} passed"
        + (f"; failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


def _same_device(a: Path, b: Path) -> bool:
    return os.stat(a).st_dev == os.stat(b).st_dev


def _write(out: Path, head, python, results, root):
    from coursekit import course

    freeze = (root / "colab-freeze.txt").read_text().splitlines()
    if out.is_file():   # keep the other notebooks' last results (each names its commit)
        ran = {r["notebook"] for r in results}
        earlier = json.loads(out.read_text())
        for r in earlier.get("results", []):
            r.setdefault("commit", earlier.get("commit"))
        results = [r for r in earlier.get("results", []) if r["notebook"] not in ran] + results
    summary = {
        "ref": course.REF, "commit": head[:7], "python": python,
        "colab_versions": [line for line in read_versions()[1]],
        "root_packages": len(freeze),
        "root_versions": {line.split("==")[0]: line.split("==")[1] for line in freeze
                          if line.split("==")[0].lower() in
                          ("torch", "torchvision", "ipywidgets", "numpy", "matplotlib",
                           "scipy", "pillow", "tqdm", "widgetsnbextension", "ipykernel",
                           "ipython", "pandas")},
        "results": [{k: v for k, v in r.items() if k != "first_cell_output"} for r in results],
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(summary, indent=1) + "\n")


def dry_run(args) -> int:
    """pip install --dry-run of Colab's pins and the course, in a fresh copy of the root."""
    from coursekit import course
    from tools.colab_rehearsal import clone_at_ref

    root = build(args.root, pip_cache=args.pip_cache)
    _, lines = read_versions()
    pins = [f"{name}=={version}" for name, version in pinned(lines).items()]
    work = Path(tempfile.mkdtemp(prefix="colab-replica-dry-"))
    try:
        clone, head = clone_at_ref(work / "repository.git")
        with fresh_copy(root, work / "root") as merged:
            (merged / "srv/course.git").mkdir(parents=True, exist_ok=True)
            spec = f"{course.DISTRIBUTION} @ git+file:///srv/course.git@{course.REF}"
            command = [f"{VENV}/bin/python", "-m", "pip", "install", "--dry-run",
                       "--progress-bar", "off", *pins, spec]
            log("in the root: " + " ".join(command[1:]))
            done = bwrap(merged, command, binds=[(clone, "/srv/course.git", True)],
                         capture=True, check=False)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(done.stdout[-3000:] + done.stderr[-3000:])
    would = re.search(r"^Would install (.*)$", done.stdout, re.MULTILINE)
    installs = would[1].split() if would else []
    colab = {line.split("==")[0].lower().replace("_", "-")
             for line in (root / "colab-freeze.txt").read_text().splitlines()}
    replaced = [name for name in installs
                if name.rsplit("-", 1)[0].lower().replace("_", "-") in colab]
    ok = done.returncode == 0 and not replaced
    log(f"dry run at {head[:7]}: {'resolves' if done.returncode == 0 else 'FAILS'}; would "
        f"install {installs or 'nothing'}; of Colab's packages: {replaced or 'none'}")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"commit": head[:7], "command": " ".join(command[1:]),
                                        "resolves": done.returncode == 0,
                                        "would_install": installs,
                                        "replaces_colab_packages": replaced}, indent=1) + "\n")
    return 0 if ok else 1


def unit_tests(args) -> int:
    """The repository's unit tests (``args.tests``) in a fresh copy of the root: the course
    installed as the first cell installs it, then pytest and ``args.tools`` on top."""
    from coursekit import course
    from tools.colab_rehearsal import clone_at_ref

    root = build(args.root, pip_cache=args.pip_cache)
    work = Path(tempfile.mkdtemp(prefix="colab-replica-tests-"))
    try:
        clone, head = clone_at_ref(work / "repository.git")
        tree = work / "tree"
        tree.mkdir()
        archive = subprocess.run(["git", "-C", str(clone), "archive", course.REF],
                                 capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
        with fresh_copy(root, work / "root") as merged:
            for inside in ("srv/course.git", "srv/tree", "srv/data"):
                (merged / inside).mkdir(parents=True, exist_ok=True)
            binds = [(clone, "/srv/course.git", True), (tree, "/srv/tree", False)]
            if args.data.is_dir():
                binds.append((args.data, "/srv/data", True))
            pip = [f"{VENV}/bin/python", "-m", "pip", "install", "-q", "--progress-bar", "off"]
            spec = f"{course.DISTRIBUTION} @ git+file:///srv/course.git@{course.REF}"
            before = bwrap(merged, [f"{VENV}/bin/python", "-m", "pip", "freeze"],
                           capture=True).stdout.splitlines()
            log(f"in the root at {head[:7]}: the course, then pytest {' '.join(args.tools)}")
            bwrap(merged, [*pip, spec], binds=binds)
            bwrap(merged, [*pip, "pytest", *args.tools], binds=binds)
            after = bwrap(merged, [f"{VENV}/bin/python", "-m", "pip", "freeze"],
                          capture=True).stdout.splitlines()
            changed = sorted(set(before) - set(after))
            log(f"of Colab's packages, pytest and the tools changed: {changed or 'none'}")
            env = {"COURSEKIT_FAST": "1", "MPLBACKEND": "Agg", "COURSEKIT_DATA": "/srv/data"}
            start = time.perf_counter()
            done = bwrap(merged, [f"{VENV}/bin/python", "-m", "pytest", "-q", "-rfEs", "-p",
                                  "no:cacheprovider", "-o", "addopts=", *args.tests],
                         binds=binds, env=env, cwd="/srv/tree", capture=True, check=False)
            seconds = time.perf_counter() - start
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(done.stdout[-5000:] + done.stderr[-2000:])
    summary = (done.stdout.strip().splitlines() or ["(no output)"])[-1]
    log(f"{'PASSED' if done.returncode == 0 else 'FAILED'}: {summary} ({seconds:.0f} s)")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({
            "commit": head[:7], "python": read_versions()[0], "tests": args.tests,
            "tools": args.tools, "colab_packages_changed_by_the_tools": changed,
            "status": "passed" if done.returncode == 0 else "failed", "summary": summary,
            "failures": [line for line in done.stdout.splitlines()
                         if line.startswith(("FAILED", "ERROR"))][:40],
            "seconds": round(seconds, 1)}, indent=1) + "\n")
    return done.returncode


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("build", "run", "dry-run", "unit-tests"):
        p = sub.add_parser(name)
        p.add_argument("--root", type=Path, default=DEFAULT_ROOT,
                       help="where the root is kept (default $COLAB_REPLICA_ROOT or "
                            f"{DEFAULT_ROOT})")
        p.add_argument("--pip-cache", type=Path, default=None,
                       help="pip's cache for the build (default: the root's own)")
        if name != "build":
            p.add_argument("--out", type=Path, help="write the results as JSON here")
        if name == "run":
            p.add_argument("notebooks", nargs="*", help="book/NN-*.ipynb, exercises/NN-*.ipynb")
            p.add_argument("--all", action="store_true", help="every chapter and exercise")
            p.add_argument("--timeout", type=int, default=900, help="seconds per cell")
        if name == "unit-tests":
            p.add_argument("tests", nargs="+", help="test files, e.g. tests/test_widgets.py")
            p.add_argument("--tools", nargs="*", default=[],
                           help="more packages the tests need, e.g. scikit-learn")
        if name in ("run", "unit-tests"):
            p.add_argument("--data", type=Path,
                           default=Path(os.environ.get("COURSEKIT_DATA",
                                                       Path.home() / "coursekit-data")),
                           help="the data root (default $COURSEKIT_DATA)")
    inside = sub.add_parser("inside", help="(used by run, inside the root)")
    inside.add_argument("job", type=Path)
    args = parser.parse_args(argv)
    if args.command == "inside":
        return run_inside(args.job)
    if os.geteuid() != 0:
        raise SystemExit("colab_replica.py needs root (it mounts overlays and builds a root)")
    sys.path.insert(0, str(ROOT))
    if args.command == "build":
        build(args.root, pip_cache=args.pip_cache)
        return 0
    if args.command == "run":
        if not args.notebooks and not args.all:
            parser.error("notebooks: name at least one notebook, or --all")
        return run(args)
    if args.command == "unit-tests":
        return unit_tests(args)
    return dry_run(args)


if __name__ == "__main__":
    sys.exit(main())
