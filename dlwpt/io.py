"""Atomic file output (a temporary file beside it, renamed into place: a crash or a bad input
leaves no half-written file), JSON, checksums, summaries' seals, the one-line error convention."""

import contextlib
import errno
import hashlib
import json
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

_UMASK = os.umask(0)
os.umask(_UMASK)


def one_line(text: object) -> str:
    """Text (or an error's message) on one line: a library's multi-line message folded."""
    return " ".join(line.strip() for line in str(text).splitlines() if line.strip())


def error_text(error: BaseException) -> str:
    """A library exception as a short single line, named by its type."""
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}"[:200] if text else type(error).__name__


class DataError(Exception):
    """Bad input: the message names the file and the problem, on one line."""

    def __init__(self, path: str | os.PathLike, problem: str):
        self.path = str(path)
        self.problem = one_line(problem)
        super().__init__(f"{self.path}: {self.problem}")


class SettingError(Exception):
    """A setting that cannot work where the job runs (e.g. CUDA asked for, none there)."""


class DiskFullError(DataError):
    """An output could not be written for lack of space (reported like bad input: one line)."""

    def __init__(self, path: str | os.PathLike):
        super().__init__(path, "cannot write: No space left on device")


# Below this much free space a writer's RuntimeError is taken as "disk full": torch.save reports
# ENOSPC as an unrelated RuntimeError ("unexpected pos ..."), without an errno to tell.
NEARLY_FULL_BYTES = 1 << 20


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """A temporary path beside `path`, renamed to it if the block succeeds; a full disk raises
    DiskFullError naming `path`, whatever the writer said."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        # mkstemp creates the file 0600; give it the permissions a plain open() would have.
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, path)
    except Exception as e:
        # Checked while the temp file still holds its space.
        full = isinstance(e, OSError) and e.errno == errno.ENOSPC
        if isinstance(e, RuntimeError):  # torch's stream errors
            with contextlib.suppress(OSError):
                stats = os.statvfs(path.parent)
                full = stats.f_bavail * stats.f_frsize < NEARLY_FULL_BYTES
        if full:
            raise DiskFullError(path) from e
        raise
    finally:
        tmp.unlink(missing_ok=True)


def save_tensors(path: str | os.PathLike, tensors: dict[str, Any]) -> None:
    """Save a dict of tensors (and plain lists/strings/numbers) loadable with weights_only=True."""
    import torch  # here, not at the top: download jobs use this module without torch

    # Through our own file object: it is closed (its space freed) even when the write fails,
    # and a full disk surfaces as OSError(ENOSPC) rather than torch's stream error.
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        torch.save(tensors, f)


def load_tensors(path: str | os.PathLike) -> dict[str, Any]:
    import torch

    return torch.load(path, map_location="cpu", weights_only=True)


def write_json(path: str | os.PathLike, obj: Any) -> None:
    write_text(path, json.dumps(obj, indent=2, default=_json_default) + "\n")


def write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def copy_atomic(source: str | os.PathLike, destination: str | os.PathLike) -> None:
    """Copy `source` over `destination` in one rename: a reader sees the old file or the new."""
    with atomic_path(destination) as tmp:
        shutil.copyfile(source, tmp)


def read_json(path: str | os.PathLike, *, or_none: bool = False) -> Any:
    """The file's JSON; with or_none, None when it is missing, unreadable or not JSON."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        if or_none:
            return None
        raise


def _json_default(obj: Any) -> Any:
    if hasattr(obj, "tolist") and hasattr(obj, "dtype"):  # tensors, numpy arrays and scalars
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serializable: {type(obj).__name__}")


def file_digest(path: str | os.PathLike) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def json_digest(obj: Any, sort_keys: bool = True) -> str:
    """sha256 (hex) of a JSON value's canonical form: no spaces, non-ASCII as is, keys sorted
    (`sort_keys=False` where their order is part of the value, as in a configuration)."""
    text = json.dumps(obj, sort_keys=sort_keys, separators=(",", ":"), ensure_ascii=False,
                      default=_json_default)
    return hashlib.sha256(text.encode()).hexdigest()


# A training summary's seal: the sha256 of its own content, so a hand edit of summary.json is
# refused like an edit of the files whose digests it records ("files").
SEAL_KEY = "summary_sha256"


def summary_seal(summary: dict[str, Any]) -> str:
    """json_digest of `summary` without its seal, as read back from its file (the same value
    before writing and after reading)."""
    return json_digest(json.loads(json.dumps({k: v for k, v in summary.items() if k != SEAL_KEY},
                                             default=_json_default)))


def sealed(summary: dict[str, Any]) -> dict[str, Any]:
    """`summary` with its seal, the last key."""
    return {**{k: v for k, v in summary.items() if k != SEAL_KEY}, SEAL_KEY: summary_seal(summary)}


@contextlib.contextmanager
def script_errors(log_path: str | os.PathLike | None = None) -> Iterator[logging.Logger]:
    """Run a pipeline step: log to `log_path` and stderr; turn DataError and SettingError into
    one line + exit 1."""
    logger = logging.getLogger("dlwpt")
    logger.setLevel(logging.INFO)
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_path:
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_path, mode="w"))
    for h in handlers:
        h.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
        logger.addHandler(h)
    try:
        yield logger
    except (DataError, SettingError) as e:
        logger.error("error: %s", e)  # each handler flushes every record
        sys.exit(1)
    finally:
        for h in handlers:
            logger.removeHandler(h)
            h.close()
