"""The layout rules of the code base, checked on its source.

- No module reads another module's private names: an attribute ``obj._name``
  read where ``obj`` is not ``self``, ``cls`` or ``super()`` and ``_name`` is
  not defined in the same file. Everything that crosses a module goes through
  the public protocol (``training_data``, ``update_rule``, ``train_students``,
  :mod:`sk_metabp.rules`, the predictor protocol).
- Modes own their behaviour: no switch on ``mode.name`` outside ``_modes``.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCANNED = ("sk_metabp", "benchmarks", "examples")
# dunder names are the language's, not a module's private names
_DUNDER = ("__",)


def _files():
    for folder in SCANNED:
        yield from sorted((ROOT / folder).rglob("*.py"))


def _defined_names(tree):
    """Every name a file defines: functions, classes, attributes it assigns,
    parameters and imported names."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Attribute) and isinstance(
            node.ctx, (ast.Store, ast.Del)
        ):
            names.add(node.attr)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.alias):
            names.add((node.asname or node.name).split(".")[-1])
    return names


def _is_own(value):
    if isinstance(value, ast.Name) and value.id in ("self", "cls"):
        return True
    return (
        isinstance(value, ast.Call)
        and isinstance(value.func, ast.Name)
        and value.func.id == "super"
    )


def private_reads(source):
    """``(line, text)`` of every read of another module's private attribute."""
    tree = ast.parse(source)
    defined = _defined_names(tree)
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute) or not isinstance(node.ctx, ast.Load):
            continue
        name = node.attr
        if not name.startswith("_") or name.startswith(_DUNDER):
            continue
        if _is_own(node.value) or name in defined:
            continue
        found.append((node.lineno, ast.unparse(node)))
    return found


def mode_name_switches(source):
    """``(line, text)`` of every comparison that reads ``<something>.name`` of a
    mode (an attribute chain ending in ``mode.name`` or ``mode_.name``)."""
    tree = ast.parse(source)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            for part in [node.left, *node.comparators]:
                if (
                    isinstance(part, ast.Attribute)
                    and part.attr == "name"
                    and ast.unparse(part.value).split(".")[-1] in ("mode", "mode_")
                ):
                    found.append((node.lineno, ast.unparse(node)))
    return found


def test_the_scan_finds_what_it_looks_for():
    # the checks below pass only if they can fail
    src = (
        "def f(clf, mode):\n"
        "    clf._train_stack()\n"
        "    self._ok()\n"
        "    super()._fine()\n"
        "    if mode.name == 'link':\n"
        "        pass\n"
    )
    assert private_reads(src) == [(2, "clf._train_stack")]
    assert mode_name_switches(src) == [(5, "mode.name == 'link'")]
    # a private name the file defines itself is its own
    own = "class A:\n    def _g(self):\n        pass\n\ndef f(a):\n    a._g()\n"
    assert private_reads(own) == []


@pytest.mark.parametrize("path", list(_files()), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_reads_another_modules_private_names(path):
    found = private_reads(path.read_text())
    assert not found, f"{path.relative_to(ROOT)} reads private names: {found}"


def private_imports(source):
    """``(line, module)`` of every import of a private module of sk_metabp."""
    found = []
    for node in ast.walk(ast.parse(source)):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "sk_metabp" and any(p.startswith("_") for p in parts[1:]):
                found.append((node.lineno, name))
    return found


def test_the_import_scan_finds_private_modules():
    src = "from sk_metabp._mlp import train\nimport sk_metabp.rules\n"
    assert private_imports(src) == [(1, "sk_metabp._mlp")]


@pytest.mark.parametrize(
    "path",
    [p for p in _files() if p.parts[-2] in ("benchmarks", "examples")],
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_benchmarks_and_examples_use_public_modules_only(path):
    found = private_imports(path.read_text())
    assert not found, f"{path.relative_to(ROOT)} imports private modules: {found}"


@pytest.mark.parametrize("path", list(_files()), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_switch_on_mode_name_outside_modes(path):
    if path.name == "_modes.py":
        return
    found = mode_name_switches(path.read_text())
    assert not found, f"{path.relative_to(ROOT)} switches on a mode's name: {found}"
