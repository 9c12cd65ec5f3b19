"""What Stage 3 SQL must handle in one dataset: a section of its data dictionary, written from the
parameters it was made with and the effects 04_qa_profile measured (manifest `imperfection_effects`),
so it says what this extract holds and by how much a query that ignores each thing is off."""

from __future__ import annotations

from ..params import Params
from ..quality.effects import Effect
from ..quality.metrics import complete_through
from ..schema import BLANKABLE_COLUMNS, KEY_EVENTS


def _effect(effects: list[Effect], cause: str, metric: str = "active_users_7d") -> str:
    """' Measured on this dataset, 7-day active users (external): <Effect.text()>.' or '' if not measured."""
    found = [e for e in effects if e.cause == cause and e.metric == metric]
    return f" Measured on this dataset, 7-day active users (external): {found[0].text()}." if found else ""


def caveats(params: Params, effects: list[Effect]) -> list[str]:
    """Markdown lines: one bullet per thing a query over this dataset must handle, and how."""
    imp, as_of = params.imperfections, params.snapshot.as_of
    late = imp.late_arrival
    blankable = ", ".join(f"`{t}.{c}`" for t, c in BLANKABLE_COLUMNS)
    out = [
        "## What your SQL must handle in this dataset",
        "",
        "The raw tables are what a product's pipeline delivers, not a cleaned model. A query that ignores "
        "the points below still runs, and is wrong by the amounts given (05_metrics_preview shows a naive "
        "and a careful query against the answer keys).",
        "",
    ]
    if imp.duplicates.share > 0:
        out.append(
            f"- **Re-sent deliveries** (about {imp.duplicates.share:.1%} of events): a re-sent event repeats its "
            "`event_id` with a later `ingested_at_utc`. Deduplicate by `event_id` (keep the earliest "
            "`ingested_at_utc`) before counting events, summing or building funnels: a count of events that "
            f"does not is about {imp.duplicates.share:.1%} high. Counts of distinct users do not change (a "
            "re-sent event repeats its own user)." + _effect(effects, "duplicate")
        )
    else:
        out.append(
            "- **Re-sent deliveries**: none in this dataset (`imperfections.duplicates.share` 0); production "
            "data has them, so deduplicate by `event_id` anyway."
        )
    if as_of:
        out.append(
            f"- **The extract was taken at {as_of.isoformat(sep=' ')} UTC** (`snapshot.as_of`): events that "
            "happened later, and deliveries still on their way then, are not in `raw/events`, so the last "
            f"days are incomplete. The last UTC day that ended before the cut is "
            f"{complete_through(as_of, params.window.end)}; "
            "mark later days (and the ISO week holding them) incomplete rather than report a drop."
            + _effect(effects, "as_of")
        )
    else:
        out.append("- **The extract is complete**: no `as_of` cut; every delivery, however late, is published.")
    out.append(
        f"- **Late deliveries** (about {late.share:.0%} of events arrive more than {late.threshold_seconds:,} s after "
        "they happen: phones syncing, clients retrying, a pipeline incident): bucket by `event_at_utc`, never "
        "by `ingested_at_utc`, and let incremental loads look back days, not minutes."
        + (_effect(effects, "late_arrival") if as_of else "")
    )
    out.append(
        f"- **Internal workspaces** (about {imp.internal.account_share:.0%} of accounts, `is_internal = true` on "
        "the account and its users): the vendor's own QA and demo traffic. Exclude them for customer metrics "
        "(scope `external` of the keys)." + _effect(effects, "internal")
    )
    test = imp.test_workspaces
    if test.account_share > 0:
        out.append(
            f"- **Test workspaces nobody flagged** (about {test.account_share:.0%} of accounts): a person's own "
            "sandbox, one or two users, scripted bursts, names and e-mail domains that hint. `is_internal` is "
            "false, so the keys' `external` scope counts them, and a few real small customers share their hints: "
            "an exclusion heuristic is a trade-off (`helpers.quality.exclusion.score` scores one against the "
            "ledger's kind `test_workspace`)." + _effect(effects, "test_workspace")
        )
    out += [
        f"- **Missing values** in {blankable}: not at random (free plans lack a billing country, users who "
        "never signed in a time zone, some teams never set due dates, old backlog loses assignees); "
        "`imperfections/ledger.parquet` lists every value blanked. The locked metrics read none of them.",
        "- **Outliers**: cycle times over "
        f"{imp.outliers.long_cycle_threshold_days:g} days and due dates over {imp.outliers.far_due_threshold_days:g} "
        "days out are real rows; use medians or cap them in averages.",
        f"- **Key events** are {', '.join(f'`{e}`' for e in KEY_EVENTS)}; every timestamp is naive UTC (a "
        "local day needs `users.timezone`, itself sometimes missing).",
        "",
    ]
    return out
