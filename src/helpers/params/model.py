"""The parameters model: one validated field for every knob of the simulation.

Each key's own rules live here (strict types: `'7'` is not an integer, `true` is not a number; ranges;
unknown keys are errors). Rules across keys live in helpers.params.cross; reading, layering and error
messages in helpers.params.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, create_model, model_validator

from ..schema import BLANKABLE_COLUMNS, COMPANY_SIZES, PLAN_TIERS, PRIORITIES, ROLES

SCHEMA_VERSION = "1"
MAX_WINDOW_DAYS = 3660


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


Rate = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]
PosFloat = Annotated[float, Field(gt=0.0, allow_inf_nan=False)]
NonNegFloat = Annotated[float, Field(ge=0.0, allow_inf_nan=False)]
Count = Annotated[int, Field(ge=0)]


class IntRange(_Strict):
    """min..max, both included."""

    min: Count
    max: Count

    @model_validator(mode="after")
    def _ordered(self) -> IntRange:
        if self.min > self.max:
            raise ValueError(f"min ({self.min}) must not exceed max ({self.max})")
        return self


class LogNormal(_Strict):
    """A positive duration drawn as median * exp(sigma * N(0, 1)); sigma above 3 is not a realistic spread."""

    median: Annotated[float, Field(gt=0.0, le=1e6, allow_inf_nan=False)]
    sigma: Annotated[float, Field(ge=0.0, le=3.0, allow_inf_nan=False)]


class Window(_Strict):
    start: Annotated[dt.date, Field(ge=dt.date(2000, 1, 1), le=dt.date(2099, 12, 31))]
    end: Annotated[dt.date, Field(ge=dt.date(2000, 1, 1), le=dt.date(2099, 12, 31))]  # inclusive

    @model_validator(mode="after")
    def _ordered(self) -> Window:
        if self.end < self.start:
            raise ValueError(f"end ({self.end}) must not be before start ({self.start})")
        if self.days > MAX_WINDOW_DAYS:
            raise ValueError(f"the window spans {self.days} days; at most {MAX_WINDOW_DAYS} are allowed")
        return self

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


class History(_Strict):
    """The product before the window: it launched on `launch` (null: on the window's first day). The
    simulation runs from the launch to the window's end; the extract holds what exists in the window."""

    launch: Annotated[dt.date, Field(ge=dt.date(2000, 1, 1), le=dt.date(2099, 12, 31))] | None


class _Weights(_Strict):
    """Relative weights: each >= 0, at least one above 0 (they need not sum to 1)."""

    @model_validator(mode="after")
    def _some(self):
        if sum(getattr(self, f) for f in type(self).model_fields) <= 0:
            raise ValueError("at least one weight must be above 0")
        return self


def _one_per(name: str, keys, value, base: type[BaseModel] = _Strict, doc: str | None = None) -> type[BaseModel]:
    """A model with one field per vocabulary value (a weight per plan tier, ...): the keys come from
    the schema, so a vocabulary is never listed twice."""
    return create_model(name, __base__=base, __doc__=doc, **dict.fromkeys(keys, (value, ...)))


TierRates = _one_per("TierRates", PLAN_TIERS, Rate, doc="A rate per plan tier.")
# One value per company-size band, in schema.COMPANY_SIZES order (1-10, 11-50, 51-200, 201-1000, 1001+).
BandWeights = Annotated[list[NonNegFloat], Field(min_length=len(COMPANY_SIZES), max_length=len(COMPANY_SIZES))]


class HourProfile(_Strict):
    mean: Annotated[float, Field(ge=0.0, le=23.0, allow_inf_nan=False)]
    sd: NonNegFloat


class Signup(_Strict):
    launch_share: Rate
    launch_days: Annotated[int, Field(ge=1)]
    growth_per_year: Annotated[float, Field(ge=-5.0, le=5.0, allow_inf_nan=False)]
    weekend_factor: Rate  # chance of a signup on a local Saturday/Sunday relative to a weekday
    local_hour: HourProfile  # working-hour signups: local hour of the country's main time zone
    evening_share: Rate  # of signups: in the local evening (18:00-23:00) instead


def _some_weight(values: list[float], what: str) -> None:
    if sum(values) <= 0:
        raise ValueError(f"{what}: at least one weight must be above 0")


class _TierBandBase(_Strict):
    """Per plan tier, a weight per company-size band; every band needs some tier."""

    @model_validator(mode="after")
    def _every_band(self):
        for b, band in enumerate(COMPANY_SIZES):
            _some_weight([getattr(self, t)[b] for t in PLAN_TIERS], f"company size {band}")
        return self


TierBandWeights = _one_per(
    "TierBandWeights",
    PLAN_TIERS,
    BandWeights,
    _TierBandBase,
    "Relative weight of each plan tier a company settles on, per company-size band (schema.COMPANY_SIZES order).",
)
TierMedians = _one_per(
    "TierMedians",
    PLAN_TIERS,
    Annotated[float, Field(gt=0.0, le=10_000.0, allow_inf_nan=False)],
    doc="A median per plan tier.",
)
# Days on the tier below before moving up to each paid tier (team: from free, business: from team, ...).
UpgradeDays = _one_per("UpgradeDays", PLAN_TIERS[1:], LogNormal, doc="Days on the tier below before moving up to it.")


class TeamSize(_Strict):
    """Users invited to an account: lognormal(median of the tier the company settles on x (employees /
    50) ^ size_elasticity, sigma), bounded softly by employee_share x employees and users_per_account."""

    median: TierMedians
    sigma: Annotated[float, Field(ge=0.0, le=3.0, allow_inf_nan=False)]
    size_elasticity: Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]
    employee_share: Annotated[float, Field(gt=0.0, le=1.0, allow_inf_nan=False)]


