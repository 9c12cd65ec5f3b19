"""Does it behave like a product? The charts an analyst checks before building churn, health, plan,
sessionisation and seasonality analyses on the data: customers only (accounts.is_internal = false).

Each function returns a `Chart`: the figure (its title says what a real product looks like), one sentence
saying what real products show and what this data shows, and the numbers in that sentence. DuckDB does
every aggregation; where the data is too thin to judge, the chart says "too few ..." and the sentence
says so too. The plan of an account is accounts.plan_tier (its plan at the window's end).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from ..quality.realism import EXPECTED
from ..schema import COMPANY_SIZES, PLAN_TIERS
from .base import BLUE, GREY, ORANGE, RED, _df, is_key_event

PLAN_COLORS = dict(zip(PLAN_TIERS, ("#b9c4cf", "#7fa7d1", "#3b6ea8", "#1d3f66"), strict=True))
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

# Customers' events with their plan and country: every chart below reads only these.
CUSTOMER_EVENTS = """
    SELECT e.*, a.plan_tier, a.country_code
    FROM qa.events e JOIN raw.accounts a ON a.account_id = e.account_id
    WHERE NOT a.is_internal"""

MIN_COHORT_USERS = 10  # a plan's retention curve is drawn from this many users with a complete 12-week cohort
MIN_SILENT_USERS = 10  # users who went silent, for the fade chart
MIN_USER_WEEKS = 50  # active user-weeks, for the distribution of events per user-week
MIN_GAPS = 50  # gaps between consecutive events of a session
MIN_EVENTS = 200  # events with a local time, for the hour x weekday heatmap
MIN_COUNTRY_USERS = 5  # users of a country, for its daily line


@dataclass(frozen=True)
class Chart:
    """A chart and what it says: `sentence` (what a real product looks like, and what the data shows),
    `numbers` (the figures quoted in the sentence, by name; empty when the data is too thin). In a
    notebook the sentence is shown as Markdown, the figure below it."""

    figure: plt.Figure
    sentence: str
    numbers: dict[str, float] = field(default_factory=dict)

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict[str, str]:
        return {"text/markdown": self.sentence, "text/plain": self.sentence}


def _too_few(ax, what: str) -> None:
    """Say on the axes that the data is too thin for this chart (instead of drawing noise or crashing)."""
    ax.text(0.5, 0.5, f"too few {what} to chart", ha="center", va="center", transform=ax.transAxes, color="#777777")
    ax.set_xticks([])
    ax.set_yticks([])


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


# --------------------------------------------------------------------------- retention by plan
def retention_by_plan(con, weeks: int = 12) -> Chart:
    """Weekly user retention by plan tier: of the users activated in an ISO week (cohort) whose week
    `weeks` lies wholly inside the window, the share with a key event in the k-th week after (k = 0..weeks),
    per plan (plans with fewer than MIN_COHORT_USERS such users are left out) and over all customers. Only
    users activated in the window: an older cohort's first weeks are not in the extract."""
    cohort = f"""
        SELECT u.user_id, a.plan_tier, date_trunc('week', u.activated_at)::DATE AS cw
        FROM raw.users u JOIN raw.accounts a ON a.account_id = u.account_id
        WHERE NOT a.is_internal AND u.activated_at >= getvariable('window_start')
          AND date_trunc('week', u.activated_at)::DATE + {7 * (weeks + 1)} <= getvariable('window_end')::DATE"""
    sizes = _df(con, f"SELECT plan_tier, count(*) AS users FROM ({cohort}) GROUP BY ALL")
    kept = _df(
        con,
        f"""
        WITH cohort AS ({cohort})
        SELECT plan_tier, k, count(*) AS retained FROM (
            SELECT DISTINCT c.user_id, c.plan_tier,
                   date_diff('day', c.cw, date_trunc('week', e.event_at_utc)::DATE) // 7 AS k
            FROM cohort c JOIN qa.events e ON e.user_id = c.user_id
            WHERE {is_key_event("e.event_name")}
              AND e.event_at_utc >= c.cw AND e.event_at_utc < c.cw + INTERVAL {7 * (weeks + 1)} DAY
        ) GROUP BY ALL""",
    )
    size = dict(zip(sizes.plan_tier, sizes.users, strict=True))
    grid = kept.pivot_table(index="k", columns="plan_tier", values="retained", aggfunc="sum", fill_value=0)
    grid = grid.reindex(index=range(weeks + 1), columns=list(PLAN_TIERS), fill_value=0)
    plans = [p for p in PLAN_TIERS if size.get(p, 0) >= MIN_COHORT_USERS]
    total = sum(size.values())
    fig, ax = plt.subplots(figsize=(10, 3.6))
    numbers: dict[str, float] = {}
    if not plans:
        _too_few(ax, f"users with a complete {weeks}-week cohort")
        sentence = f"Too few users with a complete {weeks}-week cohort ({total}) to compare plans."
    else:
        overall = grid.sum(axis=1) / total
        ax.plot(overall.index, 100 * overall, color=GREY, lw=3, alpha=0.7, label=f"all customers ({total:,} users)")
        for plan in plans:
            curve = grid[plan] / size[plan]
            ax.plot(
                curve.index, 100 * curve, marker="o", ms=3, color=PLAN_COLORS[plan], label=f"{plan} ({size[plan]:,})"
            )
            numbers[f"week{weeks}_{plan}"] = float(curve[weeks])
        numbers.update(week1_all=float(overall[1]), **{f"week{weeks}_all": float(overall[weeks])})
        for k in (1, 4, 8, 12):  # the range published B2B curves fall in (quality.realism)
            e = EXPECTED[f"user_week{k}_retention"]
            if k <= weeks:
                label = "real B2B products (benchmarks)" if k == 1 else None
                ax.plot([k, k], [100 * e.low, 100 * e.high], color=ORANGE, lw=6, alpha=0.35, label=label)
        ax.legend(loc="upper right", fontsize=8)
        sentence = (
            "Real B2B products: a steep drop after the first week, then a flat tail (published benchmarks put "
            "week 12 around 12-33%), and paid plans retain far better than free. "
            f"Here: week 1 {_pct(overall[1])}, week {weeks} {_pct(overall[weeks])} over all customers; week {weeks} "
            + ", ".join(f"{p} {_pct(numbers[f'week{weeks}_{p}'])}" for p in plans)
            + "."
        )
    ax.set(
        title="Retention by plan: real products drop after week 1, flatten, and paid plans retain better",
        xlabel="weeks since the activation week (k): key event in that ISO week",
        ylabel="% of cohort retained",
        ylim=(0, 100),
        xticks=range(weeks + 1),
    )
    fig.tight_layout()
    return Chart(fig, sentence, numbers)


