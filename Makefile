# The course's two commands (see README.md):
#   make book   set up .venv, build the rendered book into book/_build/html
#   make test   set up .venv, run the whole test suite (fast mode)
# Both need only Python >= 3.10 with venv, and access to PyPI.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: book test setup exercises clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 10), "Python 3.10 or newer is needed, this is " + sys.version'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[book,dev]"
	touch $(STAMP)

book: $(STAMP)
	$(BIN)/jupyter-book build book --warningiserror --keep-going
	@echo "The book is built: open file://$(CURDIR)/book/_build/html/index.html"

test: $(STAMP)
	COURSEKIT_FAST=1 MPLBACKEND=Agg $(BIN)/python -m pytest

exercises: $(STAMP)
	$(BIN)/python -m coursekit.grading assign --all

clean:
	rm -rf book/_build build
