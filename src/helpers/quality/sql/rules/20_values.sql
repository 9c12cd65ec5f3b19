-- Closed value sets and required fields. The vocabularies are DuckDB variables set from the one
-- schema (helpers.schema): getvariable('plan_tiers'), ('roles'), ('priorities'), ('statuses'),
-- ('event_names'), ('task_events'), ('session_events').

-- rule: accounts_plan_tier | plan_tier is one of {plan_tiers}
SELECT count(*) FROM raw.accounts
WHERE plan_tier IS NULL OR NOT list_contains(getvariable('plan_tiers'), plan_tier);

-- rule: users_role | role is one of {roles}
-- scope: account
SELECT count(*) FROM raw.users WHERE role IS NULL OR NOT list_contains(getvariable('roles'), role);

-- rule: users_email_reserved | every e-mail is unique and on a reserved domain (example.com/.org/.net or .test)
SELECT (count(*) - count(DISTINCT email))
     + count(*) FILTER (WHERE NOT regexp_full_match(email,
         '[a-z0-9._+-]+@([a-z0-9-]+\.)*(example\.(com|org|net)|[a-z0-9-]+\.test)'))
FROM raw.users;

-- rule: tasks_priority | priority is one of {priorities}
-- scope: account
SELECT count(*) FROM raw.tasks WHERE priority IS NULL OR NOT list_contains(getvariable('priorities'), priority);

-- rule: tasks_status | status is one of {statuses}
-- scope: account
SELECT count(*) FROM raw.tasks WHERE status IS NULL OR NOT list_contains(getvariable('statuses'), status);

-- rule: events_name | event_name is one of the {n_event_names} names of the taxonomy
-- scope: account
SELECT count(*) FROM qa.events
WHERE event_name IS NULL OR NOT list_contains(getvariable('event_names'), event_name);

-- rule: events_task_context | task events ({task_events}) carry task_id and project_id; project_created only project_id; session events ({session_events}) neither
-- scope: account
SELECT count(*) FROM qa.events
WHERE (list_contains(getvariable('task_events'), event_name) AND (task_id IS NULL OR project_id IS NULL))
   OR (event_name = 'project_created' AND (project_id IS NULL OR task_id IS NOT NULL))
   OR (list_contains(getvariable('session_events'), event_name) AND (project_id IS NOT NULL OR task_id IS NOT NULL));

-- rule: events_properties | properties hold exactly the keys their event needs, as valid JSON
-- scope: account
SELECT count(*) FROM qa.events
WHERE CASE event_name
    WHEN 'task_status_changed' THEN NOT (json_valid(properties)
        AND list_contains(getvariable('statuses'), json_extract_string(properties, '$.from_status'))
        AND list_contains(getvariable('statuses'), json_extract_string(properties, '$.to_status')))
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
-- scope: account
SELECT count(*) FROM qa.events e
LEFT JOIN raw.users u ON u.user_id = TRY_CAST(json_extract(e.properties, '$.to_user_id') AS BIGINT)
WHERE e.event_name = 'handoff_completed' AND (u.user_id IS NULL OR u.account_id <> e.account_id);
