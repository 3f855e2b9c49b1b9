"""The course fits Colab's own stack (tools/colab_versions.txt), and says so with results.

Offline and fast: the package's bounds admit every version Colab pins; no notebook's first
cell asks for an extra (students install the course package alone); the committed results
of the Colab replica (tools/colab_replica.py: every notebook on Python 3.13 with Colab's
versions) passed, on the versions that are in the repository now (change one, and these
say which run to repeat).
"""

import json
import re

import nbformat
import pytest

try:
    import tomllib
except ImportError:  # Python 3.10 (the oldest the package claims): the same parser, as tomli
    import tomli as tomllib
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from coursekit import course
from tests.conftest import ROOT
from tools import colab_replica, lower_bounds

PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
PYTHON, COLAB = colab_replica.read_versions()
RESULTS = ROOT / "tools" / "results"


def _replica():
    return json.loads((RESULTS / "colab-replica.json").read_text())

NOTEBOOKS = (sorted((ROOT / "book").glob("[0-9][0-9]*.ipynb"))
             + sorted((ROOT / "exercises").glob("[0-9][0-9]*.ipynb")))


def test_the_package_admits_every_version_colab_pins():
    assert {"torch", "torchvision", "ipywidgets"} <= set(colab_replica.pinned(COLAB))
    requirements = {Requirement(r).name.lower(): Requirement(r) for r in PROJECT["dependencies"]}
    for name, version in colab_replica.pinned(COLAB).items():
        if name in requirements:
            assert requirements[name].specifier.contains(version), (
                f"{requirements[name]} does not admit Colab's {name} {version}: installing "
                "the course in Colab would replace it")
    assert SpecifierSet(PROJECT["requires-python"]).contains(f"{PYTHON}.0"), (
        f"requires-python {PROJECT['requires-python']} excludes Colab's Python {PYTHON}")


def test_no_first_cell_installs_an_extra():
    """Students' notebooks install the course package alone (no otter-grader, nothing that
    could bring a newer ipywidgets than Colab's)."""
    for path in NOTEBOOKS:
        notebook = nbformat.read(path, as_version=4)
        first = next(cell for cell in notebook.cells if cell.cell_type == "code")
        assert f'f"{course.DISTRIBUTION} @ {{COURSE}}"' in first.source, (
            f"{path.relative_to(ROOT)}: the first cell should install "
            f"'{course.DISTRIBUTION} @ ...' with no extra")


def test_the_committed_replica_ran_every_notebook_on_colabs_versions_and_passed():
    replica = _replica()
    assert replica["ref"] == course.REF
    assert replica["colab_versions"] == COLAB and replica["python"] == PYTHON, (
        "tools/colab_versions.txt changed since the replica ran: run "
        "tools/colab_replica.py run --all --out tools/results/colab-replica.json")
    ran = {r["notebook"] for r in replica["results"]}
    expected = set()
    for path in NOTEBOOKS:
        name = str(path.relative_to(ROOT))
        if name.startswith("book/"):
            expected.add(name)
        else:
            expected |= {f"{name} (answered wrong: nothing answered)",
                         f"{name} (answered right: the solution)"}
    assert expected <= ran, f"not run in the replica: {sorted(expected - ran)}"
    for result in replica["results"]:
        assert result["status"] == "passed", (result["notebook"], result.get("problems"))
        assert result["python"].startswith(PYTHON + ".")
        assert result["pip"]["replaced"] == {}, (result["notebook"], result["pip"])
        assert result["coursekit_installed_by_the_first_cell"]
        for name, version in colab_replica.pinned(COLAB).items():
            if name in result["versions"]:
                assert Version(result["versions"][name]).base_version == version


def test_the_replica_read_every_check_cell():
    for result in _replica()["results"]:
        if "(answered" in result["notebook"]:
            said = "all checks passed" if "right" in result["notebook"] else "not answered yet"
            assert result["checks"], result["notebook"]
            for question, text in result["checks"].items():
                assert text.startswith(f"{question}: {said}"), (result["notebook"], text)


def test_the_committed_dry_run_installs_the_course_alone():
    dry = json.loads((RESULTS / "colab-dry-run.json").read_text())
    assert dry["resolves"] and dry["replaces_colab_packages"] == []
    assert [re.sub(r"-[0-9.]+$", "", p) for p in dry["would_install"]] == [course.DISTRIBUTION]
    for name, version in colab_replica.pinned(COLAB).items():
        assert f"{name}=={version}" in dry["command"]


# ------------------------------------------------------------ the tools, on small fakes


