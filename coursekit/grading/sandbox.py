"""Where a submission runs: a bubblewrap sandbox, or (only when asked for) none.

``command(...)`` gives the command line and ``limits(...)`` the function to run before it
starts (resource limits, the submission's control group); ``release(slot)`` ends what is
left of a job slot's last submission (``release_all()`` at the end of grading). Inside the
sandbox (``bwrap``) a submission sees:

- the operating system, Python and its packages, coursekit's own package folder and the
  course data, all read-only; nothing else of the machine: no home folder, no repository
  (so no masters), no submissions, no autograder, no results;
- a private, size-limited, empty ``/tmp``, ``/dev/shm`` and home folder, gone when it ends;
  Python, coursekit or the data under the machine's ``/tmp`` are mounted over the private
  ``/tmp``, read-only; its notebook arrives through a pipe;
- no network (a network namespace of its own), its own process numbers (it cannot see or
  signal the grader or another submission), a new session, its own user;
- no kernel keyring: a seccomp filter (bwrap's ``--seccomp``) refuses ``add_key``,
  ``request_key`` and ``keyctl``, so nothing can be left there for a later submission;
- limits (``Limits``): as root, where the machine has a control group for memory and one
  for processes (cgroup v2, else v1), on the memory and processes of the whole submission,
  every process it starts counted together; in every case on each process's address
  space, file size, open files and CPU time; the grader adds a wall-clock limit and kills
  everything at the end: when the sandbox's first process ends, the kernel ends every
  process in it, daemons included. ``describe(limits)`` says which of these hold here.

When the grader runs as root, each start of a submission's process runs as a user id of its
own, taken from a pool (``FIRST_UID`` to ``FIRST_UID + UIDS - 1``) and held with a lock
(``/run/coursekit-uids``) while it runs, so two graders on one machine never share one; it is
handed back only once nothing runs as it any more. Unprivileged, bubblewrap makes a user
namespace of its own for each sandbox.
"""

import atexit
import contextlib
import errno
import fcntl
import os
import platform
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

FIRST_UID = 61000
"""The sandbox's users are FIRST_UID ... FIRST_UID + UIDS - 1 when the grader is root."""
UIDS = 4096
UID_LOCKS = Path("/run/coursekit-uids")


class SandboxError(RuntimeError):
    """The sandbox cannot be made as asked (the message says what and why)."""


@dataclass
class Limits:
    """The resources one submission may use."""

    memory_gb: float = 6.0  # memory of the whole submission (with a control group) and
    #                         address space of each of its processes, in GiB
    processes: int = 256  # processes and threads of the whole submission
    file_mb: int = 256  # largest file it may write, in MiB (and the size of its /tmp,
    #                     /dev/shm and home folder, each)
    open_files: int = 1024
    cpu_seconds: int = 3600  # CPU time of each process


def bwrap_path():
    """The bubblewrap binary, or None."""
    return shutil.which("bwrap")


# ------------------------------------------------------------------------ seccomp

_KEYRING_CALLS = {  # add_key, request_key, keyctl
    "x86_64": (0xC000003E, (248, 249, 250)),
    "aarch64": (0xC00000B7, (217, 218, 219)),
}


def seccomp_program():
    """The classic BPF program bwrap installs (``--seccomp FD``): ``add_key``, ``request_key``
    and ``keyctl`` fail with EPERM, as does every system call of another architecture
    (x86's 32-bit and x32 entry points); everything else is allowed. None on a machine
    whose architecture is not known here."""
    machine = platform.machine()
    if machine not in _KEYRING_CALLS:
        return None
    arch, calls = _KEYRING_CALLS[machine]
    ld_abs, jeq, jge, ret = 0x20, 0x15, 0x35, 0x06
    allow, deny = 0x7FFF0000, 0x00050000 | errno.EPERM

    def op(code, k, jt=0, jf=0):
        return struct.pack("=HBBI", code, jt, jf, k)

    tests = [(jge, 0x40000000)] if machine == "x86_64" else []  # x32's numbers
    tests += [(jeq, call) for call in calls]
    # each test jumps to ``deny`` (the last instruction) when true, else goes on
    checks = [op(code, k, len(tests) - i, 0) for i, (code, k) in enumerate(tests)]
    program = [op(ld_abs, 4),  # seccomp_data.arch: another architecture is denied
               op(jeq, arch, 0, len(checks) + 2),
               op(ld_abs, 0),  # seccomp_data.nr
               *checks,
               op(ret, allow),
               op(ret, deny)]
    return b"".join(program)


