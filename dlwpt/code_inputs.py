"""Which package files a job runs, read from its script's `import` statements (nothing is
imported), and their digests: a rule's `code` param (docs/ARCHITECTURE.md, "Code params")."""

import ast
import functools
import hashlib
import importlib.util
from collections.abc import Iterable
from itertools import accumulate
from pathlib import Path

# Modules that decide no job's outputs (GPU claim, orphan watch, progress, TensorBoard files):
# scripts/train_model.py passes them into dlwpt.train; never in code params.
PLUMBING = ("dlwpt.devices", "dlwpt.live", "dlwpt.orphan", "dlwpt.progress")

_Import = ast.Import | ast.ImportFrom
_WITH_DOCSTRING = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)


def read_python(source: Path) -> tuple[tuple[_Import, ...], str]:
    """The import statements of `source`, in `ast.walk` order, and its code's digest; a file
    Python cannot parse raises a one-line ValueError."""
    try:
        text = source.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(f"{source}: not UTF-8 ({e.reason})") from None
    return _read_python(text, str(source))


@functools.lru_cache(maxsize=1024)
def _read_python(text: str, filename: str) -> tuple[tuple[_Import, ...], str]:
    # Keyed by the text: parsed once however many jobs hold it, and again once edited.
    try:
        tree = ast.parse(text, filename=filename)
    except SyntaxError as e:
        raise ValueError(f"{filename}:{e.lineno}: {e.msg}") from None
    imports: list[_Import] = []
    for node in ast.walk(tree):  # a node's children are queued before it is yielded
        if isinstance(node, _Import):
            imports.append(node)
        elif isinstance(node, _WITH_DOCSTRING) and ast.get_docstring(node, clean=False) is not None:
            node.body = node.body[1:]
    dump = ast.dump(tree, annotate_fields=True, include_attributes=False)
    return tuple(imports), hashlib.sha256(dump.encode()).hexdigest()


def module_file(name: str, root: Path) -> Path | None:
    """The source of module `name` (dotted) under `root`, the folder holding the top package."""
    base = root.joinpath(*name.split("."))
    return next((f for f in (base / "__init__.py", base.with_suffix(".py")) if f.is_file()), None)


def imported_names(source: Path, module: str | None = None) -> dict[str, bool]:
    """The modules `source` (module `module`; None for a script) imports, each mapped to whether
    it may instead be a name defined in its parent (`from a import b`)."""
    imports, _ = read_python(source)
    # The package a relative import starts from: a package's own name, else its parent's.
    package = "" if module is None else (
        module if source.name == "__init__.py" else module.rpartition(".")[0])
    names: dict[str, bool] = {}
    for node in imports:
        aliases = [a.name for a in node.names]
        if isinstance(node, ast.Import):
            names.update(dict.fromkeys((n for a in aliases for n in _with_parents(a)), False))
            continue
        try:  # an absolute name comes back as it is
            base = importlib.util.resolve_name("." * node.level + (node.module or ""), package)
        except ImportError:
            where = "beyond the top package" if package else "outside a package"
            raise ValueError(f"{source}: relative import {where}") from None
        for alias in aliases:
            if alias != "*":
                names.setdefault(f"{base}.{alias}", True)
        names.update(dict.fromkeys(_with_parents(base), False))
    return names


def _with_parents(name: str) -> list[str]:
    return list(accumulate(name.split("."), lambda parent, part: f"{parent}.{part}"))


def script_dependencies(script: Path, root: Path, modules: Iterable[str] = (),
                        package: str = "dlwpt", leave_out: Iterable[str] = PLUMBING) -> list[Path]:
    """Module files a script runs that decide its outputs: what it imports and what it loads by
    computed name (`modules`), transitively, sorted; `leave_out` modules are not followed."""
    # (module name, may be an attribute, who asked)
    todo: list[tuple[str, bool, Path | str]] = [
        (name, maybe, script) for name, maybe in imported_names(script).items()]
    todo += [(parent, False, name) for name in modules for parent in _with_parents(name)]
    found: dict[str, Path] = {}
    leave_out = set(leave_out)
    while todo:
        name, maybe_attribute, asker = todo.pop()
        if not f"{name}.".startswith(f"{package}.") or name in found or name in leave_out:
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
    """Every file under a package-data folder (templates, stylesheets), sorted; none for a
    missing folder (a module reading it fails on its own)."""
    return sorted(p for p in folder.rglob("*")
                  if p.is_file() and "__pycache__" not in p.parts and not p.name.startswith("."))


def source_digest(path: Path) -> str:
    """sha256 of what a job runs of `path`: for Python its syntax tree without line numbers or
    docstrings (a new Python may rerun every job once); for other files their bytes."""
    return read_python(path)[1] if path.suffix == ".py" else hashlib.sha256(
        path.read_bytes()).hexdigest()


def code_params(files: Iterable[Path], root: Path) -> dict[str, dict[str, str]]:
    """A rule's `code` param: each file's path relative to `root` to its digest's first 12 hex
    digits, enough to tell versions apart (`reason:` prints them, so the changed file shows)."""
    return {"code": {path.relative_to(root).as_posix(): source_digest(path)[:12]
                     for path in sorted(files)}}
