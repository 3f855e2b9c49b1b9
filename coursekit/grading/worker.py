"""The submission's side of grading: runs inside the sandbox, as the student's own process.

``python -m coursekit.grading.worker`` reads the notebook from its channel (stdin), runs
its code cells one by one (IPython, so magics work; any kernel name or metadata will do),
reporting each cell as it starts and ends, then answers the grader's requests: look up a
name, call an object, read an attribute, apply an operator, iterate. Arguments come in as
data and as mirrors of the grader's tensors, modules and optimizers; results go out as data
or as handles. Nothing here decides a score, and no test and no expected value ever
arrives: a student's code that patches this module or lies on the channel can only send
the grader wrong numbers.

Before any student code runs, coursekit's own implementations of the functions the
questions ask for are replaced by tripwires (``install_tripwires``): while a question's
answer is called, calling them fails the call.
"""

import contextlib
import importlib
import operator
import os
import pkgutil
import sys
import traceback

import torch

from coursekit.grading import codec, fakes
from coursekit.grading.failures import ForbiddenCall
from coursekit.grading.guards import refusing, watching

ACTIVE = {"question": None, "tripped": []}
"""The question whose answer is being called now (None while the notebook runs)."""

OPERATORS = {name: getattr(operator, name) for name in (
    "add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul", "neg", "pos", "abs",
    "eq", "ne", "lt", "le", "gt", "ge", "getitem", "contains", "and_", "or_", "invert")}
BUILTINS = {"bool": bool, "float": float, "int": int, "len": len, "iter": iter, "next": next,
            "str": str, "repr": repr}
_SKIP_MODULES = ("coursekit.grading", "coursekit.widgets", "coursekit.viz", "coursekit.setup",
                 "coursekit.course", "coursekit.prediction_browser")


class StandIn:
    """One of the test's stand-ins (a fake clock, a function whose first calls are slow, a
    fake GPU's ``launch`` or ``sync``, a sleep), as the answer gets it: a function of no
    arguments. A call asks the grader, where the stand-in lives, to call it, and returns
    what it returned (a number, or None). Nothing else of it is here: what it counts, how far
    its clock moved and what it was made with stay in the grader."""

    __slots__ = ("_ask", "_id")

    def __init__(self, ask, ident):
        object.__setattr__(self, "_ask", ask)
        object.__setattr__(self, "_id", ident)

    def __call__(self, *args, **kwargs):
        if args or kwargs:
            raise TypeError("the test's stand-in takes no arguments")
        return self._ask(self._id)

    def __setattr__(self, name, value):
        raise AttributeError("the test's stand-in cannot be changed")

    def __repr__(self):
        return "<a stand-in of the test's>"


class Tripwire(AssertionError):
    """Raised when an answer calls coursekit's own implementation of its question."""


# ----------------------------------------------------------------------------- tripwires


def _trip(original, questions):
    where = getattr(original, "__module__", "coursekit").replace(".", "/")
    name = getattr(original, "__qualname__", "?")

    def check():
        if ACTIVE["question"] in questions:
            message = (f"your answer calls {name} from {where}.py: this question asks you to "
                       "write it yourself")
            ACTIVE["tripped"].append(message)
            raise Tripwire(message)

    if isinstance(original, type):
        def __init__(self, *args, **kwargs):
            check()
            original.__init__(self, *args, **kwargs)
        return type(original.__name__, (original,), {
            "__init__": __init__, "__module__": original.__module__,
            "__qualname__": original.__qualname__, "__doc__": original.__doc__})

    def tripwire(*args, **kwargs):
        check()
        return original(*args, **kwargs)
    tripwire.__name__, tripwire.__qualname__ = original.__name__, name
    tripwire.__doc__, tripwire.__module__ = original.__doc__, original.__module__
    return tripwire


def install_tripwires(names_by_question):
    """Replace coursekit's functions and classes named like a question's answers (e.g.
    ``coursekit.losses.soft_dice_loss`` for a question that asks for ``soft_dice_loss``) by
    tripwires, in every coursekit module that holds them; returns how many."""
    import coursekit

    questions_of = {}
    for question, names in names_by_question.items():
        for name in names:
            questions_of.setdefault(name, set()).add(question)
    for info in pkgutil.walk_packages(coursekit.__path__, "coursekit."):
        if not info.name.startswith(_SKIP_MODULES):
            with contextlib.suppress(Exception):
                importlib.import_module(info.name)
    wires = {}
    for module_name, module in list(sys.modules.items()):
        if not module_name.startswith("coursekit.") or module_name.startswith(_SKIP_MODULES):
            continue
        for name, questions in questions_of.items():
            original = module.__dict__.get(name)
            if callable(original) and getattr(original, "__module__", "").startswith("coursekit"):
                if id(original) not in wires:
                    wires[id(original)] = _trip(original, frozenset(questions))
                module.__dict__[name] = wires[id(original)]
    return len(wires)