# --------------------------------------------------------------------------- fade before silence
def fade_before_silence(con, weeks: int = 12, quiet_weeks: int = 8, min_users: int = MIN_SILENT_USERS) -> Chart:
    """Users who went silent (no event in the window's last `quiet_weeks` weeks) and were active from
    `weeks` weeks before their last active ISO week at the latest: mean active days and mean key events per
    user in each week -weeks..0 (0: the last active week; weeks without activity count as 0). The sentence
    compares weeks -weeks..-weeks+3 with weeks -4..-1 (so `weeks` is 8 or more)."""
    if weeks < 8:
        raise ValueError(f"weeks = {weeks}: the fade compares the first four weeks with the last four, so 8 or more")
    sql = f"""
        WITH days AS (
            SELECT user_id, event_at_utc::DATE AS d, count(*) FILTER (WHERE {is_key_event()}) AS key_events
            FROM ({CUSTOMER_EVENTS}) GROUP BY ALL
        ), span AS (
            SELECT user_id, date_trunc('week', min(d))::DATE AS first_w, date_trunc('week', max(d))::DATE AS last_w,
                   max(d) AS last_d
            FROM days GROUP BY user_id
        ), silent AS (
            SELECT * FROM span
            WHERE last_d < getvariable('window_end')::DATE - {7 * quiet_weeks} AND first_w <= last_w - {7 * weeks}
        )"""
    users = con.execute(f"{sql} SELECT count(*) FROM silent").fetchall()[0][0]
    df = _df(
        con,
        f"""{sql}
        SELECT date_diff('day', s.last_w, date_trunc('week', d.d)::DATE) // 7 AS w,
               count(*) AS active_days, sum(d.key_events) AS key_events
        FROM silent s JOIN days d ON d.user_id = s.user_id
        WHERE d.d >= s.last_w - {7 * weeks} GROUP BY ALL""",
    )
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 3.6), sharex=True)
    numbers: dict[str, float] = {}
    if users < min_users:
        for ax in (left, right):
            _too_few(ax, "users who went silent")
        sentence = f"Too few users went silent with {weeks} weeks of history ({users}) to see how churn starts."
    else:
        per_user = df.set_index("w").reindex(range(-weeks, 1), fill_value=0)[["active_days", "key_events"]] / users
        for ax, col, color, label in (
            (left, "active_days", BLUE, "active days per week"),
            (right, "key_events", ORANGE, "key events per week"),
        ):
            ax.plot(per_user.index, per_user[col], marker="o", ms=3, color=color)
            ax.set(ylabel=f"mean {label}", xlabel="weeks before the last active week", ylim=(0, None))
        early, late = per_user.loc[-weeks : -weeks + 3].mean(), per_user.loc[-4:-1].mean()
        numbers = dict(
            users=float(users),
            days_early=float(early.active_days),
            days_late=float(late.active_days),
            key_early=float(early.key_events),
            key_late=float(late.key_events),
        )
        sentence = (
            "Real churn gives warning: users fade out, with fewer active days and fewer key actions in the weeks "
            f"before they go silent. Here, {users:,} users went silent (no event in the last {quiet_weeks} weeks): "
            f"{early.active_days:.2f} active days per week in weeks -{weeks} to -{weeks - 3}, "
            f"{late.active_days:.2f} in weeks -4 to -1; key events per week {early.key_events:.1f} -> "
            f"{late.key_events:.1f}."
        )
    fig.suptitle(
        "Before users go silent: real churn fades (fewer active days, fewer key actions), it does not stop dead"
    )
    left.set_title(f"active days per week (mean of {users:,} users)", fontsize=10)
    right.set_title("key events per week", fontsize=10)
    if numbers:
        left.set_xticks(range(-weeks, 1, 2))
    fig.tight_layout()
    return Chart(fig, sentence, numbers)


