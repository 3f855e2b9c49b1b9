"""The book builds with warnings as errors, and its pages show real outputs."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from coursekit import course
from tests.conftest import BOOK


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("book")
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    result = subprocess.run(
        [str(jupyter_book), "build", str(BOOK), "--path-output", str(out), "--warningiserror"],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    yield out / "_build" / "html"
    shutil.rmtree(out, ignore_errors=True)


def chapter_pages(site):
    return sorted(site.glob("[0-9][0-9]*.html"))


def test_every_chapter_has_a_page_with_figures(site):
    pages = chapter_pages(site)
    assert [p.stem for p in pages] == [p.stem for p in sorted(BOOK.glob("[0-9][0-9]*.ipynb"))]
    for page in pages:
        html = page.read_text()
        assert "data:image/png;base64" in html or re.search(r'<img[^>]+src="_images/', html), (
            f"{page.name} shows no figure")
        assert "Traceback" not in html, f"{page.name} shows an error"


def test_colab_buttons_open_the_right_notebooks(site):
    owner_repo = course.REPOSITORY.removeprefix("https://github.com/")
    for page in chapter_pages(site):
        expected = (f"https://colab.research.google.com/github/{owner_repo}/blob/"
                    f"{course.REF}/book/{page.stem}.ipynb")
        assert expected in page.read_text(), f"{page.name}: no Colab button to {expected}"


def test_widgets_leave_a_moving_replay_in_the_page(site):
    html = (site / "02-concepts.html").read_text()
    assert "animation" in html.lower() and "<input" in html, (
        "chapter 2's widgets should leave a precomputed slider in the page")