# ------------------------------------------------------------------------ cgroups


def _write(path, text):
    with open(path, "w") as file:
        file.write(text)


class _Cgroups:
    """The control groups of this grader (``coursekit-<pid>`` under its own), one per job
    slot: a memory and a process limit for everything a submission runs."""

    def __init__(self, version, bases):
        self.version = version  # 2, or 1
        self.bases = bases  # {controller: our group's folder}; one folder for v2
        self.made = set()
        self.cpu_start = {}  # slot -> its CPU seconds when it was last prepared (v2)
        self.oom_start = {}  # slot -> its count of OOM kills when it was last prepared

    @property
    def name(self):
        return "cgroup v2" if self.version == 2 else f"cgroup v1 ({', '.join(self.bases)})"

    @property
    def counts_cpu(self):
        return self.version == 2 or "cpuacct" in self.bases

    def cpu_seconds(self, slot):
        """CPU time used by the slot's group since it was last prepared, or None."""
        try:
            if self.version == 2:
                with open(Path(self.folders(slot)[0]) / "cpu.stat") as file:
                    used = int(file.readline().split()[1]) / 1e6  # usage_usec
                return used - self.cpu_start.get(slot, 0.0)
            if "cpuacct" in self.bases:
                with open(self.bases["cpuacct"] / str(slot) / "cpuacct.usage") as file:
                    return int(file.read()) / 1e9
        except (OSError, ValueError, IndexError):
            pass
        return None

    def folders(self, slot):
        return sorted({str(base / str(slot)) for base in self.bases.values()})

    def prepare(self, slot, limits_):
        """The slot's groups, emptied, with the limits set; returns the cgroup.procs files
        the submission's first process joins."""
        self.empty(slot)
        memory = str(int(limits_.memory_gb * 2**30))
        for folder in self.folders(slot):
            os.makedirs(folder, exist_ok=True)
            self.made.add(folder)
        if self.version == 2:
            folder = Path(self.folders(slot)[0])
            _write(folder / "memory.max", memory)
            with contextlib.suppress(OSError):  # no swap accounting: no swap to limit
                _write(folder / "memory.swap.max", "0")
            _write(folder / "pids.max", str(limits_.processes))
            with contextlib.suppress(OSError):
                _write(folder / "memory.oom.group", "1")
        else:
            folder = self.bases["memory"] / str(slot)
            _write(folder / "memory.limit_in_bytes", memory)
            with contextlib.suppress(OSError):  # memory+swap (absent without swap accounting)
                _write(folder / "memory.memsw.limit_in_bytes", memory)
            with contextlib.suppress(OSError):
                _write(folder / "memory.max_usage_in_bytes", "0")
            _write(self.bases["pids"] / str(slot) / "pids.max", str(limits_.processes))
            if "cpuacct" in self.bases:
                _write(self.bases["cpuacct"] / str(slot) / "cpuacct.usage", "0")
        self.cpu_start[slot] = 0.0
        if self.version == 2:
            self.cpu_start[slot] = self.cpu_seconds(slot) or 0.0
        self.oom_start[slot] = 0
        self.oom_start[slot] = self.oom_kills(slot) or 0
        return [str(Path(folder) / "cgroup.procs") for folder in self.folders(slot)]

    def pids(self, slot):
        found = set()
        for folder in self.folders(slot):
            with contextlib.suppress(OSError), open(Path(folder) / "cgroup.procs") as file:
                found |= {int(line) for line in file if line.strip()}
        return found

    def empty(self, slot, wait=5.0):
        """Kill everything in the slot's groups; True once they are empty."""
        end = time.monotonic() + wait
        while True:
            pids = self.pids(slot)
            if not pids:
                return True
            if time.monotonic() > end:
                return False
            if self.version == 2:
                with contextlib.suppress(OSError):
                    _write(Path(self.folders(slot)[0]) / "cgroup.kill", "1")
            for pid in pids:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.02)

    def oom_kills(self, slot):
        """How many processes the kernel ended in the slot's group for going over its memory
        limit since it was last prepared (the "oom_kill" count of memory.events in v2, of
        memory.oom_control in v1), or None where the kernel does not say."""
        if self.version == 2:
            path = Path(self.folders(slot)[0]) / "memory.events"
        else:
            path = self.bases["memory"] / str(slot) / "memory.oom_control"
        with contextlib.suppress(OSError, ValueError), open(path) as file:
            for line in file:
                name, _, value = line.partition(" ")
                if name == "oom_kill":
                    return int(value) - self.oom_start.get(slot, 0)
        return None

    def memory_peak(self, slot):
        """The most memory the slot's group held since it was last prepared (bytes)."""
        name = "memory.peak" if self.version == 2 else "memory.max_usage_in_bytes"
        folder = self.folders(slot)[0] if self.version == 2 else self.bases["memory"] / str(slot)
        with contextlib.suppress(OSError, ValueError), open(Path(folder) / name) as file:
            return int(file.read())
        return None

    def remove(self, bases=False):
        """Remove the slots' groups (emptied first), and with ``bases`` the grader's own
        (at its exit: they stay set up for another grading by the same process)."""
        for folder in sorted(self.made, reverse=True):
            slot = int(Path(folder).name)
            self.empty(slot, wait=2.0)
            with contextlib.suppress(OSError):
                os.rmdir(folder)
        self.made = set()
        if bases:
            for base in set(self.bases.values()):
                with contextlib.suppress(OSError):
                    os.rmdir(base)


