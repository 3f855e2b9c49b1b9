"""ISBI 2012 comes from the course repository when it is not on disk (Colab), checked by
its SHA-256; tested offline against a local HTTP server that plays the repository."""

import functools
import hashlib
import http.server
import io
import tarfile
import threading
from pathlib import Path

import pytest
import torch

from coursekit import course, membranes, setup
from coursekit.data import DataNotFoundError
from tests.conftest import ROOT

ARCHIVE = ROOT / membranes.ARCHIVE


def test_the_committed_archive_has_the_checksum_the_loader_expects():
    assert hashlib.sha256(ARCHIVE.read_bytes()).hexdigest() == membranes.ARCHIVE_SHA256
    readme = (ROOT / "datasets" / "README.md").read_text()
    assert membranes.ARCHIVE_SHA256 in readme and "Cardona" in readme
    with tarfile.open(ARCHIVE) as tar:
        names = tar.getnames()
    assert len(names) == 90 and all(n.startswith("isbi2012-membrane/") for n in names)


def test_the_archive_is_rebuilt_byte_for_byte_from_the_slices():
    import importlib.util
    source = setup.data_root() / membranes.FOLDER
    if not (source / "test" / "image" / "29.png").is_file():
        pytest.skip("no offline copy of the ISBI slices (with their test slices) here")
    spec = importlib.util.spec_from_file_location("make", ROOT / "tools" / "make_isbi_archive.py")
    make = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make)
    assert hashlib.sha256(make.build(source)).hexdigest() == membranes.ARCHIVE_SHA256


class Repository:
    """A local HTTP server playing raw.githubusercontent.com at the book's version."""

    def __init__(self, folder: Path):
        self.folder, self.requests = folder, []
        repository = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def log_message(self, *args):
                repository.requests.append(self.path)

        self.server = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), functools.partial(Handler, directory=str(folder)))
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def publish(self, data: bytes) -> None:
        (self.folder / "datasets").mkdir(exist_ok=True)
        (self.folder / membranes.ARCHIVE).write_bytes(data)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def repository(tmp_path, monkeypatch):
    served = tmp_path / "served"
    served.mkdir()
    server = Repository(served)
    monkeypatch.setenv(course.FILES_URL_VARIABLE, server.url)
    monkeypatch.setenv("COURSEKIT_DATA", str(tmp_path / "data"))
    yield server
    server.close()


@pytest.fixture(scope="module")
def reference():
    """The validation slices read from the local copy (or, without one, from the archive)."""
    source = setup.data_root() / membranes.FOLDER
    if (source / "train" / "label" / "29.png").is_file():
        return membranes.load("validation", root=source)
    return None


def test_missing_slices_are_downloaded_checked_and_loaded(repository, reference, capsys):
    repository.publish(ARCHIVE.read_bytes())
    images, labels = membranes.load("validation")
    assert "Downloading ISBI 2012 membranes" in capsys.readouterr().out
    assert images.shape == (5, 1, 512, 512) and labels.shape == (5, 512, 512)
    if reference is not None:
        assert torch.equal(images, reference[0]) and torch.equal(labels, reference[1])
    assert [r for r in repository.requests if "isbi" in r] == [
        "/datasets/isbi2012-membrane.tar.gz"]
    folder = setup.data_root() / membranes.FOLDER
    assert len(list(folder.rglob("*.png"))) == 90          # the test slices came too
    membranes.load("train")                                # on disk now: no second download
    assert len(repository.requests) == 1
    assert not list(setup.data_root().glob(".isbi-download-*"))


def test_a_corrupted_download_is_refused_and_deleted(repository):
    data = bytearray(ARCHIVE.read_bytes())
    data[len(data) // 2] ^= 0xFF                           # one flipped byte in the middle
    repository.publish(bytes(data))
    with pytest.raises(DataNotFoundError, match=r"(?s)ISBI 2012 membranes is not available.*"
                       r"damaged or not the course's archive.*Fix: .*COURSEKIT_DATA"):
        membranes.load("train")
    assert not (setup.data_root() / membranes.FOLDER).exists()
    assert not list(setup.data_root().glob(".isbi-download-*")), "half a download left behind"


def test_no_archive_and_no_copy_gives_the_usual_clear_error(repository):
    with pytest.raises(DataNotFoundError, match=r"(?s)ISBI 2012 membranes is not available: "
                       r".*Searched: .*failed: HTTP Error 404.*Fix: connect to the internet.*"
                       r"COURSEKIT_DATA"):
        membranes.load("train")


def test_an_archive_with_a_path_outside_its_folder_is_refused(repository, monkeypatch):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo("isbi2012-membrane/../../escaped.png")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"png"))
    repository.publish(buffer.getvalue())
    monkeypatch.setattr(membranes, "ARCHIVE_SHA256", hashlib.sha256(buffer.getvalue()).hexdigest())
    with pytest.raises(DataNotFoundError, match=r"unexpected entry"):
        membranes.load("train")
    assert not list(setup.data_root().parent.rglob("escaped.png"))


def test_a_root_given_by_hand_is_never_downloaded_into(repository, tmp_path):
    repository.publish(ARCHIVE.read_bytes())
    with pytest.raises(DataNotFoundError, match=r"ISBI 2012 membranes is not available"):
        membranes.load("train", root=tmp_path / "mine")
    assert repository.requests == []
