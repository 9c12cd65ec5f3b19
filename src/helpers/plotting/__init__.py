"""Charts and tables for the notebooks, one module per subject; the notebooks use the names below.

Every aggregate over the data is computed by DuckDB (a notebook never loads a whole table: events can
be tens of millions of rows); the Stage 3 metrics are charted from the answer keys and the metric SQL,
never recomputed here.
"""

from .activity import daily_events, daily_events_by_kind, event_mix, event_mix_chart, weekday_hour_heatmap
from .base import style, table
from .behaviour import (
    Chart,
    events_per_user_week,
    fade_before_silence,
    funnel,
    holidays_by_country,
    local_hour_weekday,
    plans,
    retention_by_plan,
    sessions,
)
from .entities import activation_lag, cycle_time_outliers, signups_by_week, task_status_and_cycle, users_per_account
from .imperfections import imperfection_rates, late_by_cause, late_delays
from .metrics import (
    active_users,
    active_users_three_ways,
    active_users_vs_key,
    retention_curve,
    retention_heatmap,
    retention_three_ways,
    retention_vs_key,
)
from .scenarios import (
    scenario_feature_launch,
    scenario_holidays,
    scenario_ingestion_incident,
    scenario_onboarding_revamp,
)
from .tables import folder_table, missing_plan_table, params_table, rates_table, realism_table

__all__ = [
    "Chart",
    "activation_lag",
    "active_users",
    "active_users_three_ways",
    "active_users_vs_key",
    "cycle_time_outliers",
    "daily_events",
    "daily_events_by_kind",
    "event_mix",
    "event_mix_chart",
    "events_per_user_week",
    "fade_before_silence",
    "folder_table",
    "funnel",
    "holidays_by_country",
    "imperfection_rates",
    "late_by_cause",
    "late_delays",
    "local_hour_weekday",
    "missing_plan_table",
    "params_table",
    "plans",
    "rates_table",
    "realism_table",
    "retention_by_plan",
    "retention_curve",
    "retention_heatmap",
    "retention_three_ways",
    "retention_vs_key",
    "scenario_feature_launch",
    "scenario_holidays",
    "scenario_ingestion_incident",
    "scenario_onboarding_revamp",
    "sessions",
    "signups_by_week",
    "style",
    "table",
    "task_status_and_cycle",
    "users_per_account",
    "weekday_hour_heatmap",
]