def _own_groups():
    """{hierarchy: path of this process's group}: "0" for v2, else the controller names."""
    groups = {}
    with open("/proc/self/cgroup") as file:
        for line in file:
            number, controllers, path = line.rstrip("\n").split(":", 2)
            if number == "0" and not controllers:
                groups["0"] = path
            for controller in controllers.split(","):
                if controller:
                    groups[controller] = path
    return groups


def _mounts_of_type(kind):
    """[(mount point, options)] of mounts of type ``kind`` ("cgroup", "cgroup2")."""
    found = []
    with open("/proc/self/mounts") as file:
        for line in file:
            fields = line.split()
            if len(fields) >= 4 and fields[2] == kind:
                found.append((Path(fields[1]), set(fields[3].split(","))))
    return found


def _try_v2(own):
    mounts = _mounts_of_type("cgroup2")
    if not mounts or "0" not in own:
        return None, "no cgroup v2 hierarchy"
    root = mounts[0][0]
    parent = root / own["0"].lstrip("/")
    with contextlib.suppress(OSError):
        available = set((parent / "cgroup.controllers").read_text().split())
        if not {"memory", "pids"} <= available:
            return None, (f"cgroup v2 at {root} offers {sorted(available) or 'no controllers'}"
                          ", not memory and pids")
    base = parent / f"coursekit-{os.getpid()}"
    try:  # a group with processes of its own cannot share out controllers: EBUSY
        _write(parent / "cgroup.subtree_control", "+memory +pids")
        base.mkdir(exist_ok=True)
        _write(base / "cgroup.subtree_control", "+memory +pids")
    except OSError as error:
        with contextlib.suppress(OSError):
            base.rmdir()
        return None, f"cgroup v2 at {parent} cannot be used: {error.strerror}"
    return _Cgroups(2, {"v2": base}), ""


def _try_v1(own):
    bases = {}
    for controller in ("memory", "pids"):
        mount = next((point for point, options in _mounts_of_type("cgroup")
                      if controller in options), None)
        if mount is None or controller not in own:
            return None, f"no cgroup v1 {controller} controller"
        parent = mount / own[controller].lstrip("/")
        try:
            base = parent / f"coursekit-{os.getpid()}"
            base.mkdir(exist_ok=True)
        except OSError as error:
            return None, f"cgroup v1 {controller} at {parent} cannot be used: {error.strerror}"
        bases[controller] = base
    # CPU time of the whole submission, where the machine counts it (else per process only)
    mount = next((point for point, options in _mounts_of_type("cgroup")
                  if "cpuacct" in options), None)
    if mount is not None and "cpuacct" in own:
        base = mount / own["cpuacct"].lstrip("/") / f"coursekit-{os.getpid()}"
        with contextlib.suppress(OSError):
            base.mkdir(exist_ok=True)
            bases["cpuacct"] = base
    return _Cgroups(1, bases), ""


