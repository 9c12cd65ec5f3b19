"""Parameters: a strict YAML loader and one validated model for every knob of the simulation.

Rules this module guarantees:
- YAML is read with a safe loader that builds no Python objects, rejects duplicate keys, reads only
  `true`/`false` as booleans (not `yes`/`on`) and refuses integers with leading zeros (`012`).
- Every key is known (unknown keys are errors) and every value has the exact type asked for (`'7'` is
  not an integer, `true` is not a number).
- A bad value raises ParamsError whose message is one line naming the key, the value and what is allowed.
"""

from __future__ import annotations

import datetime as dt
import difflib
import hashlib
import json
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, create_model, model_validator

from .schema import BLANKABLE_COLUMNS, PLAN_TIERS, PRIORITIES, ROLES

SCHEMA_VERSION = "1"


class ParamsError(ValueError):
    """A parameters file or value that cannot be used; the message is one line."""


# --------------------------------------------------------------------------- strict YAML loader
class _StrictLoader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2-like scalars and duplicate-key detection."""


_StrictLoader.yaml_implicit_resolvers = {
    key: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_DECIMAL_INT = re.compile(r"^[-+]?(?:0|[1-9][0-9_]*)$")


def _construct_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int:
    text = loader.construct_scalar(node)
    if not _DECIMAL_INT.match(str(text)):
        raise yaml.constructor.ConstructorError(
            None,
            None,
            f"integer {text!r} is ambiguous (leading zero, octal, hex or sexagesimal); write a plain decimal integer",
            node.start_mark,
        )
    return int(str(text).replace("_", ""))


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict:
    loader.flatten_mapping(node)
    seen: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in seen:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen[key] = loader.construct_object(value_node, deep=True)
    return seen


_StrictLoader.add_constructor("tag:yaml.org,2002:int", _construct_int)
_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_yaml(text: str, source: str = "<params>") -> Any:
    """Parse YAML text strictly; any YAML problem becomes a one-line ParamsError."""
    try:
        return yaml.load(text, Loader=_StrictLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{source}:{mark.line + 1}" if mark else source
        problem = exc.problem or str(exc)
        raise ParamsError(f"{where}: {problem}".replace("\n", " ")) from None
    except yaml.YAMLError as exc:
        raise ParamsError(f"{source}: {exc}".replace("\n", " ")) from None


# --------------------------------------------------------------------------- model
class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


Rate = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]
PosFloat = Annotated[float, Field(gt=0.0, allow_inf_nan=False)]
NonNegFloat = Annotated[float, Field(ge=0.0, allow_inf_nan=False)]
Count = Annotated[int, Field(ge=0)]


class IntRange(_Strict):
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
        return self

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


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


TierWeights = _one_per("TierWeights", PLAN_TIERS, NonNegFloat, _Weights, "Relative weight of each plan tier.")
TierRates = _one_per("TierRates", PLAN_TIERS, Rate, doc="A rate per plan tier.")


class Signup(_Strict):
    launch_share: Rate
    launch_days: Annotated[int, Field(ge=1)]
    growth_per_year: Annotated[float, Field(ge=-5.0, le=5.0, allow_inf_nan=False)]


class Accounts(_Strict):
    count: Annotated[int, Field(ge=1, le=1_000_000)]
    signup: Signup
    plan_tier_weights: TierWeights
    monthly_churn: TierRates


class UserChurn(_Strict):
    early_share: Rate
    early_mean_days: PosFloat
    late_monthly_rate: Rate


RoleWeights = _one_per("RoleWeights", ROLES, NonNegFloat, _Weights, "Relative weight of each role of invited users.")


class Users(_Strict):
    invite_lag_days_mean: PosFloat
    activation_lag_hours: LogNormal
    never_activated_share: Rate
    workday_active_prob: Rate
    engagement_sigma: Annotated[float, Field(ge=0.0, le=3.0, allow_inf_nan=False)]
    guest_engagement_factor: Rate
    churn: UserChurn
    role_weights: RoleWeights
    remote_share: Rate


class HourProfile(_Strict):
    mean: Annotated[float, Field(ge=0.0, le=23.0, allow_inf_nan=False)]
    sd: NonNegFloat


class Activity(_Strict):
    weekend_factor: Rate
    workday_start_hour: HourProfile
    workday_hours: Annotated[float, Field(ge=1.0, le=16.0, allow_inf_nan=False)]
    weekend_hours_factor: Rate
    login_share_of_sessions: Rate
    dashboard_views_per_session: Annotated[float, Field(ge=0.0, le=100.0, allow_inf_nan=False)]


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
    handoff_prob: Rate
    time_to_start_hours: LogNormal
    cycle_time_days: LogNormal
    blocker_duration_hours: LogNormal
    work_notes_per_day: Annotated[float, Field(ge=0.0, le=50.0, allow_inf_nan=False)]
    max_work_notes: Annotated[int, Field(ge=0, le=100)]
    due_date_share: Rate
    due_in_days: LogNormal
    priority_weights: PriorityWeights


class Projects(_Strict):
    archive_share: Rate
    archive_lag_days: LogNormal


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
    """From `date` on, tasks created in accounts of the segment are handed off more often."""

    enabled: bool
    name: Annotated[str, Field(min_length=1, max_length=80)]
    date: dt.date
    plan_tiers: Annotated[list[PlanTier], Field(min_length=1)]  # the segment
    handoff_multiplier: Annotated[float, Field(ge=1.0, le=10.0, allow_inf_nan=False)]


class IngestionIncident(_Strict):
    """Every event of a stretch of hours is held back by the pipeline and arrives late, together."""

    enabled: bool
    start: UtcMoment
    hours: Annotated[float, Field(gt=0.0, le=168.0, allow_inf_nan=False)]
    backfill_delay_hours: Annotated[float, Field(gt=0.0, le=720.0, allow_inf_nan=False)]  # after the stretch ends


class Holidays(_Strict):
    """Listed days (each user's local calendar) when few people work."""

    enabled: bool
    days: list[dt.date]
    activity_factor: Rate  # chance of a session on a holiday, relative to the same weekday


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


class Outliers(_Strict):
    long_cycle_share: Rate  # of done tasks: completed_at - first_started_at > long_cycle_threshold_days
    long_cycle_threshold_days: Annotated[float, Field(gt=0.0, le=3650.0, allow_inf_nan=False)]
    far_due_share: Rate  # of tasks: due_at > created_at + far_due_threshold_days
    far_due_threshold_days: Annotated[float, Field(gt=0.0, le=3650.0, allow_inf_nan=False)]


class LateArrival(_Strict):
    share: Rate  # of all events: ingested_at_utc - event_at_utc > threshold_seconds
    threshold_seconds: Annotated[int, Field(ge=60, le=30 * 86_400)]
    straggler_share: Rate  # of late events: hours late (retries); the rest days late (offline sync)
    straggler_delay_hours: LogNormal  # beyond the threshold
    offline_delay_days: LogNormal  # beyond the threshold


class Internal(_Strict):
    account_share: Rate


class Duplicates(_Strict):
    share: Rate  # of events delivered twice (same event_id); 0 = off


class Imperfections(_Strict):
    missing: MissingShares
    outliers: Outliers
    late_arrival: LateArrival
    internal: Internal
    duplicates: Duplicates


class Params(_Strict):
    seed: Annotated[int, Field(ge=0, le=2**63 - 1)]
    window: Window
    accounts: Accounts
    users_per_account: IntRange
    projects_per_account: IntRange
    tasks_per_project: IntRange
    users: Users
    activity: Activity
    projects: Projects
    tasks: Tasks
    ingestion: Ingestion
    imperfections: Imperfections
    scenarios: Scenarios
    snapshot: Snapshot
    output: Output

    @model_validator(mode="after")
    def _consistent(self) -> Params:
        if self.users_per_account.min < 1:
            raise ValueError("users_per_account.min must be at least 1: an account is created by its first user")
        for key, most in (
            ("users_per_account", 10_000),
            ("projects_per_account", 10_000),
            ("tasks_per_project", 1_000_000),
        ):
            if getattr(self, key).max > most:
                raise ValueError(f"{key}.max = {getattr(self, key).max} is above the supported {most:,}")
        late = self.imperfections.late_arrival.threshold_seconds
        if self.ingestion.max_latency_seconds >= late:
            raise ValueError(
                f"ingestion.max_latency_seconds ({self.ingestion.max_latency_seconds:g}) must be below "
                f"imperfections.late_arrival.threshold_seconds ({late}): normal latency is never late"
            )
        out = self.imperfections.outliers
        if out.long_cycle_share > 0 and self.window.days < 1.05 * out.long_cycle_threshold_days + 1:
            raise ValueError(
                f"the window ({self.window.days} days) is too short for imperfections.outliers.long_cycle_share = "
                f"{out.long_cycle_share:g}: cycles over {out.long_cycle_threshold_days:g} days need a window of at "
                f"least {int(1.05 * out.long_cycle_threshold_days) + 2} days; lengthen the window or set it to 0"
            )
        if self.window.days > 3660:
            raise ValueError(f"window spans {self.window.days} days; at most 3660 are allowed")
        self._check_scenarios(late)
        return self

    def _check_scenarios(self, late_threshold: int) -> None:
        """Each scenario's dates inside the window (on or off: holidays are listed once either way),
        and an as_of between a day into the window and 60 days after it."""
        window = f"the window {self.window.start}..{self.window.end}"
        _check_launch(self.scenarios.feature_launch, self.window, window)
        _check_incident(self.scenarios.ingestion_incident, self.window, window, late_threshold)
        _check_holidays(self.scenarios.holidays, self.window, window)
        revamp = self.scenarios.onboarding_revamp
        if revamp.enabled and not self.window.start < revamp.date <= self.window.end:
            raise ValueError(
                f"scenarios.onboarding_revamp.date = {revamp.date} must lie after the first day of {window}"
            )
        as_of = self.snapshot.as_of
        lo = dt.datetime.combine(self.window.start + dt.timedelta(days=1), dt.time())
        hi = dt.datetime.combine(self.window.end + dt.timedelta(days=61), dt.time())
        if as_of is not None and not lo <= as_of <= hi:
            raise ValueError(
                f"snapshot.as_of = {as_of.isoformat()} must lie between {lo.isoformat()} (a day into "
                f"the window) and {hi.isoformat()} (60 days after it ends)"
            )


def _check_launch(launch: FeatureLaunch, w: Window, window: str) -> None:
    if launch.enabled and not w.start < launch.date <= w.end:
        raise ValueError(
            f"scenarios.feature_launch.date = {launch.date} must lie after the first day of {window} "
            "(a launch needs a before and an after)"
        )
    if len(set(launch.plan_tiers)) != len(launch.plan_tiers):
        raise ValueError(f"scenarios.feature_launch.plan_tiers = {launch.plan_tiers} lists a tier twice")


def _check_incident(inc: IngestionIncident, w: Window, window: str, late_threshold: int) -> None:
    if not inc.enabled:
        return
    start, end = dt.datetime.combine(w.start, dt.time()), dt.datetime.combine(w.end + dt.timedelta(days=1), dt.time())
    if not start <= inc.start < end:
        raise ValueError(f"scenarios.ingestion_incident.start = {inc.start.isoformat()} must lie inside {window}")
    if inc.backfill_delay_hours * 3600 <= late_threshold:
        raise ValueError(
            f"scenarios.ingestion_incident.backfill_delay_hours = {inc.backfill_delay_hours:g} must exceed "
            f"imperfections.late_arrival.threshold_seconds ({late_threshold} s): the incident's events "
            "all count as late"
        )


def _check_holidays(hol: Holidays, w: Window, window: str) -> None:
    if len(set(hol.days)) != len(hol.days):  # on or off: truth/scenarios.parquet lists every day once
        twice = next(d for d in hol.days if hol.days.count(d) > 1)
        raise ValueError(f"scenarios.holidays.days lists {twice} twice; list each day once")
    if hol.enabled and not hol.days:
        raise ValueError("scenarios.holidays is enabled but lists no days; list at least one or set enabled: false")
    outside = [d for d in hol.days if not w.start <= d <= w.end]
    if hol.enabled and outside:
        raise ValueError(f"scenarios.holidays.days holds {outside[0]}, outside {window}")


def _format_loc(loc: tuple) -> str:
    return ".".join(str(part) for part in loc) if loc else "(top level)"


def _one_line(exc: ValidationError, source: str, data: Any) -> str:
    errors = exc.errors(include_url=False)
    # an unknown key explains the missing one next to it (a typo): report it first
    err = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
    loc = tuple(p for p in err["loc"] if p not in ("function-after",))
    msg = err["msg"]
    value = err.get("input")
    if err["type"] == "extra_forbidden":
        allowed = _allowed_keys(loc[:-1])
        close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        return f"{source}: unknown key '{_format_loc(loc)}'{hint}; allowed here: {', '.join(allowed)}"
    if err["type"] == "missing":
        return f"{source}: missing key '{_format_loc(loc)}'"
    msg = msg.removeprefix("Value error, ")
    if isinstance(value, dict):  # a rule across several keys: name the section, not its whole content
        where = f"{_format_loc(loc)}: " if loc else ""
        return f"{source}: {where}{msg}".replace("\n", " ")
    return f"{source}: {_format_loc(loc)} = {value!r} is not allowed: {msg}".replace("\n", " ")


def _allowed_keys(loc: tuple) -> list[str]:
    model: Any = Params
    for part in loc:
        field = model.model_fields.get(str(part))
        if field is None:
            return []
        model = field.annotation
    return sorted(getattr(model, "model_fields", {}).keys())


def validate(data: Any, source: str = "<params>") -> Params:
    """Validate a mapping already parsed from YAML; raise ParamsError with one line on failure."""
    if not isinstance(data, dict):
        raise ParamsError(f"{source}: the file must hold a mapping of keys to values, not {type(data).__name__}")
    try:
        return Params.model_validate(data)
    except ValidationError as exc:
        raise ParamsError(_one_line(exc, source, data)) from None


def load(path: str | Path) -> Params:
    """Read and validate a parameters file: YAML, or the resolved JSON a run hands its notebooks."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ParamsError(f"{path}: no such parameters file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ParamsError(f"{path}: cannot read: {exc}") from None
    if path.suffix == ".json":
        try:
            return Params.model_validate_json(text)
        except ValidationError as exc:
            raise ParamsError(_one_line(exc, str(path), None)) from None
    return validate(load_yaml(text, str(path)), str(path))


def to_json_dict(params: Params) -> dict:
    """The resolved parameters as plain JSON types (dates as ISO strings)."""
    return params.model_dump(mode="json")


def from_json_dict(data: dict) -> Params:
    """Rebuild Params from to_json_dict output (dates come back from ISO strings)."""
    return Params.model_validate_json(json.dumps(data))


def canonical_json(params: Params) -> str:
    return json.dumps(to_json_dict(params), sort_keys=True, separators=(",", ":"))


def params_sha256(params: Params) -> str:
    return hashlib.sha256(canonical_json(params).encode()).hexdigest()
