"""The package's layers (docs/ARCHITECTURE.md, "Layers"): every import, lazy ones inside
functions included, points to the module's own layer or one below it, and no modules import
each other in a loop."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from tests.helpers.data import REPO


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_imports(root: Path = REPO) -> dict[str, set[str]]:
    """{module: the dlwpt modules it imports anywhere in its body}."""
    modules = {module_name(p, root): p for p in (root / "dlwpt").rglob("*.py")}
    imports: dict[str, set[str]] = {}
    for name, path in modules.items():
        found = set()
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*up, base] if base else up)
                found.add(base)
                found.update(f"{base}.{alias.name}" for alias in node.names)
        imports[name] = {m for m in found if m in modules and m != name}
    return imports


def documented_layers() -> list[list[str]]:
    """ARCHITECTURE.md's layers, lowest first: each a list of module patterns (`engine/`)."""
    text = (REPO / "docs/ARCHITECTURE.md").read_text()
    section = text.split("## Layers", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\d+\. \*\*[^*]+\*\*[^:]*: (.+)$", section, flags=re.M)
    return [re.findall(r"`([^`]+)`", row) for row in rows]


def layer_of(module: str, layers: list[list[str]]) -> int:
    path = module.removeprefix("dlwpt").lstrip(".").replace(".", "/") or "__init__"
    for index, patterns in enumerate(layers):
        for pattern in patterns:
            if pattern.endswith("/") and (path + "/").startswith(pattern):
                return index
            if path == pattern.removesuffix(".py"):
                return index
    raise AssertionError(f"{module} is in no layer of docs/ARCHITECTURE.md")


def test_the_documented_layers_cover_the_package():
    layers = documented_layers()
    assert [len(layer) > 0 for layer in layers] == [True] * 5
    for module in package_imports():
        layer_of(module, layers)


def test_no_import_points_up_a_layer():
    layers, imports = documented_layers(), package_imports()
    upward = [f"{module} -> {target}" for module, targets in sorted(imports.items())
              for target in sorted(targets) if layer_of(target, layers) > layer_of(module, layers)]
    assert upward == []


def test_no_modules_import_each_other_in_a_loop():
    imports = package_imports()

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for nxt in imports[start] - seen:
            if nxt == goal or reaches(nxt, goal, seen | {nxt}):
                return True
        return False

    loops = sorted(m for m in imports if reaches(m, m, set()))
    assert loops == []


@pytest.mark.parametrize(("source", "expected"), [
    ("from dlwpt.report import build\n", "dlwpt.report.build"),
    ("def f():\n    from dlwpt import history\n", "dlwpt.history"),
    ("from . import costs\n", "dlwpt.costs"),
])
def test_the_walk_sees_lazy_and_relative_imports(tmp_path, source, expected):
    """The walk the other tests rely on: an import inside a function and a relative one count."""
    for module in ("__init__", "probe", "history", "costs", "report/__init__", "report/build"):
        (tmp_path / "dlwpt" / f"{module}.py").parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "dlwpt" / f"{module}.py").write_text("")
    (tmp_path / "dlwpt/probe.py").write_text(source)
    assert expected in package_imports(tmp_path)["dlwpt.probe"]