# --------------------------------------------------------------------------- power users
def user_week_events(con) -> pd.DataFrame:
    """How many active user-weeks (a customer user's ISO week with any event) hold n events: n, weeks."""
    return _df(
        con,
        f"""
        SELECT n, count(*) AS weeks FROM (
            SELECT user_id, date_trunc('week', event_at_utc) AS w, count(*) AS n FROM ({CUSTOMER_EVENTS}) GROUP BY ALL
        ) GROUP BY n ORDER BY n""",
    )


def top_share(dist: pd.DataFrame, share: float = 0.1) -> tuple[float, int]:
    """(share of events held by the busiest ceil(share x N) of the N user-weeks, the fewest events of one of
    them), from the distribution (n, weeks): exact with ties (ties hold equal counts)."""
    d = dist.sort_values("n", ascending=False)
    top = int(np.ceil(share * d.weeks.sum()))
    take = np.minimum(d.weeks, np.maximum(top - (d.weeks.cumsum() - d.weeks), 0))
    return float((take * d.n).sum() / (d.weeks * d.n).sum()), int(d.n[take > 0].min())


def events_per_user_week(con) -> Chart:
    """The distribution of events per active user-week (log x), the busiest 10% of user-weeks shaded with
    the share of all events they hold."""
    dist = user_week_events(con)
    n_weeks = int(dist.weeks.sum()) if len(dist) else 0
    fig, ax = plt.subplots(figsize=(10, 3.6))
    numbers: dict[str, float] = {}
    if n_weeks < MIN_USER_WEEKS:
        _too_few(ax, "active user-weeks")
        sentence = f"Too few active user-weeks ({n_weeks}) to see how engagement is spread."
    else:
        top = max(int(dist.n.max()), 2)
        edges = np.unique(np.round(np.logspace(0, np.log10(top + 1), 40))) - 0.5  # integer-centred log bins
        edges = np.r_[0.5, edges[edges > 0.5]]
        counts, _ = np.histogram(dist.n, bins=edges, weights=dist.weeks)
        # per unit of log10(n): the first bins hold one integer each and are wider on the log axis
        ax.stairs(100 * counts / n_weeks / np.diff(np.log10(edges)), edges, fill=True, color=BLUE, alpha=0.85)
        ax.set_xscale("log")
        held, floor = top_share(dist)
        cum = dist.weeks.cumsum() / n_weeks
        median = int(dist.n[cum >= 0.5].iloc[0])
        p99 = int(dist.n[cum >= 0.99].iloc[0])
        ax.axvspan(floor - 0.5, edges[-1], color=ORANGE, alpha=0.18)
        ax.axvline(median, color="#333333", ls=":", lw=1.2, label=f"median user-week: {median} events")
        ax.text(
            0.98,
            0.9,
            f"busiest 10% of user-weeks ({floor}+ events):\n{_pct(held)} of all events",
            transform=ax.transAxes,
            ha="right",
            va="top",
            color="#8a4b0f",
        )
        ax.legend(loc="upper left")
        numbers = dict(top10_share=held, median=float(median), p99=float(p99), user_weeks=float(n_weeks))
        sentence = (
            "Real products are heavy-tailed: a small core of power users does much of the work (the busiest 10% "
            f"of user-weeks typically hold 35-70% of events). Here the busiest 10% of {n_weeks:,} active user-weeks "
            f"hold {_pct(held)} of events; the median user-week has {median} events, the 99th percentile {p99}."
        )
    ax.set(
        title="Events per active user-week: real engagement is heavy-tailed (power users)",
        xlabel="events in the user-week (log scale)",
        ylabel="% of user-weeks per decade",
    )
    fig.tight_layout()
    return Chart(fig, sentence, numbers)


