"""The grader's side of a submission: its process, and proxies for the objects in it.

``Submission`` starts the worker (``coursekit.grading.worker``) in the sandbox, sends it the
notebook, watches each cell against a time limit (a cell that hangs or kills the process is
skipped in a fresh run, so it costs only what depends on it), and then lets the hidden
tests, which run here in the grader's process, reach the student's answers through proxies:

- ``Remote``: an object of the submission (a function, a class, a model). Calling it, reading
  an attribute, iterating, applying an operator are requests; what comes back is data (numbers,
  strings, tensors by value) or another ``Remote``. ``isinstance`` sees the class the object
  says it has only when that is one of torch's layers or optimizers (pure Python classes);
  a ``Remote`` never passes for a tensor, whatever it says (torch's compiled code would read
  the proxy's memory as a tensor's). The values compared are always data here.
- Mirrors: a tensor, an ``nn.Module`` made of torch's layers or a ``torch.optim`` optimizer
  that a test passes to an answer is rebuilt on the other side from its data, and what the
  answer does to it (gradients, trained weights, optimizer state, train or eval mode) is
  copied back after each request. An answer that changes a tensor argument in place fails
  that call instead: copied back, the change could reach an expected value that a test
  computes afterwards from the same tensor.
- A tensor that comes back in the autograd graph is a local leaf tensor; ``backward()`` on it
  runs the backward pass over there and brings the gradients back into the mirrors.
- Stand-ins (``fakes``: a fake clock, a function whose first calls are slow, a fake GPU's
  ``launch`` and ``sync``, a sleep) that a test passes to an answer stay here: the answer
  gets a function of no arguments whose calls come back to this process while the grader
  waits for the reply (``_call_back``); only a number comes back to it. What the stand-ins
  count and how far the clock moved are read by the test here, where the answer cannot
  reach them.
- ``counting_cpu``: what the requests within it cost the submission, read from its
  control group (the kernel's count of its CPU time), for a speed check that the answer's
  process cannot fool (``checks.cpu_seconds``).

Nothing that comes back can carry code (see ``codec``), and nothing it sends can make the
grader hold more than a fixed amount for it: each message is capped (``codec.GRADER_CAPS``)
before it is read, at most one message waits in the queue between the reading thread and
the tests, and every value decoded during one question is charged to that question's
``QUESTION_BYTES`` before it is made. A submission that breaks these rules, or the protocol,
ends its own process and loses what depends on it; it cannot end the grader.
"""

import contextlib
import os
import queue
import select
import subprocess
import threading
import time
from pathlib import Path

import torch

from coursekit.grading import codec, sandbox, stripped, withheld
from coursekit.grading.failures import ForbiddenCall
from coursekit.grading.fakes import Probe, callable_stand_in

QUESTION_BYTES = 128 << 20
"""Bytes of decoded values the grader holds for one question of one submission at most."""

MAX_CALLBACKS = 10_000
"""Calls of the test's stand-ins one question's answers may make at most."""

_LOCAL = threading.local()


class SubmissionGone(Exception):
    """The submission's process ended, hung or broke the protocol during a request."""


class RemoteError(Exception):
    """An exception raised by the student's code, by name and message only."""


_BUILTIN_ERRORS = {cls.__name__: cls for cls in (
    ArithmeticError, AssertionError, AttributeError, IndexError, KeyError, LookupError,
    NameError, NotImplementedError, OverflowError, RecursionError, RuntimeError, TypeError,
    ValueError, ZeroDivisionError, MemoryError, ImportError, ModuleNotFoundError, OSError,
    UnboundLocalError)}
_ERROR_CLASSES = {}


def _exception(error):
    """A local exception for one the student's code raised: a built-in one of the same name
    (also a RemoteError), else a RemoteError; its message; no object of theirs, never their
    exception class, and no new class for each name they make up."""
    name = str(error.get("type", "Error"))[:60]
    message = str(error.get("message", ""))[:1000]
    if name == "ForbiddenCall":
        return ForbiddenCall(message)
    if name == "StopIteration":
        return StopIteration()
    base = _BUILTIN_ERRORS.get(name)
    if base is None:
        return RemoteError(message)
    if name not in _ERROR_CLASSES:
        _ERROR_CLASSES[name] = type(name, (base, RemoteError), {})
    return _ERROR_CLASSES[name](message)


