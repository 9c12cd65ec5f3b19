-- The event stream and the tables tell the same story. The events begin at the window's start: a step that
-- happened before it (a task created, started or completed earlier) has no event, and a task created before
-- the window may show a step whose earlier step (its assignment, its blocker_added) fell before the window.

-- rule: task_created_once_at_created_at | every task created inside the window has exactly one task_created, at its created_at, by its creator; one created before it has none
-- scope: account
SELECT count(*) FROM raw.tasks t
LEFT JOIN (
    SELECT task_id, count(*) AS n, min(event_at_utc) AS at, min(user_id) AS by_user
    FROM qa.events WHERE event_name = 'task_created' GROUP BY task_id
) c USING (task_id)
WHERE CASE WHEN t.created_at < getvariable('window_start') THEN c.n IS NOT NULL
           ELSE c.n IS DISTINCT FROM 1 OR c.at <> t.created_at OR c.by_user <> t.created_by_user_id END;

-- rule: task_created_only_for_tasks | no task_created event for a task that is not in tasks
-- scope: account
SELECT count(*) FROM qa.events e ANTI JOIN raw.tasks t USING (task_id)
WHERE e.event_name = 'task_created';

-- rule: task_completed_once_at_completed_at | every task done inside the window has exactly one task_completed, at its completed_at; one done before it has none
-- scope: account
SELECT count(*) FROM raw.tasks t
LEFT JOIN (
    SELECT task_id, count(*) AS n, min(event_at_utc) AS at
    FROM qa.events WHERE event_name = 'task_completed' GROUP BY task_id
) c USING (task_id)
WHERE t.status = 'done' AND CASE WHEN t.completed_at < getvariable('window_start') THEN c.n IS NOT NULL
                                 ELSE c.n IS DISTINCT FROM 1 OR c.at <> t.completed_at END;

-- rule: task_completed_only_when_done | no task_completed for a task that is not done
-- scope: account
SELECT count(*) FROM qa.events e JOIN raw.tasks t USING (task_id)
WHERE e.event_name = 'task_completed' AND t.status <> 'done';

-- rule: started_event_at_first_started_at | the first task_status_changed into in_progress is at first_started_at; a task started before the window has none
-- scope: account
SELECT count(*) FROM raw.tasks t
LEFT JOIN (
    SELECT task_id, min(event_at_utc) AS at
    FROM qa.events
    WHERE event_name = 'task_status_changed' AND json_extract_string(properties, '$.to_status') = 'in_progress'
    GROUP BY task_id
) s USING (task_id)
WHERE s.at IS DISTINCT FROM CASE WHEN t.first_started_at >= getvariable('window_start') THEN t.first_started_at END;

-- rule: blocker_resolved_after_added | each blocker_resolved follows the blocker_added of the same blocker_id and task (of a task created before the window, that blocker_added may have been before it)
-- scope: account
SELECT count(*) FROM qa.events r
LEFT JOIN qa.events a
  ON a.event_name = 'blocker_added' AND a.task_id = r.task_id
 AND json_extract(a.properties, '$.blocker_id') = json_extract(r.properties, '$.blocker_id')
LEFT JOIN raw.tasks t ON t.task_id = r.task_id
WHERE r.event_name = 'blocker_resolved'
  AND (a.event_at_utc > r.event_at_utc OR (a.event_id IS NULL AND (t.created_at < getvariable('window_start')) IS NOT TRUE));

-- rule: blocked_status_matches_events | a task is blocked exactly when it has a blocker_added with no blocker_resolved (of a task created before the window: when its last blocker event is a blocker_added, or it has none and was blocked before the window)
-- scope: account
SELECT count(*) FROM raw.tasks t
LEFT JOIN (
    SELECT task_id,
           count(*) FILTER (WHERE event_name = 'blocker_added')
         - count(*) FILTER (WHERE event_name = 'blocker_resolved') AS open_blockers,
           arg_max(event_name = 'blocker_added', event_at_utc) AS last_is_added
    FROM qa.events WHERE event_name IN ('blocker_added', 'blocker_resolved') GROUP BY task_id
) b USING (task_id)
WHERE CASE WHEN t.created_at < getvariable('window_start') THEN (t.status = 'blocked') <> coalesce(b.last_is_added, t.status = 'blocked')
           ELSE (t.status = 'blocked') <> (coalesce(b.open_blockers, 0) > 0) END;