_CGROUPS = {}
_LOCK = threading.Lock()


def cgroups():
    """(the grader's control groups or None, why none)."""
    with _LOCK:
        if "result" not in _CGROUPS:
            if os.geteuid() != 0:
                result = (None, "the grader does not run as root")
            else:
                try:
                    own = _own_groups()
                except OSError as error:
                    own, result = {}, (None, f"/proc/self/cgroup: {error.strerror}")
                if own:
                    groups, why_v2 = _try_v2(own)
                    why_v1 = ""
                    if groups is None:
                        groups, why_v1 = _try_v1(own)
                    result = (groups, "" if groups else f"{why_v2}; {why_v1}")
            _CGROUPS["result"] = result
        return _CGROUPS["result"]


def describe(limits_=None):
    """What is bounded for each submission here, in words."""
    limits_ = limits_ or Limits()
    groups, why = cgroups()
    gib = f"{limits_.memory_gb:g} GiB"
    if groups is not None:
        whole = (f"memory {gib} and {limits_.processes} processes and threads for the whole "
                 f"submission ({groups.name}), {gib} of address space for each process")
    elif os.geteuid() == 0:
        whole = (f"{limits_.processes} processes and threads for the whole submission (a user "
                 f"of its own); memory NOT for the whole submission ({why}): {gib} of "
                 "address space for each process")
    else:
        whole = (f"memory NOT for the whole submission ({why}): {gib} of address space for "
                 f"each process; {limits_.processes} processes and threads more than the "
                 "grading user runs")
    tmpfs = f"{limits_.file_mb} MiB"
    if groups is not None and groups.counts_cpu:
        cpu = (f"CPU time {limits_.cpu_seconds} s for the whole submission ({groups.name}, "
               "looked at twice a second) and for each process")
    else:
        cpu = (f"CPU time {limits_.cpu_seconds} s for each process (the whole submission: "
               "its wall-clock limit times the machine's cores)")
    keyring = ("no kernel keyring (seccomp)" if seccomp_program() is not None else
               f"the kernel keyring is NOT blocked (no seccomp filter for {platform.machine()})")
    return (f"{whole}; files of at most {tmpfs}, /tmp, /dev/shm and home of {tmpfs} each; "
            f"{limits_.open_files} open files; {cpu}; {keyring}")


# ------------------------------------------------------------------------ users


def _running(pid):
    """False for a process that has ended but is not yet reaped (a zombie)."""
    try:
        with open(f"/proc/{pid}/stat") as file:
            return file.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _processes_of(uid):
    pids = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if entry.stat().st_uid == uid and _running(entry.name):
                    pids.append(int(entry.name))
    return pids


def _kill_user(uid, wait=5.0):
    """Kill every process running as ``uid`` (a sandbox user whose lock we hold)."""
    end = time.monotonic() + wait
    while (pids := _processes_of(uid)) and time.monotonic() < end:
        for pid in pids:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.02)
    return not _processes_of(uid)


_NEXT_UID = [int.from_bytes(os.urandom(2), "little") % UIDS]


def _lock_folder():
    UID_LOCKS.mkdir(mode=0o700, exist_ok=True)
    info = os.lstat(UID_LOCKS)
    if not (os.path.isdir(UID_LOCKS) and not os.path.islink(UID_LOCKS) and info.st_uid == 0
            and info.st_mode & 0o022 == 0):
        raise SandboxError(f"{UID_LOCKS} must be a folder of root's, writable only by root")


