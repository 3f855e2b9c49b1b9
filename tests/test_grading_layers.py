"""coursekit/grading is arranged in layers by audience, and imports only go down.

Every import counts, those inside functions too (a "lazy" import is still a dependency):
a circle between modules (before: assign -> gradescope -> grade -> assign, and checks <->
remote) fails, naming it, and so does an import of a module of the same or a higher layer.
"""

import ast

from tests.conftest import ROOT

PACKAGE = ROOT / "coursekit" / "grading"

LAYERS = [
    # words and data every side shares: the wire format, failures, stand-ins, feedback
    {"codec", "failures", "fakes", "feedback", "stripped", "withheld"},
    # the sandbox; guards around one call of an answer; a public test file run without otter;
    # the archive Gradescope gets
    {"sandbox", "guards", "public_tests", "gradescope"},
    # the two ends of the channel (the grader's proxies, ...) and what students see
    {"remote", "student"},
    # what test authors import; the submission's side of the channel
    {"checks", "worker"},
    # instructors: make the exercises, then grade them, then Gradescope's run
    {"assign"},
    {"grade"},
    {"gradescope_results"},
    # the command line, the package's names, ``python -m coursekit.grading``
    {"cli", "__init__"},
    {"__main__"},
]


def imports(path):
    """The modules of coursekit.grading that the module at ``path`` imports, anywhere."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "coursekit.grading":
                found |= {alias.name for alias in node.names}
            elif node.module.startswith("coursekit.grading."):
                found.add(node.module.split(".")[2])
        elif isinstance(node, ast.Import):
            found |= {alias.name.split(".")[2] for alias in node.names
                      if alias.name.startswith("coursekit.grading.")}
    return found


def graph():
    modules = {path.stem: path for path in PACKAGE.glob("*.py")}
    return {name: imports(path) & set(modules) for name, path in modules.items()}


def circles(edges):
    """Every circle of imports, each as a list of modules from one back to itself."""
    found, state = [], {}

    def visit(node, path):
        state[node] = "open"
        for target in sorted(edges.get(node, ())):
            if state.get(target) == "open":
                found.append(path[path.index(target):] + [target])
            elif target not in state:
                visit(target, [*path, target])
        state[node] = "done"

    for node in sorted(edges):
        if node not in state:
            visit(node, [node])
    return found


def test_the_circle_finder_finds_circles():
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]
    assert circles({"a": {"b"}, "b": set()}) == []


def test_grading_has_no_import_circle():
    assert circles(graph()) == []


def test_every_module_has_a_layer_and_imports_only_downward():
    layer = {name: index for index, names in enumerate(LAYERS) for name in names}
    edges = graph()
    assert sorted(set(edges) - set(layer)) == [], "give each new module a layer in LAYERS"
    upward = [f"{name} (layer {layer[name]}) imports {target} (layer {layer[target]})"
              for name, targets in edges.items() for target in targets
              if layer[target] >= layer[name]]
    assert upward == []
