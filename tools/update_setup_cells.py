"""Write the course's current set-up cell into notebooks, as their first code cell.

    .venv/bin/python tools/update_setup_cells.py book/02-concepts.ipynb [more.ipynb ...]

A book chapter gets ``coursekit.course.setup_cell_source()``; an exercise master in
``solutions/`` gets ``coursekit.grading.first_cell_source(chapter)`` (regenerate its
exercise afterwards: ``python -m coursekit.grading assign CHAPTER``). The cell's outputs are
kept; a book chapter still needs a real re-run (tools/run_notebooks.py), since its code hash
changed.
"""

import sys
from pathlib import Path

import nbformat

from coursekit import course


def main(argv=None) -> int:
    for name in argv if argv is not None else sys.argv[1:]:
        path = Path(name)
        notebook = nbformat.read(path, as_version=4)
        first = next(cell for cell in notebook.cells if cell.cell_type == "code")
        if path.parent.name == "solutions":
            from coursekit import grading
            source = grading.first_cell_source(path.stem)
        else:
            source = course.setup_cell_source()
        if first.source != source:
            first.source = source
            nbformat.write(notebook, path)
            print(f"{path}: set-up cell updated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