# --------------------------------------------------------------------------- sessions
# Gaps between consecutive events of one session, in whole seconds (same-moment events left out), and
# how many there are of each length: a short table however many events there are, so the median and
# the histogram need no sort of every gap (60M on params/large.yaml, beyond DuckDB's memory for a median).
SESSION_GAP_SECONDS = f"""
    SELECT gap_us // 1000000 AS second, count(*) AS n FROM (
        SELECT epoch_us(event_at_utc)
               - epoch_us(lag(event_at_utc) OVER (PARTITION BY session_id ORDER BY event_at_utc, event_id)) AS gap_us
        FROM ({CUSTOMER_EVENTS}) WHERE session_id IS NOT NULL
    ) WHERE gap_us > 0 GROUP BY ALL ORDER BY second"""


def binned_quantile(counts: pd.Series, q: float) -> float:
    """The q-quantile of values counted in unit bins [k, k+1) (index k, ascending), interpolated linearly
    inside the bin it falls in: within one bin of the exact quantile."""
    cum = counts.to_numpy(float).cumsum()
    target = q * cum[-1]
    i = int(np.searchsorted(cum, target))
    before = cum[i - 1] if i else 0.0
    return float(counts.index[i] + (target - before) / counts.iloc[i])


def sessions(con, bins: int = 50, most: int = 8) -> Chart:
    """Left: minutes between consecutive events of one session (log x from one second; same-moment events
    left out, the share under a second written in; the median and 90th percentile over every gap above 0,
    to the second). Right: active user-days (a customer user's UTC day with any event) by how many
    sessions they hold."""
    gaps = _df(con, SESSION_GAP_SECONDS).set_index("second").n
    n = int(gaps.sum())
    per_day = _df(
        con,
        f"""
        SELECT s, count(*) AS user_days FROM (
            SELECT user_id, event_at_utc::DATE AS d, count(DISTINCT session_id) AS s
            FROM ({CUSTOMER_EVENTS}) WHERE session_id IS NOT NULL GROUP BY ALL
        ) GROUP BY s ORDER BY s""",
    )
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 3.6), gridspec_kw={"width_ratios": [3, 2]})
    numbers: dict[str, float] = {}
    if n < MIN_GAPS:
        _too_few(left, "events in sessions")
        _too_few(right, "sessions")
        sentence = f"Too few consecutive events within sessions ({n}) to see how use is spread over a day."
    else:
        median, p90 = (binned_quantile(gaps, q) / 60 for q in (0.5, 0.9))
        under = int(gaps.get(0, 0))
        longest = max(gaps.index.max() + 1, 1.0001)  # seconds: bins on a log scale from one second to here
        drawn = gaps[gaps.index >= 1]
        b = np.minimum(np.log(drawn.index.to_numpy(float)) / np.log(longest) * bins, bins - 1).astype(int)
        counts = drawn.groupby(b).sum().to_dict()
        edges = np.geomspace(1, longest, bins + 1) / 60
        left.stairs([counts.get(i, 0) for i in range(bins)], edges, fill=True, color=BLUE)
        left.set_xscale("log")
        left.axvline(median, color="#333333", ls=":", lw=1.2, label=f"median {median:.1f} min")
        left.axvline(p90, color=ORANGE, ls="--", lw=1.2, label=f"90% within {p90:.0f} min")
        left.legend(loc="upper left", title=f"{100 * under / n:.1f}% under a second (not drawn)", title_fontsize=8)
        shown = per_day.assign(s=per_day.s.clip(upper=most)).groupby("s", as_index=False).user_days.sum()
        right.bar(shown.s, shown.user_days, color=BLUE)
        right.set_xticks(shown.s, [f"{s}+" if s == most else str(s) for s in shown.s])
        mean = float((per_day.s * per_day.user_days).sum() / per_day.user_days.sum())
        right.axvline(mean, color=ORANGE, ls="--", lw=1.2, label=f"mean {mean:.2f}")
        right.legend(loc="upper right")
        numbers = dict(gap_median_minutes=float(median), gap_p90_minutes=float(p90), sessions_per_user_day=mean)
        sentence = (
            "Real use comes in short sittings: events a minute or two apart inside a session, several sessions a "
            f"day. Here: a median of {median:.1f} minutes between consecutive events of a session (90% within "
            f"{p90:.0f} minutes), and {mean:.2f} sessions per active user-day."
        )
    left.set(
        title="Minutes between consecutive events of a session: real ones are minutes apart",
        xlabel="minutes (log scale)",
        ylabel="gaps",
    )
    right.set(
        title="Sessions per active user-day: real users come back", xlabel="sessions that day", ylabel="user-days"
    )
    fig.tight_layout()
    return Chart(fig, sentence, numbers)


