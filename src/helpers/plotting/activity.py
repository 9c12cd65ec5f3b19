"""The event stream: the mix of event types and the daily and weekly rhythm."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from .base import PALETTE, _df, is_key_event


def event_mix(con) -> pd.DataFrame:
    return _df(
        con,
        f"""
        SELECT event_name,
               CASE WHEN {is_key_event()} THEN 'key' ELSE 'supporting' END AS kind,
               count(*) AS events, round(100.0 * count(*) / sum(count(*)) OVER (), 1) AS pct
        FROM qa.events GROUP BY ALL ORDER BY events DESC""",
    )


def event_mix_chart(mix: pd.DataFrame) -> plt.Figure:
    fig, ax = plt.subplots(figsize=(10, 3.6))
    colors = ["#3b6ea8" if k == "key" else "#b9c4cf" for k in mix.kind]
    ax.barh(mix.event_name, mix.pct, color=colors)
    ax.invert_yaxis()
    ax.set(title="Event mix (% of all events; key events in blue)", xlabel="% of events")
    fig.tight_layout()
    return fig


def daily_events(con) -> plt.Figure:
    df = _df(
        con,
        """
        SELECT event_at_utc::DATE AS day, count(*) AS events FROM qa.events GROUP BY ALL ORDER BY day""",
    )
    fig, ax = plt.subplots()
    if len(df):
        df["day"] = pd.to_datetime(df["day"])
        weekend = df.day.dt.dayofweek >= 5
        ax.bar(df.day[~weekend], df.events[~weekend], width=1.0, color=PALETTE["weekday"], label="Mon-Fri")
        ax.bar(df.day[weekend], df.events[weekend], width=1.0, color=PALETTE["weekend"], label="Sat-Sun")
        ax.legend(loc="upper left")
    ax.set(title="Events per UTC day: weekly rhythm on a growing base", xlabel="", ylabel="events")
    fig.tight_layout()
    return fig


def daily_events_by_kind(con) -> plt.Figure:
    """Events per UTC day, key vs supporting, stacked."""
    df = _df(
        con,
        f"""
        SELECT event_at_utc::DATE AS day,
               count(*) FILTER (WHERE {is_key_event()}) AS key,
               count(*) FILTER (WHERE NOT {is_key_event()}) AS supporting
        FROM qa.events GROUP BY ALL ORDER BY day""",
    )
    fig, ax = plt.subplots()
    if len(df):
        df["day"] = pd.to_datetime(df["day"])
        ax.stackplot(
            df.day,
            df.key,
            df.supporting,
            labels=["key events", "supporting events"],
            colors=["#3b6ea8", "#b9c4cf"],
            linewidth=0,
        )
        ax.legend(loc="upper left")
    ax.set(title="Events per UTC day: key vs supporting", xlabel="", ylabel="events per day")
    fig.tight_layout()
    return fig


def weekday_hour_heatmap(con) -> plt.Figure:
    df = _df(
        con,
        """
        SELECT isodow(event_at_utc) AS dow, hour(event_at_utc) AS hour, count(*) AS events
        FROM qa.events GROUP BY ALL""",
    )
    grid = df.pivot_table(index="dow", columns="hour", values="events", fill_value=0)
    grid = grid.reindex(index=range(1, 8), columns=range(24), fill_value=0)
    grid.index = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    fig, ax = plt.subplots(figsize=(10, 3.2))
    sns.heatmap(grid, cmap="Blues", ax=ax, cbar_kws={"label": "events"})
    ax.tick_params(axis="y", rotation=0)
    ax.set(
        title="Events by weekday and UTC hour (users span the Americas, Europe and Asia-Pacific)",
        xlabel="hour (UTC)",
        ylabel="",
    )
    fig.tight_layout()
    return fig