# ------------------------------------------------------------------------ the notebook


def run_notebook(notebook, skip, report):
    """Run the code cells of ``notebook`` (a dict) in one IPython namespace; returns it.

    ``report(header)`` tells the grader when each cell starts and how it ended. Cells in
    ``skip`` (those that killed an earlier run) are left out. An error in a cell is
    reported and the next cell runs, as in "Run all" with errors allowed.
    """
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    shell.run_cell("%matplotlib agg", store_history=False, silent=True)
    cells = notebook.get("cells", []) if isinstance(notebook, dict) else []
    for index, cell in enumerate(cells):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code" or index in skip:
            continue
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else str(source)
        report({"cell": index})
        error = None
        try:
            result = shell.run_cell(source, store_history=False)
            error = result.error_before_exec or result.error_in_exec
        except BaseException as raised:  # noqa: B036 (the student's cell may raise anything)
            error = raised
        report({"cell_done": index, "error": type(error).__name__ if error else None,
                "said": _error_text(error) if error else None})
    return shell.user_ns


def _error_text(error):
    text = f"{type(error).__name__}: {error}"
    return text if len(text) < 500 else text[:499] + "…"


# -------------------------------------------------------------------------- requests


class Server:
    """Answers the grader's requests about the objects of one submission's namespace."""

    def __init__(self, namespace, ask=None):
        self.namespace = namespace
        self.ask = ask  # ask(id): call the grader's stand-in ``id``; what it returned
        self.handles = {}
        self.classes = {}
        self.mirrors = {}  # id -> (kind, object, snapshot)

    # objects out -----------------------------------------------------------------
    def _refer(self, value):
        handle = len(self.handles) + 1
        self.handles[handle] = value
        kind = type(value)
        self.classes[handle] = f"{kind.__module__}.{kind.__qualname__}"
        is_graph_tensor = type(value) is torch.Tensor and value.requires_grad
        return codec.Ref("g" if is_graph_tensor else "h", handle)

    def _out(self, value, blobs):
        self.classes = {}
        data = codec.encode(value, blobs, self._refer)
        return data, self.classes

    # objects in ------------------------------------------------------------------
    def _resolve(self, ref, value=None):
        if ref.kind == "h" and ref.id in self.handles:
            return self.handles[ref.id]
        if ref.kind == "m" and ref.id in self.mirrors:
            return self.mirrors[ref.id][1]
        if ref.kind == "c" and self.ask is not None:
            return StandIn(self.ask, ref.id)
        raise codec.ProtocolError(f"unknown reference {ref}")

    def _build_mirrors(self, definitions, blobs):
        for definition in definitions:
            kind, mirror_id = definition["kind"], definition["id"]
            if kind == "tensor":
                tensor = codec.decode(definition["value"], blobs, self._resolve).clone()
                if definition.get("requires_grad"):
                    tensor.requires_grad_(True)
                self.mirrors[mirror_id] = ("tensor", tensor, tensor.detach().clone())
            elif kind == "module":
                module = self._build_module(definition["module"], blobs)
                self.mirrors[mirror_id] = ("module", module, None)
            elif kind == "optimizer":
                optimizer = self._build_optimizer(definition, blobs)
                self.mirrors[mirror_id] = ("optimizer", optimizer, None)
            else:
                raise codec.ProtocolError(f"unknown mirror kind {kind!r}")

    def _build_module(self, spec, blobs):
        cls = getattr(torch.nn, spec["cls"], None)
        if spec["cls"] == "Probe":
            cls = fakes.Probe
        if not (isinstance(cls, type) and issubclass(cls, torch.nn.Module)):
            raise codec.ProtocolError(f"not a torch.nn module: {spec['cls']!r}")
        module = cls.__new__(cls)
        torch.nn.Module.__init__(module)
        for key, value in spec["attrs"].items():
            setattr(module, key, codec.decode(value, blobs, self._resolve))
        for name, mirror_id in spec["params"].items():
            if mirror_id is None:
                module.register_parameter(name, None)
                continue
            _, tensor, _ = self.mirrors[mirror_id]
            parameter = torch.nn.Parameter(tensor.detach(), requires_grad=tensor.requires_grad)
            module.register_parameter(name, parameter)
            self.mirrors[mirror_id] = ("parameter", parameter, None)
        for name, value in spec["buffers"].items():
            tensor = None if value is None else codec.decode(value, blobs, self._resolve)
            module.register_buffer(name, tensor, persistent=name not in spec["nonpersistent"])
        for name, child in spec["children"].items():
            module.add_module(name, None if child is None else self._build_module(child, blobs))
        return module

    def _build_optimizer(self, definition, blobs):
        cls = getattr(torch.optim, definition["cls"], None)
        if not (isinstance(cls, type) and issubclass(cls, torch.optim.Optimizer)):
            raise codec.ProtocolError(f"not a torch.optim optimizer: {definition['cls']!r}")
        groups = []
        for group in definition["groups"]:
            hyper = codec.decode(group["hyper"], blobs, self._resolve)
            groups.append({**hyper, "params": [self.mirrors[i][1] for i in group["params"]]})
        optimizer = cls(groups)
        optimizer.load_state_dict(codec.decode(definition["state"], blobs, self._resolve))
        return optimizer

    def _sync(self, blobs):
        """What changed in the mirrors, for the grader to copy back into its objects."""
        changes = []
        for mirror_id, (kind, value, snapshot) in self.mirrors.items():
            if kind == "tensor":
                change = {"id": mirror_id}
                if not _same(value.detach(), snapshot):
                    change["value"] = codec.encode(value.detach(), blobs, self._refer)
                    self.mirrors[mirror_id] = (kind, value, value.detach().clone())
                if value.grad is not None:
                    change["grad"] = codec.encode(value.grad.detach(), blobs, self._refer)
                if len(change) > 1:
                    changes.append(change)
            elif kind == "module":
                state = {k: v.detach() for k, v in value.state_dict().items()}
                changes.append({"id": mirror_id,
                                "state": codec.encode(state, blobs, self._refer),
                                "training": [m.training for m in value.modules()]})
            elif kind == "optimizer":
                changes.append({"id": mirror_id, "state": codec.encode(
                    value.state_dict(), blobs, self._refer)})
        return changes

    # the requests ----------------------------------------------------------------
    def handle(self, header, blobs):
        op = header.get("op")
        if op == "reset":
            self.handles, self.mirrors = {}, {}
            return {"ok": True}, []
        with _threads(header.get("threads")):  # all of a timed request on one thread
            return self._handle(op, header, blobs)

    def _handle(self, op, header, blobs):
        self._build_mirrors(header.get("mirrors", []), blobs)
        out_blobs = []
        question = header.get("question")
        ACTIVE["question"], ACTIVE["tripped"] = question, []
        watch = header.get("watch")
        seen = []
        try:
            with torch.set_grad_enabled(bool(header.get("grad", True))), \
                    _forbidden(header.get("forbid", [])), _watching(watch, seen):
                result = self._perform(op, header, blobs)
            data, classes = self._out(result, out_blobs)
            reply = {"value": data, "classes": classes}
        except BaseException as error:  # noqa: B036 (SystemExit, KeyboardInterrupt too)
            reply = {"error": {"type": type(error).__name__, "message": _message(error)}}
            if isinstance(error, (Tripwire, ForbiddenCall)):
                reply["error"]["type"] = "ForbiddenCall"
        finally:
            ACTIVE["question"] = None
        reply["tripped"] = list(ACTIVE["tripped"])
        reply["watch"] = seen[:5]
        reply["sync"] = self._sync(out_blobs)
        return reply, out_blobs

    def _perform(self, op, header, blobs):
        def arg(key):
            return codec.decode(header.get(key), blobs, self._resolve)

        if op == "lookup":
            name = header["name"]
            if name not in self.namespace:
                return {"$missing": True}
            return self.namespace[name]
        target = arg("target")
        if op == "call":
            return target(*arg("args"), **arg("kwargs"))
        if op == "getattr":
            return getattr(target, header["name"])
        if op == "setattr":
            setattr(target, header["name"], arg("value"))
            return None
        if op == "operator":
            return OPERATORS[header["name"]](target, *arg("args"))
        if op == "builtin":
            return BUILTINS[header["name"]](target)
        if op == "value":
            return target.detach() if isinstance(target, torch.Tensor) else target
        if op == "backward":
            target.backward(*arg("args"))
            return None
        raise codec.ProtocolError(f"unknown request {op!r}")


