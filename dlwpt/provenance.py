"""What the report records about a run: config, code version, packages, device, date."""

import datetime
import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

# The packages the report lists: every one pinned here (exact `name==version` pins).
REQUIREMENTS = Path(__file__).resolve().parents[1] / "requirements.txt"


def git_commit(repo: str) -> str:
    """HEAD of the workflow's repository, marked `-dirty` when it has uncommitted changes."""
    try:
        head = subprocess.run(["git", "-C", repo, "rev-parse", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", repo, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return head + ("-dirty" if dirty else "")


def cpu_model() -> str:
    """The CPU's marketing name (what benchmarks and reports should name), not just its ISA."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def device_description() -> str:
    """The machine the pipeline ran on: its GPU when it has one, else its CPU and core count."""
    import torch

    if torch.cuda.is_available():
        return f"{torch.cuda.get_device_name(0)} (CUDA {torch.version.cuda})"
    return f"CPU: {cpu_model()}, {os.cpu_count()} cores"


def package_versions(requirements: str | os.PathLike = REQUIREMENTS) -> dict[str, str]:
    """Python's version and the installed version of every package requirements.txt pins, in its
    order; torch's with its build (`2.14.1+cu130`), which its package metadata leaves out."""
    versions = {"python": platform.python_version()}
    pins = [line.split("#", 1)[0].partition("==") for line in
            Path(requirements).read_text().splitlines()]
    for name in (name.strip() for name, pinned, _ in pins if pinned):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    if versions.get("torch", "not installed") != "not installed":
        import torch

        versions["torch"] = torch.__version__
    return versions


def provenance(config: dict[str, Any], repo: str) -> dict[str, Any]:
    return {"config": config, "git_commit": git_commit(repo), "packages": package_versions(),
            "device": device_description(),
            "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")}
