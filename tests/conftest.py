"""Shared test set-up: fast mode, a non-interactive plotting backend, the repo root."""

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
os.environ.setdefault("COURSEKIT_FAST", "1")

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