-- rule: cancelled_has_event | a cancelled task has exactly one task_status_changed into cancelled, and no other task has one (a task created before the window may have been cancelled before it: then none)
-- scope: account
SELECT count(*) FROM raw.tasks t
LEFT JOIN (
    SELECT task_id, count(*) AS n FROM qa.events
    WHERE event_name = 'task_status_changed' AND json_extract_string(properties, '$.to_status') = 'cancelled'
    GROUP BY task_id
) c USING (task_id)
WHERE c.n > 1 OR (c.n = 1 AND t.status <> 'cancelled')
   OR (c.n IS NULL AND t.status = 'cancelled' AND (t.created_at < getvariable('window_start')) IS NOT TRUE);

-- rule: project_created_once_at_created_at | every project created inside the window has exactly one project_created, at its created_at, by its owner; one created before it has none
-- scope: account
SELECT count(*) FROM raw.projects p
LEFT JOIN (
    SELECT project_id, count(*) AS n, min(event_at_utc) AS at, min(user_id) AS by_user
    FROM qa.events WHERE event_name = 'project_created' GROUP BY project_id
) c USING (project_id)
WHERE CASE WHEN p.created_at < getvariable('window_start') THEN c.n IS NOT NULL
           ELSE c.n IS DISTINCT FROM 1 OR c.at <> p.created_at OR c.by_user <> p.owner_user_id END;

-- rule: assignee_matches_last_assignment | a task's assignee (when recorded) is the last one assigned or handed to; a task never assigned has no assignee (one created before the window may have been assigned before it)
-- scope: account
SELECT count(*) FROM raw.tasks t
LEFT JOIN (
    SELECT task_id,
           arg_max(CASE event_name
                       WHEN 'task_assigned' THEN TRY_CAST(json_extract(properties, '$.assignee_user_id') AS BIGINT)
                       ELSE TRY_CAST(json_extract(properties, '$.to_user_id') AS BIGINT) END,
                   event_at_utc) AS last_assignee
    FROM qa.events WHERE event_name IN ('task_assigned', 'handoff_completed') GROUP BY task_id
) a USING (task_id)
WHERE t.assignee_user_id <> a.last_assignee
   OR (a.last_assignee IS NULL AND t.assignee_user_id IS NOT NULL AND (t.created_at < getvariable('window_start')) IS NOT TRUE);

-- rule: status_changes_legal | task_status_changed moves only todo -> in_progress, todo -> cancelled or in_progress -> cancelled
-- scope: account
SELECT count(*) FROM qa.events
WHERE event_name = 'task_status_changed'
  AND (json_extract_string(properties, '$.from_status'), json_extract_string(properties, '$.to_status'))
      NOT IN (('todo', 'in_progress'), ('todo', 'cancelled'), ('in_progress', 'cancelled'));

-- rule: work_goes_to_activated_colleagues | task_assigned and handoff_completed target an activated user of the same account, activated by then
-- scope: account
SELECT count(*) FROM qa.events e
LEFT JOIN raw.users u ON u.user_id = TRY_CAST(json_extract(e.properties,
    CASE e.event_name WHEN 'task_assigned' THEN '$.assignee_user_id' ELSE '$.to_user_id' END) AS BIGINT)
WHERE e.event_name IN ('task_assigned', 'handoff_completed')
  AND (u.user_id IS NULL OR u.account_id <> e.account_id OR u.activated_at IS NULL OR u.activated_at > e.event_at_utc);

