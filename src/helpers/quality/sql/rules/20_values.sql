-- Closed value sets and required fields.

-- rule: accounts_plan_tier | plan_tier is free, team, business or enterprise
SELECT count(*) FROM raw.accounts
WHERE plan_tier IS NULL OR plan_tier NOT IN ('free', 'team', 'business', 'enterprise');

-- rule: users_role | role is admin, member or guest
SELECT count(*) FROM raw.users WHERE role IS NULL OR role NOT IN ('admin', 'member', 'guest');

-- rule: users_email_reserved | every e-mail is unique and on a reserved domain (example.com/.org/.net or .test)
SELECT (count(*) - count(DISTINCT email))
     + count(*) FILTER (WHERE NOT regexp_full_match(email,
         '[a-z0-9._+-]+@([a-z0-9-]+\.)*(example\.(com|org|net)|[a-z0-9-]+\.test)'))
FROM raw.users;

-- rule: tasks_priority | priority is low, medium, high or urgent
SELECT count(*) FROM raw.tasks WHERE priority IS NULL OR priority NOT IN ('low', 'medium', 'high', 'urgent');

-- rule: tasks_status | status is todo, in_progress, blocked, done or cancelled
SELECT count(*) FROM raw.tasks
WHERE status IS NULL OR status NOT IN ('todo', 'in_progress', 'blocked', 'done', 'cancelled');

-- rule: events_name | event_name is one of the 11 names of the taxonomy
SELECT count(*) FROM qa.events
WHERE event_name IS NULL OR event_name NOT IN (
    'task_created', 'task_completed', 'handoff_completed', 'blocker_resolved',
    'login_succeeded', 'dashboard_viewed', 'work_note_added', 'task_assigned',
    'task_status_changed', 'blocker_added', 'project_created');

-- rule: events_task_context | task events carry task_id and project_id; project_created only project_id; login and dashboard neither
SELECT count(*) FROM qa.events
WHERE (event_name IN ('task_created', 'task_completed', 'handoff_completed', 'blocker_resolved',
                      'work_note_added', 'task_assigned', 'task_status_changed', 'blocker_added')
       AND (task_id IS NULL OR project_id IS NULL))
   OR (event_name = 'project_created' AND (project_id IS NULL OR task_id IS NOT NULL))
   OR (event_name IN ('login_succeeded', 'dashboard_viewed') AND (project_id IS NOT NULL OR task_id IS NOT NULL));

-- rule: events_properties | properties hold exactly the keys their event needs, as valid JSON
SELECT count(*) FROM qa.events
WHERE CASE event_name
    WHEN 'task_status_changed' THEN NOT (json_valid(properties)
        AND json_extract_string(properties, '$.from_status') IN ('todo', 'in_progress', 'blocked', 'done', 'cancelled')
        AND json_extract_string(properties, '$.to_status') IN ('todo', 'in_progress', 'blocked', 'done', 'cancelled'))
    WHEN 'handoff_completed' THEN NOT (json_valid(properties)
        AND TRY_CAST(json_extract(properties, '$.from_user_id') AS BIGINT) = user_id
        AND TRY_CAST(json_extract(properties, '$.to_user_id') AS BIGINT) IS NOT NULL
        AND TRY_CAST(json_extract(properties, '$.to_user_id') AS BIGINT) <> user_id)
    WHEN 'task_assigned' THEN NOT (json_valid(properties)
        AND TRY_CAST(json_extract(properties, '$.assignee_user_id') AS BIGINT) IS NOT NULL)
    WHEN 'blocker_added' THEN NOT (json_valid(properties)
        AND TRY_CAST(json_extract(properties, '$.blocker_id') AS BIGINT) IS NOT NULL)
    WHEN 'blocker_resolved' THEN NOT (json_valid(properties)
        AND TRY_CAST(json_extract(properties, '$.blocker_id') AS BIGINT) IS NOT NULL)
    ELSE properties IS NOT NULL
END;

-- rule: events_handoff_target | a hand-off goes to another user of the same account
SELECT count(*) FROM qa.events e
LEFT JOIN raw.users u ON u.user_id = TRY_CAST(json_extract(e.properties, '$.to_user_id') AS BIGINT)
WHERE e.event_name = 'handoff_completed' AND (u.user_id IS NULL OR u.account_id <> e.account_id);
