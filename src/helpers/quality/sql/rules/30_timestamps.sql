-- Timestamps: nothing impossible. The window is [window_start, window_end) in UTC; the product launched at
-- launch_at (history.launch; the window's start when null). An extract begins mid-story: the tables hold what
-- exists in the window, with true creation times, possibly before it; the events hold only the window.

-- rule: accounts_in_window | every account exists in the window: it signed up at or after the product's launch and before the window's end
SELECT count(*) FROM raw.accounts
WHERE created_at IS NULL OR created_at < getvariable('launch_at') OR created_at >= getvariable('window_end');

-- rule: users_after_account | a user is invited before the window's end, after the account exists
-- scope: account
SELECT count(*) FROM raw.users u JOIN raw.accounts a USING (account_id)
WHERE u.created_at < a.created_at OR u.created_at >= getvariable('window_end');

-- rule: users_activation_order | activated_at (when set) is at or after created_at, before the window's end
-- scope: account
SELECT count(*) FROM raw.users
WHERE activated_at IS NOT NULL AND (activated_at < created_at OR activated_at >= getvariable('window_end'));

-- rule: users_deactivation_order | deactivated_at (when set) is after the user activated (or, never activated, was invited), before the window's end
-- scope: account
SELECT count(*) FROM raw.users
WHERE deactivated_at IS NOT NULL
  AND (deactivated_at < coalesce(activated_at, created_at) OR deactivated_at >= getvariable('window_end'));

-- rule: projects_after_owner_activation | a project is created after its account and after its owner activated
-- scope: account
SELECT count(*) FROM raw.projects p
JOIN raw.accounts a USING (account_id)
JOIN raw.users u ON u.user_id = p.owner_user_id
WHERE p.created_at < a.created_at OR u.activated_at IS NULL OR p.created_at < u.activated_at
   OR p.created_at >= getvariable('window_end');

-- rule: projects_archive_order | archived_at (when set) is after created_at, before the window's end
-- scope: account
SELECT count(*) FROM raw.projects
WHERE archived_at IS NOT NULL AND (archived_at < created_at OR archived_at >= getvariable('window_end'));

-- rule: tasks_after_project_and_creator | a task is created after its project and after its creator activated
-- scope: account
SELECT count(*) FROM raw.tasks t
JOIN raw.projects p USING (project_id)
JOIN raw.users u ON u.user_id = t.created_by_user_id
WHERE t.created_at < p.created_at OR u.activated_at IS NULL OR t.created_at < u.activated_at
   OR t.created_at >= getvariable('window_end');

-- rule: tasks_timestamp_order | created_at <= first_started_at <= completed_at (when present), before the window's end
-- scope: account
SELECT count(*) FROM raw.tasks
WHERE first_started_at < created_at
   OR completed_at < coalesce(first_started_at, created_at)
   OR (completed_at IS NOT NULL AND first_started_at IS NULL)
   OR first_started_at >= getvariable('window_end')
   OR completed_at >= getvariable('window_end');

-- rule: tasks_completed_iff_done | completed_at is set exactly on done tasks
-- scope: account
SELECT count(*) FROM raw.tasks WHERE (status = 'done') <> (completed_at IS NOT NULL);

-- rule: tasks_started_status | in_progress, blocked and done tasks have first_started_at; todo tasks do not
-- scope: account
SELECT count(*) FROM raw.tasks
WHERE (status IN ('in_progress', 'blocked', 'done') AND first_started_at IS NULL)
   OR (status = 'todo' AND first_started_at IS NOT NULL);

-- rule: events_in_window | every event happens inside the window
-- scope: account
SELECT count(*) FROM qa.events
WHERE event_at_utc IS NULL OR event_at_utc < getvariable('window_start') OR event_at_utc >= getvariable('window_end');

-- rule: events_ingested_after | event_at_utc <= ingested_at_utc
-- scope: account
SELECT count(*) FROM qa.events WHERE ingested_at_utc IS NULL OR ingested_at_utc < event_at_utc;

-- rule: events_normal_latency | no event arrives late (ingested more than the late-arrival threshold after it happened) unless the ledger lists it as late
SELECT count(*) FROM qa.events
WHERE ingested_at_utc - event_at_utc > to_seconds(getvariable('late_threshold_seconds'))
  AND event_id NOT IN (SELECT row_key FROM imperfections.ledger WHERE kind = 'late_arrival');

-- rule: events_after_activation | no event by a user before activation, none by a never-activated user
-- scope: account
SELECT count(*) FROM qa.events e JOIN raw.users u USING (user_id)
WHERE u.activated_at IS NULL OR e.event_at_utc < u.activated_at;

-- rule: events_before_deactivation | no event by a user once an admin removed their seat
-- scope: account
SELECT count(*) FROM qa.events e JOIN raw.users u USING (user_id) WHERE e.event_at_utc >= u.deactivated_at;

-- rule: events_after_project_and_task | an event is not earlier than its project or its task
-- scope: account
SELECT count(*) FROM qa.events e
LEFT JOIN raw.projects p ON p.project_id = e.project_id
LEFT JOIN raw.tasks t ON t.task_id = e.task_id
WHERE e.event_at_utc < p.created_at OR e.event_at_utc < t.created_at;
