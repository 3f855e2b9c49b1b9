"""The book builds with warnings as errors, and its pages show real outputs."""

import re
import shutil
import subprocess
import sys
from html import unescape
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


def page_text_outside_math(html: str) -> str:
    """The visible text of a page's article, without code, scripts and typeset math."""
    article = re.search(r"<main.*?</main>", html, flags=re.S)
    html = article.group(0) if article else html
    html = re.sub(r"<(script|style|pre)\b.*?</\1>", "", html, flags=re.S)
    html = re.sub(r'<(span|div) class="math[^"]*">.*?</\1>', "", html, flags=re.S)
    return unescape(re.sub(r"<[^>]+>", " ", html))


def prose_in_math(html: str) -> list[str]:
    """Typeset math that holds a run of four plain words (outside \\text{}): prose that
    a misplaced $$ turned into math."""
    spans = re.findall(r'class="math notranslate nohighlight">(.*?)</', html, flags=re.S)
    words = r"\b[a-z]{3,}\b \b[a-z]{3,}\b \b[a-z]{3,}\b \b[a-z]{3,}\b"
    return [span[:60] for span in spans
            if re.search(words, re.sub(r"\\(text|mathrm)\{[^}]*\}", "", span))]


def test_math_is_set_as_math(site):
    for page in chapter_pages(site):
        html = page.read_text()
        raw = re.findall(r".{0,30}(?:\\[a-zA-Z]{2,}|\$\$).{0,30}", page_text_outside_math(html))
        assert not raw, f"{page.name}: LaTeX left outside math: {raw[:3]}"
        prose = prose_in_math(html)
        assert not prose, f"{page.name}: prose set as math: {prose[:3]}"


def test_the_math_checks_catch_what_a_misplaced_dollar_sign_leaves():
    good = ('<main><p>mean <span class="math notranslate nohighlight">\\(\\mu_c\\)</span>'
            '</p><div class="math notranslate nohighlight">\\[y = \\gamma x\\]</div></main>')
    assert page_text_outside_math(good).split() == ["mean"]
    assert prose_in_math(good) == []
    broken = ('<main><p>$ <span class="math notranslate nohighlight">\\(\nstandardises, '
              'and then scales and shifts\\)</span> \\epsilon keeps it safe</p></main>')
    assert "\\epsilon" in page_text_outside_math(broken)
    assert prose_in_math(broken) == ["\\(\nstandardises, and then scales and shifts\\)"]