def _take_uid():
    """(uid, its lock's file descriptor): a pool uid no other grader holds, with every
    process of it ended (none should be left)."""
    _lock_folder()
    for _ in range(UIDS):
        offset = _NEXT_UID[0]
        _NEXT_UID[0] = (offset + 1) % UIDS
        uid = FIRST_UID + offset
        fd = os.open(UID_LOCKS / str(uid), os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue
        if _kill_user(uid):
            return uid, fd
        os.close(fd)
    raise SandboxError(f"no free sandbox user in {FIRST_UID}..{FIRST_UID + UIDS - 1}")


def leftover_processes():
    """Processes running as a sandbox user that no grader holds: left behind (should be
    none)."""
    if not UID_LOCKS.is_dir():
        return []
    users = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                uid = entry.stat().st_uid
                if FIRST_UID <= uid < FIRST_UID + UIDS and _running(entry.name):
                    users.setdefault(uid, []).append(int(entry.name))
    left = []
    for uid, pids in users.items():
        fd = os.open(UID_LOCKS / str(uid), os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            left += pids
        except OSError:
            pass  # a grader running now holds it
        finally:
            os.close(fd)
    return left


# ------------------------------------------------------------------------ job slots


class _Slot:
    def __init__(self):
        self.uid, self.lock_fd, self.procs, self.folder = None, None, [], None
        self.cpu_seconds, self.cpu_exceeded = None, False


_SLOTS = {}


def release(slot):
    """End what is left of the slot's last start (its processes, its user, its folder)."""
    with _LOCK:
        state = _SLOTS.pop(slot, None)
    if state is None:
        return
    groups, _ = cgroups()
    if groups is not None:
        groups.empty(slot)
    if state.uid is not None:
        _kill_user(state.uid)
        os.close(state.lock_fd)
    if state.folder:
        shutil.rmtree(state.folder, ignore_errors=True)


def release_all(bases=False):
    """End every slot, and remove the slots' control groups (and with ``bases``, at exit,
    the grader's own)."""
    for slot in list(_SLOTS):
        release(slot)
    groups, _ = cgroups()
    if groups is not None:
        groups.remove(bases)


def _at_exit():
    with contextlib.suppress(Exception):
        release_all(bases=True)


atexit.register(_at_exit)


def _start(slot, limits_, user=True):
    """A slot's new start: the last one's leftovers ended, a fresh user (as root), the
    control groups prepared. Returns its ``_Slot``."""
    release(slot)
    state = _Slot()
    if user and os.geteuid() == 0:
        state.uid, state.lock_fd = _take_uid()
    groups, _ = cgroups()
    if groups is not None:
        state.procs = groups.prepare(slot, limits_)
        if groups.counts_cpu:
            state.cpu_seconds = limits_.cpu_seconds
    with _LOCK:
        _SLOTS[slot] = state
        if state.cpu_seconds is not None and not _WATCH:
            _WATCH.append(threading.Thread(target=_watch_cpu, daemon=True,
                                           name="coursekit-sandbox-cpu"))
            _WATCH[0].start()
    return state


_WATCH = []


def _watch_cpu():
    """Ends a submission whose processes together used more CPU time than its limit."""
    while True:
        time.sleep(0.5)
        groups, _ = cgroups()
        for slot, state in list(_SLOTS.items()):
            if state.cpu_seconds is None or state.cpu_exceeded:
                continue
            used = groups.cpu_seconds(slot)
            if used is not None and used > state.cpu_seconds:
                state.cpu_exceeded = True
                groups.empty(slot, wait=1.0)


def cpu_used(slot):
    """CPU seconds the slot's processes used in all since its last start, as the kernel
    counts them for its control group; None where no group counts CPU time here."""
    groups, _ = cgroups()
    if groups is None or not groups.counts_cpu or slot not in _SLOTS:
        return None
    return groups.cpu_seconds(slot)


def cpu_exceeded(slot):
    """True when the slot's last start was ended for using more than its CPU time."""
    state = _SLOTS.get(slot)
    return bool(state and state.cpu_exceeded)


def memory_peak(slot):
    """The most memory the slot's last start held in all, in bytes (None without a control
    group)."""
    groups, _ = cgroups()
    return None if groups is None else groups.memory_peak(slot)


def cpu_signalled(returncode) -> bool:
    """True when a process's exit status says the kernel's SIGXCPU ended it: it reached
    its own CPU-time limit (RLIMIT_CPU). bwrap exits with 128 + the signal of the process
    it ran; a process run directly has -signal."""
    return returncode in (128 + signal.SIGXCPU, -signal.SIGXCPU)


def limit_hit(slot, limits_, returncode=None):
    """The limit that ended the slot's last start, in the grader's words ("used more than
    its 60 s of CPU time", "went over its 6144 MiB memory limit"), or None when none did,
    or where that cannot be told (no control group: each process is bounded on its own,
    and the kernel's kill for memory says nothing of why). returncode: the exit status of the
    sandbox's process, if it ended by itself (SIGXCPU names the CPU limit of one process,
    which the whole submission's count may not have reached yet). Ask before the slot's
    next start."""
    if limits_ is None or slot not in _SLOTS:  # no sandbox started there
        return None
    cpu = f"used more than its {limits_.cpu_seconds:g} s of CPU time"
    if cpu_signalled(returncode):
        return cpu
    groups, _ = cgroups()
    if groups is None:
        return None
    if groups.oom_kills(slot):  # the kernel's own record, before the CPU count's guess
        return f"went over its {limits_.memory_gb * 1024:g} MiB memory limit"
    used = groups.cpu_seconds(slot) if groups.counts_cpu else None
    if cpu_exceeded(slot) or (used is not None and used >= limits_.cpu_seconds - 0.05):
        return cpu
    return None


# ------------------------------------------------------------------------ mounts


def _existing(paths):
    seen, out = set(), []
    for path in paths:
        if path and Path(path).exists() and str(path) not in seen:
            seen.add(str(path))
            out.append(str(path))
    return out


def _python_roots():
    """The folders Python and its packages are read from (the venv, the base install)."""
    import coursekit

    roots = [sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
             str(Path(sys.executable).resolve().parent.parent)]
    for entry in sys.path:  # site-packages outside the prefixes (user installs)
        if entry and ("site-packages" in entry or "dist-packages" in entry):
            roots.append(entry)
    package = str(Path(coursekit.__file__).resolve().parent)
    # /usr is mounted whole below; a prefix under it needs nothing more
    return [root for root in _existing(roots) if not root.startswith("/usr/")
            and root != "/usr"], package


class _Binds:
    """bwrap's file-system arguments (a list), and the file descriptors to pass."""

    def __init__(self):
        self.args, self.fds, self.made = [], [], {"/tmp", "/dev", "/home"}

    def ro(self, path):
        for parent in reversed(Path(path).parents):  # walkable by the sandbox's user
            if str(parent) != "/" and str(parent) not in self.made:
                self.made.add(str(parent))
                self.args += ["--perms", "0755", "--dir", str(parent)]
        self.args += ["--ro-bind", str(path), str(path)]

    def pass_file(self, data):
        """A file descriptor (to pass to bwrap) that reads ``data``."""
        fd = os.memfd_create("coursekit-sandbox", 0)
        os.write(fd, data)
        os.lseek(fd, 0, os.SEEK_SET)
        self.fds.append(fd)
        return fd

    def close(self):
        for fd in self.fds:
            with contextlib.suppress(OSError):
                os.close(fd)
        self.fds = []


def data_folder():
    """The course data to mount (``COURSEKIT_DATA``), or None when it is not set; a
    ``SandboxError`` saying what is wrong when it is set but cannot be mounted."""
    value = os.environ.get("COURSEKIT_DATA")
    if not value:
        return None
    path = Path(value)
    if not path.is_dir():
        raise SandboxError(f"COURSEKIT_DATA={value} is not a folder: the submissions would "
                           "run without the course data. Set it to the prepared data "
                           "folder, or unset it")
    return path.resolve()


def _mounts(data_dir=None, tmp_mb=256):
    """bwrap's file-system arguments (see the module's docstring): a ``_Binds``. The
    private /tmp comes first, so that anything mounted under the machine's /tmp (a
    repository, a virtual environment, the data) shows over it."""
    size = str(tmp_mb * 2**20)
    binds = _Binds()
    binds.args += ["--perms", "1777", "--size", size, "--tmpfs", "/tmp",
                   "--proc", "/proc", "--dev", "/dev",
                   "--perms", "1777", "--size", size, "--tmpfs", "/dev/shm",
                   "--perms", "0777", "--size", size, "--tmpfs", "/home/student"]
    for path in ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc"):
        if os.path.islink(path):
            binds.args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            binds.ro(path)
    roots, package = _python_roots()
    for root in roots:
        binds.ro(root)
    binds.ro(package)
    if data_dir is not None:
        binds.ro(data_dir)
    binds.args += ["--chdir", "/home/student"]
    return binds


def environment(package_parent, extra=None):
    """The environment of the submission: nothing of the grader's but what it needs."""
    keep = ("COURSEKIT_FAST", "COURSEKIT_DATA", "LANG", "LC_ALL", "OMP_NUM_THREADS",
            "MKL_NUM_THREADS")
    env = {key: os.environ[key] for key in keep if key in os.environ}
    env.update(PATH="/usr/local/bin:/usr/bin:/bin", HOME="/home/student", MPLBACKEND="Agg",
               PYTHONPATH=str(package_parent), PYTHONDONTWRITEBYTECODE="1",
               TMPDIR="/tmp", MPLCONFIGDIR="/tmp/matplotlib", PYTHONHASHSEED="0")
    env.update(extra or {})
    return env


def _namespaces(uid):
    """bwrap's arguments for the namespaces and the user. Unprivileged, bwrap makes a user
    namespace. As root it makes none: the worker starts as root without capabilities but
    those to change its user, and drops to ``uid`` before any student code
    (``worker.drop_privileges``)."""
    args = ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts",
            "--unshare-cgroup-try", "--die-with-parent", "--new-session", "--hostname",
            "sandbox"]
    if uid is not None:
        return args + ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID",
                       "--setenv", "COURSEKIT_SANDBOX_UID", str(uid)]
    return args + ["--unshare-user", "--uid", "65534", "--gid", "65534"]