class PlanChanges(_Strict):
    """How accounts move between plans (generate.accounts: _plan_periods)."""

    trial_share: Rate  # of self-serve signups: start on a team trial
    trial_days: Annotated[float, Field(gt=0.0, le=365.0, allow_inf_nan=False)]
    trial_conversion: Rate  # of trials of companies headed for a paid tier: convert at the trial's end
    sales_led_share: TierRates  # of companies headed for a tier: buy it at signup (free: must be 0)
    upgrade_days: UpgradeDays
    downgrade_share: Rate  # of team accounts whose team fits the free plan: back to free later
    downgrade_days: LogNormal  # days on team before the downgrade

    @model_validator(mode="after")
    def _free_is_not_sold(self) -> PlanChanges:
        if self.sales_led_share.free != 0:
            raise ValueError("sales_led_share.free must be 0: nobody buys the free plan")
        return self


class Accounts(_Strict):
    count: Annotated[int, Field(ge=1, le=1_000_000)]
    signup: Signup
    company_size_weights: BandWeights
    largest_company: Annotated[int, Field(ge=1001, le=10_000_000)]  # employees of the biggest 1001+ company
    plan_by_company_size: TierBandWeights
    free_seat_limit: Annotated[int, Field(ge=1, le=10_000)]  # users an account on the free plan may have
    team_size: TeamSize
    plan_changes: PlanChanges
    monthly_churn: TierRates

    @model_validator(mode="after")
    def _some_company(self) -> Accounts:
        _some_weight(self.company_size_weights, "company_size_weights")
        return self


class UserChurn(_Strict):
    early_share: Rate
    early_mean_days: PosFloat
    late_monthly_rate: Rate
    fade_days: LogNormal  # activity fades over this many days before a user leaves...
    fade_floor: Rate  # ...down to this share of usual
    leave_before_account_days: NonNegFloat  # members of a leaving account go up to this long before it


RoleWeights = _one_per("RoleWeights", ROLES, NonNegFloat, _Weights, "Relative weight of each role of invited users.")


TierFactors = _one_per(
    "TierFactors",
    PLAN_TIERS,
    Annotated[float, Field(ge=0.0, le=10.0, allow_inf_nan=False)],
    doc="A factor per plan tier.",
)


class Onboarding(_Strict):
    """The first days after activation: more days in the product and more work per session."""

    boost: Annotated[float, Field(ge=0.0, le=10.0, allow_inf_nan=False)]  # x(1 + boost) on the activation day
    days: PosFloat  # ...decaying as exp(-days since activation / days)
    first_session_work: Annotated[float, Field(ge=0.0, le=20.0, allow_inf_nan=False)]  # x work of the first session


class Dormancy(_Strict):
    """A share of users goes quiet for weeks and comes back."""

    share: Rate
    weeks: LogNormal
    activity_factor: Rate  # chance of a session during the spell, relative to usual


class Newcomers(_Strict):
    """People who join an account all its life (hires, new collaborators, replacements for those who left)."""

    per_member_year: Annotated[float, Field(ge=0.0, le=10.0, allow_inf_nan=False)]  # x the team invited at signup
    after_days: Annotated[float, Field(ge=0.0, le=3650.0, allow_inf_nan=False)]  # from this long after signup


class Deactivation(_Strict):
    """Seats an admin removes some weeks after their user left (users.deactivated_at)."""

    share: Rate  # of users who left while their account stays
    lag_days: LogNormal