# ------------------------------------------------------------------ test-time context


def active():
    """True while this thread runs hidden tests against a submission."""
    return getattr(_LOCAL, "submission", None) is not None


@contextlib.contextmanager
def testing(submission, question):
    """Within this block, this thread's tests talk to ``submission`` about ``question``."""
    _LOCAL.submission, _LOCAL.question = submission, question
    _LOCAL.forbid, _LOCAL.watch = (), None
    _LOCAL.seen = None
    try:
        yield
    finally:
        _LOCAL.submission = _LOCAL.question = None


@contextlib.contextmanager
def context(forbid=(), watch=None):
    """Requests sent within this block switch off torch's ``forbid`` functions around the
    answer, and watch its calls into files under ``watch``; yields the list of calls seen."""
    saved = (_LOCAL.forbid, _LOCAL.watch, _LOCAL.seen)
    seen = [] if watch else saved[2]
    _LOCAL.forbid = tuple(saved[0]) + tuple(forbid)
    _LOCAL.watch = tuple(watch) if watch else saved[1]
    _LOCAL.seen = seen
    try:
        yield seen if seen is not None else []
    finally:
        _LOCAL.forbid, _LOCAL.watch, _LOCAL.seen = saved


class CpuCount:
    """What the requests sent within ``counting_cpu`` cost the submission: ``seconds`` of
    CPU time of its whole sandbox, as the kernel counts it for the slot's control group
    (``how`` = "CPU time"), or, where the machine does not count it, of wall-clock time from
    each request to its reply, as this process measures it (``how`` = "wall-clock time")."""

    def __init__(self):
        self.seconds, self.how = 0.0, "CPU time"


@contextlib.contextmanager
def counting_cpu():
    """Within this block, each request runs the answer on one torch thread, and what it
    costs the submission is added up in the ``CpuCount`` this yields (read from outside the
    submission's process: nothing in it can change the count)."""
    saved = getattr(_LOCAL, "cpu", None)
    _LOCAL.cpu = count = CpuCount()
    try:
        yield count
    finally:
        _LOCAL.cpu = saved


def materialise(value):
    """``value`` itself, or for a ``Remote`` that says it is a tensor its data, when that
    data comes back as a tensor (a check compares data only; a ``Remote`` is never taken
    for a tensor)."""
    if type(value) is Remote and value._says_tensor():
        data = value._request("value")
        return data if type(data) is torch.Tensor else value
    return value


# -------------------------------------------------------------------------- proxies


def _named_class(name):
    """The class of torch named ``name`` ("torch.nn.modules.conv.Conv2d") if it is loaded,
    else None (nothing is imported on the submission's word)."""
    import sys

    if not isinstance(name, str) or len(name) > 200 or not name.startswith("torch."):
        return None
    module_name, _, qualname = name.rpartition(".")
    module = sys.modules.get(module_name)
    value = getattr(module, qualname, None) if module is not None else None
    return value if isinstance(value, type) else None


def _resolve_class(name):
    """The class a ``Remote`` may pass for: one of torch's layers or optimizers named
    ``name``, or the grader's ``Probe``; else None. Never a tensor class, nor any class
    that torch's compiled code reads objects of."""
    if name == f"{Probe.__module__}.{Probe.__qualname__}":
        return Probe
    cls = _named_class(name)
    if cls is None or issubclass(cls, torch.Tensor):
        return None
    return cls if issubclass(cls, (torch.nn.Module, torch.optim.Optimizer)) else None


