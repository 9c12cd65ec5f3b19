"""The data behaves like a product (issue 13): on default every realism measure falls in the range real
products show, and on other seeds of a mid-size preset each behaviour still points the way real products
point (the measures are SQL over the published tables: helpers/quality/sql/realism)."""

from __future__ import annotations

import pytest

from helpers.quality import realism

from .conftest import dataset, generate, params_variant


@pytest.mark.slow
@pytest.mark.xdist_group("default")
def test_default_behaves_like_a_product(default_data):
    m = realism.measures(dataset(default_data)).set_index("measure")
    assert set(m.index) == set(realism.EXPECTED)
    outside = m[~m.real]
    assert outside.empty, outside[["value", "low", "high", "expected"]]


# Directions that must hold for any seed (looser than the default's ranges: fewer accounts, more noise).
DIRECTIONS = {
    "fade_before_silence": lambda v: v < 0.95,  # users fade before going silent
    "key_actions_fade_before_silence": lambda v: v < 0.9,
    "seats_before_account_silence": lambda v: v < 0.95,  # an account's seats shrink before it leaves
    "user_week12_retention_paid_over_free": lambda v: v > 1.0,  # free retains below paid
    "events_per_user_week_paid_over_free": lambda v: v > 1.0,
    "user_week0_over_week1": lambda v: v > 1.0,  # an onboarding burst
    "free_team_size_p90": lambda v: v <= 12,  # free teams are small
    "top_decile_user_week_share": lambda v: v > 0.33,  # power users
    "login_to_next_event_minutes": lambda v: v < 20,  # sessions are bursts
    "lunch_dip_ratio": lambda v: v < 0.95,
    "monday_completions_ratio": lambda v: v < 1.15,  # no weekend backlog piled on Monday
    "invites_in_working_hours": lambda v: v > 0.7,
    "projects_tied_at_top": lambda v: v == 1,  # no two projects tied at a cap
    "notes_pile_up": lambda v: v < 1.0,
    "cycle_just_above_threshold_ratio": lambda v: v < 1.2,  # no bump above the long-cycle threshold
    "projects_users_correlation": lambda v: v > 0.4,
    "funnel_handed_off_of_completed": lambda v: v < 0.8,
}


@pytest.mark.slow
@pytest.mark.parametrize("seed", [3, 1234])
def test_behaviour_holds_on_other_seeds(tmp_path, seed):
    """120 accounts of the default model, another seed: every behaviour points the way real products do."""
    path = params_variant(tmp_path, {"seed": seed, "accounts.count": 120}, base="default")
    m = realism.measures(dataset(generate(path, tmp_path / "data"))).set_index("measure").value
    wrong = {name: m[name] for name, holds in DIRECTIONS.items() if m[name] is None or not holds(m[name])}
    assert not wrong, wrong
