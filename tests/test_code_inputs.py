"""Declared code: derived from the imports, checked against what a job really loads, and
digested so that only a change to what Python runs reruns a job.

The check does not trust the derivation: a fresh interpreter runs a script's import statements
(and the modules it loads by name at run time), and every package module that ends up in
sys.modules must be among the code params the workflow declares for that job of its dry run.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from dlwpt.code_inputs import (
    PLUMBING,
    code_params,
    imported_names,
    module_file,
    package_data,
    script_dependencies,
    source_digest,
)
from dlwpt.ingest import INGESTERS, ingest_module
from tests.helpers.data import CIFAR10, DATA, REPO
from tests.helpers.workflow import error_lines, planned_jobs, private_checkout, snakemake

# What each rule's script loads by computed name once it runs, per job (its wildcards).
LAZY_LOOKUPS = {
    "ingest_dataset": lambda w: f"from dlwpt.ingest import ingester; ingester({w['dataset']!r})",
}
# Downloads are pinned by checksum, so editing code must not fetch them again: no code params.
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
    write_package(tmp_path, {"pkg/__init__.py": "", "scripts/job.py": ""})
    with pytest.raises(ValueError, match="pkg.nope is not a module of pkg"):
        script_dependencies(tmp_path / "scripts/job.py", tmp_path, ["pkg.nope"], "pkg")


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


MODULE = '''"""A module."""

import os

LIMIT = 3  # a constant


class Box:
    """A box."""

    def size(self, x):
        """Its size."""
        def inner():
            """Nested."""
            return x
        return (os.sep, inner(), "not a docstring")


async def wait():
    \'\'\'Waits.\'\'\'
    return LIMIT
'''
# Edits that change no statement Python runs: the digest stays.
UNCHANGED = {
    "docstrings reworded": [('"""A module."""', '"""A module,\nreworded."""'),
                            ('"""Its size."""', '"""Its size, in full."""'),
                            ("\'\'\'Waits.\'\'\'", '"""Waits long."""')],
    "docstrings removed": [('"""A box."""\n', ""), ('"""Nested."""\n', "")],
    "comments": [("# a constant", "# a constant, changed"), ("import os\n", "import os\n# new\n")],
    "layout": [("LIMIT = 3", "LIMIT = (\n    3\n)"), ("inner(), ", "inner(),\n            "),
               ('"not a docstring"', "'not a docstring'"), ("\n\nclass", "\n\n\n\nclass")],
}
# Edits Python runs: the digest changes.
CHANGED = {
    "a constant": [("LIMIT = 3", "LIMIT = 4")],
    "a statement added": [("return LIMIT", "print()\n    return LIMIT")],
    "a string that is no docstring": [('"not a docstring"', '"changed"')],
    "a name": [("def size(self, x)", "def size(self, y)")],
}


def digests(tmp_path: Path, edits: list[tuple[str, str]]) -> tuple[str, str]:
    """source_digest of MODULE, and of MODULE with `edits` (old, new) made."""
    text = MODULE
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new)
    original, edited = tmp_path / "original.py", tmp_path / "edited.py"
    original.write_text(MODULE)
    edited.write_text(text)
    return source_digest(original), source_digest(edited)


@pytest.mark.parametrize("edits", UNCHANGED.values(), ids=UNCHANGED)
def test_comments_docstrings_and_layout_leave_the_digest(tmp_path, edits):
    before, after = digests(tmp_path, edits)
    assert after == before


@pytest.mark.parametrize("edits", CHANGED.values(), ids=CHANGED)
def test_a_change_python_runs_changes_the_digest(tmp_path, edits):
    before, after = digests(tmp_path, edits)
    assert after != before


def test_package_data_is_digested_by_its_bytes(tmp_path):
    page = tmp_path / "page.html"
    page.write_text("<!-- a comment -->\n<p>x</p>\n")
    assert source_digest(page) == hashlib.sha256(page.read_bytes()).hexdigest()


@pytest.mark.parametrize(("text", "problem"), [
    ("x = 1\ndef broken(:\n", ":2: invalid syntax"),
    ("x = (\n", ":1: \'(\' was never closed"),
])
def test_a_file_python_cannot_parse_is_one_line(tmp_path, text, problem):
    path = tmp_path / "bad.py"
    path.write_text(text)
    with pytest.raises(ValueError) as raised:
        source_digest(path)
    assert str(raised.value) == f"{path}{problem}"
    with pytest.raises(ValueError, match=re.escape(problem)):
        imported_names(path)


def test_code_params_are_one_mapping_of_each_files_path_in_the_checkout(tmp_path):
    write_package(tmp_path, SYNTHETIC)
    files = script_dependencies(tmp_path / "scripts/job.py", tmp_path, package="pkg")
    params = code_params([tmp_path / "scripts/job.py", *files], tmp_path)
    assert list(params) == ["code"]
    assert params["code"]["pkg/sub/c.py"] == source_digest(tmp_path / "pkg/sub/c.py")[:12]
    assert list(params["code"]) == [p.relative_to(tmp_path).as_posix()
                                    for p in sorted([tmp_path / "scripts/job.py", *files])]


def test_plumbing_is_imported_by_scripts_only():
    """A module a job's results depend on never imports a PLUMBING module: leaving those out
    of the code params hides no code that computes."""
    for script in sorted((REPO / "scripts").glob("*.py")):
        for path in script_dependencies(script, REPO):
            module = ".".join(path.relative_to(REPO).with_suffix("").parts).removesuffix(
                ".__init__")
            assert not set(imported_names(path, module)) & set(PLUMBING), (script, path)
    # the training job's script does import them, and they are left out
    train = script_dependencies(REPO / "scripts/train_model.py", REPO)
    assert set(imported_names(REPO / "scripts/train_model.py")) >= set(PLUMBING)
    assert not {module_file(m, REPO) for m in PLUMBING} & set(train)


# Loads the workflow as Snakemake does (its API) and prints, per job given on stdin as
# [rule, wildcards], the names of the rule's params and the value of its code param (the rule's
# `params: **code(...)`).
DECLARED_CODE = """
import json, sys, types
from pathlib import Path
from snakemake.api import SnakemakeApi
from snakemake.settings.types import OutputSettings, ResourceSettings

