-- Plan history (raw.account_plans): each account's periods run contiguously, without gaps or overlaps, from
-- its created_at; only its last period is open (valid_to NULL) and it holds the account's plan_tier; every
-- change is a change (the plan or the trial flag differs) and happens inside the window.

-- rule: pk_account_plans | account_plan_id is unique and not null
SELECT count(*) - count(DISTINCT account_plan_id) FROM raw.account_plans;

-- rule: fk_account_plans_account | every plan period belongs to an existing account
SELECT count(*) FROM raw.account_plans p ANTI JOIN raw.accounts a USING (account_id);

-- rule: account_plans_values | plan_tier is one of {plan_tiers}; is_trial and valid_from are set
SELECT count(*) FROM raw.account_plans
WHERE plan_tier IS NULL OR NOT list_contains(getvariable('plan_tiers'), plan_tier)
   OR is_trial IS NULL OR valid_from IS NULL;

-- rule: account_plans_start_at_signup | every account has plan periods, the first starting at its created_at
SELECT count(*) FROM raw.accounts a
LEFT JOIN (SELECT account_id, min(valid_from) AS first_from FROM raw.account_plans GROUP BY account_id) p
    USING (account_id)
WHERE p.first_from IS DISTINCT FROM a.created_at;

-- rule: account_plans_contiguous | each period ends (valid_to) where the account's next period starts, after it starts
SELECT count(*) FROM (
    SELECT valid_from, valid_to,
           lead(valid_from) OVER (PARTITION BY account_id ORDER BY valid_from, account_plan_id) AS next_from
    FROM raw.account_plans
)
WHERE next_from IS NOT NULL AND (valid_to IS DISTINCT FROM next_from OR valid_to <= valid_from);

-- rule: account_plans_open_last | exactly the last period of each account is open (valid_to NULL)
SELECT count(*) FROM (
    SELECT valid_to,
           row_number() OVER (PARTITION BY account_id ORDER BY valid_from DESC, account_plan_id DESC) AS from_last
    FROM raw.account_plans
)
WHERE (from_last = 1) <> (valid_to IS NULL);

-- rule: account_plans_last_is_current | the last period's plan_tier is the account's plan_tier
SELECT count(*) FROM raw.accounts a
JOIN (SELECT account_id, arg_max(plan_tier, valid_from) AS last_tier FROM raw.account_plans GROUP BY account_id) p
    USING (account_id)
WHERE p.last_tier IS DISTINCT FROM a.plan_tier;

-- rule: account_plans_in_window | every plan change happens before the window's end, at or after the account's created_at
SELECT count(*) FROM raw.account_plans p JOIN raw.accounts a USING (account_id)
WHERE p.valid_from < a.created_at OR p.valid_from >= getvariable('window_end')
   OR p.valid_to >= getvariable('window_end');

-- rule: account_plans_changes | consecutive periods of an account differ in plan_tier or is_trial (a change is a change)
SELECT count(*) FROM (
    SELECT plan_tier, is_trial,
           lag(plan_tier) OVER w AS prev_tier, lag(is_trial) OVER w AS prev_trial
    FROM raw.account_plans
    WINDOW w AS (PARTITION BY account_id ORDER BY valid_from, account_plan_id)
)
WHERE prev_tier IS NOT NULL AND plan_tier = prev_tier AND is_trial = prev_trial;
