"""HTTP error statuses and the doubling backoff of dlwpt.download.fetch, against a real local
HTTP server: a 4xx is final at once, a 5xx is retried with waits that double."""

from __future__ import annotations

import logging

import pytest

import dlwpt.download
from dlwpt import sources
from dlwpt.download import fetch
from dlwpt.io import DataError
from tests.helpers.http_server import DataServer

WINE = "p1ch4/tabular-wine/winequality-white.csv"


@pytest.fixture()
def server(data_dir):
    with DataServer(data_dir) as s:
        yield s


@pytest.fixture()
def waits(monkeypatch):
    """The backoff waits fetch asks for, recorded instead of slept."""
    recorded: list[float] = []
    monkeypatch.setattr(dlwpt.download.time, "sleep", recorded.append)
    return recorded


@pytest.mark.parametrize(("code", "reason"), [(404, "Not Found"), (403, "Forbidden")])
def test_client_error_fails_at_once(server, tmp_path, waits, code, reason):
    url = f"{server.url}/status/{code}/{WINE}"
    dest = tmp_path / "wine.csv"
    with pytest.raises(DataError) as err:
        fetch(url, dest, sources.manifest()[WINE], retries=3, backoff_s=0.5)
    assert str(err.value) == f"{dest}: download of {url} failed: HTTP {code} {reason}"
    assert server.requests[f"/status/{code}/{WINE}"] == 1 and waits == []
    assert list(tmp_path.iterdir()) == []


def test_server_error_twice_then_success(server, tmp_path, data_dir, waits, caplog):
    url = f"{server.url}/fail5xx/2/{WINE}"
    dest = tmp_path / "wine.csv"
    with caplog.at_level(logging.WARNING, logger="dlwpt"):
        assert fetch(url, dest, sources.manifest()[WINE], retries=3, backoff_s=0.5) == dest
    assert server.requests[f"/fail5xx/2/{WINE}"] == 3
    assert waits == [0.5, 1.0]
    assert [r.getMessage() for r in caplog.records] == [
        f"attempt 1 for {url} failed (HTTP 503); retrying in 0.5 s",
        f"attempt 2 for {url} failed (HTTP 503); retrying in 1.0 s"]
    assert dest.read_bytes() == (data_dir / WINE).read_bytes()
    assert [p.name for p in tmp_path.iterdir()] == ["wine.csv"]


@pytest.mark.parametrize(("code", "reason"), [(503, "Service Unavailable"),
                                              (500, "Internal Server Error"),
                                              (429, "Too Many Requests")])
def test_server_error_every_time_gives_up(server, tmp_path, waits, code, reason):
    url = f"{server.url}/status/{code}/{WINE}"
    dest = tmp_path / "wine.csv"
    with pytest.raises(DataError) as err:
        fetch(url, dest, sources.manifest()[WINE], retries=2, backoff_s=0.25)
    assert str(err.value) == (f"{dest}: download of {url} failed after 3 attempts: "
                              f"HTTP {code} {reason}")
    assert server.requests[f"/status/{code}/{WINE}"] == 3  # retries + 1
    assert waits == [0.25, 0.5]  # no wait after the last attempt
    assert list(tmp_path.iterdir()) == []


def test_backoff_doubles(server, tmp_path, waits):
    with pytest.raises(DataError, match="HTTP 503"):
        fetch(f"{server.url}/status/503/{WINE}", tmp_path / "wine.csv",
              sources.manifest()[WINE], retries=3, backoff_s=0.5)
    assert waits == [0.5, 1.0, 2.0]
    assert server.requests[f"/status/503/{WINE}"] == 4


def test_dropped_connections_back_off_the_same_way(server, tmp_path, waits):
    with pytest.raises(DataError, match="failed after 4 attempts"):
        fetch(f"{server.url}/dead/{WINE}", tmp_path / "wine.csv", sources.manifest()[WINE],
              retries=3, backoff_s=0.5)
    assert waits == [0.5, 1.0, 2.0]
