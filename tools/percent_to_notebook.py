"""Write a book notebook from a script in jupytext's percent format.

    .venv/bin/python tools/percent_to_notebook.py chapter.py book/NN-name.ipynb

Chapters can be drafted as plain Python files with ``# %%`` cells (easier to edit
and review than JSON). A line ``SETUP_CELL`` alone in the first code cell is
replaced by the course's set-up cell (``coursekit.course.setup_cell_source``).
The notebook gets the course's metadata: a Python 3 kernel and, for Colab, a
GPU runtime. Outputs come afterwards, from ``tools/run_notebooks.py``.
"""

import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat

from coursekit import course

METADATA = {
    "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
    "language_info": {"name": "python"},
    "accelerator": "GPU",                          # Colab opens it with a GPU runtime
    "colab": {"provenance": [], "gpuType": "T4"},
}


def convert(source: Path, target: Path) -> None:
    text = source.read_text().replace("SETUP_CELL", course.setup_cell_source())
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "chapter.py"
        script.write_text(text)
        jupytext = Path(sys.executable).with_name("jupytext")
        subprocess.run([str(jupytext), "--quiet", "--to", "ipynb", "--output", str(target),
                        str(script)], check=True)
    notebook = nbformat.read(target, as_version=4)
    notebook.metadata = METADATA
    for index, cell in enumerate(notebook.cells):
        cell.metadata = {}
        cell.id = f"{target.stem[:3]}{index:03d}"      # stable ids: clean diffs
    nbformat.write(notebook, target)
    print(f"wrote {target} ({len(notebook.cells)} cells); now run tools/run_notebooks.py on it")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    convert(Path(sys.argv[1]), Path(sys.argv[2]))
