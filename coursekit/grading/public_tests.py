"""Running a question's public tests in a student's notebook, without otter-grader.

``otter assign`` writes each question's public tests as a Python file in otter's
"exception-based" format (``exercises/tests/<chapter>/qK.py``)::

    from otter.test_files import test_case

    name = "q1"
    points = 1

    @test_case(points=None, hidden=False)
    def test_mnist_sizes(conv_output_size):
        \"\"\"28 pixels: a 3x3 kernel gives 26\"\"\"
        expect_result(conv_output_size, ...)

A test passes when its function returns and fails when it raises; each parameter is the
notebook's variable of that name (``env`` is the whole namespace, a missing name is None).

All a student's check cell needs of otter is to run such a file against the notebook and
report. otter itself cannot be installed next to Colab's ipywidgets 7.7.1 on Python 3.13
(every otter-grader 6.x and 7.0 asks, through its dependencies, for ipywidgets 8), so the
exercises' first cell installs only the course package and this module does that one
thing: it reads the file with the same meaning (the ``otter.test_files`` import is served
by :class:`test_case` below), runs its public cases in order and returns the result in the
shape otter's ``TestFile`` has (``name``, ``test_case_results``, ``passed_all``), with
failure messages written as otter writes them, so ``student.Feedback`` reads both.
Instructors keep otter: ``assign`` writes these files and ``grade`` runs the hidden tests.
"""

import ast
import inspect
from dataclasses import dataclass, field
from pathlib import Path
from textwrap import indent

OTTER_MODULE = "otter.test_files"
"""The module a test file imports ``test_case`` from; here it is served by this module."""


class test_case:  # noqa: N801 (otter's name, which the test files use)
    """The decorator of a test in a public test file: otter's ``test_case``, same arguments.

    name: the test's name (default "<file name> - <number>"); points: its points (read by
    the instructor's grader, not here); hidden: hidden tests are not run in a student's check.
    """

    def __init__(self, name=None, points=None, hidden=False, success_message=None,
                 failure_message=None):
        self.name = name
        self.points = points
        self.hidden = hidden
        self.success_message = success_message
        self.failure_message = failure_message
        self.test_func = None

    def __call__(self, test_func):
        self.test_func = test_func
        return self

    def call(self, env: dict):
        """Run the test with its parameters taken from ``env`` (``env`` itself for "env")."""
        parameters = inspect.signature(self.test_func).parameters
        self.test_func(**{name: env if name == "env" else env.get(name) for name in parameters})


@dataclass
class TestCase:
    """One test of a file: its name and the decorated function (``body.test_func``)."""

    name: str
    body: test_case
    hidden: bool = False


@dataclass
class TestCaseResult:
    """What one test gave: ``message`` is "✅ Test case passed" or otter's failure text."""

    test_case: TestCase
    message: str
    passed: bool


@dataclass
class TestFile:
    """A public test file, read; ``run`` fills ``test_case_results``."""

    name: str
    path: Path
    source: str
    test_cases: list
    test_case_results: list = field(default_factory=list)

    @property
    def passed_all(self) -> bool:
        """Whether every test that ran passed."""
        return all(result.passed for result in self.test_case_results)

    def run(self, env: dict) -> "TestFile":
        """Run the public tests against the notebook's variables ``env``, in file order."""
        self.test_case_results = []
        for case in self.test_cases:
            try:
                case.body.call(env)
            except Exception as error:  # a failing test raises; any exception is a failure
                message = "❌ Test case failed\n" + self._error_message(error)
                self.test_case_results.append(TestCaseResult(case, message, False))
            else:
                self.test_case_results.append(TestCaseResult(case, "✅ Test case passed", True))
        return self

    def _error_message(self, error):
        """otter's failure text: the line of the test that raised, then the exception."""
        line = None
        trace = error.__traceback__
        while trace is not None:  # the innermost frame inside this test file
            if trace.tb_frame.f_code.co_filename == str(self.path):
                line = trace.tb_lineno
            trace = trace.tb_next
        text = str(error).strip("'")
        if line is None:
            return f"{type(error).__name__}: {text}"
        source_line = indent(self.source.split("\n")[line - 1], "  ")
        return (f"Error at line {line} in test {self.name}:\n{source_line}\n"
                f"{type(error).__name__}: {text}")


def _without_otter_import(tree, path):
    """The module ``tree`` less its ``from otter.test_files import test_case``; any other
    use of otter is an error naming the file and line (this runner serves only that)."""
    body = []
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module == OTTER_MODULE:
            names = [alias.name for alias in node.names]
            if names != ["test_case"] or node.names[0].asname:
                raise ValueError(f"{path}, line {node.lineno}: a public test file may import "
                                 f"only test_case from {OTTER_MODULE}, got {names}")
            continue
        body.append(node)
    tree.body = body
    for node in ast.walk(tree):
        modules = []
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            modules = [node.module or ""]
        if any(module == "otter" or module.startswith("otter.") for module in modules):
            raise ValueError(f"{path}, line {node.lineno}: public test files run without "
                             f"otter-grader, but this one imports {', '.join(modules)}")
    return tree


def load(path) -> TestFile:
    """Read a public test file (otter's exception-based format) into a :class:`TestFile`."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"path: expected a public test file, but {path} does not exist")
    source = path.read_text(encoding="utf-8")
    tree = _without_otter_import(ast.parse(source, filename=str(path)), path)
    namespace = {"__name__": f"public_test_{path.stem}", "__file__": str(path),
                 "test_case": test_case}
    exec(compile(tree, str(path), "exec"), namespace)
    if namespace.get("OK_FORMAT"):
        raise ValueError(f"{path}: OK-format test files are not supported; the course's "
                         "public tests are written by otter assign in the exception-based "
                         "format (OK_FORMAT = False)")
    if not isinstance(namespace.get("name"), str):
        raise ValueError(f"{path}: a public test file must set name = \"qK\", "
                         f"got {namespace.get('name')!r}")
    name, cases = namespace["name"], []
    for value in list(namespace.values()):
        if isinstance(value, test_case) and not value.hidden:
            if value.test_func is None:
                raise ValueError(f"{path}: a test_case(...) decorates no function")
            cases.append(TestCase(value.name or f"{name} - {len(cases) + 1}", value))
    return TestFile(name, path, source, cases)


def run(path, env: dict) -> TestFile:
    """Run the public tests in ``path`` against ``env`` (the notebook's variables)."""
    if not isinstance(env, dict):
        raise TypeError(f"env: expected the notebook's variables as a dict, got {type(env)}")
    return load(path).run(env)