class Users(_Strict):
    invite_lag_days_mean: PosFloat
    activation_lag_hours: LogNormal
    never_activated_share: Rate
    workday_active_prob: Rate
    engagement_sigma: Annotated[float, Field(ge=0.0, le=3.0, allow_inf_nan=False)]
    plan_engagement: TierFactors
    guest_engagement_factor: Rate
    onboarding: Onboarding
    churn: UserChurn
    newcomers: Newcomers
    deactivation: Deactivation
    dormancy: Dormancy
    role_weights: RoleWeights
    guest_weight_by_plan: TierFactors
    remote_share: Rate


def _day_profile(weights: list[float]) -> list[float]:
    if len(weights) != 24:
        raise ValueError(f"give 24 weights, one per local hour 0..23 (got {len(weights)})")
    if sum(weights) <= 0:
        raise ValueError("at least one weight must be above 0")
    return weights


class Clients(_Strict):
    """Which client each session is on (web, desktop, ios, android)."""

    desktop_app_share: Rate  # users on the desktop app rather than the browser
    mobile_user_share: Rate  # users who also use a phone...
    mobile_session_share: Rate  # ...for this share of their workday sessions (twice that evenings and weekends)
    ios_share: Rate  # of phone users


DayFactor = Annotated[float, Field(ge=0.0, le=2.0, allow_inf_nan=False)]
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")
WeekdayFactors = _one_per(
    "WeekdayFactors",
    WEEKDAYS,
    DayFactor,
    doc="Chance of a session on each workday, relative to a typical workday (Saturday and Sunday: weekend_factor).",
)


class YearEndLull(_Strict):
    """From `from_december_day` of December to `to_january_day` of January (both included), every year the
    window covers, the chance of a session falls to `factor`, ramping in and out smoothly over `ramp_days`."""

    enabled: bool
    from_december_day: Annotated[int, Field(ge=1, le=31)]
    to_january_day: Annotated[int, Field(ge=1, le=31)]
    ramp_days: Annotated[int, Field(ge=0, le=15)]
    factor: Rate  # at the lull's deepest, relative to a normal day


class Activity(_Strict):
    weekend_factor: Rate
    workday_start_hour: HourProfile
    local_hour_weights: Annotated[list[NonNegFloat], AfterValidator(_day_profile)]
    sessions_per_active_day: Annotated[float, Field(ge=1.0, le=20.0, allow_inf_nan=False)]
    session_minutes: LogNormal
    clients: Clients
    login_share_of_sessions: Rate
    dashboard_views_per_session: Annotated[float, Field(ge=0.0, le=100.0, allow_inf_nan=False)]
    weekday_factors: WeekdayFactors
    year_end_lull: YearEndLull


PriorityWeights = _one_per("PriorityWeights", PRIORITIES, NonNegFloat, _Weights, "Relative weight of each priority.")


class Tasks(_Strict):
    created_per_session: Annotated[float, Field(ge=0.0, le=50.0, allow_inf_nan=False)]
    assigned_share: Rate
    self_assigned_share: Rate
    never_started_share: Rate
    cancelled_share: Rate
    backlog_cancelled_share: Rate
    blocker_prob: Rate
    second_blocker_prob: Rate
    handoff_prob: Rate  # per task, for a holder who hands work off
    handoff_user_share: Rate  # users who ever hand work off
    repeat_handoff_prob: Rate  # a receiver (who hands work off) passes the task on again
    reassigned_share: Rate  # of assigned tasks: reassigned to another colleague before work starts
    assign_delay_minutes: LogNormal  # creation -> assignment, most tasks
    assign_later_share: Rate  # tasks assigned at a later triage instead
    assign_later_hours: LogNormal  # creation -> assignment of those (working time)
    project_soft_cap_share: Annotated[float, Field(gt=0.0, le=1.0, allow_inf_nan=False)]  # x tasks_per_project.max
    time_to_start_hours: LogNormal
    cycle_time_days: LogNormal
    parked_share: Rate  # started tasks that stall for weeks before they are finished
    parked_days: LogNormal  # how long (working days)
    blocker_duration_hours: LogNormal
    work_notes_per_day: Annotated[float, Field(ge=0.0, le=50.0, allow_inf_nan=False)]
    work_notes_soft_cap: Annotated[float, Field(ge=0.0, le=100.0, allow_inf_nan=False)]  # expected notes saturate here
    due_date_share: Rate
    due_in_days: LogNormal
    priority_weights: PriorityWeights


