"""The run's written deliverables, rendered from the manifest, the ledger and the QA profile (never
hand-written per run): reports/NAME/generation_notes.md and reports/NAME/index.html."""

from __future__ import annotations

import html
import json
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


def index_html(manifest: dict, reports: list[str], guardrails: list[dict], data_link: str) -> str:
    """One page linking every report of the run, with its key figures."""
    esc = html.escape
    failed = [g for g in guardrails if g.get("status") == "fail"]
    status = "all guardrails pass" if not failed else f"{len(failed)} guardrail check(s) FAILED"
    rows_counts = "".join(
        f"<tr><td>{esc(t)}</td><td class=n>{n:,}</td></tr>" for t, n in manifest["row_counts"].items()
    )
    rows_guard = _guardrail_rows(guardrails)
    rows_imp = "".join(_imperfection_row(i) for i in manifest.get("imperfections", []))
    links = "".join(f'<li><a href="{esc(r)}">{esc(r)}</a></li>' for r in reports)
    scen = (
        "".join(f"<li>{esc(n)}</li>" for n in manifest.get("notes", []) if n.startswith("scenario "))
        or "<li>all scenarios are off</li>"
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>saas-synth: {esc(manifest["name"])}</title>
<style>{_STYLE}</style></head><body>
<h1>saas-synth dataset <code>{esc(manifest["name"])}</code></h1>
<p>Seed {manifest["seed"]}, window {esc(str(manifest["params"]["window"]["start"]))} to
{esc(str(manifest["params"]["window"]["end"]))} (UTC).
QA: <strong class={"bad" if failed else "ok"}>{esc(status)}</strong>.
Data: <a href="{esc(data_link)}">{esc(data_link)}</a> (manifest.json, profile.json, raw/, warehouse.duckdb).</p>
<h2>Reports</h2><ul>{links}</ul>
<h2>Tables</h2><table><tr><th>table</th><th>rows</th></tr>{rows_counts}</table>
<h2>Guardrails</h2><table>{_head("guardrail", "pass", "fail", "not applicable", "status")}{rows_guard}</table>
<h2>Scenarios</h2><ul>{scen}</ul>
<h2>Imperfections</h2><table>{_head(*IMPERFECTION_COLUMNS)}{rows_imp}</table>
</body></html>
"""


_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
table { border-collapse: collapse; margin: .5rem 0 1.5rem; }
td, th { padding: .25rem .75rem; border-bottom: 1px solid #ddd; text-align: left; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
.ok { color: #1e7b34; } .bad { color: #b00020; font-weight: bold; }
"""
IMPERFECTION_COLUMNS = ("kind", "where", "target", "reachable", "measured", "tolerance", "verdict")


def _head(*columns: str) -> str:
    return "<tr>" + "".join(f"<th>{c}</th>" for c in columns) + "</tr>"


def _guardrail_rows(guardrails: list[dict]) -> str:
    """A table row per guardrail: how many of its checks pass, fail or do not apply, and its status."""
    counts: dict[str, dict] = {}
    for g in guardrails:
        counts.setdefault(g["guardrail"], {"pass": 0, "fail": 0, "not applicable": 0})[g["status"]] += 1
    return "".join(
        f"<tr><td>{html.escape(g)}</td><td class=n>{d['pass']}</td><td class=n>{d['fail']}</td>"
        f"<td class=n>{d['not applicable']}</td><td class={'bad' if d['fail'] else 'ok'}>"
        f"{'fail' if d['fail'] else ('not applicable' if not d['pass'] else 'pass')}</td></tr>"
        for g, d in counts.items()
    )


def _imperfection_row(i: dict) -> str:
    """A table row per imperfection: target, reachable, measured, tolerance, verdict."""
    esc = html.escape
    tolerance = "n/a" if i["tolerance"] is None else f"± {100 * i['tolerance']:.2f} pts"
    if i["within_tolerance"] is None:
        verdict = "<td>not applicable</td>"
    else:
        verdict = (
            f"<td class={'ok' if i['within_tolerance'] else 'bad'}>"
            f"{'within tolerance' if i['within_tolerance'] else 'off target'}</td>"
        )
    return (
        f"<tr><td>{esc(i['kind'])}</td><td>{esc(i['table'])}.{esc(i['column'])}</td>"
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
    data_link = ".."  # the reports live inside their dataset folder (reports/NAME -> data/NAME/reports)
    (Path(reports_dir) / "index.html").write_text(
        index_html(manifest, reports, guardrails, data_link), encoding="utf-8"
    )
