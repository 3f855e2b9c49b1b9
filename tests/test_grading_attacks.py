"""Grading holds against submissions that cheat, crash, exhaust resources or interfere.

The planted submissions of tests/attacks.py (exercise 02-concepts) are graded together, two
at a time, in the bubblewrap sandbox, with the instructor's command; each must get exactly
the marks its real answers deserve, and none may read the hidden tests, reach the network,
change another submission, the grader or the results, or leave a process behind. Then the
same grader in a local imitation of Gradescope's layout, and an interrupted run resumed
(leaving nothing in its temporary folder). Then the sandbox itself, cheaply, with small
code run as a submission would be (``sandbox.run``): limits that hold for the whole
submission, nothing shared between submissions (no keyring, a fresh user, nothing left
running), and paths under /tmp and /dev/shm that work inside.
Skipped, saying why, where no sandbox can be made, except with ``CI=true``, where that is a
failure (CI installs bubblewrap: .ci/run).
"""

import csv
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import zipfile

import nbformat
import pytest

from coursekit import grading
from coursekit.grading import sandbox
from tests import attacks
from tests.conftest import sandbox_here

pytestmark = pytest.mark.filterwarnings(
    "ignore:Traits should be given as instances:DeprecationWarning")


@pytest.fixture(scope="module", autouse=True)
def _a_sandbox():
    """Every attack runs in the sandbox: skipped, saying why, where none can be made; with
    CI=true that fails instead (``tests.conftest.sandbox_here``)."""
    ok, why = sandbox_here()
    if not ok:
        pytest.skip(f"no sandbox can be made here: {why}")

CHAPTER = "02-concepts"
TIMEOUT, CELL_TIMEOUT = 120, 15


def read_rows(path):
    with open(path, newline="") as file:
        return {row["submission"]: row for row in csv.DictReader(file)}


def digest(folder):
    return {path.name: hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(folder.glob("*.ipynb"))}


def sandbox_processes():
    """Processes still running as one of the sandbox's users that no grader holds now."""
    return sandbox.leftover_processes()


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    out = tmp_path_factory.mktemp("attacks")
    files = grading.assign(CHAPTER, exercises_dir=out / "exercises", build_dir=out / "build",
                           check_solutions=False)
    return out, files


@pytest.fixture(scope="module")
def attacked(generated):
    """Every attack graded together, --jobs 2, by the command line: (rows, stdout, folder,
    deserved marks, notebook digests before)."""
    out, files = generated
    folder = out / "submissions"
    deserved = attacks.build_all(nbformat.read(files.solution, 4),
                                 nbformat.read(files.notebook, 4), folder)
    before = digest(folder)
    grader_source = digest_tree()
    tmp = out / "grader-tmp"  # the grader's temporary folder: empty at the end
    tmp.mkdir()
    start = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "coursekit.grading", "grade", str(folder), "--chapter", CHAPTER,
         "--out", str(out / "scores.csv"), "--timeout", str(TIMEOUT), "--cell-timeout",
         str(CELL_TIMEOUT), "--jobs", "2", "--autograder", str(files.autograder),
         "--cell-log", str(out / "cells.jsonl")],
        capture_output=True, text=True, cwd=out, env={**os.environ, "TMPDIR": str(tmp)},
    )
    elapsed = time.monotonic() - start
    assert result.returncode == 0, result.stderr[-3000:]
    time.sleep(3)  # anything an attack left behind would act now
    print(f"{len(deserved)} attacks graded in {elapsed:.0f} s")
    said = {}  # what each attack's cells raised, in its own words: never in the CSV
    for line in (out / "cells.jsonl").read_text().splitlines():
        entry = json.loads(line)
        said[entry["submission"]] = " | ".join(entry["cells"].values())
    return {"rows": read_rows(out / "scores.csv"), "said": said, "stdout": result.stdout,
            "folder": folder,
            "deserved": deserved, "before": before, "grader_source": grader_source,
            "out": out, "tmp": tmp}