-- rule: notes_by_current_holder | a work note is written by the task's holder at that moment (its assignee, or the hand-off's receiver after it; of a task created before the window, where an assignment or hand-off inside it names the holder)
-- scope: account
WITH holders AS (
    SELECT task_id, event_at_utc AS since,
           TRY_CAST(json_extract(properties, CASE event_name WHEN 'task_assigned' THEN '$.assignee_user_id'
                                                             ELSE '$.to_user_id' END) AS BIGINT) AS holder
    FROM qa.events WHERE event_name IN ('task_assigned', 'handoff_completed')
)
-- (an ASOF join takes, for each note, the latest assignment or hand-off at or before it)
SELECT count(*) FROM (SELECT * FROM qa.events WHERE event_name = 'work_note_added') n
ASOF LEFT JOIN holders h ON h.task_id = n.task_id AND n.event_at_utc >= h.since
LEFT JOIN raw.tasks t ON t.task_id = n.task_id
WHERE n.user_id IS DISTINCT FROM h.holder
  AND (h.since IS NOT NULL OR (t.created_at < getvariable('window_start')) IS NOT TRUE);  -- an older task's holder may predate the window

-- rule: handoff_by_current_holder | each handoff_completed is made by the task's holder at that moment (the last one assigned or handed to before it; of a task created before the window, where the data names one)
-- scope: account
WITH holders AS (
    SELECT task_id, event_at_utc AS since,
           TRY_CAST(json_extract(properties, CASE event_name WHEN 'task_assigned' THEN '$.assignee_user_id'
                                                             ELSE '$.to_user_id' END) AS BIGINT) AS holder
    FROM qa.events WHERE event_name IN ('task_assigned', 'handoff_completed')
)
-- (an ASOF join takes, for each hand-off, the latest assignment or hand-off strictly before it)
SELECT count(*) FROM (SELECT * FROM qa.events WHERE event_name = 'handoff_completed') h
ASOF LEFT JOIN holders p ON p.task_id = h.task_id AND h.event_at_utc > p.since
LEFT JOIN raw.tasks t ON t.task_id = h.task_id
WHERE h.user_id IS DISTINCT FROM p.holder
  AND (p.since IS NOT NULL OR (t.created_at < getvariable('window_start')) IS NOT TRUE);  -- an older task's holder may predate the window

-- rule: steps_by_current_holder | the start of work, blockers, the completion and the cancelling of started work are made by the task's holder at that moment (of a task created before the window, where the data names one)
-- scope: account
WITH holders AS (
    SELECT task_id, event_at_utc AS since,
           TRY_CAST(json_extract(properties, CASE event_name WHEN 'task_assigned' THEN '$.assignee_user_id'
                                                             ELSE '$.to_user_id' END) AS BIGINT) AS holder
    FROM qa.events WHERE event_name IN ('task_assigned', 'handoff_completed')
)
SELECT count(*) FROM (
    SELECT * FROM qa.events
    WHERE event_name IN ('blocker_added', 'blocker_resolved', 'task_completed')
       OR (event_name = 'task_status_changed' AND 'in_progress' IN (json_extract_string(properties, '$.from_status'),
                                                                    json_extract_string(properties, '$.to_status')))
) s
ASOF LEFT JOIN holders h ON h.task_id = s.task_id AND s.event_at_utc >= h.since
LEFT JOIN raw.tasks t ON t.task_id = s.task_id
WHERE s.user_id IS DISTINCT FROM h.holder
  AND (h.since IS NOT NULL OR (t.created_at < getvariable('window_start')) IS NOT TRUE);  -- an older task's holder may predate the window

-- rule: assignments_before_start | a task is assigned or reassigned only before work starts (no task_assigned at or after first_started_at)
-- scope: account
SELECT count(*) FROM qa.events e JOIN raw.tasks t USING (task_id)
WHERE e.event_name = 'task_assigned' AND e.event_at_utc >= t.first_started_at;

-- rule: handoffs_while_in_progress | a hand-off happens after the task's start and before it is completed or cancelled
-- scope: account
SELECT count(*) FROM qa.events h
JOIN raw.tasks t USING (task_id)
LEFT JOIN (
    SELECT task_id, min(event_at_utc) AS at FROM qa.events
    WHERE event_name = 'task_status_changed' AND json_extract_string(properties, '$.to_status') = 'cancelled'
    GROUP BY task_id
) c USING (task_id)
WHERE h.event_name = 'handoff_completed'
  AND (t.first_started_at IS NULL OR h.event_at_utc <= t.first_started_at
       OR h.event_at_utc >= t.completed_at OR h.event_at_utc >= c.at);
