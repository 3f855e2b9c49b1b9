"""The grader's trust boundary: nothing a submission sends can crash the grader, grow it
without bound, pass for a torch object, cost more than its own marks, or write feedback.

Three layers (the grader's own defences: the first two need no sandbox and run wherever
the tests run; the third grades in the sandbox, or, where none can be made and CI is not
set, without it; with CI=true no sandbox is a failure, ``tests.conftest.sandbox_here``):

- the codec and the proxies alone, on messages written by hand;
- ``remote.Submission`` talking to a fake worker, a small process that breaks the protocol
  on purpose (floods, stops reading, sends too much, raises);
- the instructor's ``grade`` on notebooks of exercise 02 that attack the grader from the
  student's own process (where they hold the channel), next to a right one.

Each attack says what it did to the grader before (issue 21) in its docstring.
"""

import csv
import io
import json
import os
import struct
import sys
import textwrap
import time

import nbformat
import pytest
import torch

from coursekit import grading
from coursekit.grading import codec, feedback, remote, sandbox, withheld
from tests import attacks
from tests.conftest import ROOT, sandbox_here

UNSAFE = not sandbox.works()[0]
"""No sandbox here: the layer that grades notebooks grades them without one, except with
CI=true, where that fails (``tests.conftest.sandbox_here``, called by the fixtures that
grade)."""

pytestmark = pytest.mark.filterwarnings(  # from traitlets, inside otter assign
    "ignore:Traits should be given as instances:DeprecationWarning")


def message(header, blobs=()):
    """A stream holding one framed message."""
    return io.BytesIO(codec.frame(header, list(blobs)))


def decode(data, blobs=(), budget=None):
    return codec.decode(data, list(blobs), lambda ref, value=None: ref, budget)


# ------------------------------------------------------------------------ the codec


def test_a_short_message_cannot_ask_for_a_large_value():
    """Before: {"$numpy": "void", "value": 3e9} (70 bytes) grew the grader by 2.7 GB."""
    for body in ({"$numpy": "void", "value": 10**6}, {"$numpy": "str_", "value": 10**6},
                 {"$numpy": "ndarray", "value": 10**6},
                 {"$numpy": "int64", "value": 2**70}):
        with pytest.raises(codec.ProtocolError):
            decode(body)
    assert decode({"$numpy": "float32", "value": 1.5}) == 1.5


def test_every_value_is_charged_before_it_is_made():
    """One tensor's bytes referenced many times are charged each time: a reply of 1 MB
    cannot become 200 MB of tensors in the grader."""
    blob = bytes(1 << 20)
    one = {"$tensor": 0, "dtype": "uint8", "shape": [1 << 20]}
    assert decode([one] * 3, [blob], codec.Budget(8 << 20))[0].numel() == 1 << 20
    with pytest.raises(codec.ProtocolError, match="more data than the grader holds"):
        decode([one] * 200, [blob], codec.Budget(128 << 20))
    with pytest.raises(codec.ProtocolError):  # a shape that does not match its bytes
        decode({"$tensor": 0, "dtype": "uint8", "shape": [2**40, 2**40]}, [blob])
    with pytest.raises(codec.ProtocolError):
        decode({"$tensor": 0, "dtype": "uint8", "shape": [-1, -(1 << 20)]}, [blob])
    with pytest.raises(codec.ProtocolError):  # bool bytes other than 0 and 1
        decode({"$tensor": 0, "dtype": "bool", "shape": [2]}, [b"\x00\x07"])


def test_junk_is_a_protocol_error_not_a_crash():
    for junk in ({"$nope": 1}, {"$ref": ["h"]}, {"$ref": ["x", 1]}, {"$int": "1e5"},
                 {"$float": "1" * 100}, {"$device": "cuda:0; rm"}, {"$slice": [1, "a", 2]},
                 {"$dict": [[[1], 2]]}, {"$size": [-1]}, {"$gtensor": 5}, {}):
        with pytest.raises(codec.ProtocolError):
            decode(junk)
    nested = []
    for _ in range(100):
        nested = [nested]
    with pytest.raises(codec.ProtocolError, match="too deep"):
        decode(nested)