def _bytes(tensor):
    """The bytes of a CPU tensor, in order (any dtype, bfloat16 and bool included)."""
    return tensor.contiguous().reshape(-1).view(torch.uint8).numpy().tobytes()


def _same(tensor, snapshot):
    """True when ``tensor`` holds the very bytes of ``snapshot`` (same shape and dtype): each
    mirror is compared after every request, so this must be cheap (torch.equal took 3-6 ms
    on a 200 kB uint8 tensor here, this 15 us), and a NaN left as it was is no change."""
    if tensor.shape != snapshot.shape or tensor.dtype != snapshot.dtype:
        return False
    return tensor.numel() == 0 or _bytes(tensor) == _bytes(snapshot)


def _message(error):
    text = str(error)
    return text if len(text) < 1000 else text[:999] + "…"


def _forbidden(names):
    """``guards.refusing``: torch's ``names`` switched off around each call of the answer."""
    return refusing(names or ())


@contextlib.contextmanager
def _threads(count):
    """torch on ``count`` threads within this block (a timed request asks for one: the
    grader counts the CPU time of all of them); as it is for None."""
    saved = torch.get_num_threads()
    change = type(count) is int and 1 <= count != saved
    if change:
        torch.set_num_threads(count)
    try:
        yield
    finally:
        if change:
            torch.set_num_threads(saved)


