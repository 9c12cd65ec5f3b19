"""The run's reports leave no loose ends: exact distinct counts for keys in the profile, features that
are off shown as off on index.html, every link named and every column explained, and an index.html
for a failed run naming the step and the check."""

from __future__ import annotations

import copy
import json
import re
from html.parser import HTMLParser

import duckdb
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from helpers import faults, io
from helpers.publish import report
from helpers.quality import profile
from helpers.schema import TABLES

from .conftest import params_variant, run_workbook


class _Page(HTMLParser):
    """The links (href, text) and the tables (header cells) of a page, and its legend terms."""

    def __init__(self):
        super().__init__()
        self.links, self.headers, self.terms, self._a, self._tag = [], [], [], None, None

    def handle_starttag(self, tag, attrs):
        self._tag = tag
        if tag == "a":
            self._a = [dict(attrs)["href"], ""]
        if tag == "table":
            self.headers.append([])

    def handle_endtag(self, tag):
        if tag == "a":
            self.links.append(tuple(self._a))
            self._a = None
        self._tag = None

    def handle_data(self, data):
        if self._a is not None:
            self._a[1] += data
        if self._tag == "th":
            self.headers[-1].append(data)
        if self._tag == "dt":
            self.terms.append(data)


def _page(text: str) -> _Page:
    page = _Page()
    page.feed(text)
    return page


def _distinct(data_dir, table: str, column: str) -> int:
    """Distinct non-null values of a column, counted by pyarrow over every part (not by DuckDB)."""
    values = pq.ParquetDataset(io.parts(io.table_dir(data_dir, table))).read(columns=[column]).column(column)
    return pc.count_distinct(values, mode="only_valid").as_py()


@pytest.mark.slow
@pytest.mark.xdist_group("tiny_run")
def test_profile_counts_key_columns_exactly(tiny_run):
    """Every primary and foreign key column's distinct count in profile.json equals an independent exact
    count and says it is exact; every other column says it is approximate."""
    _, data_dir, _ = tiny_run
    prof = json.loads((data_dir / "profile.json").read_text())
    keys = 0
    for name, table in TABLES.items():
        for c in table.columns:
            col = prof["tables"][name]["columns"][c.name]
            if c.name == table.primary_key or c.references:
                keys += 1
                assert col["distinct"] == _distinct(data_dir, name, c.name), (name, c.name)
                assert col["distinct_method"].startswith("exact"), (name, c.name)
            else:
                assert col["distinct_method"] == profile.APPROXIMATE, (name, c.name)
    assert keys >= 18  # 6 primary keys and 12 foreign keys


@pytest.mark.slow
@pytest.mark.xdist_group("tiny_run")
def test_sliced_distinct_counts_stay_exact(tiny_run, monkeypatch):
    """Counted in many small slices (as on a large preset), every foreign key's distinct count is unchanged."""
    _, data_dir, _ = tiny_run
    monkeypatch.setattr(profile, "DISTINCT_SLICE_ROWS", 7)
    con = duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True)
    try:
        for name, table in TABLES.items():
            for c in table.foreign_keys:
                assert profile._sliced_distinct(con, name, c.name) == _distinct(data_dir, name, c.name), (name, c.name)
        assert profile._sliced_distinct(con, "events", "event_id") == _distinct(data_dir, "events", "event_id")
    finally:
        con.close()


def test_profile_table_labels_every_column():
    """The profile table's columns are the ones PROFILE_COLUMNS explains, with the method beside each count."""
    prof = {
        "tables": {
            "users": {
                "rows": 3,
                "columns": {
                    "user_id": {"type": "BIGINT", "null_share": 0.0, "distinct": 3, "distinct_method": "exact (x)"}
                    | {"min": "1", "max": "3"}
                },
            }
        }
    }
    table = profile.profile_table(prof)
    assert list(table.columns) == list(profile.PROFILE_COLUMNS)
    assert table["distinct is"].tolist() == ["exact (x)"]


def _index(manifest: dict, guardrails: list[dict]) -> _Page:
    return _page(report.index_html(manifest, ["04_qa_profile.html", "run.log"], guardrails, "../"))