def digest_tree():
    root = os.path.dirname(grading.__file__)
    return {name: hashlib.sha256(open(os.path.join(root, name), "rb").read()).hexdigest()
            for name in sorted(os.listdir(root)) if name.endswith(".py")}


def test_every_attack_gets_exactly_what_its_answers_deserve(attacked):
    rows, wrong = attacked["rows"], []
    assert sorted(rows) == sorted(attacked["deserved"])
    for name, marks in attacked["deserved"].items():
        got = {question: float(rows[name][question]) for question in marks}
        if got != {question: float(points) for question, points in marks.items()}:
            wrong.append(f"{name}: got {got}, deserves {marks} ({rows[name]['notes']})")
    assert not wrong, "\n".join(wrong)


def test_no_attack_reached_anything_outside_its_sandbox(attacked):
    notes = {name: attacked["said"].get(name, "") for name in attacked["rows"]}
    assert "hidden tests read" not in notes["read-hidden-tests.ipynb"]
    assert "reached" not in notes["network.ipynb"], notes["network.ipynb"]
    assert "killed 0 processes" in notes["killer.ipynb"], notes["killer.ipynb"]
    vandal = notes["vandal.ipynb"]  # it may start a process: that ends with its sandbox
    assert not any(done in vandal for done in ("blanked", "wrote its own", "could write")), vandal
    started = int(notes["fork-bomb.ipynb"].split("started ")[1].split()[0])
    assert started < sandbox.Limits().processes, "the process limit did not hold"
    assert "held 6 GiB" not in notes["memory-hog.ipynb"], "the memory limit did not hold"
    assert digest(attacked["folder"]) == attacked["before"], "a submission was changed"
    assert digest_tree() == attacked["grader_source"], "the grader's source was changed"
    assert "OWNED" not in (attacked["out"] / "scores.csv").read_text()
    assert sandbox_processes() == [], "a process of a submission is still running"
    assert "x" * 1023 not in attacked["stdout"]
    assert list(attacked["tmp"].iterdir()) == [], "the grader left files in its /tmp"


def test_feedback_never_shows_hidden_expected_values(attacked):
    """A wrong answer to a hidden test is named by the test's title, not its values."""
    notes = attacked["rows"]["copies-coursekit.ipynb"]["notes"]
    assert "your answer calls a function this question asks you to write" in notes
    for row in attacked["rows"].values():
        assert "test_random_against_torch" not in row["notes"]


def test_gradescope_grades_the_same_with_the_same_protections(generated, attacked, tmp_path):
    """A local imitation of Gradescope: /autograder/{source,submission,results}."""
    out, files = generated
    expected = attacked["rows"]
    for name in ("right.ipynb", "read-hidden-tests.ipynb"):
        root = tmp_path / name.removesuffix(".ipynb")
        (root / "submission").mkdir(parents=True)
        (root / "results").mkdir()
        with zipfile.ZipFile(files.gradescope) as archive:
            archive.extractall(root / "source")
        os.chmod(root / "source" / "run_autograder", 0o755)
        nbformat.write(nbformat.read(attacked["folder"] / name, 4),
                       root / "submission" / "submission.ipynb")
        result = subprocess.run(
            ["bash", str(root / "source" / "run_autograder")], capture_output=True, text=True,
            env={**os.environ, "COURSEKIT_GRADESCOPE_ROOT": str(root),
                 "COURSEKIT_GRADESCOPE_PYTHON": sys.executable})
        assert result.returncode == 0, result.stderr[-2000:]
        results = json.loads((root / "results" / "results.json").read_text())
        scores = {test["name"]: test["score"] for test in results["tests"]}
        assert scores == {q: grading._number(float(expected[name][q])) for q in scores}, name
        assert results["score"] == grading._number(float(expected[name]["total"]))
        assert "hidden tests read" not in results["output"]


