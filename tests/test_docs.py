"""The Markdown files point only at what the repository holds, say what they measured, and run
the commands they show; the README stays short.

Every relative link, its `#anchor` included, and every repository path written in backticks
(`docs/cluster.md`, `dlwpt/train.py`, `config/sweeps.yaml`, a bare `statistics.md`) must name
something in the checkout. Skipped: what runs write (results/, logs/, ...), URLs, absolute and
`..` paths (data outside the checkout), globs and placeholders (`<model>`, `*.smk`, `{a,b}`), and
file names a reader makes up (`my.yaml`: bare names count only with a suffix from BARE_SUFFIXES).
"""

from __future__ import annotations

import os
import posixpath
import re
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

from tests.helpers.data import CIFAR10, DATA

REPO = Path(__file__).resolve().parents[1]
README_MAX_LINES = 200
# Written by runs, git-ignored: a doc may name them although the checkout does not hold them.
OUTPUTS = ("results/", "resources/", "logs/", "benchmarks/", ".venv/", ".snakemake/",
           "tests/artifacts/")
# A backticked token with one of these suffixes, or under a top-level folder of the checkout,
# names a repository file. Without a folder only the BARE_SUFFIXES count: a bare `one-seed.yaml`
# or `summary.json` is an example a user writes or an output, not a file of the checkout.
PATH_SUFFIXES = (".md", ".py", ".smk", ".yaml", ".yml", ".sh", ".toml", ".txt", ".html", ".css",
                 ".json")
BARE_SUFFIXES = (".md", ".py", ".smk", ".sh", ".toml")
PLACEHOLDER = re.compile(r"[<>*?{}\[\]$=~|]|\.\.\.|://")
LINK = re.compile(r"!?\[[^\]\n]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
# A code span may wrap onto the next line of its paragraph, never past a blank line.
CODE_SPAN = re.compile(r"(?<!`)`((?:[^`\n]|\n(?!\s*\n))+)`(?!`)")
FENCE = re.compile(r"^\s*(```|~~~)")


@cache
def checkout() -> tuple[frozenset[str], frozenset[str]]:
    """The checkout's files (tracked, and new ones git does not ignore) and their folders."""
    try:
        listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO,
                                capture_output=True, text=True, check=True).stdout.splitlines()
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    files = frozenset(p for p in listed if (REPO / p).is_file())
    folders = frozenset(str(parent) for p in files for parent in Path(p).parents
                        if str(parent) != ".")
    return files, folders


def markdown_files() -> list[str]:
    return sorted(p for p in checkout()[0] if p.endswith(".md"))


def prose(text: str) -> str:
    """The text without its fenced code blocks (commands and output, not references)."""
    kept, fenced = [], False
    for line in text.splitlines():
        if FENCE.match(line):
            fenced = not fenced
        elif not fenced:
            kept.append(line)
    return "\n".join(kept)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).replace("`", "")
    return re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")


def anchors(text: str) -> set[str]:
    found: set[str] = set()
    for line in prose(text).splitlines():
        heading = re.match(r"#{1,6}\s+(.*?)\s*#*\s*$", line)
        if heading:
            base = slug(heading.group(1))
            name, n = base, 0
            while name in found:  # GitHub numbers repeated headings
                n += 1
                name = f"{base}-{n}"
            found.add(name)
    return found


def link_problems(doc: str, text: str) -> list[str]:
    """Relative links of `doc` (a path in the checkout) whose file or anchor is missing."""
    files, folders = checkout()
    problems = []
    for target in LINK.findall(prose(text)):
        if re.match(r"[a-zA-Z][a-zA-Z0-9+.-]*:", target):  # https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        rel = posixpath.normpath(posixpath.join(posixpath.dirname(doc), path)) if path else doc
        if rel.startswith("../") or rel == "..":
            problems.append(f"{doc}: link {target} leaves the repository")
        elif rel not in files and rel not in folders:
            problems.append(f"{doc}: link {target}: no {rel} in the repository")
        elif anchor and rel.endswith(".md") and anchor not in anchors((REPO / rel).read_text()):
            problems.append(f"{doc}: link {target}: {rel} has no heading #{anchor}")
    return problems


def named_path(token: str) -> str | None:
    """The repository path a backticked token names, or None when it names none."""
    token = token.lstrip("(").rstrip(",;:)").split("::")[0]
    if token.startswith("./"):
        token = token[2:]
    if (not token or PLACEHOLDER.search(token) or token.startswith(("/", ".."))
            or token.startswith(OUTPUTS)):
        return None
    files, folders = checkout()
    top = {p.split("/")[0] for p in files}
    if "/" in token:
        if token.split("/")[0] in top or token.rstrip("/").endswith(PATH_SUFFIXES):
            return token
        return None
    return token if token.endswith(BARE_SUFFIXES) else None