@pytest.mark.slow
@pytest.mark.xdist_group("tiny_run")
def test_index_shows_off_features_as_off_and_explains_every_column(tiny_run):
    """tiny (as_of and duplicates off): the as_of guardrail and the duplicate row say off, not pass or
    'within tolerance'; the same page with both on says pass and within tolerance. Every link has a
    name (no '..'), and every column of every table is explained in a legend."""
    _, data_dir, reports_dir = tiny_run
    text = (reports_dir / "index.html").read_text()
    page = _page(text)
    as_of_row = re.search(r"<tr><td>An as_of extract[^<]*</td>(.*?)</tr>", text).group(1)
    assert as_of_row.endswith(">off</td>") and "pass" not in as_of_row
    dup_row = re.search(r"<tr class=off><td>duplicate</td>(.*?)</tr>", text).group(1)
    assert "within tolerance" not in dup_row and "off" in dup_row
    assert all(label.strip() and label.strip() not in ("..", "../") for _, label in page.links)
    assert any(href == "../" for href, _ in page.links)
    for header in page.headers:
        assert set(header) <= set(page.terms), header
    assert "reachable" in page.terms

    manifest = json.loads((data_dir / "manifest.json").read_text())
    guardrails = json.loads((data_dir / "profile.json").read_text())["guardrails"]
    on = copy.deepcopy(manifest)
    on["snapshot"]["as_of"] = "2025-12-31T18:00:00"
    for i in on["imperfections"]:
        if i["kind"] == "duplicate":
            i.update(target_rate=0.005, achievable_rate=0.005, measured_rate=0.0049, within_tolerance=True)
    text_on = report.index_html(on, ["run.log"], guardrails, "../")
    assert re.search(r"<tr><td>An as_of extract[^<]*</td>.*?<td class=ok>pass</td></tr>", text_on)
    assert re.search(r"<tr><td>duplicate</td>.*?within tolerance</td></tr>", text_on)


def test_failed_checks_from_the_error_line():
    """Without a profile, the failed checks come from the one-line error the checks raise."""
    error = "AssertionError: 2 check(s) failed: fk_tasks_project (3 violations); task_in_window (1 violations)"
    assert report.failed_checks(io.Path("/nonexistent/profile.json"), error) == [
        "fk_tasks_project (3 violations)",
        "task_in_window (1 violations)",
    ]
    assert report.failed_checks(io.Path("/nonexistent/profile.json"), "RuntimeError: disk full") == []


def _failed_stage(data_dir):
    stages = [p for p in (data_dir.parent / ".runs" / data_dir.name).iterdir() if (p / "FAILED").exists()]
    assert len(stages) == 1
    return stages[0]


@pytest.mark.slow
def test_failed_guardrail_leaves_an_index_naming_step_and_check(tmp_path):
    """A run whose weekends are nearly empty fails a guardrail in 04_qa_profile: its staged reports hold an
    index.html naming the step, the failed check, and linking (named) the notebooks that ran and run.log."""
    params = params_variant(tmp_path, {"accounts.count": 40, "activity.weekend_factor": 0.03})
    data_dir = tmp_path / "d" / "x"
    assert run_workbook(data_dir, tmp_path / "r" / "x", params=params) == 1
    reports = _failed_stage(data_dir) / "reports"
    text = (reports / "index.html").read_text()
    assert "FAILED" in text and "<strong>04_qa_profile</strong>" in text
    assert "weekday_weekend_ratio" in text.split("Failed checks", 1)[1]
    page = _page(text)
    hrefs = {href for href, _ in page.links}
    assert {"00_setup.html", "03_imperfections.html", "04_qa_profile.ipynb", "run.log"} <= hrefs
    assert "05_metrics_preview.html" not in hrefs
    assert all((reports / href).exists() and label.strip() for href, label in page.links)


@pytest.mark.slow
def test_failed_step_leaves_an_index_naming_the_step(tmp_path, monkeypatch):
    """A run failing inside 02_events (fault injected): index.html names the step and the error, and says no
    check failed."""
    monkeypatch.setenv(faults.FAULT_ENV, "events")
    data_dir = tmp_path / "d" / "x"
    assert run_workbook(data_dir, tmp_path / "r" / "x") == 1
    text = (_failed_stage(data_dir) / "reports" / "index.html").read_text()
    assert "<strong>02_events</strong>" in text and "RuntimeError: fault injected at events" in text
    assert "No check failed" in text
    assert 'href="01_entities.html"' in text and 'href="03_imperfections.html"' not in text
