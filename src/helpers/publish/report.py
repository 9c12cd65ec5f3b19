"""The run's written deliverables, rendered from the manifest, the ledger and the QA profile (never
hand-written per run): reports/NAME/generation_notes.md and reports/NAME/index.html."""

from __future__ import annotations

import contextlib
import html
import json
import re
from pathlib import Path

from .. import duck
from ..generate.vocab import VENDOR_TEST_DOMAIN
from ..quality.effects import WHAT, Effect
from ..schema import LEDGER_KINDS, SYNCHRONOUS_EVENTS

REASONS = {
    ("missing", "assignee_user_id"): "tasks nobody took; assignees never recorded, more on old backlog",
    ("missing", "due_at"): "many tasks have no due date; some teams never set one",
    ("missing", "timezone"): "set at the first sign-in: mostly users who never signed in",
    ("missing", "industry"): "optional at signup",
    ("missing", "country_code"): "billing country unknown (mostly free plans)",
    ("outlier", "completed_at"): "stress-test averages and percentiles of cycle time",
    ("outlier", "due_at"): "placeholder dates far in the future (roadmap items)",
    ("late_arrival", "ingested_at_utc"): "by cause: phones offline (days), desktop apps asleep (overnight), "
    "web retries (hours, mostly content uploads)",
    ("internal", "is_internal"): "exclusion logic: the vendor's own QA, demo and load-test workspaces",
    ("duplicate", "event_id"): "at-least-once delivery: a re-sent event repeats its event_id",
    ("test_workspace", "is_internal"): "exclusion logic that must guess: someone's own sandbox nobody flagged",
}


def _pct(x) -> str:
    return "n/a" if x is None else f"{100 * x:.2f}%"


def generation_notes(manifest: dict, ledger_path: Path | None) -> str:
    """Markdown: what was generated, what was injected where, at what rate, and why."""
    sections = [
        _header(manifest),
        _generated(manifest),
        _injected(manifest, _ledger_counts(ledger_path)),
        _effects(manifest),
        _scenarios(manifest),
        _answer_keys(manifest),
    ]
    return "\n\n".join(sections) + "\n"


def _ledger_counts(ledger_path: Path | None) -> dict[tuple[str, str, str], int]:
    """Ledger rows per (kind, table, column)."""
    if ledger_path is None or not Path(ledger_path).exists():
        return {}
    con = duck.connect()
    try:
        query = f"SELECT kind, table_name, column_name, count(*) FROM {duck.parquet(con, [ledger_path])} GROUP BY ALL"
        return {(k, t, c): n for k, t, c, n in con.execute(query).fetchall()}
    finally:
        con.close()


def _header(manifest: dict) -> str:
    window = manifest["params"]["window"]
    return (
        f"# Generation notes: {manifest['name']}\n\n"
        f"Seed {manifest['seed']}, window {window['start']} to {window['end']} (UTC, both days included), "
        f"parameters sha256 `{manifest['params_sha256'][:12]}`. Rendered from the parameters, the ledger "
        "(`imperfections/ledger.parquet`) and the rates measured back from the final tables."
    )


def _generated(manifest: dict) -> str:
    rows = "\n".join(f"| {t} | {n:,} |" for t, n in manifest["row_counts"].items())
    return (
        f"## What was generated\n\n| table | rows |\n|---|---:|\n{rows}\n\n"
        "Accounts sign up across the window and churn by plan tier; users are invited, activate (or never "
        "do) and work in sessions in their local working hours until they churn; tasks are created as "
        "people work and move todo -> in_progress -> (blocked <-> in_progress) -> done | cancelled. "
        "Every event happens inside one of its user's sessions. The assumptions log (reports/"
        "assumptions_log.md) gives every decision and its reason."
    )