def test_an_interrupted_run_keeps_what_it_graded_and_resumes(generated, tmp_path):
    out, files = generated
    folder = tmp_path / "submissions"
    folder.mkdir()
    solution = nbformat.read(files.solution, 4)
    for name in ("a", "b", "c"):
        nbformat.write(solution, folder / f"{name}.ipynb")
    command = [sys.executable, "-m", "coursekit.grading", "grade", str(folder), "--chapter",
               CHAPTER, "--out", str(tmp_path / "scores.csv"), "--autograder",
               str(files.autograder), "--timeout", str(TIMEOUT)]
    tmp = tmp_path / "grader-tmp"  # where the hidden tests would be left behind
    tmp.mkdir()
    env = {**os.environ, "TMPDIR": str(tmp)}
    first = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
    for line in first.stdout:  # stop the grader once it has graded one submission
        if line.startswith("a.ipynb: graded"):
            first.send_signal(signal.SIGKILL)
            break
    first.wait()
    assert list(read_rows(tmp_path / "scores.csv")) == ["a.ipynb"]
    assert list(tmp.iterdir()) == [], "a killed grader left its temporary folder"
    second = subprocess.run(command, capture_output=True, text=True, env=env)
    assert second.returncode == 0, second.stderr[-2000:]
    assert "1 submissions graded by an earlier run are kept" in second.stdout
    assert "a.ipynb: graded" not in second.stdout
    rows = read_rows(tmp_path / "scores.csv")
    assert sorted(rows) == ["a.ipynb", "b.ipynb", "c.ipynb"]
    assert {row["total"] for row in rows.values()} == {str(attacks.FULL)}


# ------------------------------------------------------------ the sandbox itself, cheaply

PROCESSES = r'''
import os, time
started = 0
for _ in range(60):
    try:
        pid = os.fork()
    except OSError:
        break
    if pid == 0:
        time.sleep(30)
        os._exit(0)
    started += 1
print(f"started {started} processes")
'''

CPU = r'''
import os, time
def spin(seconds):
    start = time.process_time()
    while time.process_time() - start < seconds:
        pass
children = []
for _ in range(4):  # 6 s of CPU time in all, 1.5 s in each process
    pid = os.fork()
    if pid == 0:
        spin(1.5)
        os._exit(0)
    children.append(pid)
for pid in children:
    os.waitpid(pid, 0)
print("finished")
'''

TOGETHER = r'''
import os, time
def child(work):
    r, w = os.pipe()
    if os.fork() == 0:
        try:
            work()
            os.write(w, b"1")
        except (MemoryError, OSError):
            os.write(w, b"0")
        time.sleep(60)
        os._exit(0)
    os.close(w)
    return r
def hold():  # 200 MiB, written, so really held
    block = bytearray(200 * 2**20)
    block[::4096] = b"\1" * len(range(0, len(block), 4096))
    hold.block = block
holding = [child(hold) for _ in range(3)]
holding = sum(os.read(r, 1) == b"1" for r in holding)
memfd, mib = os.memfd_create("held"), 0
try:
    for _ in range(16):
        os.write(memfd, b"\1" * 2**24)
        mib += 16
except OSError:
    pass
time.sleep(0.5)
while True:
    try:
        pid, status = os.waitpid(-1, os.WNOHANG)
    except ChildProcessError:
        break
    if pid == 0:
        break
    holding -= os.WIFSIGNALED(status)  # killed (by the memory limit)
print(f"held {holding * 200 + mib} MiB")
'''


