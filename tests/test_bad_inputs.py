"""No silent wrong numbers (issue 9): every public callable of coursekit, on the inputs of
tests/input_cases.py, gives the right answer or a clear error.

A case expecting ``error("name")`` passes when coursekit's own code raises a TypeError or
ValueError whose message names the argument; one expecting ``equals(reference)`` passes
when the call returns the reference. tools/sweep_inputs.py runs the same table against
any checkout and counts the outcomes.
"""

import importlib
import inspect
import os

import pytest

from tests import input_cases
from tests.conftest import ROOT

if (ROOT / "data").is_dir():  # no case reads a data set, but a wrong one must not download
    os.environ.setdefault("COURSEKIT_DATA", str(ROOT / "data"))

IMPORT_FAILURES = input_cases.warm_up()


@pytest.mark.parametrize("case", input_cases.CASES, ids=[c.id for c in input_cases.CASES])
def test_case(case):
    if case.module in IMPORT_FAILURES:
        pytest.fail(f"coursekit.{case.module} does not import: {IMPORT_FAILURES[case.module]}")
    # A hang is an answer that never comes; the slowest right case (LossExplorer.replay,
    # 14 figures) takes about 10 s on 2 quiet cores and twice that on a busy machine.
    outcome = input_cases.run_case(case, timeout=60)
    assert outcome.passed, f"{outcome.category}, expected {case.expect}: {outcome.detail}"


def _function(value):
    return value.__func__ if isinstance(value, staticmethod | classmethod) else value


def public_callables():
    """('module.name', object) for each public function and class of coursekit (defined in
    that module, or in its submodules for a package), and ('module.Class.method', function)
    for each public method of those classes (their own, or from a coursekit base class)."""
    for module_name in input_cases.MODULES:
        module = importlib.import_module(f"coursekit.{module_name}")
        home = f"coursekit.{module_name}"
        for name in dir(module):
            obj = getattr(module, name)
            if name.startswith("_") or inspect.ismodule(obj):
                continue
            if not (inspect.isfunction(obj) or inspect.isclass(obj)):
                continue
            where = getattr(obj, "__module__", "") or ""
            if where != home and not where.startswith(home + "."):
                continue  # imported from elsewhere, e.g. viz's output_size from conv
            if module_name == "grading" and name not in input_cases.GRADING_HELPERS:
                continue  # grading: the helpers the masters import (instructor side: test_grading*)
            yield f"{module_name}.{name}", obj
            if inspect.isclass(obj):
                for klass in obj.__mro__:
                    if not klass.__module__.startswith("coursekit"):
                        continue
                    for attr, value in vars(klass).items():
                        if not attr.startswith("_") and (
                                inspect.isfunction(value)
                                or isinstance(value, staticmethod | classmethod)):
                            yield f"{module_name}.{name}.{attr}", _function(value)


def test_every_public_callable_has_a_case():
    """A callable counts as covered when a case reaches the same object, under any of
    the names it is public by (a class re-exported by another module counts once)."""
    covered = set()
    for target in {case.target for case in input_cases.CASES}:
        try:
            covered.add(id(_function(input_cases.resolve(target))))
        except (AttributeError, ImportError):
            pass  # a name that is gone: its cases fail on their own
    missing = sorted({name for name, obj in public_callables()
                      if id(obj) not in covered and name not in input_cases.NOT_CALLED})
    assert not missing, ("public callables without a case in tests/input_cases.py (add cases, "
                         f"or list them in NOT_CALLED with the reason): {missing}")


def test_the_allow_list_is_current():
    public = {name for name, _ in public_callables()}
    stale = sorted(set(input_cases.NOT_CALLED) - public)
    assert not stale, f"NOT_CALLED lists names that are no longer public callables: {stale}"