snakefile, workdir = sys.argv[1:3]
with SnakemakeApi(OutputSettings()) as api:
    workflow = api.workflow(ResourceSettings(cores=1), snakefile=Path(snakefile),
                            workdir=Path(workdir))._workflow
    rules = {rule.name: rule for rule in workflow.rules}
    found = []
    for rule, wildcards in json.load(sys.stdin):
        w = types.SimpleNamespace(**wildcards)
        params = dict(rules[rule].params.items())
        code = params.get("code")
        found.append([list(params), (code(w) if callable(code) else code) or {}])
print(json.dumps(found))
"""


def declared_code(workdir: Path, jobs: list[dict], checkout: Path = REPO) -> list[dict[str, str]]:
    """Per job (rule, wildcards dict), its code param: {path: digest}."""
    return [code for _, code in declared(workdir, jobs, checkout)]


def declared_params(workdir: Path, rule: str) -> dict:
    """A rule without wildcards: its params' names, the code param's value for "code"."""
    ((names, code),) = declared(workdir, [{"rule": rule, "wildcards": {}}])
    return {**dict.fromkeys(names), "code": code}


def declared(workdir: Path, jobs: list[dict], checkout: Path = REPO) -> list[list]:
    env = {**os.environ, "DLWPT_DATA": str(DATA), "DLWPT_CIFAR10": str(CIFAR10)}
    out = subprocess.run(
        [sys.executable, "-c", DECLARED_CODE, str(checkout / "Snakefile"), str(workdir)],
        input=json.dumps([[j["rule"], j["wildcards"]] for j in jobs]), env=env,
        capture_output=True, text=True, check=True).stdout
    return json.loads(out.splitlines()[-1])


@pytest.mark.pipeline
def test_every_job_declares_every_package_module_it_loads(tmp_path):
    """The workflow's own plan (a dry run from scratch) against fresh interpreters."""
    result = snakemake(tmp_path, "-n", "--cores", "2")
    jobs = planned_jobs(result.stdout)
    scripts = rule_scripts()
    assert set(scripts) - WITHOUT_CODE_INPUTS <= {j["rule"] for j in jobs}
    for job in jobs:
        job["wildcards"] = dict(w.split("=", 1) for w in job["wildcards"].split(", ") if w)
    package_dir = (REPO / "dlwpt").resolve()
    checked: dict[tuple[str, str], set[Path]] = {}
    # what a job loads that decides no result: the plumbing its script passes in
    (tmp_path / "no_imports.py").write_text("")
    plumbing = {p.resolve() for p in script_dependencies(tmp_path / "no_imports.py", REPO,
                                                         PLUMBING, leave_out=())}
    for job, code in zip(jobs, declared_code(tmp_path, jobs), strict=True):
        if job["rule"] not in scripts or job["rule"] in WITHOUT_CODE_INPUTS:
            assert code == {}, job["rule"]
            continue
        lookup = LAZY_LOOKUPS.get(job["rule"], lambda w: "")(job["wildcards"])
        key = (job["rule"], lookup)
        if key not in checked:
            checked[key] = loaded_modules(scripts[job["rule"]], REPO, "dlwpt", lookup)
            assert checked[key], key
        # paths relative to the checkout, each with its digest: no code file is an input
        assert all(code[rel] == source_digest(REPO / rel)[:12] for rel in code)
        assert not any((tmp_path / p).resolve().is_relative_to(package_dir) for p in job["input"])
        declared = {(REPO / rel).resolve() for rel in code}
        assert checked[key] - declared - plumbing == set(), (job["rule"], job["wildcards"])
        assert scripts[job["rule"]].resolve() in declared
        if job["rule"] == "make_report":
            assert set(package_data(package_dir / "report/templates")) <= declared
    # every dataset's own module was loaded and checked
    assert {k[1] for k in checked if k[0] == "ingest_dataset"} == {
        LAZY_LOOKUPS["ingest_dataset"]({"dataset": d}) for d in INGESTERS}