def _watching(off_limits, seen):
    """``guards.watching``: the same watch as ``checks.computed_by_hand``, here around each
    call of the answer."""
    return watching(off_limits, seen)


# ------------------------------------------------------------------------------ main


def drop_privileges():
    """Inside the sandbox as root (``COURSEKIT_SANDBOX_UID`` set): become that user, with no
    groups and no capabilities left, before any student code runs."""
    uid = os.environ.pop("COURSEKIT_SANDBOX_UID", None)
    if uid is not None and os.getuid() == 0:
        os.setgroups([])
        os.setgid(int(uid))
        os.setuid(int(uid))
    if os.getuid() == 0 and os.environ.get("COURSEKIT_GRADING_UNSAFE") != "1":
        raise SystemExit("the grading worker will not run student code as root")


def main():
    """Serve one submission over stdin/stdout; the student's prints go nowhere."""
    drop_privileges()
    channel_in = os.fdopen(os.dup(0), "rb", buffering=0)
    channel_out = os.fdopen(os.dup(1), "wb")
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    sys.stdin = open(os.devnull)  # noqa: SIM115
    sys.stdout = sys.stderr = open(os.devnull, "w")  # noqa: SIM115

    def send(header, blobs=()):
        data = codec.frame(header, list(blobs))
        if not codec.fits(data, codec.GRADER_CAPS):  # the grader would refuse it: say why
            data = codec.frame({"error": {
                "type": "MemoryError", "message": "the answer's result is larger than the "
                f"grader takes in one reply ({codec.GRADER_CAPS.total >> 20} MiB)"}})
        channel_out.write(data)
        channel_out.flush()

    start, _ = codec.read_message(channel_in)
    from coursekit.grading import student

    student.IN_GRADING_SANDBOX = True
    try:
        install_tripwires(start.get("tripwires", {}))
    except Exception as error:  # a broken coursekit module: say so, grade on
        send({"note": f"tripwires: {_error_text(error)}"})
    try:
        namespace = run_notebook(start.get("notebook"), set(start.get("skip", [])), send)
    except Exception as error:  # the worker itself broke, not a cell: say why, then end
        send({"note": f"worker: {_error_text(error)}"})
        raise
    send({"ready": True})

    def ask(ident):
        """Call the grader's stand-in ``ident`` (while a request is answered); its value."""
        send({"callback": ident})
        header, _ = codec.read_message(channel_in)
        if set(header) != {"returned"}:
            raise codec.ProtocolError("the grader did not answer a stand-in's call")
        return header["returned"]

    server = Server(namespace, ask)
    while True:
        try:
            header, blobs = codec.read_message(channel_in)
        except EOFError:
            return
        try:
            reply, out_blobs = server.handle(header, blobs)
        except Exception as error:  # a request we could not even read
            reply, out_blobs = {"error": {"type": "ProtocolError",
                                          "message": _error_text(error)}}, []
            traceback.clear_frames(error.__traceback__)
        try:
            send(reply, out_blobs)
        except (TypeError, ValueError) as error:
            send({"error": {"type": "ProtocolError", "message": _error_text(error)}})


if __name__ == "__main__":
    main()