def _injected(manifest: dict, ledger_counts: dict) -> str:
    """The imperfections: a row each (target, measured, ledger rows, why), their definitions, and how
    late events and internal workspaces behave."""
    rows, definitions = [], []
    for i in manifest.get("imperfections", []):
        reach = (
            "" if i.get("achievable_rate") in (None, i["target_rate"]) else f" (reachable {_pct(i['achievable_rate'])})"
        )
        listed = ledger_counts.get((i["kind"], i["table"], i["column"]), 0)
        rows.append(
            f"| {i['kind']} | `{i['table']}.{i['column']}` | {LEDGER_KINDS.get(i['kind'], '')} | "
            f"{_pct(i['target_rate'])}{reach} | {_pct(i['measured_rate'])} | {i['count']:,} of {i['denominator']:,} | "
            f"{listed:,} | {REASONS.get((i['kind'], i['column']), '')} |"
        )
        threshold = f" (threshold {i['threshold_seconds']:,} s)" if i.get("threshold_seconds") else ""
        definitions.append(f"- **{i['kind']}, {i['table']}.{i['column']}**: {i['definition']}{threshold}.")
    late = manifest["params"]["imperfections"]["late_arrival"]
    synchronous = ", ".join(f"`{e}`" for e in SYNCHRONOUS_EVENTS)
    return "\n".join(
        [
            "## What was injected, where, at what rate, and why",
            "",
            "| imperfection | where | how | target | measured | rows | ledger rows | why |",
            "|---|---|---|---:|---:|---:|---:|---|",
            *rows,
            "",
            "Definitions (each rate is recomputed from the tables by it). Measured counts include natural "
            "cases (a task never assigned, a task that really took that long), which the ledger does not "
            "list: it lists only what was blanked, delayed, re-sent or planted.",
            "",
            *definitions,
            "",
            _late_causes(late, synchronous),
            "",
            *_late_by_tables(manifest.get("late_arrivals_by", {})),
            "Internal workspaces are flagged `is_internal` on the account and its users, use the reserved "
            f"`{VENDOR_TEST_DOMAIN}` domain, and behave like scripts: any hour, any day, bursts of tasks closed "
            "within minutes.",
            "",
            "Test workspaces nobody flagged (`is_internal = false`; the ledger lists them as kind `test_workspace`) "
            "are someone's own sandbox: one or two users (the owner, sometimes again on a plus address), the free "
            "plan or a lapsed trial, used for days to weeks, most driven by a script (dozens of tasks within "
            'minutes); names and domains hint (webmail, "Jane\'s workspace", "Acme (test)") but a few real '
            "small customers share those hints. The answer keys' `external` scope follows the flag, so they count "
            "as external there.",
        ]
    )


def _effects(manifest: dict) -> str:
    """Each imperfection's effect on each locked metric (scope external), as 04 measured it."""
    effects = manifest.get("imperfection_effects", [])
    head = "## What each imperfection does to the metrics\n\n"
    if not effects:
        return head + "Not measured (04_qa_profile did not run on this dataset)."
    metrics = list(dict.fromkeys(e["metric"] for e in effects))
    cell = {(e["cause"], e["metric"]): e for e in effects}

    rows = [
        f"| **{c}**: {WHAT.get(c, '')} | "
        + " | ".join(Effect(**cell[c, m]).text() if (c, m) in cell else "" for m in metrics)
        + " |"
        for c in dict.fromkeys(e["cause"] for e in effects)
    ]
    return head + "\n".join(
        [
            "How far each imperfection moves a query's result from the answer key (scope `external`), measured "
            "by running the metric SQL over the published tables with and without it: the net difference "
            "summed over the metric's rows (active users per day; retained users or accounts per cohort and "
            "week) and its largest single row. Re-sent deliveries cannot change a count of distinct users "
            "(they repeat a user's event), only counts of events; missing values and outliers touch no column "
            "the metrics read.",
            "",
            "| cause | " + " | ".join(metrics) + " |",
            "|---|" + "---|" * len(metrics),
            *rows,
        ]
    )


def _late_causes(late: dict, synchronous: str) -> str:
    """The causes of late arrivals and their shares (params imperfections.late_arrival)."""
    return (
        f"Late arrivals come from causes tied to the client, besides the ingestion incident: phones (iOS, "
        f"Android) offline, {100 * late['offline_share']:.0f}% of them, syncing days later (median "
        f"{late['offline_delay_days']['median']:g} days beyond the threshold; {late['offline_off_hours_weight']:g}x "
        f"as often outside the user's weekday working hours); the desktop app asleep, "
        f"{100 * late['asleep_share']:.0f}%, sending its queue when the user next opens it after a break (most "
        f"often at the end of the working day: {late['asleep_end_of_day_weight']:g}x as often from 16:00 local, so "
        f"the queue goes the next working morning); web clients retrying after a flaky network or a 5xx, "
        f"{100 * late['retry_share']:.0f}%, "
        f"within hours ({late['retry_content_weight']:g}x as often for events that upload content, "
        f"{late['retry_beacon_weight']:g}x for analytics beacons such as dashboard views). {synchronous} is "
        "written synchronously by the auth server and never late (but for the incident)."
    )