class Remote:
    """An object in the submission's process."""

    __slots__ = ("_submission", "_generation", "_id", "_class_name", "__weakref__")

    def __init__(self, submission, generation, handle, class_name):
        object.__setattr__(self, "_submission", submission)
        object.__setattr__(self, "_generation", generation)
        object.__setattr__(self, "_id", handle)
        object.__setattr__(self, "_class_name", class_name)

    def _request(self, op, **fields):
        return self._submission.request(op, target=self, **fields)

    def _says_tensor(self):
        cls = _named_class(self._class_name)
        return cls is not None and issubclass(cls, torch.Tensor)

    @property
    def __class__(self):
        return _resolve_class(self._class_name) or Remote

    def __getattr__(self, name):
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return self._request("getattr", name=name)

    def __setattr__(self, name, value):
        self._request("setattr", name=name, value=value)

    def __call__(self, *args, **kwargs):
        return self._request("call", args=list(args), kwargs=dict(kwargs))

    def __iter__(self):
        return self._request("builtin", name="iter")

    def __next__(self):
        return self._request("builtin", name="next")

    def __len__(self):
        return _expect(self._request("builtin", name="len"), int)

    def __bool__(self):
        return _expect(self._request("builtin", name="bool"), bool)

    def __float__(self):
        return float(_expect(self._request("builtin", name="float"), (float, int)))

    def __int__(self):
        return _expect(self._request("builtin", name="int"), int)

    def __repr__(self):
        return "<an object of the submission>"

    def __hash__(self):
        return id(self)

    def __getitem__(self, key):
        return self._request("operator", name="getitem", args=[key])


def _operator(name, reflected=False):
    def method(self, *args):
        if reflected:
            return NotImplemented
        return self._request("operator", name=name, args=list(args))
    return method


for _name in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul", "eq", "ne",
              "lt", "le", "gt", "ge", "and", "or"):
    setattr(Remote, f"__{_name}__", _operator(_name.replace("and", "and_").replace("or", "or_")
                                              if _name in ("and", "or") else _name))
for _name in ("neg", "pos", "abs", "invert"):
    setattr(Remote, f"__{_name}__", _operator(_name))


def _expect(value, kinds):
    if not isinstance(value, kinds) or (kinds is int and isinstance(value, bool)):
        raise TypeError(f"the submission answered {type(value).__name__}, expected "
                        f"{getattr(kinds, '__name__', kinds)}")
    return value


# ------------------------------------------------------------------ the submission