class Projects(_Strict):
    archive_share: Rate
    archive_lag_days: LogNormal
    # projects of an account: lognormal(1 + per_member x (users - 1) ^ team_exponent, count_sigma), bounded
    per_member: Annotated[float, Field(ge=0.0, le=100.0, allow_inf_nan=False)]
    team_exponent: Annotated[float, Field(ge=0.0, le=1.5, allow_inf_nan=False)]
    count_sigma: Annotated[float, Field(ge=0.0, le=3.0, allow_inf_nan=False)]
    with_team_share: Rate  # of later projects: started as the team grows (the rest any time in the account's life)


class Ingestion(_Strict):
    latency_seconds: LogNormal
    max_latency_seconds: Annotated[float, Field(gt=0.0, allow_inf_nan=False)]


class Output(_Strict):
    accounts_per_part: Annotated[int, Field(ge=1)]
    csv: bool  # also write csv/<table>.csv copies of the published tables


def _naive_utc(value: dt.datetime | None) -> dt.datetime | None:
    """A moment as naive UTC (an offset, if given, is converted; no offset means UTC)."""
    if value is not None and value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


UtcMoment = Annotated[dt.datetime, AfterValidator(_naive_utc)]
PlanTier = Literal[PLAN_TIERS]


class FeatureLaunch(_Strict):
    """From `date` on, accounts of the segment adopt the feature (each after its own lag); the tasks they
    create from then on are handed off more often."""

    enabled: bool
    name: Annotated[str, Field(min_length=1, max_length=80)]
    date: dt.date
    plan_tiers: Annotated[list[PlanTier], Field(min_length=1)]  # the segment
    handoff_multiplier: Annotated[float, Field(ge=1.0, le=10.0, allow_inf_nan=False)]
    adoption_lag_days_mean: Annotated[
        float, Field(gt=0.0, le=365.0, allow_inf_nan=False)
    ]  # launch -> an account adopts


class IngestionIncident(_Strict):
    """Every event of a stretch of hours is held back by the pipeline and arrives late, together."""

    enabled: bool
    start: UtcMoment
    hours: Annotated[float, Field(gt=0.0, le=168.0, allow_inf_nan=False)]
    backfill_delay_hours: Annotated[float, Field(gt=0.0, le=720.0, allow_inf_nan=False)]  # after the stretch ends


class Holidays(_Strict):
    """The public holidays of each user's time zone's country (the `holidays` package; each user's local
    calendar), plus `extra_days` off in every country, when few people work."""

    enabled: bool
    activity_factor: Rate  # chance of a session on a holiday, relative to the same weekday
    extra_days: list[dt.date]  # company-wide days off in every country (e.g. a shutdown day)


class OnboardingRevamp(_Strict):
    """Users activated from `date` on churn early less often: later cohorts retain better."""

    enabled: bool
    date: dt.date
    early_churn_share: Rate  # replaces users.churn.early_share for those users


class Scenarios(_Strict):
    feature_launch: FeatureLaunch
    ingestion_incident: IngestionIncident
    holidays: Holidays
    onboarding_revamp: OnboardingRevamp


class Snapshot(_Strict):
    """An extraction at `as_of`: events ingested later are left out (listed in truth/not_yet_arrived)."""

    as_of: UtcMoment | None
    increments: bool  # also write events_increments/ingested_date=YYYY-MM-DD/ (daily extracts)


MissingShares = _one_per(
    "MissingShares",
    [f"{table}_{column}" for table, column in BLANKABLE_COLUMNS],
    Rate,
    doc="Final share of nulls per blankable column (<table>_<column>); nulls the simulation makes on its own "
    "(a task nobody was assigned, a task without a due date) count toward it.",
)


Likelihood = Annotated[float, Field(ge=1.0, le=1000.0, allow_inf_nan=False)]


class MissingCauses(_Strict):
    """Where values go missing: how many times more likely a value of that kind is blanked than the rest
    of its column (1 = at random). Each column's null share still meets its target."""

    country_code_free_plan: Likelihood  # billing country: paid accounts give it at checkout
    timezone_never_signed_in: Likelihood  # the profile's time zone is set at the first sign-in
    due_at_teams_without_dates: Rate  # share of accounts whose due dates go missing first (a team habit)
    assignee_per_year_of_age: Annotated[float, Field(ge=0.0, le=1000.0, allow_inf_nan=False)]  # +k x per year old


class Outliers(_Strict):
    long_cycle_share: Rate  # of done tasks: completed_at - first_started_at > long_cycle_threshold_days
    long_cycle_threshold_days: Annotated[float, Field(gt=0.0, le=3650.0, allow_inf_nan=False)]
    far_due_share: Rate  # of tasks: due_at > created_at + far_due_threshold_days
    far_due_threshold_days: Annotated[float, Field(gt=0.0, le=3650.0, allow_inf_nan=False)]