def test_limits_hold_for_the_whole_submission():
    """Three children of 200 MiB and a 256 MiB memfd under a 512 MiB limit, 60 processes
    under a limit of 40, four processes of 1.5 s of CPU time each under 2 s: as root with
    control groups the whole submission is bounded; elsewhere only each process is, and
    ``describe`` says so."""
    limits = sandbox.Limits(memory_gb=0.5, processes=40, file_mb=256, cpu_seconds=2)
    result = sandbox.run(TOGETHER, slot=5, limits_=limits, timeout=60)
    processes = sandbox.run(PROCESSES, slot=5, limits_=limits, timeout=60)
    held = re.search(r"held (\d+) MiB", result.stdout)
    started = re.search(r"started (\d+) processes", processes.stdout)
    assert started, processes.stderr[-500:]
    assert int(started[1]) < 40, "the process limit did not hold"
    groups, why = sandbox.cgroups()
    if groups is None:  # say plainly what is not bounded here
        assert "NOT for the whole submission" in sandbox.describe(limits), why
        pytest.skip(f"no control group here ({why}): only each process is bounded")
    assert "for the whole submission (cgroup" in sandbox.describe(limits)
    # the memory limit holds for everything together (when the process that counts is the
    # one it ended, nothing is said)
    assert held or result.returncode != 0, result.stderr[-500:]
    assert held is None or int(held[1]) <= 512, f"{result.stdout}: the limit is per process"
    if groups.counts_cpu:
        spun = sandbox.run(CPU, slot=5, limits_=limits, timeout=60)
        assert "finished" not in spun.stdout, "the CPU time limit is per process"
        assert "CPU time 2 s for the whole submission" in sandbox.describe(limits)
    assert sandbox.leftover_processes() == []


SPINS = "while True:  # more CPU time than the submission may use\n    pass\n"
FILLS = r'''
import os
held = []  # files in memory, 256 MiB each (the largest file a submission may write)
for _ in range(24):  # 6 GiB, over the 4 GiB the submission may hold: it ends first
    held.append(os.memfd_create("fill"))
    for _ in range(4):
        os.write(held[-1], bytes(64 << 20))
'''
LIMITED = sandbox.Limits(memory_gb=4, cpu_seconds=30)
"""Small limits (torch alone needs 3 GiB of address space): each run stays short. The CPU
time leaves room to fill the memory: on a virtual machine that hands freed memory back to
its host (this one's Firecracker kernel), each GiB first touched costs 3 s of system time,
so FILLS used 12 s of CPU before it reached 4 GiB and was noted for its CPU time (CI, at
3779752)."""


@pytest.fixture(scope="module")
def limited(generated):
    """Two right notebooks of exercise 02, each with a cell that goes over one limit of
    ``LIMITED``, graded together: their rows by name, and the seconds it took."""
    if sandbox.cgroups()[0] is None:  # each process alone is bounded: no limit to name
        assert "NOT for the whole submission" in sandbox.describe(LIMITED)
        pytest.skip(f"no control group here ({sandbox.cgroups()[1]}): a process ended by "
                    "its own limit is noted as ended, without which limit")
    out, files = generated
    folder = out / "limited"
    folder.mkdir()
    for name, code in (("spins", SPINS), ("fills", FILLS)):
        notebook = nbformat.read(files.solution, 4)
        notebook.cells.insert(2, nbformat.v4.new_code_cell(code))
        nbformat.write(notebook, folder / f"{name}.ipynb")
    start = time.monotonic()
    rows = grading.grade(folder, CHAPTER, out / "limited.csv", timeout=TIMEOUT, jobs=2,
                         autograder=files.autograder, cell_timeout=60, limits=LIMITED)
    return {row["submission"]: row for row in rows}, time.monotonic() - start


def test_the_notes_say_a_submission_used_up_its_cpu_time(limited):
    """Before: "cell 2 ended the process; it was skipped", whichever limit ended it."""
    rows, seconds = limited
    row = rows["spins.ipynb"]
    assert row["total"] == sum(attacks.POINTS.values()), row["notes"]
    assert "cell 2 was stopped: used more than its 30 s of CPU time" in row["notes"], row
    print(f"graded in {seconds:.0f} s")


def test_only_the_kernels_sigxcpu_names_the_cpu_limit():
    """A process ended by its own CPU-time limit gets SIGXCPU (the soft limit; SIGKILL 2 s
    later at the hard one): its exit status alone names the limit, with or without control
    groups. Before, the name came only from the group's count, which read 10.75 s for a
    process the kernel had ended at its 12 s, and the note said "ended the process"."""
    import signal

    assert sandbox.cpu_signalled(128 + signal.SIGXCPU)      # through bwrap
    assert sandbox.cpu_signalled(-signal.SIGXCPU)           # run directly
    for other in (None, 0, 1, 137, -9, 128 + signal.SIGSEGV):
        assert not sandbox.cpu_signalled(other), other


