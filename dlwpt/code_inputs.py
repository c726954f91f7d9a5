"""Which package files a job runs, derived from the `import` statements of its script.

Rules declare these files as inputs so that editing a module reruns exactly the jobs that import
it. The files are found by reading the sources (nothing is imported: the Snakefile stays cheap to
parse and the workflow never runs package code to plan a job). Every import statement counts,
also those inside functions or `if` blocks: a job that may run a module depends on it, and
declaring one module too many costs a rerun, one too few a stale result. Imports by computed name
(`importlib.import_module(f"...{x}")`) cannot be read; callers name those modules themselves
(see `dlwpt.ingest.ingest_module`).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

PACKAGE = "dlwpt"


def module_file(name: str, root: Path) -> Path | None:
    """The source of module `name` (dotted) under `root`, the folder holding the top package."""
    base = root.joinpath(*name.split("."))
    for candidate in (base / "__init__.py", base.with_suffix(".py")):
        if candidate.is_file():
            return candidate
    return None


def imported_names(source: Path, module: str | None = None) -> dict[str, bool]:
    """The module names the import statements of `source` load, relative imports resolved,
    each mapped to whether it may instead be a name defined in its parent.

    `module` is the dotted name of `source` (None for a script, which has no package for a
    relative import). `import a.b.c` loads a, a.b and a.b.c; `from a import b` loads a, and a.b
    as well when b is a submodule rather than a name defined in a (b maps to True).
    """
    tree = ast.parse(source.read_text(encoding="utf-8"), filename=str(source))
    # The package a relative import starts from: a package's own name, else its parent's.
    package = "" if module is None else (
        module if source.name == "__init__.py" else module.rpartition(".")[0])
    names: dict[str, bool] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(dict.fromkeys(
                (n for alias in node.names for n in _with_parents(alias.name)), False))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                if not package:
                    raise ValueError(f"{source}: relative import outside a package")
                parts = package.split(".")
                if node.level - 1 >= len(parts):
                    raise ValueError(f"{source}: relative import beyond the top package")
                base = ".".join(parts[: len(parts) - (node.level - 1)])
                base = f"{base}.{node.module}" if node.module else base
            else:
                base = node.module or ""
            for alias in node.names:
                if alias.name != "*":
                    names.setdefault(f"{base}.{alias.name}", True)
            names.update(dict.fromkeys(_with_parents(base), False))
    return names


def _with_parents(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def _in_package(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def module_dependencies(names: Iterable[str], root: Path, package: str = PACKAGE) -> list[Path]:
    """The files of the modules of `package` among `names` (dotted) and of every module they
    import, transitively, sorted. A named module without a file raises."""
    return _closure([(name, False, name) for name in names], root, package)


def script_dependencies(script: Path, root: Path, modules: Iterable[str] = (),
                        package: str = PACKAGE) -> list[Path]:
    """Module files a script runs: what it imports, and the modules it loads by computed name
    (`modules`, dotted names), each with everything they import in turn, sorted."""
    todo: list[tuple[str, bool, Path | str]] = [
        (name, maybe, script) for name, maybe in imported_names(script).items()]
    todo += [(parent, False, name) for name in modules for parent in _with_parents(name)]
    return _closure(todo, root, package)


def _closure(todo: list[tuple[str, bool, Path | str]], root: Path, package: str) -> list[Path]:
    """Resolve (module name, may be an attribute, who asked) entries transitively."""
    found: dict[str, Path] = {}
    while todo:
        name, maybe_attribute, asker = todo.pop()
        if not _in_package(name, package) or name in found:
            continue
        path = module_file(name, root)
        if path is None:
            if maybe_attribute:
                continue  # `from parent import name`: a name defined in parent
            raise ValueError(f"{asker}: {name} is not a module of {package} under {root}")
        found[name] = path
        todo += [(n, maybe, path) for n, maybe in imported_names(path, name).items()]
    return sorted(found.values())


def package_data(folder: Path) -> list[Path]:
    """Every file under a package-data folder (templates, stylesheets), sorted.

    A folder that does not exist contributes nothing, so a rule may name a folder before the
    code that reads it lands; a module that reads files from it fails loudly on its own.
    """
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.rglob("*")
                  if p.is_file() and "__pycache__" not in p.parts and not p.name.startswith("."))
