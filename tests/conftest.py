"""Shared test set-up: fast mode, a non-interactive plotting backend, the repo root."""

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
os.environ.setdefault("COURSEKIT_FAST", "1")

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"

CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
"""CI=true (.ci/run sets it): every test runs; nothing the grading tests need may be missing."""


def sandbox_here():
    """(True, "") where the grader's bubblewrap sandbox can be made; (False, why not) where
    it cannot and CI is not set, for the caller to skip or to grade without it. With
    CI=true a sandbox that cannot be made fails the test that asked, saying why: CI runs
    every grading test in the sandbox (.ci/run installs bubblewrap)."""
    import pytest

    from coursekit.grading import sandbox

    ok, why = sandbox.works()
    if not ok and CI:
        pytest.fail(f"CI=true, and no sandbox can be made here: {why}. CI must grade every "
                    "submission in the sandbox (.ci/run installs bubblewrap; the grader "
                    "needs root or user namespaces)")
    return ok, why