@pytest.mark.pipeline
def test_a_module_python_cannot_parse_stops_the_plan_with_one_line(tmp_path):
    """In a copy of the checkout (the shared one stays parseable for other runs): a syntax
    error in a module some job runs is one line naming the file and the line, before any job."""
    checkout = private_checkout(tmp_path / "checkout")
    broken = checkout / "dlwpt/engine/resident.py"
    lines = broken.read_text().splitlines()
    broken.write_text("\n".join([*lines, "def broken(:", ""]))
    work = tmp_path / "work"
    work.mkdir()
    result = snakemake(work, "-n", "--cores", "1", checkout=checkout, check=False)
    assert result.returncode != 0
    assert error_lines(result.stdout + result.stderr) == [
        f"code: {broken}:{len(lines) + 1}: invalid syntax"]
    assert not (work / "results").exists()


def architecture_list(section: str) -> set[str]:
    """The files docs/ARCHITECTURE.md lists under `section` (a bold line in "Code params")."""
    doc = (REPO / "docs/ARCHITECTURE.md").read_text()
    block = doc.split("## Code params", 1)[1].split(f"**{section}**", 1)[1].split("\n\n", 1)[0]
    return set(re.findall(r"`([\w/.]+\.py)`", block))


def test_the_documented_result_modules_are_the_training_jobs_code_param(tmp_path):
    """docs/ARCHITECTURE.md names what decides a training run's results: exactly the files of
    train_model's code param; and the plumbing it lists is PLUMBING."""
    (code,) = declared_code(tmp_path, [{"rule": "train_model",
                                        "wildcards": {"model": "net", "seed": "0"}}])
    assert architecture_list("Decide a training run's results") == set(code)
    assert architecture_list("Decide none") == {
        module_file(m, REPO).relative_to(REPO).as_posix() for m in PLUMBING}