def _bwrap(slot, limits_, tail):
    """(argv, env, binds) that run ``tail`` (a command line) in a new sandbox of ``slot``."""
    import coursekit

    package_parent = Path(coursekit.__file__).resolve().parent.parent
    env = environment(package_parent)
    binds = _mounts(data_folder(), limits_.file_mb)
    state = _start(slot, limits_)
    argv = [bwrap_path(), *binds.args, "--clearenv", *_namespaces(state.uid)]
    program = seccomp_program()
    if program is not None:
        argv += ["--seccomp", str(binds.pass_file(program))]
    for key, value in env.items():
        argv += ["--setenv", key, value]
    return argv + tail, env, binds


def _python(code, package_parent):
    return [sys.executable, "-s", "-c",
            f"import sys; sys.path.insert(0, {str(package_parent)!r}); " + code]


def command(mode, slot, limits_):
    """(argv, env, cwd, binds) to start the worker of one submission (``binds.fds`` to pass
    to it, ``binds.close()`` once it started).

    mode: "bwrap" (the sandbox), or "unsafe" (a plain process with the same limits, for
    machines without a sandbox, when the instructor asked for it explicitly).
    """
    import coursekit

    package_parent = Path(coursekit.__file__).resolve().parent.parent
    if mode == "bwrap":
        argv, env, binds = _bwrap(slot, limits_, _python(
            "from coursekit.grading.worker import main; main()", package_parent))
        return argv, env, None, binds
    state = _start(slot, limits_, user=False)
    cwd = state.folder = tempfile.mkdtemp(prefix="coursekit-unsafe-")
    os.chmod(cwd, 0o777)
    env = environment(package_parent)
    env.update(HOME=cwd, TMPDIR=cwd, MPLCONFIGDIR=cwd, COURSEKIT_GRADING_UNSAFE="1")
    worker = [sys.executable, "-s", "-m", "coursekit.grading.worker"]
    return worker, env, cwd, _Binds()