def _late_by_tables(late_by: dict) -> list[str]:
    """Markdown lines: late share and delay by client and by event type, as measured (manifest)."""
    lines = []
    for by, rows in late_by.items():
        if not rows:
            continue
        lines += [
            f"| {by} | events | late | late % | median hours late | p90 hours late |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for r in rows:
            med = "" if r["median_hours_late"] is None else f"{r['median_hours_late']:.1f}"
            p90 = "" if r["p90_hours_late"] is None else f"{r['p90_hours_late']:.1f}"
            lines.append(f"| {r[by]} | {r['events']:,} | {r['late']:,} | {_pct(r['late_share'])} | {med} | {p90} |")
        lines.append("")
    return lines


def _scenarios(manifest: dict) -> str:
    """One table row per enabled scenario (the holidays' days on one row: how many, first and last)."""
    head = "## Scenarios: planted effects a dashboard should reveal\n\n"
    enabled = [s for s in manifest.get("scenarios", []) if s["enabled"]]
    if not enabled:
        return head + "All scenarios are off in these parameters (params `scenarios`)."
    rows = []
    for name in dict.fromkeys(s["scenario"] for s in enabled):
        s = next(x for x in enabled if x["scenario"] == name)
        if name == "holidays":  # one row per day off in the table: one line here
            days = sorted(str(h["starts_at"])[:10] for h in enabled if h["scenario"] == "holidays")
            start, end = days[0], days[-1]
            s = dict(
                s, segment=f"{len(days)} days off, each for the users of the countries that keep it (local calendar)"
            )
            factor = manifest["params"]["scenarios"]["holidays"]["activity_factor"]
            rule = f"chance of a session x{factor:g} on each (less on the holidays few employers give off)"
        else:
            start, end, rule = s["starts_at"], "" if s["ends_at"] in (None, "NaT", "None") else s["ends_at"], s["rule"]
        rows.append(f"| {name} | {start} | {end} | {s['segment']} | {rule} | {s['where_to_look']} |")
    return head + "\n".join(
        [
            "Described row by row in `truth/scenarios.parquet`; each is charted in 04_qa_profile.",
            "",
            "| scenario | from | to | segment | rule | where to look |",
            "|---|---|---|---|---|---|",
            *rows,
        ]
    )


def _answer_keys(manifest: dict) -> str:
    files = ", ".join(f"`{k}` ({v['rows']:,} rows)" for k, v in manifest.get("truth", {}).items())
    as_of = manifest.get("snapshot", {}).get("as_of")
    extract = (
        f"The events are an extract **as of {as_of} UTC**: deliveries ingested later are left out of "
        "`raw/events` and listed in `truth/not_yet_arrived.parquet`."
        if as_of
        else "No `as_of` extract: every delivery is published."
    )
    return (
        "## Answer keys and the extract\n\n"
        "`truth/` holds the answer keys (7-day active users, user and account retention, per scope `all` and "
        "`external`), computed from the simulation's state, not from the events; 05_metrics_preview checks "
        f"that plain SQL over `raw/` reproduces them. Files: {files}.\n\n{extract}"
    )


OFF = "off"
# The guardrail of the as_of rule (quality.guardrails.RULE_GUARDRAILS["60_snapshot.sql"]) and its one check.
AS_OF_CHECK = "snapshot_cut_at_as_of"

# What every column of every table on index.html means (shown under each table, so none is left unexplained).
TABLE_COLUMNS = {
    "tables": {"table": "a table of raw/ (Parquet parts; schema raw in warehouse.duckdb)", "rows": "its rows"},
    "guardrails": {
        "guardrail": "a group of QA checks run by 04_qa_profile (every check is in profile.json)",
        "pass": "checks that hold",
        "fail": "checks that do not hold (any one fails the run)",
        "not applicable": "checks the data is too small to judge, or that run after a later step",
        "off": "checks of a feature these parameters turn off (snapshot.as_of unset, an imperfection's target 0): "
        "they hold trivially and say nothing",
        "status": "fail if any check fails; off if every check is off; not applicable if none passes; else pass",
    },
    "imperfections": {
        "kind": "the imperfection (helpers.schema.LEDGER_KINDS; generation_notes.md says how and why)",
        "where": "the table and column it touches",
        "target": "the rate asked for in the parameters (params imperfections.*); off when it is 0",
        "reachable": "the rate this data can reach closest to the target: a rate is a whole number of rows out "
        "of a denominator (e.g. with 18 accounts, 1 account is 5.56%, so a 7% target can reach 5.56% at best), and "
        "some rows already qualify on their own (a task never assigned); the measured rate is judged against it",
        "measured": "the rate recomputed from the published tables by the imperfection's definition",
        "tolerance": "how far measured may lie from reachable: three binomial standard deviations, at least "
        "0.2 points (quality.rates.tolerance)",
        "verdict": "within tolerance, off target (fails the run), not applicable (no rows), or off (target 0)",
    },
}


def index_html(manifest: dict, reports: list[str], guardrails: list[dict], data_link: str) -> str:
    """One page linking every report of the run (each link named), with its key figures; features
    the parameters turn off shown as off, every table's columns explained."""
    esc = html.escape
    off = off_checks(manifest)
    failed = [g for g in guardrails if g.get("status") == "fail"]
    status = "all guardrails pass" if not failed else f"{len(failed)} guardrail check(s) FAILED"
    rows_counts = "".join(
        f"<tr><td>{esc(t)}</td><td class=n>{n:,}</td></tr>" for t, n in manifest["row_counts"].items()
    )
    rows_guard = _guardrail_rows(guardrails, off)
    rows_imp = "".join(_imperfection_row(i) for i in manifest.get("imperfections", []))
    links = "".join(f'<li><a href="{esc(r)}">{esc(r)}</a>: {esc(REPORT_LABELS.get(r, ""))}</li>' for r in reports)
    scen = (
        "".join(f"<li>{esc(n)}</li>" for n in manifest.get("notes", []) if n.startswith("scenario "))
        or "<li>all scenarios are off (params <code>scenarios</code>)</li>"
    )
    as_of = manifest.get("snapshot", {}).get("as_of")
    extract = f"an extract as of {esc(str(as_of))} UTC" if as_of else "as_of extract off: every delivery is published"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>saas-synth: {esc(manifest["name"])}</title>
<style>{_STYLE}</style></head><body>
<h1>saas-synth dataset <code>{esc(manifest["name"])}</code></h1>
<p>Seed {manifest["seed"]}, window {esc(str(manifest["params"]["window"]["start"]))} to
{esc(str(manifest["params"]["window"]["end"]))} (UTC); {extract}.
QA: <strong class={"bad" if failed else "ok"}>{esc(status)}</strong>.
Data: <a href="{esc(data_link)}">the dataset folder <code>{esc(manifest["name"])}</code></a>
(manifest.json, profile.json, raw/, truth/, warehouse.duckdb, data_dictionary.md; these reports are its
<code>reports/</code> folder).</p>
<h2>Reports</h2><ul>{links}</ul>
<h2>Tables</h2><table>{_head(*TABLE_COLUMNS["tables"])}{rows_counts}</table>{_legend("tables")}
<h2>Guardrails</h2><table>{_head(*TABLE_COLUMNS["guardrails"])}{rows_guard}</table>{_legend("guardrails")}
<h2>Scenarios</h2><ul>{scen}</ul>
<h2>Imperfections</h2><table>{_head(*TABLE_COLUMNS["imperfections"])}{rows_imp}</table>{_legend("imperfections")}
</body></html>
"""


# What each report linked from index.html is.
REPORT_LABELS = {
    "00_setup.html": "the parameters, validated, and the plan",
    "01_entities.html": "accounts, plans, users, projects and tasks",
    "02_events.html": "the event stream and the answer keys",
    "03_imperfections.html": "the imperfections injected, and the ledger",
    "04_qa_profile.html": "the warehouse, every guardrail, the data profile and the charts",
    "05_metrics_preview.html": "the metric SQL against the answer keys",
    "generation_notes.md": "what was generated and injected, where, at what rate and why",
    "run.log": "the run's log (UTC): each step and its time",
}


_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
table { border-collapse: collapse; margin: .5rem 0 .5rem; }
td, th { padding: .25rem .75rem; border-bottom: 1px solid #ddd; text-align: left; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
dl.legend { font-size: .9rem; color: #444; margin: 0 0 1.5rem; }
dl.legend dt { font-weight: bold; float: left; clear: left; margin-right: .5rem; }
dl.legend dd { margin: 0 0 .2rem 0; }
.ok { color: #1e7b34; } .bad { color: #b00020; font-weight: bold; } .off { color: #777; }
"""


def _head(*columns: str) -> str:
    return "<tr>" + "".join(f"<th>{html.escape(c)}</th>" for c in columns) + "</tr>"


def _legend(table: str) -> str:
    """The meaning of every column of one of index.html's tables (TABLE_COLUMNS)."""
    items = "".join(f"<dt>{html.escape(c)}</dt><dd>{html.escape(m)}</dd>" for c, m in TABLE_COLUMNS[table].items())
    return f'<dl class="legend">{items}</dl>'


def off_checks(manifest: dict) -> dict[str, str]:
    """The guardrail checks of features these parameters turn off, each with why: the as_of rule
    without snapshot.as_of, and the rate check of each imperfection whose target is 0."""
    off = {}
    if not manifest.get("snapshot", {}).get("as_of"):
        off[AS_OF_CHECK] = "snapshot.as_of is not set"
    for i in manifest.get("imperfections", []):
        if not i["target_rate"]:
            off[f"{i['kind']}: {i['table']}.{i['column']}"] = f"the target of {i['kind']} is 0"
    return off


def _guardrail_rows(guardrails: list[dict], off: dict[str, str] | None = None) -> str:
    """A table row per guardrail: how many of its checks pass, fail, do not apply or are off, and its
    status (off when every check is off)."""
    off = off or {}
    counts: dict[str, dict] = {}
    for g in guardrails:
        status = OFF if g["check"] in off and g["status"] != "fail" else g["status"]
        counts.setdefault(g["guardrail"], {"pass": 0, "fail": 0, "not applicable": 0, OFF: 0})[status] += 1
    return "".join(
        f"<tr><td>{html.escape(g)}</td><td class=n>{d['pass']}</td><td class=n>{d['fail']}</td>"
        f"<td class=n>{d['not applicable']}</td><td class=n>{d[OFF]}</td>"
        f"<td class={_status_class(s)}>{s}</td></tr>"
        for g, d in counts.items()
        for s in [_guardrail_status(d)]
    )


def _guardrail_status(d: dict) -> str:
    if d["fail"]:
        return "fail"
    if d[OFF] and not (d["pass"] or d["not applicable"]):
        return OFF
    return "pass" if d["pass"] else "not applicable"


def _status_class(status: str) -> str:
    return {"fail": "bad", OFF: "off", "not applicable": "off"}.get(status, "ok")


def _imperfection_row(i: dict) -> str:
    """A table row per imperfection: target, reachable, measured, tolerance, verdict; off (greyed,
    no verdict) when its target is 0."""
    esc = html.escape
    where = f"<td>{esc(i['kind'])}</td><td>{esc(i['table'])}.{esc(i['column'])}</td>"
    if not i["target_rate"]:
        return f"<tr class=off>{where}<td class=n>{OFF}</td>" + "<td class=n></td>" * 3 + f"<td>{OFF}</td></tr>"
    tolerance = "n/a" if i["tolerance"] is None else f"± {100 * i['tolerance']:.2f} pts"
    if i["within_tolerance"] is None:
        verdict = "<td>not applicable</td>"
    else:
        verdict = (
            f"<td class={'ok' if i['within_tolerance'] else 'bad'}>"
            f"{'within tolerance' if i['within_tolerance'] else 'off target'}</td>"
        )
    return (
        f"<tr>{where}"
        f"<td class=n>{_pct(i['target_rate'])}</td><td class=n>{_pct(i.get('achievable_rate'))}</td>"
        f"<td class=n>{_pct(i['measured_rate'])}</td><td class=n>{tolerance}</td>{verdict}</tr>"
    )


def write_run_reports(
    data_dir: Path, reports_dir: Path, final_data_dir: Path, final_reports_dir: Path, notebooks: tuple[str, ...]
) -> None:
    """generation_notes.md and index.html into reports_dir (links relative to the published folders)."""
    manifest = json.loads((Path(data_dir) / "manifest.json").read_text())
    notes = generation_notes(manifest, Path(data_dir) / "imperfections" / "ledger.parquet")
    (Path(reports_dir) / "generation_notes.md").write_text(notes, encoding="utf-8")
    prof_path = Path(data_dir) / "profile.json"
    guardrails = json.loads(prof_path.read_text()).get("guardrails", []) if prof_path.exists() else []
    reports = [f"{nb}.html" for nb in notebooks] + ["generation_notes.md", "run.log"]
    data_link = "../"  # the reports live inside their dataset folder (reports/NAME -> data/NAME/reports)
    (Path(reports_dir) / "index.html").write_text(
        index_html(manifest, reports, guardrails, data_link), encoding="utf-8"
    )


# --------------------------------------------------------------------------- a failed run
def failed_checks(profile_path: Path, error: str) -> list[str]:
    """The checks that failed, one line each: from the staged profile.json when 04_qa_profile wrote it
    (each failed guardrail check with its value, what is allowed and what to change), else from the
    one-line error the checks raise (quality.guardrails.raise_if_failed, quality.checks.assert_all_pass,
    quality.metrics.assert_agree: "N ... failed: a; b" or "N metric(s) disagree ...: a; b")."""
    if Path(profile_path).exists():
        with contextlib.suppress(ValueError, OSError):
            rows = json.loads(Path(profile_path).read_text()).get("guardrails", [])
            failed = [g for g in rows if g.get("status") == "fail"]
            if failed:
                return [
                    f"{g['guardrail']}: {g['check']} = {g['value']} (allowed {g['allowed']})"
                    + (f": {g['note']}" if g.get("note") else "")
                    for g in failed
                ]
    match = re.search(r"\d+ (?:guardrail check\(s\)|check\(s\)) failed: (.*)|metric\(s\) disagree [^:]*: (.*)", error)
    if not match:
        return []
    return [part.strip() for part in (match.group(1) or match.group(2)).split("; ") if part.strip()]


def failed_index_html(name: str, run_id: str, step: str, error: str, checks: list[str], reports: list[str]) -> str:
    """The page of a failed run: the step that failed, its one-line error, the checks that failed,
    and links (named) to what ran and the log."""
    esc = html.escape
    check_list = (
        "<h2>Failed checks</h2><ul>" + "".join(f"<li>{esc(c)}</li>" for c in checks) + "</ul>"
        if checks
        else "<p>No check failed: the step itself stopped (see the error and run.log).</p>"
    )
    links = "".join(f'<li><a href="{esc(r)}">{esc(r)}</a>: {esc(_failed_label(r, step))}</li>' for r in reports)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>saas-synth: {esc(name)} FAILED</title>
<style>{_STYLE}</style></head><body>
<h1>saas-synth run <code>{esc(run_id)}</code> of <code>{esc(name)}</code>: <span class=bad>FAILED</span></h1>
<p>Failed at step <strong>{esc(step)}</strong>: <code>{esc(error)}</code></p>
<p>Nothing was published: the previous dataset, if any, is unchanged. This staged run is kept for
inspection (marked <code>FAILED</code>) until newer failed runs replace it.</p>
{check_list}
<h2>What ran</h2><ul>{links}</ul>
</body></html>
"""


def _failed_label(report: str, step: str) -> str:
    stem = report.rsplit(".", 1)[0]
    if report == "run.log":
        return REPORT_LABELS[report]
    what = "the step that failed" if stem == step else REPORT_LABELS.get(f"{stem}.html", "")
    return f"{what} ({'code-free HTML' if report.endswith('.html') else 'executed notebook, with its outputs'})"


def write_failed_index(reports_dir: Path, step: str, error: str, notebooks: tuple[str, ...]) -> Path | None:
    """index.html in a failed run's staged reports folder (failed_index_html): which step failed, its
    error, which checks failed, links to the notebooks that ran (executed and HTML) and run.log. Best
    effort, like the rest of a failure's bookkeeping: returns None when the disk refuses it."""
    reports_dir = Path(reports_dir)
    stage = reports_dir.parent
    reports = [
        f"{nb}{suffix}"
        for nb in notebooks
        for suffix in (".html", ".ipynb")
        if (reports_dir / f"{nb}{suffix}").exists()
    ]
    reports += [r for r in ("run.log",) if (reports_dir / r).exists()]
    page = failed_index_html(
        stage.parent.name, stage.name, step, error, failed_checks(stage / "profile.json", error), reports
    )
    try:
        (reports_dir / "index.html").write_text(page, encoding="utf-8")
    except OSError:
        return None
    return reports_dir / "index.html"