def path_problems(doc: str, text: str) -> list[str]:
    """Backticked repository paths of `doc` that the checkout does not hold. A path without a
    top-level folder (`ingest/__init__.py`, `statistics.md`) may sit in any folder."""
    files, folders = checkout()
    top = {p.split("/")[0] for p in files}
    problems = []
    for span in CODE_SPAN.findall(prose(text)):
        for token in span.split():
            path = named_path(token)
            if path is None:
                continue
            bare = path.rstrip("/")
            if bare.split("/")[0] in top:
                found = bare in files or bare in folders
            else:
                found = any(p == bare or p.endswith("/" + bare) for p in files | folders)
            if not found:
                problems.append(f"{doc}: `{span}` names {path}, which the repository lacks")
    return problems


def test_the_checker_finds_a_missing_file_a_missing_anchor_and_skips_outputs():
    text = ("See `PRIVATE-NOTES.md`, [the notes](docs/notes.md), "
            "[a section](docs/cluster.md#no-such-heading), `dlwpt/nope.py`.\n"
            "Fine: `docs/cluster.md`, [Slurm](docs/cluster.md#a-slurm-cluster), `config/`, "
            "`results/train/<model>/`, `summary.json`, `my.yaml`, `rules/*.smk`, "
            "`ingest/__init__.py`, `../shared/data`, [web](https://example.org/x.md).\n"
            "```sh\ncat PRIVATE-NOTES.md\n```\n")
    problems = link_problems("README.md", text) + path_problems("README.md", text)
    assert len(problems) == 4, problems
    for name in ("PRIVATE-NOTES.md", "docs/notes.md", "#no-such-heading", "dlwpt/nope.py"):
        assert any(name in p for p in problems), (name, problems)


@pytest.mark.parametrize("doc", markdown_files())
def test_a_markdown_file_refers_only_to_what_the_repository_holds(doc):
    text = (REPO / doc).read_text()
    problems = link_problems(doc, text) + path_problems(doc, text)
    assert not problems, "\n".join(problems)


def test_the_readme_is_short_and_links_every_doc():
    readme = (REPO / "README.md").read_text()
    lines = readme.count("\n")
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines"
    linked = {target.partition("#")[0] for target in LINK.findall(prose(readme))}
    docs = sorted(p.relative_to(REPO).as_posix() for p in (REPO / "docs").glob("*.md"))
    assert docs and not set(docs) - linked, set(docs) - linked


# A time or a speed: "20 minutes", "3.6 s", "2m03s", "4h51m", "18 hours", "minutes".
DURATION = re.compile(r"\b\d[\d,.]*\s?(?:ms|s|min|minutes?|h|hours?)\b|\b\d+[hm]\d+[ms]?\b"
                      r"|\b(?:minutes|hours|an hour|a minute)\b")
SENTENCE_END = re.compile(r"(?<=[.;])\s+(?=[A-Z(`\[])")


def duration_sentences(text: str) -> list[str]:
    """The sentences and table rows of the prose that state a duration (code spans left out:
    they quote what a run prints)."""
    found = []
    for block in re.split(r"\n\s*\n", prose(text)):
        for part in SENTENCE_END.split(" ".join(CODE_SPAN.sub("`code`", block).split())):
            if DURATION.search(part):
                found.append(part)
    return found


def test_the_checker_finds_a_duration_neither_measured_nor_projected():
    text = ("It takes about 20 minutes on a GPU. Projected: 18 hours on a CPU. The quick run took "
            "2m03s ([measured](BENCHMARKS.md#run-time-estimates-against-actual-runs)).\n\n"
            "| row | minutes on a CPU |\n\nEpoch lines say `ETA 4h51m`. Three seeds, 2 epochs.")
    unbacked = [s for s in duration_sentences(text)
                if "BENCHMARKS.md#" not in s and "projected" not in s.lower()]
    assert unbacked == ["It takes about 20 minutes on a GPU.", "| row | minutes on a CPU |"]


def test_every_time_in_the_readme_is_measured_or_projected():
    """A sentence of the README that states a time links the BENCHMARKS.md section that
    measured it, or says it is projected (the projections' sources: docs/training.md)."""
    unbacked = [s for s in duration_sentences((REPO / "README.md").read_text())
                if "BENCHMARKS.md#" not in s and "projected" not in s.lower()]
    assert not unbacked, "\n".join(unbacked)


ISSUE = re.compile(r"\bissues? #?\d+|(?:^|[\s(])#\d{1,5}\b", re.IGNORECASE)


