"""Declared code inputs: derived from the imports, and checked against what a job really loads.

The check does not trust the derivation: a fresh interpreter runs a script's import statements
(and the modules it loads by name at run time), and every package module that ends up in
sys.modules must be among the inputs the workflow's dry run declares for that job.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from dlwpt.code_inputs import (
    imported_names,
    module_dependencies,
    module_file,
    package_data,
    script_dependencies,
)
from dlwpt.ingest import INGESTERS, ingest_module
from tests.helpers.data import REPO
from tests.helpers.workflow import planned_jobs, snakemake

# What each rule's script loads by computed name once it runs, per job (its wildcards).
LAZY_LOOKUPS = {
    "ingest_dataset": lambda w: f"from dlwpt.ingest import ingester; ingester({w['dataset']!r})",
}
# Downloads are pinned by checksum, so editing code must not fetch them again: no code inputs.
WITHOUT_CODE_INPUTS = {"fetch_raw_file", "fetch_cifar10"}


def loaded_modules(script: Path, root: Path, package: str, then: str = "") -> set[Path]:
    """The files of `package`'s modules a fresh interpreter holds after running every import
    statement of `script` (as the job does on start) and then `then` (its lookups by name)."""
    tree = ast.parse(script.read_text())
    imports = [ast.unparse(n) for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom)]
    program = "\n".join([
        "import json, sys",
        f"sys.path[:0] = [{str(script.parent)!r}, {str(root)!r}]",
        *imports,
        then,
        f"mods = [m for n, m in list(sys.modules.items()) if n.split('.')[0] == {package!r}]",
        "print(json.dumps([getattr(m, '__file__', None) for m in mods]))",
    ])
    out = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                         cwd=root, check=True).stdout
    return {Path(f).resolve() for f in json.loads(out.splitlines()[-1]) if f}


def undeclared(script: Path, root: Path, declared: list[str] | list[Path], package: str = "dlwpt",
               then: str = "") -> set[Path]:
    return loaded_modules(script, root, package, then) - {Path(p).resolve() for p in declared}


def rule_scripts() -> dict[str, Path]:
    """rule -> script, as the rule files name them."""
    scripts = {}
    for smk in sorted((REPO / "rules").glob("*.smk")):
        for block in re.split(r"^(?=rule )", smk.read_text(), flags=re.M):
            found = re.search(r"^rule (\w+):(?s:.*)^    script:\s+\"\.\./scripts/([\w.]+)\"",
                              block, flags=re.M)
            if found:
                scripts[found.group(1)] = REPO / "scripts" / found.group(2)
    return scripts


def write_package(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


SYNTHETIC = {
    "pkg/__init__.py": "VERSION = 1\n",
    "pkg/a.py": """
        from pkg.sub import c

        def later():
            from . import b  # imported when called: still a dependency
            return b
        """,
    "pkg/b.py": "import os\n",
    "pkg/sub/__init__.py": "from .c import thing\n",
    "pkg/sub/c.py": "from ..d import helper\nthing = helper\n",
    "pkg/d.py": "def helper():\n    return 1\n",
    "pkg/unused.py": "import pkg.a\n",
    "pkg/hidden.py": "X = 2\n",
    "scripts/job.py": "import json\nimport pkg.a\nfrom pkg import VERSION\n",
}


def test_derivation_follows_absolute_relative_and_function_level_imports(tmp_path):
    write_package(tmp_path, SYNTHETIC)
    found = script_dependencies(tmp_path / "scripts/job.py", tmp_path, package="pkg")
    assert [p.relative_to(tmp_path).as_posix() for p in found] == [
        "pkg/__init__.py", "pkg/a.py", "pkg/b.py", "pkg/d.py", "pkg/sub/__init__.py",
        "pkg/sub/c.py"]
    # a module loaded by computed name is named by the caller, with what it imports
    found = script_dependencies(tmp_path / "scripts/job.py", tmp_path, ["pkg.unused"], "pkg")
    assert tmp_path / "pkg/unused.py" in found and tmp_path / "pkg/hidden.py" not in found


def test_imported_names_resolve_relative_imports_from_a_package_and_a_module(tmp_path):
    write_package(tmp_path, SYNTHETIC)
    assert imported_names(tmp_path / "pkg/sub/__init__.py", "pkg.sub") == {
        "pkg": False, "pkg.sub": False, "pkg.sub.c": False, "pkg.sub.c.thing": True}
    assert imported_names(tmp_path / "pkg/sub/c.py", "pkg.sub.c") == {
        "pkg": False, "pkg.d": False, "pkg.d.helper": True}


@pytest.mark.parametrize(("files", "problem"), [
    ({"scripts/job.py": "import pkg.missing\n"}, "pkg.missing is not a module of pkg"),
    ({"scripts/job.py": "from pkg.missing import x\n"}, "pkg.missing is not a module of pkg"),
    ({"scripts/job.py": "from . import x\n"}, "relative import outside a package"),
    ({"scripts/job.py": "import pkg.a\n", "pkg/a.py": "from ... import x\n"},
     "relative import beyond the top package"),
])
def test_an_import_that_cannot_load_is_an_error(tmp_path, files, problem):
    write_package(tmp_path, {"pkg/__init__.py": "", **files})
    with pytest.raises(ValueError, match=re.escape(problem)):
        script_dependencies(tmp_path / "scripts/job.py", tmp_path, package="pkg")


def test_a_named_module_must_exist(tmp_path):
    write_package(tmp_path, {"pkg/__init__.py": ""})
    with pytest.raises(ValueError, match="pkg.nope is not a module of pkg"):
        module_dependencies(["pkg.nope"], tmp_path, "pkg")


def test_package_data_lists_every_file_of_the_folder(tmp_path):
    write_package(tmp_path, {"pkg/templates/page.html.j2": "x", "pkg/templates/css/site.css": "y",
                             "pkg/templates/.hidden": "z", "pkg/templates/__pycache__/a.pyc": ""})
    assert package_data(tmp_path / "pkg/templates") == [
        tmp_path / "pkg/templates/css/site.css", tmp_path / "pkg/templates/page.html.j2"]
    assert package_data(tmp_path / "pkg/absent") == []


def test_the_check_catches_a_module_the_declared_inputs_miss(tmp_path):
    """The check compares with what Python really loads, so it sees what a derivation misses:
    a module loaded by computed name, or one left out of a declared list."""
    write_package(tmp_path, SYNTHETIC)
    script = tmp_path / "scripts/job.py"
    declared = script_dependencies(script, tmp_path, package="pkg")
    assert undeclared(script, tmp_path, declared, "pkg") == set()
    assert undeclared(script, tmp_path, declared[1:], "pkg") == {tmp_path / "pkg/__init__.py"}
    # a module loaded by computed name at run time: missed unless the caller names it
    lookup = "import importlib; importlib.import_module('pkg.' + 'hidden')"
    assert undeclared(script, tmp_path, declared, "pkg", then=lookup) == {
        tmp_path / "pkg/hidden.py"}
    named = script_dependencies(script, tmp_path, ["pkg.hidden"], "pkg")
    assert undeclared(script, tmp_path, named, "pkg", then=lookup) == set()


def test_ingest_code_is_the_dispatcher_and_the_datasets_own_module():
    for name in INGESTERS:
        found = {p.relative_to(REPO).as_posix() for p in script_dependencies(
            REPO / "scripts/ingest.py", REPO, [ingest_module(name)])}
        def source(n: str) -> str:  # a module file, or a package's __init__.py
            return module_file(ingest_module(n), REPO).relative_to(REPO).as_posix()

        own = source(name)
        others = {source(n) for n in INGESTERS} - {own}
        assert {own, "dlwpt/ingest/__init__.py", "dlwpt/ingest/common.py", "dlwpt/io.py",
                "dlwpt/__init__.py"} <= found and not found & others, name


@pytest.mark.pipeline
def test_every_job_declares_every_package_module_it_loads(tmp_path):
    """The workflow's own plan (a dry run from scratch) against fresh interpreters."""
    result = snakemake(tmp_path, "-n", "--cores", "2")
    jobs = planned_jobs(result.stdout)
    scripts = rule_scripts()
    assert set(scripts) - WITHOUT_CODE_INPUTS <= {j["rule"] for j in jobs}
    package_dir = (REPO / "dlwpt").resolve()
    checked: dict[tuple[str, str], set[Path]] = {}
    for job in jobs:
        if job["rule"] not in scripts or job["rule"] in WITHOUT_CODE_INPUTS:
            continue
        wildcards = dict(w.split("=", 1) for w in job["wildcards"].split(", ") if w)
        lookup = LAZY_LOOKUPS.get(job["rule"], lambda w: "")(wildcards)
        key = (job["rule"], lookup)
        if key not in checked:
            checked[key] = loaded_modules(scripts[job["rule"]], REPO, "dlwpt", lookup)
            assert checked[key], key
        declared = {(tmp_path / p).resolve() for p in job["input"]}  # relative to the work dir
        assert checked[key] - declared == set(), (job["rule"], job["wildcards"])
        if job["rule"] == "make_report":
            assert set(package_data(package_dir / "report/templates")) <= declared
    # every dataset's own module was loaded and checked
    assert {k[1] for k in checked if k[0] == "ingest_dataset"} == {
        LAZY_LOOKUPS["ingest_dataset"]({"dataset": d}) for d in INGESTERS}