# --------------------------------------------------------------------------- local hour x weekday
def local_hour_weekday(con) -> Chart:
    """Share of customers' events by weekday and hour of the user's local time (users with a time zone),
    with the weekday and weekend hourly profiles beside. Friday against Tuesday-Wednesday: events per date
    of that weekday in the window."""
    df = _df(
        con,
        f"""
        -- events per time zone and UTC quarter hour, each converted to local time once: every UTC offset
        -- is a whole number of quarter hours and changes on a quarter hour
        WITH quarters AS (
            SELECT u.timezone AS tz, time_bucket(INTERVAL 15 MINUTE, e.event_at_utc) AS q, count(*) AS n
            FROM ({CUSTOMER_EVENTS}) e JOIN raw.users u ON u.user_id = e.user_id
            WHERE u.timezone IS NOT NULL GROUP BY ALL
        )
        SELECT isodow(t) AS dow, hour(t) AS hour, sum(n)::BIGINT AS events FROM (
            SELECT timezone(tz, timezone('UTC', q)) AS t, n FROM quarters
        ) GROUP BY ALL""",
    )
    total = int(df.events.sum()) if len(df) else 0
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 3.6), gridspec_kw={"width_ratios": [3, 2]})
    numbers: dict[str, float] = {}
    if total < MIN_EVENTS:
        _too_few(left, "events with a local time")
        _too_few(right, "events with a local time")
        sentence = f"Too few events with a local time ({total}) to see the working day."
    else:
        grid = df.pivot_table(index="dow", columns="hour", values="events", aggfunc="sum", fill_value=0)
        grid = grid.reindex(index=range(1, 8), columns=range(24), fill_value=0)
        pct = 100 * grid / total
        pct.index = list(WEEKDAYS)
        sns.heatmap(pct, cmap="Blues", ax=left, cbar_kws={"label": "% of events"})
        left.tick_params(axis="y", rotation=0)
        hours = grid.sum(axis=0)
        for rows, color, label in ((range(1, 6), BLUE, "Mon-Fri"), (range(6, 8), ORANGE, "Sat-Sun")):
            right.plot(
                range(24), 100 * grid.loc[list(rows)].sum(axis=0) / total, color=color, marker="o", ms=3, label=label
            )
        right.legend(loc="upper right")
        right.set_xticks(range(0, 24, 3))
        days = grid.sum(axis=1)
        per_day = days / _weekday_dates(con)
        numbers = dict(
            lunch_dip=float(hours[12] / hours[[10, 11, 14, 15]].mean()),
            evening_share=float(hours[18:].sum() / total),
            friday_ratio=float(per_day[5] / per_day[[2, 3]].mean()),
            weekend_share=float(days[[6, 7]].sum() / total),
        )
        sentence = (
            "Real work follows the local working day: a morning ramp, a lunch dip at noon, an evening tail, Friday "
            "lighter than Tuesday-Wednesday, quiet weekends. Here: noon holds "
            f"{numbers['lunch_dip']:.2f}x the mean of 10-12 h and 14-16 h, {_pct(numbers['evening_share'])} of events "
            f"fall after 18:00, Friday has {numbers['friday_ratio']:.2f}x a Tuesday-Wednesday, and weekends "
            f"{_pct(numbers['weekend_share'])} of events."
        )
    left.set(
        title="Events by weekday and local hour: real use has a lunch dip and an evening tail",
        xlabel="hour (user's local time)",
        ylabel="",
    )
    right.set(title="% of events by local hour", xlabel="hour (local)", ylabel="% of events")
    fig.tight_layout()
    return Chart(fig, sentence, numbers)


