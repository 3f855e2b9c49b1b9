"""tools/check_published.py finds every address a published notebook fetches, and says
which one is missing (checked against a local mirror of the repository, offline)."""

import functools
import http.server
import shutil
import threading

import pytest

from coursekit import course
from tests.conftest import ROOT
from tools import check_published


@pytest.fixture
def mirror(tmp_path):
    """An HTTP server over a copy of what the tool asks for; yields (url, folder)."""
    for path in check_published.colab_notebooks() + check_published.fetched_files():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / path, tmp_path / path)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=tmp_path)
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}", tmp_path
    server.shutdown()


def test_it_lists_every_exercise_chapters_link_and_what_notebooks_download():
    opened = check_published.colab_notebooks()
    exercises = sorted(p.relative_to(ROOT).as_posix() for p in ROOT.glob("exercises/*.ipynb"))
    assert set(exercises) <= set(opened), "a chapter does not link its exercise in Colab"
    fetched = check_published.fetched_files()
    assert "exercises/tests/02-concepts/q1.py" in fetched
    assert "datasets/isbi2012-membrane.tar.gz" in fetched
    assert "benchmarks/results/segmentation-cpu.json" in fetched


def test_a_complete_mirror_passes_and_a_missing_file_is_named(mirror, capsys, monkeypatch):
    monkeypatch.setenv(course.FILES_URL_VARIABLE, "set back to unset after the test")
    url, folder = mirror
    assert check_published.main(["--files-url", url]) == 0
    assert "HTTP" not in capsys.readouterr().out
    (folder / "exercises/tests/04-fcn/q2.py").unlink()
    assert check_published.main(["--files-url", url]) == 1
    out = capsys.readouterr().out
    assert "HTTP 404     downloaded: exercises/tests/04-fcn/q2.py" in out
    assert out.count("HTTP 404") == 1


def test_an_unreachable_address_is_reported_not_raised():
    assert check_published.status("http://127.0.0.1:9/x", timeout=2).startswith("unreachable")
