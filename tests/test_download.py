"""The download path, for real, against a local HTTP server serving ../shared/data: checksums,
dropped connections, HTTP error statuses (a 4xx is final at once, a 5xx retried with waits that
double), and the workflow in download mode."""

from __future__ import annotations

import json
import logging

import pytest
import torch

import dlwpt.download
from dlwpt import sources
from dlwpt.download import fetch
from dlwpt.io import DataError
from tests.helpers.http_server import DataServer
from tests.helpers.workflow import job_counts, snakemake

WINE = "p1ch4/tabular-wine/winequality-white.csv"


@pytest.fixture()
def server(data_dir):
    with DataServer(data_dir) as s:
        yield s


def test_good_file_passes_its_pinned_checksum(server, tmp_path, data_dir):
    dest = tmp_path / "wine.csv"
    fetch(f"{server.url}/ok/{WINE}", dest, sources.manifest()[WINE], backoff_s=0)
    assert dest.read_bytes() == (data_dir / WINE).read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["wine.csv"]


def test_corrupted_file_fails_and_leaves_nothing(server, tmp_path):
    dest = tmp_path / "wine.csv"
    with pytest.raises(DataError) as err:
        fetch(f"{server.url}/corrupt/{WINE}", dest, sources.manifest()[WINE], backoff_s=0)
    assert str(dest) in str(err.value) and "checksum mismatch" in str(err.value)
    assert "\n" not in str(err.value)
    assert list(tmp_path.iterdir()) == []


def test_dropped_connection_is_retried(server, tmp_path, data_dir):
    dest = tmp_path / "wine.csv"
    fetch(f"{server.url}/flaky/{WINE}", dest, sources.manifest()[WINE], backoff_s=0)
    assert server.requests[f"/flaky/{WINE}"] == 2
    assert dest.read_bytes() == (data_dir / WINE).read_bytes()


def test_connection_that_always_drops_gives_up_cleanly(server, tmp_path):
    dest = tmp_path / "wine.csv"
    with pytest.raises(DataError, match="failed after 3 attempts"):
        fetch(f"{server.url}/dead/{WINE}", dest, sources.manifest()[WINE], retries=2,
              backoff_s=0)
    assert server.requests[f"/dead/{WINE}"] == 3
    assert list(tmp_path.iterdir()) == []


def test_manifest_pins_every_file_of_the_local_copy(data_dir):
    manifest = sources.manifest()
    assert len([p for p in manifest if p.startswith(sources.CT_SERIES)]) == 99
    for rel in ("p1ch4/image-dog/bobby.jpg", WINE, "p1ch4/jane-austen/1342-0.txt"):
        assert (data_dir / rel).is_file()
    assert sources.download_url("http://h/data", sources.CT_SERIES + "/000000.dcm") == (
        "http://h/data/p1ch4/volumetric-dicom/2-LUNG%203.0%20%20B70f-04083/000000.dcm")


@pytest.mark.pipeline
def test_snakemake_downloads_then_ingests(server, tmp_path):
    """Without a local copy the workflow fetches each raw file, verifies it, and ingests it."""
    cfg = tmp_path / "download.yaml"
    cfg.write_text(json.dumps({
        "data": {"local_dir": None,
                 "download": {"base_url": f"{server.url}/flaky", "backoff_s": 0}},
        "datasets": ["wine", "text", "ct"],
    }))
    workdir = tmp_path / "work"
    env = {"DLWPT_DATA": "", "DLWPT_CIFAR10": ""}
    snakemake(workdir, "--configfile", str(cfg), "--cores", "2", "results/data/wine.pt",
              "results/data/text.pt", "results/data/ct.pt", env=env)
    ct_files = [p for p in sources.manifest() if p.startswith(sources.CT_SERIES)]
    assert len(list((workdir / "resources" / sources.CT_SERIES).glob("*.dcm"))) == len(ct_files)
    # every file was dropped once and fetched again
    assert all(server.requests[f"/flaky/{rel}"] == 2 for rel in ct_files)
    wine = torch.load(workdir / "results/data/wine.pt", weights_only=True)
    assert wine["table"].shape == (4898, 12)


@pytest.mark.pipeline
def test_no_network_no_local_copy_stops_before_any_job(tmp_path):
    cfg = tmp_path / "offline.yaml"
    cfg.write_text(json.dumps({"data": {"local_dir": None, "cifar10": None, "download": {
        "base_url": "http://127.0.0.1:9/data", "cifar10_url": "http://127.0.0.1:9/c.tar.gz"}}}))
    workdir = tmp_path / "work"
    result = snakemake(workdir, "--configfile", str(cfg), "--cores", "1", check=False,
                       env={"DLWPT_DATA": "", "DLWPT_CIFAR10": ""})
    assert result.returncode != 0
    (line,) = [s for s in result.stderr.splitlines() if s.startswith("no network to download")]
    n_raw = len([p for p in sources.manifest() if not p.endswith("hour.csv")])  # + the archive
    assert line.startswith(
        f"no network to download {n_raw + 1} missing raw files (resources/p1ch4/image-dog/"
        "bobby.jpg, resources/p1ch4/image-cats/cat1.png, resources/p1ch4/image-cats/cat2.png "
        f"and {n_raw - 2} more); point "), line
    assert "DLWPT_DATA" in line and "DLWPT_CIFAR10" in line
    assert not (workdir / "resources").exists() and not (workdir / "results").exists()


def test_dry_run_of_a_fresh_clone_lists_every_job(tmp_path):
    """Download mode (no local copy): -n plans fetches, every ingest, the zoo and the report."""
    result = snakemake(tmp_path, "-n", "--cores", "4", env={"DLWPT_DATA": "", "DLWPT_CIFAR10": ""})
    jobs = job_counts(result.stdout)
    n_raw = len([p for p in sources.manifest() if not p.endswith("hour.csv")])
    assert jobs["fetch_raw_file"] == n_raw and jobs["fetch_cifar10"] == 1
    assert jobs["ingest_dataset"] == 7
    for rule in ("make_report", "publish_report", "all"):
        assert jobs[rule] == 1, rule
    assert jobs["train_model"] == 10 * 3 and jobs["fit_thermometer"] == 9  # 10 models x 3 seeds


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
