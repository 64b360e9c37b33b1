"""The shape of ``neep.estimators``: layers that import only downward, no circles, Keras-free layers.

Read from the source with ``ast`` (nothing is imported), so a violation is
reported with the file and line that makes it. The layers, bottom to top::

    data <- stats <- {baselines, nn, plots} <- training <- assessment <- estimator <- runs

``plots`` sits beside baselines and nn but reads data and stats only. Every
import counts, those inside functions too (a deferred import is still a
dependency), except under ``if TYPE_CHECKING:``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "estimators"

# Rank of each layer; a module may import its own layer or lower ones, never a higher one.
RANK = {"data": 0, "stats": 1, "baselines": 2, "nn": 2, "plots": 2, "training": 3, "assessment": 4,
        "estimator": 5, "runs": 6}
# Layers of one rank that must not import each other either.
SIBLINGS_APART = {"baselines", "nn", "plots"}
# What plots may read besides itself.
PLOTS_READ = {"data", "stats"}
# Layers and modules that must load without Keras, TensorFlow or JAX.
KERAS_FREE_LAYERS = {"data", "stats", "baselines", "plots"}
KERAS_FREE_MODULES = {"nn.kinds", "nn.backend", "training.config", "runs.defaults", "runs.large_batch",
                      "runs.atomic"}
HEAVY = ("keras", "tensorflow", "jax")
# The guide is ~400 lines a module; a little slack for a docstring, none for a second idea.
MAX_LINES = 420


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _type_checking_lines(tree: ast.AST) -> set[int]:
    lines = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                lines.update(range(child.lineno, child.end_lineno + 1))
    return lines


def _resolve(module: str, node: ast.ImportFrom) -> str:
    """The absolute name (within the package) that a relative ``from`` import names."""
    path = MODULES[module]
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    if module == "":
        package = []
    base = package[: len(package) - (node.level - 1)] if node.level > 1 else package
    return ".".join(base + ([node.module] if node.module else []))


def _imports(module: str) -> list[tuple[str, list[str], int, bool]]:
    """(target module in the package, names, line, at module level) of every package import of ``module``."""
    tree = ast.parse(MODULES[module].read_text())
    skipped = _type_checking_lines(tree)
    top = {id(n) for n in tree.body}
    found = []
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) in skipped:
            continue
        if isinstance(node, ast.ImportFrom):
            if node.level:
                target = _resolve(module, node)
            elif node.module and node.module.startswith("neep.estimators"):
                target = node.module[len("neep.estimators"):].lstrip(".")
            else:
                continue
            names = [a.name for a in node.names]
            # ``from . import x`` / ``from .pkg import mod``: a submodule is a target of its own.
            targets = [f"{target}.{n}".lstrip(".") for n in names if f"{target}.{n}".lstrip(".") in MODULES]
            for t in targets or [target]:
                found.append((t, names, node.lineno, id(node) in top))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("neep.estimators."):
                    found.append((alias.name[len("neep.estimators."):], [], node.lineno, id(node) in top))
    return found


def _heavy_at_top(module: str) -> list[str]:
    tree = ast.parse(MODULES[module].read_text())
    skipped = _type_checking_lines(tree)
    heavy = []
    for node in tree.body:
        if node.lineno in skipped:
            continue
        names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                 else [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
        heavy += [n for n in names if n.split(".")[0] in HEAVY]
    return heavy


def _layer(module: str) -> str:
    return module.split(".")[0]


def test_every_module_has_a_layer():
    assert not [m for m in MODULES if m and _layer(m) not in RANK]


@pytest.mark.parametrize("module", [m for m in MODULES if m])
def test_imports_run_downward(module):
    mine = _layer(module)
    bad = []
    for target, _, line, _ in _imports(module):
        if not target:
            bad.append(f"line {line}: imports the package root")
            continue
        theirs = _layer(target)
        if theirs == mine:
            continue
        if RANK[theirs] > RANK[mine]:
            bad.append(f"line {line}: {module} ({mine}) imports {target} ({theirs}), a higher layer")
        elif RANK[theirs] == RANK[mine] and {mine, theirs} <= SIBLINGS_APART:
            bad.append(f"line {line}: {module} imports its sibling layer {target}")
        elif mine == "plots" and theirs not in PLOTS_READ:
            bad.append(f"line {line}: plots read data and stats only, not {target}")
    assert not bad, "\n".join(bad)


def test_no_import_circles():
    graph = {m: {t for t, _, _, _ in _imports(m) if t in MODULES and t != m} for m in MODULES if m}
    state: dict[str, int] = {}
    cycles = []

    def visit(node, stack):
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append(" -> ".join(stack[stack.index(nxt):] + [nxt]))
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = 2

    for node in graph:
        if node not in state:
            visit(node, [node])
    assert not cycles, "\n".join(cycles)


@pytest.mark.parametrize("module", [m for m in MODULES if m and (_layer(m) in KERAS_FREE_LAYERS
                                                              or m in KERAS_FREE_MODULES)])
def test_keras_free_modules_load_nothing_heavy(module):
    """Neither they nor anything they import at module level (within the package) import Keras."""
    seen, todo, heavy = set(), [module], []
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        heavy += [f"{current}: {name}" for name in _heavy_at_top(current)]
        todo += [t for t, _, _, top in _imports(current) if top and t in MODULES]
        parent = current.rsplit(".", 1)[0] if "." in current else None
        if parent:
            todo.append(parent)  # a package's __init__ runs before its modules
    assert not heavy, "\n".join(heavy)


@pytest.mark.parametrize("module", [m for m in MODULES if m])
def test_no_private_name_crosses_a_module(module):
    bad = [f"line {line}: {name} from {target}" for target, names, line, _ in _imports(module)
           for name in names if name.startswith("_") and target != module]
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("module", [m for m in MODULES if m and RANK[_layer(m)] < RANK["estimator"]])
def test_no_module_below_the_estimator_names_it(module):
    tree = ast.parse(MODULES[module].read_text())
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    names |= {a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) for a in n.names}
    assert "NEEP" not in names


@pytest.mark.parametrize("module", list(MODULES))
def test_modules_stay_small(module):
    lines = len(MODULES[module].read_text().splitlines())
    assert lines <= MAX_LINES, f"{MODULES[module]}: {lines} lines (one idea per module, ~400 at most)"


def test_every_module_declares_all():
    missing = [m for m, path in MODULES.items() if "__all__" not in path.read_text()]
    assert not missing
