"""The sandbox's copy of coursekit, without the answers an exercise asks for.

A question that asks for ``conv2d_loops`` is not guarded in the submission's process (a
tripwire there can be bypassed: reload the module, execute its source under another name);
the function is not there. For each answer name that coursekit defines at the top level of
a module and that no other code of coursekit uses, the module's file inside the sandbox is
a copy whose definition raises ForbiddenCall (``stripped_sources``), mounted over the
real one, with the package's compiled files (``__pycache__``) hidden. Names that other code
of coursekit uses (``conv_output_size``, used by ``max_pool2d_loops``), or that an exercise
hands out (chapter 4's ``fcn.bilinear_upsampler``), stay, guarded by the worker's tripwires
while their question's answer is called (README: what that does not stop).
"""

import ast
import functools
import threading
from pathlib import Path

_AST_LOCK = threading.Lock()
"""One parse at a time: CPython 3.11's ast is not safe in two threads at once ("SystemError:
AST constructor recursion depth mismatch" when two submissions start together)."""

_SKIP = ("grading",)
"""Subpackages of coursekit never stripped (the grader's own code)."""


def _modules(root):
    """{path: source} of coursekit's Python files outside ``_SKIP``."""
    return {path: path.read_text() for path in sorted(Path(root).rglob("*.py"))
            if path.relative_to(root).parts[0] not in _SKIP and "__pycache__" not in path.parts}


def _used_names(tree, skip):
    """Names read anywhere in ``tree`` (as a name or an attribute), outside the top-level
    definitions in ``skip`` (a set of nodes)."""
    used = set()
    stack = [node for node in tree.body if node not in skip]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Name):
            used.add(node.id)
        elif isinstance(node, ast.Attribute):
            used.add(node.attr)
        elif isinstance(node, ast.alias):
            used.add(node.name.split(".")[-1])
        stack.extend(ast.iter_child_nodes(node))
    return used


def _stub(node):
    """``node`` (a top-level def or class) with a body that only says it is not here (a
    ForbiddenCall, which the worker reports as such: the grader's note says so)."""
    message = (f"{node.name} is left out of coursekit while your notebook is graded: this "
               "exercise asks you to write it yourself")
    raise_ = ast.parse("from coursekit.grading.failures import ForbiddenCall\n"
                       f"raise ForbiddenCall({message!r})").body
    doc = ast.get_docstring(node, clean=False)
    head = [ast.Expr(ast.Constant(doc))] if doc is not None else []
    if isinstance(node, ast.ClassDef):
        init = ast.parse("def __init__(self, *args, **kwargs):\n    pass").body[0]
        init.body = raise_
        node.body = [*head, init]
    else:
        node.body = [*head, *raise_]
    return node


def stripped_sources(root, names):
    """``_stripped_sources`` (see there), one thread at a time."""
    with _AST_LOCK:
        return _stripped_sources(root, names)


@functools.lru_cache(maxsize=16)
def _stripped_sources(root, names):
    """{path: stripped source (bytes)} for the modules of the package at ``root`` that define
    one of ``names`` (a tuple) at their top level where no code of the package uses it
    besides its own definition; the other definitions of those modules are left as they
    are. ``names`` used elsewhere are not stripped. The sources stay cached (they change
    only with coursekit)."""
    trees = {path: ast.parse(source) for path, source in _modules(root).items()}
    wanted = set(names)
    defined = {path: [node for node in tree.body
                      if isinstance(node, ast.FunctionDef | ast.ClassDef)
                      and node.name in wanted] for path, tree in trees.items()}
    used = set()
    for path, tree in trees.items():
        used |= _used_names(tree, set(defined[path]))
    out = {}
    for path, nodes in defined.items():
        nodes = [node for node in nodes if node.name not in used]
        if nodes:
            for node in nodes:
                _stub(node)
            out[path] = (ast.unparse(trees[path]) + "\n").encode()
    return out


def hidden_in(argv, binds, root, names):
    """bwrap's ``argv`` with the package at ``root`` seen without ``names`` (each module
    file stripped, from a file descriptor added to ``binds``, and its folder's compiled
    files hidden under an empty ``__pycache__``), mounted after every other mount."""
    sources = stripped_sources(str(root), tuple(sorted(names)))
    extra, hidden = [], set()
    for path, source in sorted(sources.items()):
        fd = binds.pass_file(source)
        extra += ["--perms", "0444", "--ro-bind-data", str(fd), str(path)]
        cache = Path(path).parent / "__pycache__"
        if cache.is_dir() and cache not in hidden:
            hidden.add(cache)
            extra += ["--perms", "0555", "--tmpfs", str(cache)]
    at = argv.index("--clearenv")
    return argv[:at] + extra + argv[at:]