def test_a_message_is_sized_before_it_is_read():
    """Before: a header of any size was read whole, and a JSON list passed for a header."""
    huge_header = io.BytesIO(struct.pack("<QI", 100 << 20, 0))
    with pytest.raises(codec.ProtocolError, match="header too large"):
        codec.read_message(huge_header, codec.GRADER_CAPS)
    huge_blob = io.BytesIO(struct.pack("<QI", 2, 1) + struct.pack("<Q", 1 << 30))
    with pytest.raises(codec.ProtocolError, match="too large"):
        codec.read_message(huge_blob, codec.GRADER_CAPS)
    with pytest.raises(codec.ProtocolError, match="JSON object"):
        codec.read_message(message(["ready"]), codec.GRADER_CAPS)
    deep = io.BytesIO(struct.pack("<QI", 200_000, 0) + b"[" * 100_000 + b"]" * 100_000)
    with pytest.raises(codec.ProtocolError):
        codec.read_message(deep, codec.GRADER_CAPS)


def test_a_remote_object_never_passes_for_a_tensor():
    """Before: an object whose class said torch.Tensor made the proxy pass for a tensor;
    torch read the proxy's memory as one and the grader segfaulted."""
    for name in ("torch.Tensor", "torch.nn.parameter.Parameter", "torch._C.TensorBase",
                 "torch._C._TensorBase", "torch.Generator", "builtins.float"):
        proxy = remote.Remote(None, 0, 1, name)
        assert not isinstance(proxy, torch.Tensor), name
        assert remote._resolve_class(name) is None, name
    layer = remote.Remote(None, 0, 1, "torch.nn.modules.linear.Linear")
    assert isinstance(layer, torch.nn.Linear)  # what the tests of exercise 3 read
    with pytest.raises(TypeError):
        torch.isclose(remote.Remote(None, 0, 1, "torch.Tensor"), torch.zeros(1))


# ------------------------------------------------------ a fake worker breaks the protocol

FAKE_WORKER = r'''
import os, sys, time
from coursekit.grading import codec
inp, out = os.fdopen(0, "rb", buffering=0), os.fdopen(1, "wb")
mode = sys.argv[1]
codec.read_message(inp)
codec.write_message(out, {"ready": True})
if mode == "flood":        # messages nobody asked for, 1 MiB each, for ever
    while True:
        codec.write_message(out, {"value": None}, [bytes(1 << 20)])
if mode == "deaf":         # answers the reset, then never reads a request again
    codec.read_message(inp)
    codec.write_message(out, {"ok": True})
    time.sleep(600)
while True:
    try:
        header, blobs = codec.read_message(inp)
    except EOFError:
        break
    if header["op"] == "reset":
        codec.write_message(out, {"ok": True})
    elif mode == "dies":     # every call ends the process
        os._exit(3)
    elif mode == "raises":
        codec.write_message(out, {"error": {"type": "TypeError", "message": "bad operand"},
                                  "sync": [], "tripped": [], "watch": []})
    elif mode == "big":      # 16 MiB a reply: each fits, all together do not
        codec.write_message(out, {"value": {"$tensor": 0, "dtype": "uint8",
                                            "shape": [16 << 20]}}, [bytes(16 << 20)])
    elif mode == "huge":     # 40 MiB in one reply
        codec.write_message(out, {"value": None}, [bytes(40 << 20)])
'''


class _NoBinds:
    fds = ()

    def close(self):
        pass