class Submission:
    """One submission's worker process, restarted (skipping the cell that killed it) when
    it dies or hangs, within a limit on restarts and on total time.

    Everything the process sends is checked here before it is used: the reports of the
    notebook's run (``_start_report``), the replies to requests (``_read_reply``). What
    goes wrong is said in the grader's own words (``gone``: why the process was lost during
    the current question; ``refused``: whether an answer called what it may not; ``raised``:
    the first exception an answer raised, by its built-in name), never in the submission's."""

    MAX_STARTS = 4
    """Runs of the notebook at most to get one ready process (each run skips the cells that
    ended or hung the one before). A question that finds the process gone (its answer
    ended or hung it) starts it again, within the submission's time limit, so that it costs
    only that question."""

    def __init__(self, notebook, mode, slot, limits, cell_timeout, deadline, tripwires,
                 answers=()):
        self.notebook = notebook
        self.mode, self.slot, self.limits = mode, slot, limits
        self.cell_timeout, self.deadline = cell_timeout, deadline
        self.tripwires = tripwires
        self.answers = tuple(sorted(set(answers)))  # left out of coursekit in the sandbox
        self.skip, self.cell_errors, self.notes = set(), {}, []
        self.said = {}  # cell -> what its error said, in the submission's words (cell log)
        self.process = None
        self.returncode = None  # the exit status of the last process, once it ended
        self._stop = threading.Event()
        self.generation = 0
        self.starts = 0
        self.mirrors = {}  # id -> local object
        self.graph = {}  # id(local tensor) -> (tensor, remote handle id)
        self.timed_out = False
        self.changed_in_place = False
        self.budget = codec.Budget(QUESTION_BYTES)
        self.gone = None
        self.refused = False
        self.raised = None
        self.callbacks = {}  # id -> a stand-in of the test's, which the answer may call
        self.callback_calls = 0

    # the process -----------------------------------------------------------------
    def _command(self):
        """(argv, env, cwd, binds) of the worker: ``sandbox.command``, the labels that the
        hidden checks score with withheld (``withheld``), coursekit without the answers
        (``stripped``)."""
        import coursekit

        argv, env, cwd, binds = sandbox.command(self.mode, self.slot, self.limits)
        if self.mode == "bwrap":
            argv = withheld.hidden_in(argv, binds, sandbox.data_folder())
            argv = stripped.hidden_in(argv, binds, Path(coursekit.__file__).resolve().parent,
                                      self.answers)
        return argv, env, cwd, binds

    def _preexec(self):
        """What the child runs before the worker: ``sandbox.limits``."""
        return sandbox.limits(self.limits, self.slot)

    def _spawn(self):
        import tempfile

        argv, env, cwd, binds = self._command()
        self.stderr = tempfile.TemporaryFile()  # the worker's own errors before it starts
        try:
            self.process = subprocess.Popen(
                argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=self.stderr, env=env, cwd=cwd, pass_fds=binds.fds,
                preexec_fn=self._preexec(),
            )
        finally:
            binds.close()
        os.set_blocking(self.process.stdin.fileno(), False)
        # this process's own queue, never an older one's; one message waits at most, the
        # next one is read (within codec.GRADER_CAPS) only when that one was taken
        self.replies = replies = queue.Queue(maxsize=1)
        self._stop = stop = threading.Event()
        stream = self.process.stdout

        def read():
            while not stop.is_set():
                try:
                    item = codec.read_message(stream, codec.GRADER_CAPS)
                except Exception as error:  # EOF, junk, too large: the end of this process
                    item = error
                while not stop.is_set():
                    try:
                        replies.put(item, timeout=0.5)
                        break
                    except queue.Full:
                        continue
                if isinstance(item, Exception):
                    return
        threading.Thread(target=read, daemon=True).start()

    def kill(self):
        self._stop.set()
        if self.process is not None:
            self.returncode = self.process.poll()  # None: it was still running
            with contextlib.suppress(OSError):
                self.process.kill()
            with contextlib.suppress(Exception):
                self.process.wait(timeout=30)
            if self.mode == "unsafe":  # no pid namespace: end its process group too
                import signal
                with contextlib.suppress(OSError):
                    os.killpg(self.process.pid, signal.SIGKILL)
            with contextlib.suppress(OSError):
                self.process.stdin.close()
            self.process = None

    def _limit_hit(self):
        """The sandbox's limit that ended the process (``sandbox.limit_hit``), or None."""
        return sandbox.limit_hit(self.slot, self.limits, self.returncode)

    def _stopped(self):
        """"stopped: " and the limit that ended the process, or None."""
        limit = self._limit_hit()
        return f"stopped: {limit}" if limit else None

    def _send(self, header, blobs, deadline):
        """Write one request, giving up at ``deadline`` (a process that stops reading
        cannot hold the grader): TimeoutError, or OSError when the process is gone."""
        data = memoryview(codec.frame(header, blobs))
        fd = self.process.stdin.fileno()
        while data:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            _, ready, _ = select.select([], [fd], [], left)
            if ready:
                with contextlib.suppress(BlockingIOError):
                    data = data[os.write(fd, data[:1 << 16]):]

    def _receive(self, timeout):
        try:
            message = self.replies.get(timeout=max(0.01, timeout))
        except queue.Empty:
            raise TimeoutError from None
        if isinstance(message, codec.ProtocolError):
            raise SubmissionGone("it sent something that is not in the grader's format")
        if isinstance(message, Exception):
            raise SubmissionGone("its process ended") from None
        return message

    def _start_report(self, header):
        """One report of the notebook's run: ("ready",), ("cell", index) or ("done",
        index, error), error a name in the grader's words or None; ProtocolError else."""
        cells = len(self.notebook.get("cells", []))
        if header.get("ready") is True:
            return ("ready",)
        if type(header.get("cell")) is int and 0 <= header["cell"] < cells:
            return ("cell", header["cell"])
        if type(header.get("cell_done")) is int and 0 <= header["cell_done"] < cells:
            said = header.get("said")
            if isinstance(said, str):
                self.said[header["cell_done"]] = _printable(said[:2000])[:500]
            return ("done", header["cell_done"], _error_name(header.get("error")))
        if set(header) == {"note"}:  # the worker's own words, which its student can forge
            return ("note",)
        raise codec.ProtocolError("not a report of the notebook's run")

    def start(self):
        """Run the notebook until the worker is ready; False when it cannot be had."""
        for _ in range(self.MAX_STARTS):
            if time.monotonic() > self.deadline:
                self.timed_out = True
                return False
            self.starts += 1
            self.generation += 1
            self.mirrors, self.graph = {}, {}
            self._spawn()
            current, started = None, False
            try:
                self._send({"op": "start", "notebook": self.notebook,
                            "skip": sorted(self.skip), "tripwires": self.tripwires},
                           [], min(self.deadline, time.monotonic() + 120))
                while True:
                    limit = self.cell_timeout if started else max(120.0, self.cell_timeout)
                    cell_deadline = min(self.deadline, time.monotonic() + limit)
                    (header, _) = self._receive(cell_deadline - time.monotonic())
                    report = self._start_report(header)
                    if report[0] == "ready":
                        return True
                    if report[0] == "cell":
                        current, started = report[1], True
                    elif report[0] == "done":
                        if report[2]:
                            self.cell_errors[report[1]] = f"cell {report[1]} raised {report[2]}"
                        current = None
            except TimeoutError:
                why = "ran past the time limit"
            except Exception:  # noqa: BLE001 (it ended, broke the protocol: the same here)
                why = "ended the process"
            self.kill()
            limit = self._limit_hit()
            why = f"was stopped: {limit}" if limit else why
            if current is None:
                note = "the notebook could not be run to its end"
                if limit:
                    note += f": it was stopped: {limit}"
                elif not started:  # nothing of the student's ran: the worker's own words
                    self.stderr.seek(0)
                    last = _printable(self.stderr.read(4000).decode(errors="replace"))
                    note += f" ({last[-200:]})" if last else ""
                self.notes.append(note)
                return False
            self.skip.add(current)
            self.cell_errors[current] = f"cell {current} {why}; it was skipped"
        self.notes.append(f"stopped after {self.MAX_STARTS} runs of the notebook")
        return False

    def ensure(self):
        if self.process is None or self.process.poll() is not None:
            self.kill()
            if not self.start():
                raise SubmissionGone("the notebook could not be run again")

    # requests --------------------------------------------------------------------
    def lookup(self, name):
        value = self.request("lookup", name=name)
        return None if type(value) is dict and value == {"$missing": True} else value

    def reset(self):
        """A new question: its own budget, no mirrors, nothing lost or refused yet."""
        self.mirrors, self.graph = {}, {}
        self.callbacks, self.callback_calls = {}, 0
        self.budget = codec.Budget(QUESTION_BYTES)
        self.gone, self.refused, self.raised = None, False, None
        if self.process is not None:
            with contextlib.suppress(SubmissionGone):
                self._exchange({"op": "reset"}, [], self.cell_timeout)
            self.gone = None

    def _lost(self, reason):
        """SubmissionGone for ``reason`` (the grader's words), kept as ``gone``."""
        self.gone = self.gone or reason
        return SubmissionGone(reason)

    def request(self, op, target=None, **fields):
        if target is not None and (target._submission is not self
                                   or target._generation != self.generation):
            raise SubmissionGone("its process was restarted after it ended or hung")
        if self.process is None:
            raise self._lost("its process had ended")
        blobs, mirrors = [], []
        encoder = _Encoder(self, blobs, mirrors)
        header = {"op": op, "grad": torch.is_grad_enabled(),
                  "question": getattr(_LOCAL, "question", None),
                  "forbid": list(getattr(_LOCAL, "forbid", ())),
                  "watch": list(getattr(_LOCAL, "watch", None) or []) or None}
        if target is not None:
            header["target"] = {"$ref": ["h", target._id]}
        for key in ("name",):
            if key in fields:
                header[key] = str(fields[key])
        for key in ("args", "kwargs", "value"):
            if key in fields:
                header[key] = encoder.encode(fields[key])
        header["mirrors"] = encoder.finish()
        timeout = min(self.cell_timeout, max(0.0, self.deadline - time.monotonic()))
        count = getattr(_LOCAL, "cpu", None)
        if count is None:
            reply, reply_blobs = self._exchange(header, blobs, timeout)
        else:
            header["threads"] = 1
            reply, reply_blobs = self._counted(count, header, blobs, timeout)
        try:
            value, failure = self._read_reply(reply, reply_blobs)
        except Exception:  # noqa: BLE001 (out of the format, or more than a question holds)
            self.kill()
            raise self._lost("it sent something that is not an answer") from None
        if failure is not None:  # the answer's own exception: it costs only this call
            if not isinstance(failure, ForbiddenCall):
                self.raised = self.raised or _error_name(type(failure).__name__)
            raise failure
        return value

    def _counted(self, count, header, blobs, timeout):
        """``_exchange``, with what it cost the submission added to ``count`` (a
        ``CpuCount``): its sandbox's CPU time, read from its control group before and after;
        the request's wall-clock time where the machine does not count it."""
        before, start = sandbox.cpu_used(self.slot), time.perf_counter()
        reply = self._exchange(header, blobs, timeout)
        after, wall = sandbox.cpu_used(self.slot), time.perf_counter() - start
        if before is None or after is None:
            count.seconds, count.how = count.seconds + wall, "wall-clock time"
        else:
            count.seconds += max(0.0, after - before)
        return reply

    def _exchange(self, header, blobs, timeout):
        deadline = time.monotonic() + timeout
        try:
            self._send(header, blobs, deadline)
            while True:  # the answer may call the test's stand-ins before it replies
                reply = self._receive(deadline - time.monotonic())
                if "callback" not in reply[0]:
                    return reply
                self._call_back(reply[0], deadline)
        except TimeoutError:
            self.kill()
            raise self._lost(f"took longer than {timeout:.0f} s") from None
        except SubmissionGone as error:
            self.kill()
            raise self._lost(self._stopped() or str(error)) from None
        except (OSError, ValueError):
            self.kill()
            raise self._lost(self._stopped() or "its process ended") from None

    def _call_back(self, header, deadline):
        """The answer called one of the test's stand-ins (``{"callback": id}``): call it
        here, with no arguments, and send back what it returned when that is a number (else
        None). An id that is not one of this question's stand-ins, or more than
        ``MAX_CALLBACKS`` calls in a question, break the protocol."""
        ident = header.get("callback")
        if set(header) != {"callback"} or type(ident) is not int or ident not in self.callbacks:
            raise SubmissionGone("it sent something that is not in the grader's format")
        self.callback_calls += 1
        if self.callback_calls > MAX_CALLBACKS:
            raise SubmissionGone(f"it called the test's stand-ins more than {MAX_CALLBACKS} "
                                 "times")
        value = self.callbacks[ident]()
        plain = type(value) in (int, float) and value == value and abs(value) != float("inf")
        self._send({"returned": value if plain else None}, [], deadline)

    def _read_reply(self, reply, blobs):
        """(value, None), or (None, the exception the answer raised or the ForbiddenCall it
        earned); anything out of the format raises."""
        self.changed_in_place = False
        self.budget.charge(1024)
        for change in _items(reply.get("sync", []), dict):
            self._sync(change, blobs)
        seen = getattr(_LOCAL, "seen", None)
        watched = _items(reply.get("watch", []), str)[:5]
        if seen is not None:
            seen.extend(item[:200] for item in watched)
        tripped = _items(reply.get("tripped") or [], str)
        failure = _exception(_checked(reply["error"], dict)) if "error" in reply else None
        self.refused = self.refused or bool(
            tripped or (watched and seen is not None) or isinstance(failure, ForbiddenCall))
        if failure is not None:
            return None, failure
        if tripped or self.changed_in_place:
            return None, ForbiddenCall(tripped[0][:300] if tripped else (
                "your answer changed a tensor it was given, in place: work on new tensors;"
                " never assign into the caller's arguments"))
        classes = _checked(reply.get("classes", {}), dict)
        value = codec.decode(reply.get("value"), blobs,
                             lambda ref, value=None: self._local(ref, value, classes),
                             self.budget)
        return value, None

    def _local(self, ref, value, classes):
        if ref.kind == "h":
            name = classes.get(str(ref.id))
            return Remote(self, self.generation, ref.id, name if isinstance(name, str) else None)
        if ref.kind == "g":  # a tensor in the graph over there: a leaf here
            tensor = value.requires_grad_(value.is_floating_point() or value.is_complex())
            self.graph[id(tensor)] = (tensor, ref.id)
            return tensor
        raise codec.ProtocolError("unexpected reference")

    def _sync(self, change, blobs):
        local = self.mirrors.get(change.get("id")) if type(change.get("id")) is int else None
        if local is None:
            raise codec.ProtocolError("change of an unknown mirror")

        def value(key):
            return codec.decode(change[key], blobs, _no_refs, self.budget)

        with torch.no_grad():
            if isinstance(local, torch.Tensor):
                if "value" in change:  # never copied back: a test may compute its expected
                    self.changed_in_place = True  # value from that tensor afterwards
                if "grad" in change:
                    grad = value("grad")
                    if type(grad) is not torch.Tensor or grad.shape != local.shape:
                        raise codec.ProtocolError("a gradient of the wrong shape")
                    local.grad = grad.to(local.dtype)
            elif isinstance(local, torch.nn.Module):
                state = _checked(value("state"), dict)
                if not all(type(v) is torch.Tensor for v in state.values()):
                    raise codec.ProtocolError("a module's state holds tensors only")
                local.load_state_dict(state, strict=True)
                flags = _items(change.get("training", []), bool)
                modules = list(local.modules())
                if len(flags) == len(modules):
                    for module, flag in zip(modules, flags, strict=True):
                        module.training = flag
            elif isinstance(local, torch.optim.Optimizer):
                local.load_state_dict(_checked(value("state"), dict))

    def backward(self, tensor, args):
        _, handle = self.graph[id(tensor)]
        saved = getattr(_LOCAL, "question", None)
        self.request("backward", target=Remote(self, self.generation, handle, None),
                     args=list(args))
        _LOCAL.question = saved