def test_no_file_outside_tests_names_an_issue_number():
    """The repository describes what it does; issue numbers mean nothing to its readers."""
    files, _ = checkout()
    found = []
    for rel in sorted(p for p in files if not p.startswith("tests/")
                      and p.endswith((".md", ".py", ".smk", ".sh", ".yaml", ".toml", ".txt"))
                      or p in {"Makefile", "Snakefile", ".ci/run"}):
        for n, line in enumerate((REPO / rel).read_text(errors="replace").splitlines(), 1):
            if ISSUE.search(line):
                found.append(f"{rel}:{n}: {line.strip()}")
    assert not found, "\n".join(found)


def test_architecture_lists_every_key_of_a_training_summary():
    """docs/ARCHITECTURE.md's summary.json keys are those dlwpt/train.py writes (summarize,
    then the file digests and the seal)."""
    import ast

    tree = ast.parse((REPO / "dlwpt/train.py").read_text())
    summarize = next(node for node in ast.walk(tree)
                     if isinstance(node, ast.FunctionDef) and node.name == "summarize")
    returned = next(node.value for node in ast.walk(summarize) if isinstance(node, ast.Return))
    keys = [k.value for k in returned.keys] + ["files", "summary_sha256"]
    doc = (REPO / "docs/ARCHITECTURE.md").read_text()
    start = doc.index("seed<seed>/summary.json`: `{")
    listed = doc[start:doc.index("}`.", start)]
    assert len(keys) > 15
    assert [k for k in keys if not re.search(rf"\b{k}\b", listed)] == []


# The commands of the docs' fenced `sh` blocks that start the pipeline's tools, and how each is
# tested: DRY_RUN (run here with -n added, in a temporary work dir, on the test data), the test
# that runs it, or why it runs nowhere.
DRY_RUN = "dry run"
COMMANDS = {
    "make run": "not run: it trains the default zoo for hours; its snakemake command is a dry run",
    "make test": "not run: it is this test suite",
    "make setup": "not run: it builds the venv these tests run in",
    ".venv/bin/snakemake --cores 4 --resources gpu=1": DRY_RUN,
    ".venv/bin/snakemake --cores 2 --configfile config/quick.yaml": DRY_RUN,
    ".venv/bin/snakemake -n": DRY_RUN,
    ".venv/bin/snakemake --cores 16 --resources gpu=4": DRY_RUN,
    ".venv/bin/snakemake --profile profiles/slurm -n": DRY_RUN,
    ".venv/bin/snakemake --report results/snakemake-report.html":
        "tests/test_workflow.py::test_snakemake_own_report_holds_the_registered_figures",
    ".venv/bin/snakemake --profile profiles/slurm":
        "tests/test_slurm.py::test_the_quick_run_goes_through_slurm",
    ".venv/bin/snakemake --profile profiles/slurm --configfile profiles/slurm/cluster.yaml my.yaml":
        "not run: my.yaml stands for the user's own settings; the Slurm tests run the profile",
}
TOOL = re.compile(r"(make|\.venv/bin/snakemake|(\.venv/bin/)?python3? -m dlwpt)\b")


def documented_commands() -> dict[str, str]:
    """Each command of a fenced `sh` block of README.md and docs/*.md, without its comment ->
    where it is written."""
    found = {}
    for doc in ["README.md", *sorted(p for p in markdown_files() if p.startswith("docs/"))]:
        fence = None
        for n, line in enumerate((REPO / doc).read_text().splitlines(), 1):
            opened = re.match(r"\s*(```|~~~)(\w*)", line)
            if opened:
                fence = opened.group(2) if fence is None else None
            elif fence == "sh" and TOOL.match(line.strip()):
                found.setdefault(" ".join(line.split("#")[0].split()), f"{doc}:{n}")
    return found


def test_every_documented_command_runs_in_a_test_or_says_why_not():
    documented = documented_commands()
    assert not set(documented) - set(COMMANDS), {c: documented[c] for c in
                                                 set(documented) - set(COMMANDS)}
    assert not set(COMMANDS) - set(documented), set(COMMANDS) - set(documented)
    for how in COMMANDS.values():
        if how.startswith("tests/"):
            path, _, name = how.partition("::")
            assert f"def {name}(" in (REPO / path).read_text(), how


@pytest.mark.pipeline
def test_the_documented_snakemake_commands_plan_the_run(tmp_path):
    """Each as typed, from the checkout, with -n: the plan of a fresh work dir on the test data."""
    env = {**os.environ, "DLWPT_DATA": str(DATA), "DLWPT_CIFAR10": str(CIFAR10)}
    for i, command in enumerate(c for c, how in COMMANDS.items() if how == DRY_RUN):
        args = command.split()[1:]
        result = subprocess.run([sys.executable, "-m", "snakemake", *args, "-n", "-d",
                                 str(tmp_path / str(i))], cwd=REPO, env=env,
                                capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, (command, result.stdout[-2000:] + result.stderr[-2000:])
        assert re.search(r"^train_model\s+\d+", result.stdout, re.MULTILINE), command
        assert "This was a dry-run" in result.stdout, command