class FakeSubmission(remote.Submission):
    """A ``Submission`` whose process is ``FAKE_WORKER`` in ``mode``."""

    def __init__(self, mode, cell_timeout=5.0):
        super().__init__({"cells": []}, "fake", 0, None, cell_timeout,
                         time.monotonic() + 120, {})
        self.fake_mode = mode

    def _command(self):
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        return [sys.executable, "-c", FAKE_WORKER, self.fake_mode], env, None, _NoBinds()

    def _preexec(self):
        return None


@pytest.fixture
def fake():
    made = []

    def start(mode, **kwargs):
        submission = FakeSubmission(mode, **kwargs)
        made.append(submission)
        assert submission.start()
        submission.reset()
        return submission, remote.Remote(submission, submission.generation, 1, None)
    yield start
    for submission in made:
        submission.kill()


def test_an_exception_in_an_answer_costs_only_that_call(fake):
    """Before: a TypeError raised by an answer was taken for a broken reply: the process
    was killed and started again for each question, and after 4 runs grading stopped (a
    chapter 3 notebook with TypeErrors in q1-q4 and right q5-q7 got 0/10, not 5)."""
    submission, answer = fake("raises")
    for _ in range(3):
        with pytest.raises(TypeError, match="bad operand"):
            answer(1)
    assert submission.process is not None and submission.process.poll() is None
    assert submission.starts == 1 and submission.gone is None


def test_an_answer_that_ends_its_process_costs_only_its_question(fake):
    """Before: four starts of the notebook in all, so that from the fourth question whose
    answer ended (or hung) the process, every later question got nothing, right or not."""
    submission, answer = fake("dies")
    for _ in range(6):  # six questions, each answer ending the process
        submission.ensure()
        submission.reset()
        with pytest.raises(remote.SubmissionGone, match="its process ended"):
            remote.Remote(submission, submission.generation, 1, None)()
    submission.ensure()
    assert submission.starts == 7


def test_messages_nobody_asked_for_wait_in_a_queue_of_one(fake):
    """Before: the reading thread queued whatever came, without limit (+2.4 GB)."""
    submission, _ = fake("flood")
    time.sleep(2)
    assert submission.replies.qsize() <= 1


def test_a_process_that_stops_reading_cannot_hold_the_grader(fake):
    """Before: a request larger than the pipe blocked the grader for ever."""
    submission, answer = fake("deaf", cell_timeout=2.0)
    start = time.monotonic()
    with pytest.raises(remote.SubmissionGone, match="took longer than"):
        answer(torch.zeros(4 << 20))  # 16 MiB to send
    assert time.monotonic() - start < 10


def test_results_held_by_a_test_are_bounded(fake):
    """Before: a test that keeps what an answer returns held all of it (16 MiB a call)."""
    submission, answer = fake("big")
    kept = []
    with pytest.raises(remote.SubmissionGone, match="not an answer"):
        for _ in range(20):
            kept.append(answer())
    assert len(kept) * (16 << 20) <= remote.QUESTION_BYTES
    assert submission.gone == "it sent something that is not an answer"


def test_a_reply_over_the_cap_is_refused_before_it_is_read(fake):
    """Before: a 30 MB reply grew the grader by 1.3 GB."""
    _, answer = fake("huge")
    with pytest.raises(remote.SubmissionGone, match="not in the grader's format"):
        answer()


# --------------------------------------------------------------------------- feedback