def test_the_notes_say_a_submission_went_over_its_memory(limited):
    """Before: "cell 2 ended the process; it was skipped", whichever limit ended it."""
    rows, _ = limited
    row = rows["fills.ipynb"]
    assert row["total"] == sum(attacks.POINTS.values()), row["notes"]
    assert "cell 2 was stopped: went over its 4096 MiB memory limit" in row["notes"], row


KEYRING = r'''
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
ADD_KEY, KEYCTL = {"x86_64": (248, 250), "aarch64": (217, 219)}[os.uname().machine]
USER_KEYRING, SEARCH, READ = -4, 10, 11
if STORE:
    key = libc.syscall(ADD_KEY, b"user", b"coursekit-answers", b"def answer(): ...", 17,
                       USER_KEYRING)
    print(f"stored {key} {os.strerror(ctypes.get_errno()) if key < 0 else ''}")
key = libc.syscall(KEYCTL, SEARCH, USER_KEYRING, b"user", b"coursekit-answers", 0)
buffer = ctypes.create_string_buffer(64)
size = libc.syscall(KEYCTL, READ, key, buffer, 64) if key > 0 else -1
print(f"uid {os.getuid()} read {buffer.raw[:max(size, 0)].decode()!r}")
'''


def test_nothing_is_shared_between_submissions():
    """One submission stores its answers in the kernel keyring, the next in the same job slot
    looks for them (it found them before: same user, a keyring that outlives it): the
    keyring is refused, each start has a user of its own, and nothing is left running."""
    if sandbox.seccomp_program() is None:
        assert "keyring is NOT blocked" in sandbox.describe()
        pytest.skip(f"no seccomp filter for {os.uname().machine} here: the keyring is open")
    first = sandbox.run("STORE = True\n" + KEYRING, slot=6)
    second = sandbox.run("STORE = False\n" + KEYRING, slot=6)
    assert first.returncode == second.returncode == 0, first.stderr + second.stderr
    assert "stored -1 Operation not permitted" in first.stdout, first.stdout
    assert "read ''" in first.stdout and "read ''" in second.stdout, second.stdout
    users = {run.stdout.split("uid ")[1].split()[0] for run in (first, second)}
    if os.geteuid() == 0:
        assert len(users) == 2, "two starts in one job slot ran as the same user"
    assert sandbox.leftover_processes() == []


def test_tmp_data_and_shared_memory_work_inside(tmp_path, monkeypatch):
    """The course data under /tmp (as in a clone under /tmp) shows inside the sandbox over
    its private /tmp, and so does coursekit; /dev/shm is writable (DataLoader's workers use
    it: the "workers" attack); a data folder that is missing or that the sandbox's user
    cannot read is named, with why."""
    import coursekit

    data = tmp_path / "data"
    (data / "MNIST").mkdir(parents=True)
    (data / "MNIST" / "labels.txt").write_text("seen")
    monkeypatch.setenv("COURSEKIT_DATA", str(data))
    result = sandbox.run(
        "import os, coursekit\n"
        "print(open(os.environ['COURSEKIT_DATA'] + '/MNIST/labels.txt').read())\n"
        "print(coursekit.__file__)\n"
        "with open('/dev/shm/batch', 'wb') as file: file.write(bytes(2**20))\n"
        "print(os.path.getsize('/dev/shm/batch'))\n", slot=7)
    assert result.stdout.split() == ["seen", coursekit.__file__, str(2**20)], result.stderr
    os.chmod(data, 0o700)
    if os.geteuid() == 0:
        ok, why = sandbox.check()
        assert not ok and f"COURSEKIT_DATA={data} cannot be read by the sandbox's user" in why
    monkeypatch.setenv("COURSEKIT_DATA", str(tmp_path / "missing"))
    ok, why = sandbox.check()
    assert not ok and f"COURSEKIT_DATA={tmp_path / 'missing'} is not a folder" in why
