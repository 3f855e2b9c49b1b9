"""Where a submission runs: a bubblewrap sandbox, or (only when asked for) none.

``command(...)`` gives the command line and ``limits(...)`` the function to run before it
starts (resource limits, an unprivileged user). Inside the sandbox (``bwrap``) a submission
sees:

- the operating system, Python and its packages, coursekit's own package folder and the
  course data, all read-only; nothing else of the machine: no home folder, no repository
  (so no masters), no submissions, no autograder, no results;
- a private, size-limited, empty ``/tmp`` and home folder, gone when it ends; its notebook
  arrives through a pipe;
- no network (a network namespace of its own), its own process numbers (it cannot see or
  signal the grader or another submission), a new session, its own user;
- limits on memory (address space), processes and threads, file size, open files and CPU
  time; the grader adds a wall-clock limit and kills everything at the end: when the
  sandbox's first process ends, the kernel ends every process in it, daemons included.

When the grader runs as root, the sandbox runs as a user id of its own per job slot
(``FIRST_UID + slot``), so that the process limit of one submission is not shared with
another and no file of the grader's is writable to it even where a bind were writable.
"""

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

FIRST_UID = 61000
"""Job slot k runs as user FIRST_UID + k when the grader is root."""


@dataclass
class Limits:
    """The resources one submission may use."""

    memory_gb: float = 6.0  # address space of each process, in GiB (torch maps a lot)
    processes: int = 256  # processes and threads of its user
    file_mb: int = 256  # largest file it may write, in MiB (and the size of its /tmp)
    open_files: int = 1024
    cpu_seconds: int = 3600


def bwrap_path():
    """The bubblewrap binary, or None."""
    return shutil.which("bwrap")


_WORKS = {}


def works():
    """(True, "") when a bubblewrap sandbox can be made here, else (False, why not)."""
    if "result" in _WORKS:
        return _WORKS["result"]
    binary = bwrap_path()
    if binary is None:
        result = (False, "bubblewrap (bwrap) is not installed: apt-get install bubblewrap")
    else:
        binds = _mounts()
        try:
            probe = subprocess.run(
                [binary, *binds.args, *_namespaces(0), sys.executable, "-c",
                 "from coursekit.grading.worker import drop_privileges; drop_privileges(); "
                 "print('ok')"],
                capture_output=True, text=True, timeout=60, preexec_fn=limits(Limits(), 0),
                pass_fds=binds.fds,
            )
        finally:
            binds.close()
        ok = probe.returncode == 0 and probe.stdout.strip() == "ok"
        result = (True, "") if ok else (False, "bubblewrap is installed but cannot make a "
                                        f"sandbox here: {probe.stderr.strip()[:300]}")
    _WORKS["result"] = result
    return result


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
        if entry and "site-packages" in entry or "dist-packages" in entry:
            roots.append(entry)
    package = str(Path(coursekit.__file__).resolve().parent)
    # /usr is mounted whole below; a prefix under it needs nothing more
    return [root for root in _existing(roots) if not root.startswith("/usr/")
            and root != "/usr"], package


class _Binds:
    """bwrap's read-only binds (a list of arguments), and the file descriptors to pass."""

    def __init__(self):
        self.args, self.fds, self.made = [], [], set()

    def ro(self, path):
        for parent in reversed(Path(path).parents):  # walkable by the sandbox's user
            if str(parent) != "/" and str(parent) not in self.made:
                self.made.add(str(parent))
                self.args += ["--perms", "0755", "--dir", str(parent)]
        self.args += ["--ro-bind", str(path), str(path)]

    def close(self):
        pass


def _mounts(data_dir=None, tmp_mb=256):
    """bwrap's file-system arguments (see the module's docstring): a ``_Binds``."""
    binds = _Binds()
    for path in ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc"):
        if os.path.islink(path):
            binds.args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            binds.ro(path)
    roots, package = _python_roots()
    for root in roots:
        binds.ro(root)
    binds.ro(package)
    if data_dir and Path(data_dir).is_dir():
        binds.ro(Path(data_dir).resolve())
    binds.args += ["--proc", "/proc", "--dev", "/dev",
                   "--perms", "1777", "--size", str(tmp_mb * 2**20), "--tmpfs", "/tmp",
                   "--perms", "0777", "--size", str(tmp_mb * 2**20), "--tmpfs",
                   "/home/student",
                   "--chdir", "/home/student"]
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


def _namespaces(slot):
    """bwrap's arguments for the namespaces and the user. Unprivileged, bwrap makes a user
    namespace. As root it makes none: the worker starts as root without capabilities but
    those to change its user, and drops to the slot's own user before any student code
    (``worker.drop_privileges``)."""
    args = ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts",
            "--unshare-cgroup-try", "--die-with-parent", "--new-session", "--hostname",
            "sandbox"]
    if os.getuid() == 0:
        return args + ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID",
                       "--setenv", "COURSEKIT_SANDBOX_UID", str(FIRST_UID + slot)]
    return args + ["--unshare-user", "--uid", "65534", "--gid", "65534"]


def command(mode, slot, limits_):
    """(argv, env, cwd, binds) to start the worker of one submission (``binds.fds`` to pass
    to it, ``binds.close()`` once it started).

    mode: "bwrap" (the sandbox), or "unsafe" (a plain process with the same limits, for
    machines without a sandbox, when the instructor asked for it explicitly).
    """
    import coursekit

    package_parent = Path(coursekit.__file__).resolve().parent.parent
    env = environment(package_parent)
    worker = [sys.executable, "-I" if mode == "bwrap" else "-s", "-m",
              "coursekit.grading.worker"]
    if mode == "bwrap":
        worker = [sys.executable, "-s", "-c",
                  f"import sys; sys.path.insert(0, {str(package_parent)!r}); "
                  "from coursekit.grading.worker import main; main()"]
        binds = _mounts(os.environ.get("COURSEKIT_DATA"), limits_.file_mb)
        argv = [bwrap_path(), *binds.args, "--clearenv", *_namespaces(slot)]
        for key, value in env.items():
            argv += ["--setenv", key, value]
        return argv + worker, env, None, binds
    cwd = tempfile.mkdtemp(prefix="coursekit-unsafe-")
    os.chmod(cwd, 0o777)
    env.update(HOME=cwd, TMPDIR=cwd, MPLCONFIGDIR=cwd, COURSEKIT_GRADING_UNSAFE="1")
    return worker, env, cwd, _Binds()


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
    """The function run in the child before it starts: a session and resource limits (as
    root, the worker drops to its own user inside the sandbox)."""
    import resource  # Linux and macOS only: students on Windows never get here

    def apply():
        os.setsid()
        os.umask(0o022)  # bwrap makes the folders above its mounts with it: walkable
        gib = int(limits_.memory_gb * 2**30)
        for name, value in (("RLIMIT_AS", gib), ("RLIMIT_FSIZE", limits_.file_mb * 2**20),
                            ("RLIMIT_NOFILE", limits_.open_files), ("RLIMIT_CORE", 0),
                            ("RLIMIT_CPU", limits_.cpu_seconds)):
            resource.setrlimit(getattr(resource, name), (value, value))
        # as root the worker becomes a user of its own, who runs nothing else; otherwise
        # the limit counts everything the grading user runs, so add what runs already
        extra = 0 if os.getuid() == 0 else _tasks_of(os.getuid())
        resource.setrlimit(resource.RLIMIT_NPROC, (limits_.processes + extra,) * 2)
    return apply