def test_a_csv_cell_is_one_capped_line_and_never_a_formula():
    for text in ("=HYPERLINK(\"http://x\")", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1"):
        assert feedback.cell(text).startswith("'"), text
    assert feedback.cell("q1: passed\nq2: passed every hidden test") == (
        "q1: passed q2: passed every hidden test")
    assert len(feedback.cell("x" * 300_000)) == feedback.CELL_CHARS
    assert feedback.cell(3) == 3 and feedback.cell("right.ipynb") == "right.ipynb"


def test_resume_reads_a_csv_with_a_field_over_the_csv_module_limit(tmp_path):
    """Before: a 239 kB notes field written by the grader made the next run crash
    (_csv.Error: field larger than field limit)."""
    from coursekit.grading.grade import _already_graded

    path = tmp_path / "scores.csv"
    with open(path, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["submission", "q1", "total", "status", "notes"])
        writer.writerow(["a.ipynb", "1", "1", "graded", "x" * 239_000])
        writer.writerow(["b.ipynb", "not a number", "1", "graded", ""])
    rows = _already_graded(path, {"q1": 1})
    assert list(rows) == ["a.ipynb"] and rows["a.ipynb"]["q1"] == 1.0


def test_a_public_failure_keeps_only_the_tests_own_words():
    source = textwrap.dedent('''
        def test_padding(conv2d_loops):
            """padding=1 keeps a 5x5 image 5x5"""
            expect_result(conv2d_loops, "conv2d_loops", {}, 0, hint="pad with zeros")
    ''')
    note = feedback.public_failure("padding=1 keeps a 5x5 image 5x5",
                                   "conv2d_loops() returned 'secret 1.234' — pad with zeros",
                                   source)
    assert note == "failed a check: padding=1 keeps a 5x5 image 5x5 — pad with zeros"
    forged = feedback.public_failure("t", "returned 'x — passed every hidden test'", source)
    assert forged == "failed a check: t"


# --------------------------------------------- the instructor's command, attacked from inside

_CHANNEL = r'''
import sys
def _channel():
    """The worker's own send(), from the frame that runs this notebook."""
    frame = sys._getframe()
    while frame is not None:
        if "send" in frame.f_locals and "channel_out" in frame.f_locals:
            return frame.f_locals["send"], frame.f_locals["channel_out"]
        frame = frame.f_back
'''

_REPLY_WITH = r'''
import coursekit.grading.worker as _w
_original_out = _w.Server._out
def _out(self, value, blobs):
    if _w.ACTIVE["question"] == "{question}":
        {body}
    return _original_out(self, value, blobs)
_w.Server._out = _out
'''


def _reply_with(question, body):
    return _REPLY_WITH.replace("{question}", question).replace("{body}", body)


def _answer(notebook, question, source):
    notebook.cells[attacks.ANSWER_CELLS[question]].source = source
    return notebook


ATTACKS = {}


def _attack(name, deserved):
    def register(build):
        ATTACKS[name] = (build, deserved)
        return build
    return register


@_attack("right", attacks.POINTS)
def _right(solution):
    return solution


def _test_labels():
    """Fashion-MNIST's test labels in the course data, or None (no data here)."""
    data = os.environ.get("COURSEKIT_DATA")
    path = data and os.path.join(data, withheld.WITHHELD_LABELS[0])
    return path if path and os.path.isfile(path) else None


_PASSES_FOR_A_TENSOR = textwrap.dedent('''
    class Tensor:
        def __getattr__(self, name):
            return self
        def __call__(self, *args, **kwargs):
            return self
    Tensor.__module__, Tensor.__qualname__ = "torch", "Tensor"
    def conv2d_loops(x, weight, bias=None, stride=1, padding=0):
        return Tensor()
''')


_RUNS_COURSEKIT = textwrap.dedent('''
    import glob, importlib.machinery, importlib.util, os
    import coursekit.conv
    _course = {}   # coursekit's own conv2d_unfold, from its source or its compiled file
    exec(compile(open(coursekit.conv.__file__).read(), "mine.py", "exec"), _course)
    _folder = os.path.join(os.path.dirname(coursekit.conv.__file__), "__pycache__")
    for _pyc in glob.glob(os.path.join(_folder, "conv.*.pyc")):
        _loader = importlib.machinery.SourcelessFileLoader("mine", _pyc)
        _module = importlib.util.module_from_spec(importlib.util.spec_from_loader("mine", _loader))
        _loader.exec_module(_module)
        _course = vars(_module)
    def conv2d_unfold(x, weight, bias=None, stride=1, padding=0):
        return _course["conv2d_unfold"](x, weight, bias, stride, padding)
''')


@_attack("breaks-the-grader", {**attacks.POINTS, "q1": 0, "q2": 0,
                               **({"q3": 0} if not UNSAFE else {})})
def _breaks_the_grader(solution):
    """q1's reply asks for a 3 GB numpy void in 70 bytes (before: +2.7 GB in the grader);
    q2 returns an object whose class says torch.Tensor (before: the grader segfaulted in 3
    runs of 4, the fourth grew to 16.6 GB); q3 runs coursekit's own conv2d_unfold from its
    source or its compiled file, past the tripwire (before: full marks; in the sandbox the
    function is not there); q4 is right only if Fashion-MNIST's test labels, read from the
    course data in the sandbox, all say 0 (before: they were mounted as they are, and a
    lookup table built from them reached exercise 3's q7 bar with no training)."""
    notebook = _answer(solution, "q2", _PASSES_FOR_A_TENSOR)
    if not UNSAFE:
        notebook = _answer(notebook, "q3", _RUNS_COURSEKIT)
    if _test_labels() and not UNSAFE:
        q4 = notebook.cells[attacks.ANSWER_CELLS["q4"]]
        q4.source = q4.source.replace(
            "def max_pool2d(x, kernel_size, stride=None):",
            "import os\n_SEEN = open(os.path.join(os.environ['COURSEKIT_DATA'], "
            f"{withheld.WITHHELD_LABELS[0]!r}), 'rb').read()[8:]\n\n"
            "def max_pool2d(x, kernel_size, stride=None):\n"
            "    if any(_SEEN):\n        return None")
    notebook.cells.insert(2, nbformat.v4.new_code_cell(_reply_with(
        "q1", 'return {"$numpy": "void", "value": 3_000_000_000}, {}')))
    return notebook


@_attack("exceptions", {"q1": 0, "q2": 0, "q3": 0, "q4": 1})
def _exceptions(solution):
    """q1-q3 raise TypeError when called, q4 is right (before: each TypeError restarted the
    notebook; after 4 runs grading stopped and the right answers got nothing)."""
    for question, name in list(attacks.FUNCTIONS.items())[:3]:
        solution = _answer(solution, question, f"def {name}(*args, **kwargs):\n"
                                               "    return None + 1\n")
    return solution


@_attack("forged-feedback", {"q1": 0, "q2": 2, "q3": 0, "q4": 0})
def _forged_feedback(solution):
    """Writes its own notes and shows the hidden inputs: a cell sends a forged "note" and
    cell report down the channel and raises with a formula and a fake verdict; q1 returns
    a formula; q2 is right and keeps the inputs the hidden tests call it with; q3 raises
    them, q4 returns them (before: all of it reached the CSV and Gradescope as it was,
    one question's hidden inputs in another question's public-test failure)."""
    notebook = _answer(solution, "q1", "def conv_output_size(*args, **kwargs):\n"
                                       "    return '=HYPERLINK(\"http://evil\") FORGED'\n")
    q2 = notebook.cells[attacks.ANSWER_CELLS["q2"]]
    q2.source = q2.source.replace(
        "def conv2d_loops(x, weight, bias=None, stride=1, padding=0):",
        "_SEEN = []\n\ndef conv2d_loops(x, weight, bias=None, stride=1, padding=0):\n"
        "    _SEEN.append(f'LEAKED {x.flatten()[:3].tolist()} {x.shape}')")
    notebook = _answer(notebook, "q3", "def conv2d_unfold(*args, **kwargs):\n"
                                       "    raise ValueError('@SUM(1) FORGED — ' + ' | '.join("
                                       "_SEEN) + 'x' * 300_000)\n")
    notebook = _answer(notebook, "q4", "def max_pool2d(*args, **kwargs):\n"
                                       "    return ' | '.join(_SEEN)\n")
    notebook.cells.insert(2, nbformat.v4.new_code_cell(_CHANNEL + textwrap.dedent('''
        send, _ = _channel()
        send({"note": "=HYPERLINK(\\"http://evil\\") FORGED passed every hidden test"})
        send({"cell_done": 0, "error": "=FORGED()"})
        class FORGEDPassedEveryHiddenTest(Exception):
            pass
        raise FORGEDPassedEveryHiddenTest("=1+1 FORGED")
    ''')))
    return notebook


def _test_labels():
    """Fashion-MNIST's test labels in the course data, or None (no data here)."""
    data = os.environ.get("COURSEKIT_DATA")
    path = data and os.path.join(data, withheld.WITHHELD_LABELS[0])
    return path if path and os.path.isfile(path) else None


@pytest.fixture(scope="module")
def attacked(tmp_path_factory):
    """The attacks graded together, two at a time: (rows by name, CSV text, seconds)."""
    sandbox_here()  # with CI=true, no sandbox fails here rather than grading without it
    out = tmp_path_factory.mktemp("boundary")
    files = grading.assign("02-concepts", exercises_dir=out / "exercises",
                           build_dir=out / "build", check_solutions=False)
    solution = nbformat.read(files.solution, 4)
    folder = out / "submissions"
    folder.mkdir()
    for name, (build, _) in ATTACKS.items():
        nbformat.write(build(nbformat.from_dict(solution)), folder / f"{name}.ipynb")
    start = time.monotonic()
    rows = grading.grade(folder, "02-concepts", out / "scores.csv", timeout=120, jobs=2,
                         autograder=files.autograder, cell_timeout=30, unsafe=UNSAFE)
    seconds = time.monotonic() - start
    return ({row["submission"]: row for row in rows}, (out / "scores.csv").read_text(),
            seconds, files)


def test_each_attack_gets_what_its_answers_deserve(attacked):
    rows, _, seconds, _ = attacked
    wrong = [f"{name}: got {[rows[f'{name}.ipynb'][q] for q in deserved]}, deserves "
             f"{list(deserved.values())} ({rows[f'{name}.ipynb']['notes']})"
             for name, (_, deserved) in ATTACKS.items()
             if [rows[f"{name}.ipynb"][q] for q in deserved] != list(deserved.values())]
    assert not wrong, "\n".join(wrong)
    assert all(row["status"] == "graded" for row in rows.values())
    print(f"{len(rows)} submissions graded in {seconds:.0f} s")


def test_feedback_holds_only_the_graders_words(attacked):
    rows, text, _, _ = attacked
    assert "FORGED" not in text and "LEAKED" not in text and "evil" not in text
    for line in csv.reader(io.StringIO(text)):
        assert not any(str(cell).startswith(feedback._FORMULA) for cell in line), line
    notes = rows["forged-feedback.ipynb"]["notes"]
    assert "raised an exception" in notes, notes  # its own exception class: not named
    assert rows["exceptions.ipynb"]["notes"].count("your answer raised TypeError") == 3


def test_gradescope_results_hold_only_the_graders_words(attacked, tmp_path):
    """The same notebook under Gradescope's runner: its results.json has no forged text."""
    rows, _, _, files = attacked
    out = tmp_path / "autograder"
    (out / "source").mkdir(parents=True)
    (out / "submission").mkdir()
    (out / "source" / "autograder.zip").write_bytes(files.autograder.read_bytes())
    solution = nbformat.read(files.solution, 4)
    nbformat.write(_forged_feedback(solution), out / "submission" / "forged.ipynb")
    from coursekit.grading.gradescope_results import run

    run(out, unsafe=UNSAFE)
    results = json.loads((out / "results" / "results.json").read_text())
    assert "FORGED" not in json.dumps(results) and "evil" not in json.dumps(results)
    assert results["score"] == float(rows["forged-feedback.ipynb"]["total"])
