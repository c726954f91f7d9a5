"""The codebase's own rule: no function in dlwpt/ longer than 60 lines or with more
than 8 parameters, unless a comment right above it says why (`# Long: ...`,
`# Many parameters: ...`)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "dlwpt"
MAX_LINES, MAX_PARAMETERS = 60, 8


def oversized(source: str) -> list[tuple[str, int, list[str]]]:
    """(name, first line, the reasons it is over the limits) of each function over them whose
    comment above (above its decorators) does not give the reason."""
    lines = source.splitlines()
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        args = node.args
        names = [a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs,
                                 *filter(None, [args.vararg, args.kwarg])]
                 if a.arg not in ("self", "cls")]
        top = min([node.lineno, *(d.lineno for d in node.decorator_list)])
        comment = []
        for line in reversed(lines[:top - 1]):
            if not line.strip().startswith("#"):
                break
            comment.append(line.strip())
        said = " ".join(comment)
        missing = []
        if node.end_lineno - node.lineno + 1 > MAX_LINES and "Long:" not in said:
            missing.append(f"{node.end_lineno - node.lineno + 1} lines")
        if len(names) > MAX_PARAMETERS and "Many parameters:" not in said:
            missing.append(f"{len(names)} parameters")
        if missing:
            found.append((node.name, node.lineno, missing))
    return found


def test_the_checker_finds_a_long_function_and_accepts_one_that_says_why():
    long_body = "\n".join(["    x = 1"] * 61)
    assert oversized(f"def f():\n{long_body}\n") == [("f", 1, ["62 lines"])]
    assert oversized(f"# Long: a reason.\ndef f():\n{long_body}\n") == []
    many = "def g(a, b, c, d, e, f, h, i, j):\n    pass\n"
    assert oversized(many) == [("g", 1, ["9 parameters"])]
    assert oversized("# Many parameters: a reason.\n@decorated\n" + many) == []
    assert oversized("class C:\n    def m(self, a, b, c, d, e, f, h, i):\n        pass\n") == []


def test_no_function_in_the_package_is_oversized_without_saying_why():
    problems = [f"{path.relative_to(PACKAGE.parent)}:{line} {name}: {', '.join(why)}"
                for path in sorted(PACKAGE.rglob("*.py"))
                for name, line, why in oversized(path.read_text())]
    assert problems == []