_DROP = ("import os; uid = os.environ.pop('COURSEKIT_SANDBOX_UID', None); "
         "uid is None or (os.setgroups([]), os.setgid(int(uid)), os.setuid(int(uid))); "
         "os.getuid() == 0 and sys.exit('will not run code as root'); ")
"""``worker.drop_privileges`` without importing coursekit (and torch)."""


def run(code, slot=0, limits_=None, timeout=60):
    """Run Python ``code`` in a sandbox of ``slot``, as a submission would be (its user,
    limits, control group and filter): a ``subprocess.CompletedProcess`` (text). The sandbox
    and what is left of it end before this returns."""
    import coursekit

    limits_ = limits_ or Limits()
    package_parent = Path(coursekit.__file__).resolve().parent.parent
    argv, env, binds = _bwrap(slot, limits_, _python(_DROP + "exec(sys.argv[1])",
                                                     package_parent) + [code])
    try:
        try:
            process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                       text=True, env=env, pass_fds=binds.fds,
                                       preexec_fn=limits(limits_, slot))
        finally:
            binds.close()
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            stdout, stderr = process.communicate()
        return subprocess.CompletedProcess(argv, process.returncode, stdout, stderr)
    finally:
        release(slot)


_WORKS = {}

_PROBE = """
import os, sys
import coursekit
from coursekit.grading import worker  # what the worker imports (torch) loads here
where = os.path.dirname(os.path.dirname(os.path.abspath(coursekit.__file__)))
if where != {package_parent!r}:
    sys.exit("coursekit was found at " + where + ", not at {package_parent}")
data = os.environ.get("COURSEKIT_DATA")
if data:
    try:
        os.listdir(data)
    except OSError as error:
        sys.exit("COURSEKIT_DATA=" + data + " cannot be read by the sandbox's user (uid "
                 + str(os.getuid()) + "): " + error.strerror + "; make it readable by all "
                 "(chmod -R a+rX " + data + ")")
print("ok")
"""