def _weekday_dates(con) -> pd.Series:
    """How many dates of each ISO weekday (1 = Monday) the window holds."""
    start, end = con.execute("SELECT getvariable('window_start'), getvariable('window_end')").fetchall()[0]
    days = pd.date_range(start, pd.Timestamp(end) - pd.Timedelta(days=1), freq="D")
    return pd.Series(days.day_of_week + 1).value_counts().reindex(range(1, 8), fill_value=0)


# --------------------------------------------------------------------------- holidays per country
def holiday_countries(segment: str) -> set[str] | None:
    """The countries a holidays row of truth/scenarios names in its `segment` ("external users in US, GB,
    CA (America/Toronto) (local calendar)" -> {US, GB, CA}); None for a day off everywhere ("every country");
    an empty set when it names no country (one calendar for the world: nothing to mark per country)."""
    if "every country" in segment:
        return None
    return set(re.findall(r"\b[A-Z]{2}\b", segment))


def holidays_by_country(con, countries: tuple[str, ...] = ("US", "GB", "DE")) -> Chart:
    """Events per local weekday (Mon-Fri, the user's time zone) of the users of `countries` (the largest
    customer bases; those with fewer than MIN_COUNTRY_USERS users left out), each country's own holidays
    (truth/scenarios: scenario 'holidays', the countries in `segment`) marked; the sentence gives, per
    country, the median over its holiday weekdays of the day's events / the median of the same weekday one
    to three weeks either side."""
    wanted = ", ".join(f"'{c}'" for c in countries)
    largest = _df(
        con,
        f"""
        SELECT a.country_code AS country, count(*) AS users
        FROM raw.users u JOIN raw.accounts a ON a.account_id = u.account_id
        WHERE NOT a.is_internal AND u.timezone IS NOT NULL AND a.country_code IN ({wanted})
        GROUP BY ALL HAVING count(*) >= {MIN_COUNTRY_USERS}""",
    )
    largest = largest.set_index("country").reindex([c for c in countries if c in set(largest.country)]).reset_index()
    rows = _df(
        con,
        "SELECT starts_at::DATE AS day, segment FROM truth.scenarios WHERE scenario = 'holidays' AND enabled",
    )
    named = [(pd.Timestamp(r.day), holiday_countries(r.segment)) for r in rows.itertuples()]
    fig, axes = plt.subplots(max(len(largest), 1), 1, figsize=(10, 1.9 * max(len(largest), 1) + 0.6), sharex=True)
    axes = np.atleast_1d(axes)
    numbers: dict[str, float] = {}
    if not len(largest):
        _too_few(axes[0], "users per country")
        sentence = "Too few users per country to see each country's holidays."
        axes[0].set_title("Holidays per country: real dips follow each country's own calendar")
        fig.tight_layout()
        return Chart(fig, sentence, numbers)
    codes = list(largest.country)
    daily = _df(
        con,
        f"""
        SELECT a.country_code AS country, timezone(u.timezone, timezone('UTC', e.event_at_utc))::DATE AS day,
               count(*) AS events
        FROM qa.events e JOIN raw.users u ON u.user_id = e.user_id JOIN raw.accounts a ON a.account_id = e.account_id
        WHERE NOT a.is_internal AND u.timezone IS NOT NULL AND a.country_code IN ({", ".join(f"'{c}'" for c in codes)})
        GROUP BY ALL""",
    )
    found = []
    for ax, code in zip(axes, codes, strict=True):
        d = _weekday_ratios(daily[daily.country == code])
        ax.plot(d.day, d.events, color=BLUE, lw=0.9)
        days = [day for day, places in named if places is None or code in places]
        marked = d[d.day.isin(days)]
        if len(marked):
            ax.scatter(marked.day, marked.events, color=RED, s=22, zorder=3, label=f"{code} holidays on weekdays")
            ax.legend(loc="upper left", fontsize=8)
        judged = marked.ratio.dropna()  # a day whose same weekdays around were idle says nothing
        if len(judged):
            numbers[f"{code}_holiday_ratio"] = float(judged.median())
            found.append(f"{code} {_pct(judged.median())} ({len(judged)} days)")
        ax.set_ylabel(f"{code} ({int(largest.users[largest.country == code].iloc[0]):,} users)", fontsize=9)
        ax.set_ylim(0, None)
    axes[0].set_title("Events per local weekday by country: real dips follow each country's own holidays")
    if not any(places is None or places for _, places in named):
        note = "truth/scenarios names no country for its holidays (one calendar for the world), so nothing is marked."
    elif not found:
        note = "none of their holidays falls on a weekday with activity around it."
    else:
        note = (
            "on the median of its holidays that fall on a weekday, each country's users are at this share of a typical "
            "same weekday (the median of 1-3 weeks either side): " + ", ".join(found) + "."
        )
    sentence = (
        "Real products dip on each country's own public holidays (the US on July 4 and Thanksgiving, not on Easter "
        f"Monday; GB and DE on Easter Monday) and lull from mid-December. Here: {note}"
    )
    fig.tight_layout()
    return Chart(fig, sentence, numbers)