class LateArrival(_Strict):
    """Late events by cause, each from its own clients (schema MOBILE_CLIENTS, SLEEPING_CLIENTS, the rest:
    web): the cause shares split the late events the incident does not make, and add up to 1."""

    share: Rate  # of all events: ingested_at_utc - event_at_utc > threshold_seconds
    threshold_seconds: Annotated[int, Field(ge=60, le=30 * 86_400)]
    offline_share: Rate  # of late events: phones offline, synced days later
    offline_delay_days: LogNormal  # beyond the threshold
    offline_off_hours_weight: Likelihood  # x as likely outside the user's local weekday working hours
    asleep_share: Rate  # of late events: a desktop app asleep, sent when the user next opens it
    asleep_delay_hours: LogNormal  # beyond the threshold, for a user with no later desktop session
    asleep_end_of_day_weight: Likelihood  # x as likely from 16:00 in the user's time zone on
    retry_share: Rate  # of late events: a web client retrying after network errors or 5xx
    retry_delay_hours: LogNormal  # beyond the threshold
    retry_content_weight: Likelihood  # x as likely for events that upload content (schema CONTENT_EVENTS)
    retry_beacon_weight: Annotated[float, Field(gt=0.0, le=1.0, allow_inf_nan=False)]  # analytics beacons

    @model_validator(mode="after")
    def _causes_add_up(self) -> LateArrival:
        total = self.offline_share + self.asleep_share + self.retry_share
        if abs(total - 1.0) > 1e-9:
            raise ValueError(f"offline_share + asleep_share + retry_share must add up to 1 (they add up to {total:g})")
        return self


class Internal(_Strict):
    account_share: Rate


class Duplicates(_Strict):
    share: Rate  # of events delivered twice (same event_id); 0 = off
    mobile_weight: float = Field(ge=1.0, le=100.0)  # x as likely from a phone (acknowledgements lost on flaky networks)


class TestWorkspaces(_Strict):
    """Unflagged test/demo workspaces (is_internal = false): one person's sandbox, and real small customers
    that share its hints (webmail, a generic name), so an exclusion heuristic can be scored both ways."""

    account_share: Rate  # of accounts: sandboxes (among accounts of one or two users, never internal ones)
    lookalike_share: Rate  # of accounts: real customers of one or two users (1-10 employees) that look like one
    scripted_share: Rate  # of sandboxes: driven by an import or API script (dozens of tasks within minutes)
    tasks_per_script_run: Annotated[float, Field(gt=0.0, le=1000.0, allow_inf_nan=False)]  # Poisson mean per session
    life_days: LogNormal  # a sandbox is used for days to weeks after signup, then abandoned


class Imperfections(_Strict):
    missing: MissingShares
    missing_causes: MissingCauses
    outliers: Outliers
    late_arrival: LateArrival
    internal: Internal
    duplicates: Duplicates
    test_workspaces: TestWorkspaces


class UsersPerAccount(IntRange):
    min: Annotated[int, Field(ge=1)]  # an account is created by its first user
    max: Annotated[int, Field(ge=1, le=10_000)]


class ProjectsPerAccount(IntRange):
    max: Annotated[int, Field(ge=0, le=10_000)]


class TasksPerProject(IntRange):
    max: Annotated[int, Field(ge=0, le=1_000_000)]


class Params(_Strict):
    seed: Annotated[int, Field(ge=0, le=2**63 - 1)]
    window: Window
    history: History
    accounts: Accounts
    users_per_account: UsersPerAccount
    projects_per_account: ProjectsPerAccount
    tasks_per_project: TasksPerProject
    users: Users
    activity: Activity
    projects: Projects
    tasks: Tasks
    ingestion: Ingestion
    imperfections: Imperfections
    scenarios: Scenarios
    snapshot: Snapshot
    output: Output

    @property
    def span(self) -> Window:
        """What the simulation runs over: from the product's launch to the window's end (both included)."""
        launch = self.history.launch
        if launch is None or launch >= self.window.start:
            return self.window
        return Window.model_construct(start=launch, end=self.window.end)


def to_json_dict(params: Params) -> dict:
    """The resolved parameters as plain JSON types (dates as ISO strings)."""
    return params.model_dump(mode="json")


def canonical_json(params: Params) -> str:
    return json.dumps(to_json_dict(params), sort_keys=True, separators=(",", ":"))


def params_sha256(params: Params) -> str:
    return hashlib.sha256(canonical_json(params).encode()).hexdigest()
