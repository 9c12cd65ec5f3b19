-- Keys: every primary key unique and present; every foreign key resolves, inside the same account.
-- (count(*) - count(DISTINCT key) counts each repeated key and each NULL key once.)
-- Each rule is one query returning the number of violating rows (0 = the rule holds).

-- rule: pk_accounts | account_id is unique and not null
SELECT count(*) - count(DISTINCT account_id) FROM raw.accounts;

-- rule: pk_users | user_id is unique and not null
SELECT count(*) - count(DISTINCT user_id) FROM raw.users;

-- rule: pk_projects | project_id is unique and not null
SELECT count(*) - count(DISTINCT project_id) FROM raw.projects;

-- rule: pk_tasks | task_id is unique and not null
SELECT count(*) - count(DISTINCT task_id) FROM raw.tasks;

-- rule: pk_events | event_id is not null and unique, except re-sent deliveries the ledger lists as duplicates
SELECT abs((SELECT coalesce(sum(deliveries - 1), 0) FROM qa.redelivered)
           - (SELECT count(*) FROM imperfections.ledger WHERE kind = 'duplicate'))
     + (SELECT count(*) FROM raw.events WHERE event_id IS NULL);

-- rule: fk_users_account | every user belongs to an existing account
-- scope: account
SELECT count(*) FROM raw.users u ANTI JOIN raw.accounts a USING (account_id);

-- rule: fk_projects_account | every project belongs to an existing account
-- scope: account
SELECT count(*) FROM raw.projects p ANTI JOIN raw.accounts a USING (account_id);

-- rule: fk_projects_owner | a project's owner is a user of the project's account
-- scope: account
SELECT count(*) FROM raw.projects p
LEFT JOIN raw.users u ON u.user_id = p.owner_user_id
WHERE u.user_id IS NULL OR u.account_id <> p.account_id;

-- rule: fk_tasks_project | a task's project exists and belongs to the task's account
-- scope: account
SELECT count(*) FROM raw.tasks t
LEFT JOIN raw.projects p ON p.project_id = t.project_id
WHERE p.project_id IS NULL OR p.account_id <> t.account_id;

-- rule: fk_tasks_creator | a task's creator is a user of the task's account
-- scope: account
SELECT count(*) FROM raw.tasks t
LEFT JOIN raw.users u ON u.user_id = t.created_by_user_id
WHERE u.user_id IS NULL OR u.account_id <> t.account_id;

-- rule: fk_tasks_assignee | a task's assignee (when set) is a user of the task's account
-- scope: account
SELECT count(*) FROM raw.tasks t
LEFT JOIN raw.users u ON u.user_id = t.assignee_user_id
WHERE t.assignee_user_id IS NOT NULL AND (u.user_id IS NULL OR u.account_id <> t.account_id);

-- rule: fk_events_user | an event's user exists and the event's account is that user's account
-- scope: account
SELECT count(*) FROM qa.events e
LEFT JOIN raw.users u ON u.user_id = e.user_id
WHERE u.user_id IS NULL OR u.account_id <> e.account_id;

-- rule: fk_events_account | an event's account exists
-- scope: account
SELECT count(*) FROM qa.events e ANTI JOIN raw.accounts a USING (account_id);

-- rule: fk_events_project | an event's project (when set) exists and is in the event's account
-- scope: account
SELECT count(*) FROM qa.events e
LEFT JOIN raw.projects p ON p.project_id = e.project_id
WHERE e.project_id IS NOT NULL AND (p.project_id IS NULL OR p.account_id <> e.account_id);

-- rule: fk_events_task | an event's task (when set) exists, in the event's account and project
-- scope: account
SELECT count(*) FROM qa.events e
LEFT JOIN raw.tasks t ON t.task_id = e.task_id
WHERE e.task_id IS NOT NULL
  AND (t.task_id IS NULL OR t.account_id <> e.account_id OR e.project_id IS DISTINCT FROM t.project_id);
