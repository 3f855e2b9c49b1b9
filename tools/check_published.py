"""After publishing: check that everything a reader's Colab fetches is there at the tag.

    .venv/bin/python tools/check_published.py            # the real addresses (needs internet)
    .venv/bin/python tools/check_published.py --files-url http://localhost:8000   # a mirror

Run it once ``git push --tags`` has pushed ``coursekit.course.REF`` and the book workflow has
finished. It asks (HTTP HEAD) for every file that Colab or a notebook fetches at that ref:
each notebook a Colab address in the book or the README opens, each exercise's public tests
(``exercises/tests/<chapter>/``), the benchmark results chapters read, the ISBI 2012 archive;
then that the tag exists (``git ls-remote``, what the first cell's ``pip install`` clones) and
that the book's front page is published. It prints one line per address and exits 1 if any
is missing. ``--files-url`` checks a mirror instead (as ``COURSEKIT_FILES_URL`` does for
the notebooks) and leaves out the tag and the book's page.
"""

import argparse
import os
import re
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from coursekit import course, membranes  # noqa: E402
from coursekit.grading.student import QUESTIONS_FILE  # noqa: E402


def colab_notebooks(root=ROOT) -> list[str]:
    """Repository paths of the notebooks that Colab addresses in the book, the exercises and
    the README open (every address must name ``course.REF``: tests/test_colab_versions.py)."""
    owner_repo = course.REPOSITORY.removeprefix("https://github.com/")
    address = re.compile(rf"colab\.research\.google\.com/github/{owner_repo}/blob/[^/\s]+/"
                         r"([\w./-]+?\.ipynb)")
    texts = [path.read_text() for path in [*sorted((root / "book").glob("*.ipynb")),
                                           *sorted((root / "exercises").glob("*.ipynb")),
                                           root / "README.md"]]
    return sorted({path for text in texts for path in address.findall(text)})


def fetched_files(root=ROOT) -> list[str]:
    """Repository paths that notebooks download at ``course.REF``: public tests, benchmark
    results, the ISBI 2012 archive."""
    paths = []
    for questions in sorted((root / "exercises" / "tests").glob(f"*/{QUESTIONS_FILE}")):
        folder = questions.parent.relative_to(root).as_posix()
        paths.append(f"{folder}/{QUESTIONS_FILE}")
        paths += [f"{folder}/{name}.py" for name in questions.read_text().split()]
    paths += [p.relative_to(root).as_posix()
              for p in sorted((root / "benchmarks" / "results").glob("*.json"))]
    paths.append(membranes.ARCHIVE)
    return paths


def status(url: str, timeout: float = 30) -> str:
    """'ok' or why not, for one address (HEAD; GET where a server refuses HEAD)."""
    for method in ("HEAD", "GET"):
        try:
            with urllib.request.urlopen(urllib.request.Request(url, method=method),
                                        timeout=timeout):
                return "ok"
        except urllib.error.HTTPError as error:
            if error.code == 405 and method == "HEAD":
                continue
            return f"HTTP {error.code}"
        except (urllib.error.URLError, OSError) as error:
            return f"unreachable ({getattr(error, 'reason', error)})"
    return "unreachable"


def tag_status() -> str:
    """'ok' if ``course.REF`` is a tag of the course repository (what pip clones)."""
    try:
        listed = subprocess.run(["git", "ls-remote", "--tags", course.REPOSITORY, course.REF],
                                capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"git ls-remote failed ({error})"
    if listed.returncode != 0:
        return f"git ls-remote failed ({listed.stderr.strip()[:200]})"
    return "ok" if f"refs/tags/{course.REF}" in listed.stdout else "no such tag"


def book_page() -> str:
    """The GitHub Pages address of the published book."""
    owner, name = course.REPOSITORY.removeprefix("https://github.com/").split("/")
    return f"https://{owner}.github.io/{name}/"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files-url", help="check a mirror of the repository at the ref")
    args = parser.parse_args(argv)
    if args.files_url:
        os.environ[course.FILES_URL_VARIABLE] = args.files_url
    checks = [(f"Colab opens {path}", course.raw_url(path)) for path in colab_notebooks()]
    checks += [(f"downloaded: {path}", course.raw_url(path)) for path in fetched_files()]
    results = [(what, url, status(url)) for what, url in checks]
    if not args.files_url:
        results.append((f"pip installs the tag {course.REF}", course.REPOSITORY, tag_status()))
        results.append(("the book's front page", book_page(), status(book_page())))
    for what, url, result in results:
        print(f"{result:<12} {what}  ({url})")
    missing = [r for r in results if r[2] != "ok"]
    print(f"{len(results) - len(missing)} of {len(results)} found at {course.REF}")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