_CELL_ERRORS = frozenset(cls.__name__ for cls in (
    *_BUILTIN_ERRORS.values(), StopIteration, SystemExit, KeyboardInterrupt, SyntaxError,
    IndentationError, FileNotFoundError, PermissionError, TimeoutError, UnicodeError))


def _error_name(name):
    """How a cell's exception is named in the notes: a built-in exception's name (the
    grader's words), "an exception" for any other, None for none."""
    if name is None:
        return None
    return name if isinstance(name, str) and name in _CELL_ERRORS else "an exception"


def _printable(text):
    """``text`` with anything but printable characters made spaces, on one line."""
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())


def _checked(value, kind):
    """``value`` if it is a ``kind``, else ProtocolError."""
    if not isinstance(value, kind):
        raise codec.ProtocolError(f"expected a {kind.__name__} in a reply")
    return value


def _items(value, kind, most=10_000):
    """``value``, a list of at most ``most`` items of ``kind``, else ProtocolError."""
    if not isinstance(value, list) or len(value) > most or not all(
            type(item) is kind for item in value):
        raise codec.ProtocolError(f"expected a list of {kind.__name__} in a reply")
    return value


def _no_refs(ref, value=None):
    raise codec.ProtocolError("a reference where only data may be")


class _Encoder:
    """Arguments of a request: data by value; tensors, modules and optimizers as mirrors
    (one mirror per object, so the optimizer's parameters are the module's)."""

    def __init__(self, submission, blobs, definitions):
        self.submission, self.blobs, self.definitions = submission, blobs, definitions
        self.ids = {}
        self.optimizers = []

    def encode(self, value):
        return codec.encode(value, self.blobs, self._refer, tensors=False)

    def _new_id(self, value):
        mirror_id = len(self.submission.mirrors) + 1
        self.submission.mirrors[mirror_id] = value
        self.ids[id(value)] = mirror_id
        return mirror_id

    def _refer(self, value):
        if isinstance(value, Remote):
            if value._submission is not self.submission or (
                    value._generation != self.submission.generation):
                raise SubmissionGone("its process was restarted after it ended or hung")
            return codec.Ref("h", value._id)
        if id(value) in self.ids:
            return codec.Ref("m", self.ids[id(value)])
        if callable_stand_in(value):  # it stays here; the answer may only call it
            ident = len(self.submission.callbacks) + 1
            self.submission.callbacks[ident] = value
            return codec.Ref("c", ident)
        if isinstance(value, torch.Tensor):
            if id(value) in self.submission.graph:
                return codec.Ref("h", self.submission.graph[id(value)][1])
            mirror_id = self._new_id(value)
            self.definitions.append({
                "kind": "tensor", "id": mirror_id, "requires_grad": value.requires_grad,
                "value": codec.encode(value.detach(), self.blobs, _no_refs)})
            return codec.Ref("m", mirror_id)
        if isinstance(value, torch.nn.Module):
            mirror_id = self._new_id(value)
            self.definitions.append({"kind": "module", "id": mirror_id,
                                     "module": self._module(value)})
            return codec.Ref("m", mirror_id)
        if isinstance(value, torch.optim.Optimizer):
            mirror_id = self._new_id(value)
            self.optimizers.append((mirror_id, value))
            return codec.Ref("m", mirror_id)
        raise TypeError(f"a test cannot pass a {type(value).__name__} to a submission")

    def _module(self, module):
        cls = type(module)
        if cls is Probe:
            name = "Probe"
        elif getattr(torch.nn, cls.__name__, None) is cls:
            name = cls.__name__
        else:
            raise TypeError(f"a test can pass only torch.nn's own layers to a submission, "
                            f"not {cls.__qualname__}")
        if any(getattr(module, hooks, None) for hooks in (
                "_forward_hooks", "_forward_pre_hooks", "_backward_hooks")):
            raise TypeError("a module with hooks cannot be passed to a submission "
                            "(use coursekit.grading.Probe)")
        attrs = {}
        for key, value in vars(module).items():
            if key.startswith("_") and key not in ("_reversed_padding_repeated_twice",):
                continue
            if _plain(value):
                attrs[key] = codec.encode(value, self.blobs, _no_refs)
        params = {}
        for name_, parameter in module._parameters.items():
            params[name_] = None if parameter is None else self._refer(parameter).id
        buffers = {name_: None if buffer is None else codec.encode(buffer, self.blobs, _no_refs)
                   for name_, buffer in module._buffers.items()}
        children = {name_: None if child is None else self._module(child)
                    for name_, child in module._modules.items()}
        return {"cls": name, "attrs": attrs, "params": params, "buffers": buffers,
                "children": children,
                "nonpersistent": sorted(module._non_persistent_buffers_set)}

    def finish(self):
        """The mirror definitions, optimizers last (their parameters are mirrors by then)."""
        for mirror_id, optimizer in self.optimizers:
            groups = []
            for group in optimizer.param_groups:
                hyper = {k: v for k, v in group.items() if k != "params"}
                groups.append({"params": [self._refer(p).id for p in group["params"]],
                               "hyper": codec.encode(hyper, self.blobs, _no_refs)})
            self.definitions.append({
                "kind": "optimizer", "id": mirror_id, "cls": type(optimizer).__name__,
                "groups": groups,
                "state": codec.encode(optimizer.state_dict(), self.blobs, _no_refs)})
        return self.definitions


def _plain(value):
    if value is None or isinstance(value, (bool, int, float, str)):
        return True
    if isinstance(value, (tuple, list)):
        return all(_plain(item) for item in value)
    return False


# ---------------------------------------------------- backward() on a tensor from there

_original_backward = torch.Tensor.backward


def _backward(self, *args, **kwargs):
    submission = getattr(_LOCAL, "submission", None)
    if submission is not None and id(self) in submission.graph:
        return submission.backward(self, [*args, *kwargs.values()])
    return _original_backward(self, *args, **kwargs)


def install_backward():
    """Route ``backward()`` of tensors that came from a submission's graph back to it."""
    torch.Tensor.backward = _backward