def test_versions_file_must_name_colabs_python(tmp_path):
    path = tmp_path / "versions.txt"
    path.write_text("# python: 3.13\n# a comment\ntorch==2.11.0\nnumpy>=2,<3\n\n")
    assert colab_replica.read_versions(path) == ("3.13", ["torch==2.11.0", "numpy>=2,<3"])
    assert colab_replica.pinned(["torch==2.11.0", "numpy>=2,<3"]) == {"torch": "2.11.0"}
    path.write_text("torch==2.11.0\n")
    with pytest.raises(ValueError, match="# python: 3.NN"):
        colab_replica.read_versions(path)


def test_freeze_diff_names_what_was_replaced_and_what_was_added():
    before = {"torch": "2.11.0", "ipywidgets": "7.7.1", "numpy": "2.5.5"}
    after = {"torch": "2.11.0", "ipywidgets": "8.1.9", "dlvision-coursekit": "git+file:///x"}
    assert colab_replica._freeze_diff(before, after) == {
        "replaced": {"ipywidgets": "7.7.1 -> 8.1.9", "numpy": "2.5.5 -> removed"},
        "added": {"dlvision-coursekit": "git+file:///x"}}


def test_lower_bounds_pins_each_dependency_at_its_bound():
    project = {"requires-python": ">=3.10", "dependencies": ["torch>=2.11", "tqdm >= 4.64"]}
    assert lower_bounds.lower_bounds(project) == ("3.10", ["torch==2.11", "tqdm==4.64"])
    with pytest.raises(ValueError, match="'numpy' has no lower bound"):
        lower_bounds.lower_bounds({**project, "dependencies": ["numpy"]})
    with pytest.raises(ValueError, match="requires-python"):
        lower_bounds.lower_bounds({**project, "requires-python": "~=3.10"})


def test_a_widget_shows_live_on_ipywidgets_7_as_on_8():
    """Colab's ipywidgets 7.7.1 has no Widget._repr_mimebundle_ (8 has): the replay widgets
    write out the view data 7.7.1 sends from _ipython_display_ (checked on 7.7.1 in the
    Colab root: tools/results/colab-replica-unit-tests.json)."""
    from coursekit.widgets.replay import widget_bundle

    class Widget7:   # what ipywidgets 7.7.1's Widget offers for display
        _view_name, _model_id, displayed = "VBoxView", "abc123", 0

        def __repr__(self):
            return "VBox(children=(" + "IntSlider(value=3), " * 20 + "))"

        def _handle_displayed(self):
            self.displayed += 1

    widget = Widget7()
    bundle = widget_bundle(widget)
    assert bundle["application/vnd.jupyter.widget-view+json"] == {
        "version_major": 2, "version_minor": 0, "model_id": "abc123"}
    assert bundle["text/plain"].endswith("…") and len(bundle["text/plain"]) == 111
    assert widget.displayed == 1

    import ipywidgets

    slider = ipywidgets.IntSlider()
    assert widget_bundle(slider)["application/vnd.jupyter.widget-view+json"]["model_id"] == (
        slider.model_id)


def test_every_colab_address_and_install_address_names_the_same_ref():
    """What a reader opens in Colab (the exercise links in the committed chapters, their
    sources and outputs) and what the first cells install come from one ref, ``course.REF``."""
    owner_repo = course.REPOSITORY.removeprefix("https://github.com/")
    colab = re.compile(rf"colab\.research\.google\.com/github/{owner_repo}/blob/([^/\s]+)/")
    install = re.compile(rf"git\+{re.escape(course.REPOSITORY)}@([^\"'\s\\]+)")
    found = 0
    for path in [*NOTEBOOKS, ROOT / "README.md"]:
        text = path.read_text()
        for ref in colab.findall(text) + install.findall(text):
            found += 1
            assert ref == course.REF, f"{path.relative_to(ROOT)} names {ref}, not {course.REF}"
    assert found >= len(NOTEBOOKS), "expected an install address in every notebook"


def test_the_committed_lower_bound_run_tested_todays_bounds_and_passed():
    """tools/results/lower-bounds.json (tools/lower_bounds.py: the unit tests on the oldest
    Python and dependency versions pyproject.toml admits) tested today's bounds, and passed."""
    run = json.loads((RESULTS / "lower-bounds.json").read_text())
    python, pins = lower_bounds.lower_bounds(PROJECT)
    assert run["requires_python"] == f">={python}" and run["python"].startswith(python + ".")
    for pin in pins:
        name, bound = pin.split("==")
        assert Version(run["bounds_tested"][name]) == Version(bound), (
            f"{name}: pyproject's lower bound is {bound}, the last lower-bound run tested "
            f"{run['bounds_tested'][name]}: run tools/lower_bounds.py --out "
            "tools/results/lower-bounds.json")
    assert run["status"] == "passed", run["failures"]
