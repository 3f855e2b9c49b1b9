"""The repository URL and version live in coursekit.course only; everything else follows."""

import re
import subprocess
from pathlib import Path

import nbformat
import pytest
import yaml

from coursekit import course
from tests.conftest import BOOK, ROOT

GITHUB_REPO = re.compile(
    r"(?:github\.com|githubusercontent\.com|colab\.research\.google\.com/github)/"
    r"([A-Za-z0-9_.-]+)/([A-Za-z0-9_.-]+)"
)
OWNER_REPO = course.REPOSITORY.removeprefix("https://github.com/")
CITED = {"pytorch/vision"}
"""Other projects' repositories a page may name as a source, not as the course's home:
chapter 9b prints torchvision's weights metadata, whose recipe links point there."""


def tracked_text_files():
    names = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                           check=True).stdout.split()
    for name in names:
        path = ROOT / name
        if path.suffix in {".png", ".jpg", ".gz", ".zip", ".pdf"} or not path.is_file():
            continue
        yield path


def test_every_repository_url_is_the_one_in_coursekit_course():
    seen = 0
    for path in tracked_text_files():
        text = path.read_text(encoding="utf-8", errors="replace")
        for owner, repo in GITHUB_REPO.findall(text):
            if f"{owner}/{repo}" in CITED:
                continue
            seen += 1
            assert f"{owner}/{repo.removesuffix('.git')}" == OWNER_REPO, (
                f"{path.relative_to(ROOT)} names the repository {owner}/{repo}; "
                f"the course's repository is {OWNER_REPO} (coursekit/course.py)"
            )
    assert seen > 0, "expected at least one link to the repository (the book's config)"


def test_book_config_points_at_the_repository():
    config = yaml.safe_load((BOOK / "_config.yml").read_text())
    assert config["repository"]["url"] == course.REPOSITORY
    assert config["repository"]["branch"] == course.REF
    assert config["repository"]["path_to_book"] == "book"
    assert config["execute"]["execute_notebooks"] == "off"
    assert "colab_url" in config["launch_buttons"]


def test_install_spec_and_urls(monkeypatch):
    monkeypatch.delenv(course.FILES_URL_VARIABLE, raising=False)
    assert course.install_spec() == (
        f"dlvision-coursekit @ git+{course.REPOSITORY}@v{course.VERSION}")
    assert course.install_spec("exercises").startswith("dlvision-coursekit[exercises] @ git+")
    assert course.colab_url("book/02-concepts.ipynb") == (
        f"https://colab.research.google.com/github/{OWNER_REPO}/blob/v{course.VERSION}/"
        "book/02-concepts.ipynb")


def test_everything_colab_touches_comes_from_one_ref(monkeypatch):
    """Buttons opened notebooks at `main` while the first cell installed the tag v0.1.0:
    two refs that could drift apart. Now the launch button (the book's config and
    colab_url), the install (the first cell of every notebook and exercise), the files a
    notebook downloads (public tests, ISBI 2012) and the publishing workflow all name
    course.REF, the version tag."""
    monkeypatch.delenv(course.FILES_URL_VARIABLE, raising=False)
    ref = course.REF
    assert ref == f"v{course.VERSION}"
    config = yaml.safe_load((BOOK / "_config.yml").read_text())
    assert config["repository"]["branch"] == ref, "the launch buttons' ref (book/_config.yml)"
    assert f"/blob/{ref}/" in course.colab_url("book/01-welcome.ipynb")
    assert course.install_spec().endswith(f"@{ref}")
    assert f'COURSE = "git+{course.REPOSITORY}@{ref}"' in course.setup_cell_source()
    assert f"/{ref}/exercises/tests/" in course.raw_url("exercises/tests/02-concepts/q1.py")
    for notebook in [*BOOK_NOTEBOOKS, *sorted((ROOT / "exercises").glob("[0-9]*.ipynb")),
                     *sorted((ROOT / "solutions").glob("[0-9]*.ipynb"))]:
        first = next(c for c in nbformat.read(notebook, as_version=4).cells
                     if c.cell_type == "code")
        refs = re.findall(r"@(v[0-9][^\"'\s]*|main|master)\b", first.source)
        assert refs == [ref], f"{notebook.relative_to(ROOT)} installs from {refs}, not {ref}"
    # the book is published when that tag is pushed, and only from a tag equal to REF
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "book.yml").read_text())
    triggers = workflow.get("on", workflow.get(True))          # YAML 1.1 reads `on` as True
    assert triggers["push"] == {"tags": ["v*"]}, "publish on a version tag, not on main"
    steps = workflow["jobs"]["build"]["steps"]
    check = next(step for step in steps if "coursekit/course.py" in step.get("run", ""))
    assert steps.index(check) < next(i for i, s in enumerate(steps) if s.get("run") == "make book")
    assert "['REF']" in check["run"] and "github.ref_name" in check["run"]
    readme = (ROOT / "README.md").read_text()
    assert "git tag v" in readme and "on every push to `main`" not in readme


