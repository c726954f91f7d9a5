"""Checksummed, retried, atomic downloads: a dropped connection is retried with backoff, a
corrupted file fails with a one-line error and leaves nothing behind."""

import hashlib
import http.client
import logging
import socket
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

from .io import DataError, atomic_path

# A short transfer is raised as ConnectionError.
RETRYABLE = (urllib.error.URLError, http.client.HTTPException, ConnectionError, socket.timeout,
             TimeoutError)


def parse_checksum(checksum: str) -> tuple[str, str]:
    algorithm, _, digest = checksum.partition(":")
    if algorithm not in hashlib.algorithms_guaranteed or not digest:
        raise ValueError(f"checksum must look like 'sha256:<hex>' or 'md5:<hex>', got {checksum!r}")
    return algorithm, digest.lower()


def fetch(url: str, dest: str | Path, checksum: str, *, retries: int = 4, timeout: float = 60.0,
          backoff_s: float = 1.0, log: logging.Logger | None = None) -> Path:
    """Download `url` to `dest` and verify it; retry transfer failures up to `retries` times."""
    log = log or logging.getLogger("dlwpt")
    algorithm, expected = parse_checksum(checksum)
    dest = Path(dest)
    for attempt in range(retries + 1):
        try:
            with (atomic_path(dest) as tmp, open(tmp, "wb") as out,
                  urllib.request.urlopen(url, timeout=timeout) as response):
                h, received = hashlib.new(algorithm), 0
                while chunk := response.read(1 << 20):
                    h.update(chunk)
                    out.write(chunk)
                    received += len(chunk)
                length = response.headers.get("Content-Length")
                if length is not None and received != int(length):
                    raise ConnectionError(f"connection dropped after {received} of {length} bytes")
                if h.hexdigest() != expected:
                    raise DataError(dest, f"{algorithm} checksum mismatch for {url}: "
                                          f"expected {expected}, got {h.hexdigest()}")
            log.info("fetched %s -> %s", url, dest)
            return dest
        except RETRYABLE as e:
            http = isinstance(e, urllib.error.HTTPError)
            # 5xx and 429 (rate limited) pass; any other status will not change on a retry.
            if http and e.code < 500 and e.code != 429:
                raise DataError(dest, f"download of {url} failed: HTTP {e.code} {e.reason}") from e
            if attempt == retries:
                problem = f"HTTP {e.code} {e.reason}" if http else str(e)
                raise DataError(dest, f"download of {url} failed after {retries + 1} attempts: "
                                      f"{problem}") from e
            wait = backoff_s * 2**attempt
            log.warning("attempt %d for %s failed (%s); retrying in %.1f s", attempt + 1, url,
                        f"HTTP {e.code}" if http else str(e) or type(e).__name__, wait)
            time.sleep(wait)
    raise ValueError(f"retries must be at least 0, got {retries}")


def reachable(url: str, timeout: float = 5.0) -> bool:
    """Whether the host of `url` answers at all (checked before a download run starts)."""
    parts = urlsplit(url)
    if parts.scheme == "file":
        return True
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname, port), timeout=timeout):
            return True
    except OSError:
        return False