def _weekday_ratios(d: pd.DataFrame) -> pd.DataFrame:
    """A country's events per local day, reindexed to every day, Mon-Fri only, with each day's ratio to the
    median of the same weekday one to three weeks either side."""
    if not len(d):
        return pd.DataFrame({"day": pd.to_datetime([]), "events": [], "ratio": []})
    s = d.assign(day=pd.to_datetime(d.day)).set_index("day").events
    s = s.reindex(pd.date_range(s.index.min(), s.index.max()), fill_value=0)
    typical = pd.concat([s.shift(7 * k) for k in (-3, -2, -1, 1, 2, 3)], axis=1).median(axis=1)
    out = pd.DataFrame({"day": s.index, "events": s.values, "ratio": (s / typical.where(typical > 0)).values})
    return out[out.day.dt.day_of_week < 5]


# --------------------------------------------------------------------------- plans
def plans(con) -> Chart:
    """Left: users per customer account by plan tier (box and points, log y). Right: customer accounts by
    company size and plan tier (% of each company size, counts written in)."""
    teams = _df(
        con,
        """
        SELECT a.account_id, a.plan_tier, a.company_size, count(u.user_id) AS users
        FROM raw.accounts a LEFT JOIN raw.users u ON u.account_id = a.account_id
        WHERE NOT a.is_internal GROUP BY ALL""",
    )
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 3.8))
    numbers: dict[str, float] = {}
    if len(teams) < 4:
        _too_few(left, "accounts")
        _too_few(right, "accounts")
        sentence = f"Too few customer accounts ({len(teams)}) to compare plans."
    else:
        order = [t for t in PLAN_TIERS if t in set(teams.plan_tier)]
        shown = teams[teams.users > 0]
        sns.boxplot(shown, x="plan_tier", y="users", order=order, ax=left, color="#9cc3e6", log_scale=True, fliersize=0)
        sns.stripplot(
            shown, x="plan_tier", y="users", order=order, ax=left, color=BLUE, size=2.5, alpha=0.5, jitter=0.25
        )
        counts = pd.crosstab(teams.company_size, teams.plan_tier).reindex(
            index=[s for s in COMPANY_SIZES if s in set(teams.company_size)], columns=order, fill_value=0
        )
        share = 100 * counts.div(counts.sum(axis=1), axis=0)
        sns.heatmap(
            share, cmap="Blues", vmin=0, vmax=100, annot=counts, fmt="d", ax=right, cbar_kws={"label": "% of size"}
        )
        right.tick_params(axis="y", rotation=0)
        median = teams.groupby("plan_tier").users.median()
        free = teams[teams.plan_tier == "free"].users
        big = teams[teams.company_size == "1001+"]
        numbers = dict(paid_share=float((teams.plan_tier != "free").mean()))
        numbers.update({f"median_users_{p}": float(median[p]) for p in order})
        if len(free):
            numbers["free_p90_users"] = float(free.quantile(0.9))
        if len(big):
            numbers["enterprise_share_of_1001_plus"] = float((big.plan_tier == "enterprise").mean())
        sentence = (
            "Real freemium products: most accounts stay free, free teams are small (seat limits), paid teams larger, "
            f"and the plan follows company size. Here: {_pct(numbers['paid_share'])} of {len(teams):,} accounts are "
            "paid; median users per account "
            + ", ".join(f"{p} {median[p]:g}" for p in order)
            + (f" (free p90 {numbers['free_p90_users']:g})" if "free_p90_users" in numbers else "")
            + (
                f"; {_pct(numbers['enterprise_share_of_1001_plus'])} of {len(big)} companies of 1001+ on enterprise"
                if len(big)
                else ""
            )
            + "."
        )
    left.set(title="Users per account by plan: real free teams are small", xlabel="", ylabel="users (log scale)")
    right.set(title="Plan by company size: real large companies buy higher plans", xlabel="", ylabel="company size")
    fig.tight_layout()
    return Chart(fig, sentence, numbers)


