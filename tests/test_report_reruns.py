"""What a report-only change reruns: real Snakemake dry runs on the quick pipeline's work dir.

The report reads everything as input: or params:, so correcting one of the book's accuracies
or editing a template of the page must plan make_report (and `all`) and nothing upstream.
"""

from __future__ import annotations

import json

import pytest

from tests.helpers.data import REPO
from tests.helpers.workflow import QUICK, edited, job_counts, planned_jobs, snakemake
from tests.test_reruns import changed_code

pytestmark = pytest.mark.pipeline
REPORT_ONLY = {"make_report": 1, "publish_report": 1, "all": 1}


def test_corrected_book_accuracy_reruns_the_report_only(quick_pipeline, tmp_path):
    corrected = tmp_path / "book.yaml"
    corrected.write_text(json.dumps({"book_accuracy": {"net": [0.94, 0.88]}}))
    result = snakemake(quick_pipeline, "-n", "--configfile", QUICK, str(corrected),
                       "--cores", "2")
    assert job_counts(result.stdout) == REPORT_ONLY
    assert "Params have changed since last execution" in result.stdout


def test_a_config_change_reruns_the_report_without_printing_the_config(quick_pipeline, tmp_path):
    """Issue 18: the report's param is the config's digest, not the config: a change that only
    the whole config carries (an experiment label) still reruns the report, and the plan's
    `reason:` line names the change without several KB of config."""
    import yaml

    label = tmp_path / "label.yaml"
    label.write_text(json.dumps({"experiment": "a label no other param carries"}))
    result = snakemake(quick_pipeline, "-n", "--configfile", QUICK, str(label), "--cores", "2")
    assert job_counts(result.stdout) == REPORT_ONLY
    reasons = [line for line in result.stdout.splitlines()
               if line.strip().startswith("reason: ") and "Params have changed" in line]
    assert reasons and max(map(len, reasons)) <= 500, reasons
    lines = (result.stdout + result.stderr).splitlines()
    # Every line but Snakemake's list of each job's input files (file names only, a few KB
    # for the report's): none is long, and none carries the config.
    assert max(len(line) for line in lines if not line.strip().startswith("input: ")) <= 500
    t_u = yaml.safe_load((REPO / "config.yaml").read_text())["thermometer"]["t_u"]
    for config_text in (", ".join(map(str, t_u[:4])), "a label no other"):
        assert not [line for line in lines if config_text in line], config_text


def test_the_published_page_shows_the_configuration_as_run(quick_pipeline):
    """The report reads the configuration from snakemake.config (its param is only a digest):
    the page's provenance section shows the run's, config/quick.yaml over config.yaml."""
    from tests.test_report import Page

    page = Page((quick_pipeline / "results/report.html").read_text())
    config = page.text.split("configuration as run")[1]
    assert "subsample: 1000" in config  # quick.yaml's (config.yaml: null)
    assert "t_u: - 35.7 - 55.9" in config  # config.yaml's


@pytest.mark.parametrize("template", ["report.html", "style.css", "sections/results.html",
                                      "datasets/wine.html"])
def test_editing_a_report_template_reruns_the_report_only(quick_pipeline, template):
    with edited(REPO / "dlwpt/report/templates" / template):
        result = snakemake(quick_pipeline, "-n", "--configfile", QUICK, "--cores", "2")
    assert job_counts(result.stdout) == REPORT_ONLY
    # the templates are in make_report's code param: its entry is what differs
    reasons = {j["rule"]: j["reason"] for j in planned_jobs(result.stdout)}
    assert changed_code(reasons["make_report"]) == {f"dlwpt/report/templates/{template}"}


def test_a_code_change_in_a_report_module_names_the_file(quick_pipeline):
    """One line of code in dlwpt/report/build.py: the report only; make_report's reason holds
    its code param before and now (about 5 KB), which differ in that file's entry only
    (publish_report's reason: its inputs, make_report's outputs, are updated)."""
    with edited(REPO / "dlwpt/report/build.py"):
        result = snakemake(quick_pipeline, "-n", "--configfile", QUICK, "--cores", "2")
    assert job_counts(result.stdout) == REPORT_ONLY
    reasons = {j["rule"]: j["reason"] for j in planned_jobs(result.stdout)}
    assert changed_code(reasons["make_report"]) == {"dlwpt/report/build.py"}
    assert len(reasons["make_report"]) < 8000


def test_the_report_rules_carry_few_params(tmp_path):
    """One code param for all the files a report job runs, not one per file."""
    from tests.test_code_inputs import declared_params

    for rule in ("make_report", "publish_report"):
        params = declared_params(tmp_path, rule)
        assert len(params) <= 15, (rule, params)
        assert "dlwpt/report/build.py" in params["code"] and "scripts/make_report.py" in params[
            "code"]