def works():
    """(True, "") when a bubblewrap sandbox can be made here, else (False, why not); asked
    once (``check``)."""
    if "result" not in _WORKS:
        _WORKS["result"] = check()
    return _WORKS["result"]


def check():
    """(True, "") when a bubblewrap sandbox can be made here now and the worker can start
    in it (coursekit, torch and the course data readable by its user), else (False, why
    not)."""
    import coursekit

    package_parent = str(Path(coursekit.__file__).resolve().parent.parent)
    if bwrap_path() is None:
        result = (False, "bubblewrap (bwrap) is not installed: apt-get install bubblewrap")
    else:
        try:
            probe = run(_PROBE.format(package_parent=package_parent), slot=0)
            ok = probe.returncode == 0 and probe.stdout.strip() == "ok"
            why = probe.stderr.strip().splitlines()
            result = (True, "") if ok else (
                False, "bubblewrap is installed but cannot make a sandbox here: "
                + (why[-1][:300] if why else f"exit status {probe.returncode}"))
        except (SandboxError, OSError) as error:
            result = (False, f"the sandbox cannot be made here: {error}")
    return result


def _tasks_of(uid):
    """How many processes and threads ``uid`` runs now (RLIMIT_NPROC counts them all)."""
    count = 0
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if entry.stat().st_uid == uid:
                    count += len(os.listdir(f"/proc/{entry.name}/task"))
    return count


def limits(limits_, slot):
    """The function run in the child before it starts: a session, resource limits and the
    slot's control groups (as root, the worker drops to its own user inside the sandbox).
    Call it after ``command`` for the same slot."""
    import resource  # Linux and macOS only: students on Windows never get here

    state = _SLOTS.get(slot) or _Slot()
    procs = list(state.procs)
    # as root the worker becomes a user of its own, who runs nothing else; otherwise the
    # limit counts everything the grading user runs, so add what runs already
    extra = 0 if os.getuid() == 0 else _tasks_of(os.getuid())

    def apply():
        os.setsid()
        os.umask(0o022)  # bwrap makes the folders above its mounts with it: walkable
        for path in procs:  # everything it starts is counted with it
            fd = os.open(path, os.O_WRONLY)
            try:
                os.write(fd, str(os.getpid()).encode())
            finally:
                os.close(fd)
        gib = int(limits_.memory_gb * 2**30)
        for name, value in (("RLIMIT_AS", gib), ("RLIMIT_FSIZE", limits_.file_mb * 2**20),
                            ("RLIMIT_NOFILE", limits_.open_files), ("RLIMIT_CORE", 0)):
            resource.setrlimit(getattr(resource, name), (value, value))
        # at the soft limit the kernel sends SIGXCPU, which ends the process and says why
        # (its exit status: cpu_signalled); a process that ignores it is killed 2 s later
        resource.setrlimit(resource.RLIMIT_CPU, (limits_.cpu_seconds, limits_.cpu_seconds + 2))
        resource.setrlimit(resource.RLIMIT_NPROC, (limits_.processes + extra,) * 2)
    return apply