def test_raw_url_follows_a_mirror_when_one_is_set(monkeypatch):
    monkeypatch.setenv(course.FILES_URL_VARIABLE, "http://127.0.0.1:8000/repo/")
    assert course.raw_url("datasets/x.tar.gz") == "http://127.0.0.1:8000/repo/datasets/x.tar.gz"
    with pytest.raises(ValueError, match=r"path: expected a path relative"):
        course.raw_url("../x")


def test_urls_take_paths_relative_to_the_repository_only():
    """An absolute path gave '.../blob/main//home/me/book/02-concepts.ipynb', a broken link."""
    expected = course.colab_url("book/02-concepts.ipynb")
    for same in [Path("book/02-concepts.ipynb"), "./book/02-concepts.ipynb",
                 "book\\02-concepts.ipynb"]:
        assert course.colab_url(same) == expected
    for bad in ["/home/me/book/02-concepts.ipynb", "../book/02-concepts.ipynb",
                "C:\\course\\book\\02-concepts.ipynb", ""]:
        with pytest.raises(ValueError, match=r"notebook_path: expected a path relative to the "
                                             r"repository root"):
            course.colab_url(bad)
    with pytest.raises(ValueError, match=r"notebook_path: expected a notebook \(.ipynb\)"):
        course.colab_url("book/_toc.yml")
    with pytest.raises(TypeError, match=r"notebook_path: expected a path"):
        course.colab_url(None)
    assert course.raw_url(Path("exercises/tests")).endswith(f"/v{course.VERSION}/exercises/tests")
    with pytest.raises(ValueError, match=r"path: expected a path relative"):
        course.raw_url("/etc/passwd")


def test_install_spec_checks_its_extras():
    assert course.install_spec("book,exercises").startswith("dlvision-coursekit[book,exercises] @")
    with pytest.raises(TypeError, match=r"extras: expected a str"):
        course.install_spec(True)           # gave "dlvision-coursekit[True] @ ..."
    with pytest.raises(ValueError, match=r"extras: expected extra names separated by commas"):
        course.install_spec("book]")


BOOK_NOTEBOOKS = sorted(BOOK.glob("[0-9][0-9]*.ipynb"))


def test_the_toc_lists_every_chapter_in_order():
    toc = yaml.safe_load((BOOK / "_toc.yml").read_text())
    listed = [entry["file"] for entry in toc["chapters"]]
    chapters = [name for name in listed if name[:2].isdigit()]
    assert chapters == [path.stem for path in BOOK_NOTEBOOKS]
    # after the chapters, the appendix that identifies the source articles A1-A5
    assert listed[len(chapters):] == ["appendix-sources"]
    text = (BOOK / "appendix-sources.md").read_text()
    assert all(f"| A{i} |" in text for i in range(1, 6))


@pytest.mark.parametrize("path", BOOK_NOTEBOOKS, ids=lambda p: p.name)
def test_book_notebooks_start_with_the_setup_cell(path):
    notebook = nbformat.read(path, as_version=4)
    first_code = next(cell for cell in notebook.cells if cell.cell_type == "code")
    assert first_code.source == course.setup_cell_source(), (
        f"{path.name}: its first code cell must be coursekit.course.setup_cell_source()")
