"""What a report-only change reruns: real Snakemake dry runs on the quick pipeline's work dir.

The report reads everything as input: or params:, so correcting one of the book's accuracies
or editing a template of the page must plan make_report (and `all`) and nothing upstream.
"""

from __future__ import annotations

import json

import pytest

from tests.helpers.data import REPO
from tests.helpers.workflow import QUICK, edited, job_counts, snakemake

pytestmark = pytest.mark.pipeline
REPORT_ONLY = {"make_report": 1, "publish_report": 1, "all": 1}


def test_corrected_book_accuracy_reruns_the_report_only(quick_pipeline, tmp_path):
    corrected = tmp_path / "book.yaml"
    corrected.write_text(json.dumps({"book_accuracy": {"net": [0.94, 0.88]}}))
    result = snakemake(quick_pipeline, "-n", "--configfile", QUICK, str(corrected),
                       "--cores", "2")
    assert job_counts(result.stdout) == REPORT_ONLY
    assert "Params have changed since last execution" in result.stdout


@pytest.mark.parametrize("template", ["report.html", "style.css", "sections/results.html",
                                      "datasets/wine.html"])
def test_editing_a_report_template_reruns_the_report_only(quick_pipeline, template):
    with edited(REPO / "dlwpt/report/templates" / template):
        result = snakemake(quick_pipeline, "-n", "--configfile", QUICK, "--cores", "2")
    assert job_counts(result.stdout) == REPORT_ONLY
    assert "Updated input files: " in result.stdout and template in result.stdout