# --------------------------------------------------------------------------- funnel
FUNNEL_STEPS = ("invited", "activated", "created a task", "completed a task", "handed off")


def funnel_counts(con) -> pd.Series:
    """Customer users invited in the window at each step, each step within the one before: invited, activated
    (signed in), created a task, completed a task, handed one off (their own task_created, task_completed and
    handoff_completed events; an older user's first tasks may predate the extract, so they are left out)."""
    row = _df(
        con,
        """
        WITH did AS (
            SELECT user_id, bool_or(event_name = 'task_created') AS created,
                   bool_or(event_name = 'task_completed') AS completed,
                   bool_or(event_name = 'handoff_completed') AS handed
            FROM qa.events WHERE event_name IN ('task_created', 'task_completed', 'handoff_completed') GROUP BY user_id
        ), steps AS (
            SELECT u.activated_at IS NOT NULL AS s1, s1 AND coalesce(d.created, false) AS s2,
                   s2 AND coalesce(d.completed, false) AS s3, s3 AND coalesce(d.handed, false) AS s4
            FROM raw.users u JOIN raw.accounts a ON a.account_id = u.account_id LEFT JOIN did d ON d.user_id = u.user_id
            WHERE NOT a.is_internal AND u.created_at >= getvariable('window_start')
        )
        SELECT count(*), count(*) FILTER (WHERE s1), count(*) FILTER (WHERE s2), count(*) FILTER (WHERE s3),
               count(*) FILTER (WHERE s4)
        FROM steps""",
    ).iloc[0]
    return pd.Series(row.to_numpy(dtype=int), index=list(FUNNEL_STEPS))


def funnel(con) -> Chart:
    """Users at each step of invited -> activated -> created a task -> completed a task -> handed off, each
    bar with its share of the step before."""
    counts = funnel_counts(con)
    fig, ax = plt.subplots(figsize=(10, 3.4))
    numbers: dict[str, float] = {}
    if counts.iloc[0] < 10:
        _too_few(ax, "invited users")
        sentence = f"Too few invited users ({counts.iloc[0]}) for a funnel."
    else:
        ax.bar(counts.index, counts.values, color=[GREY, *[BLUE] * (len(counts) - 1)])
        for i in range(1, len(counts)):
            step = counts.iloc[i] / counts.iloc[i - 1] if counts.iloc[i - 1] else float("nan")
            numbers[counts.index[i].replace(" ", "_")] = float(step)
            ax.text(
                i, counts.iloc[i], f"{counts.iloc[i]:,}\n{_pct(step)} of previous", ha="center", va="bottom", fontsize=9
            )
        ax.text(0, counts.iloc[0], f"{counts.iloc[0]:,}", ha="center", va="bottom", fontsize=9)
        ax.set_ylim(0, counts.iloc[0] * 1.25)
        sentence = (
            "Real funnels lose people at every step: not every invitee signs in, many users only follow and finish "
            "others' work, and a hand-off needs a colleague and a reason. Here, of "
            f"{counts.iloc[0]:,} users invited in the window: {_pct(numbers['activated'])} signed in, "
            f"{_pct(numbers['created_a_task'])} of those created a task, {_pct(numbers['completed_a_task'])} of "
            f"creators completed one, {_pct(numbers['handed_off'])} of those handed one off."
        )
    ax.set(title="Funnel: real products lose users at every step", xlabel="", ylabel="customer users")
    fig.tight_layout()
    return Chart(fig, sentence, numbers)
