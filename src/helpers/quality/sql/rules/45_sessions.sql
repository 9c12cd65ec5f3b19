-- Sessions: every event happened in one sitting of its user, on one client.

-- rule: session_of_its_user | a session_id is its user's: user_id * 100000 + n
-- scope: account
SELECT count(*) FROM qa.events WHERE session_id // 100000 <> user_id;

-- rule: session_one_client | every event of a session has the same client
-- scope: account
SELECT count(*) FROM (SELECT session_id FROM qa.events GROUP BY session_id HAVING count(DISTINCT client) > 1);

-- rule: login_opens_its_session | a session has at most one login_succeeded, and no event before it
-- scope: account
WITH logins AS (
    SELECT session_id, count(*) AS n, min(event_at_utc) AS at
    FROM qa.events WHERE event_name = 'login_succeeded' GROUP BY session_id
)
SELECT (SELECT count(*) FROM logins WHERE n > 1)
     + (SELECT count(*) FROM qa.events e JOIN logins l USING (session_id) WHERE e.event_at_utc < l.at);

-- rule: sessions_do_not_overlap | a user's sessions follow one another: each one's first event comes after the previous one's last
-- scope: account
WITH spans AS (
    SELECT session_id, min(event_at_utc) AS first_at, max(event_at_utc) AS last_at FROM qa.events GROUP BY session_id
)
SELECT count(*) FROM (
    SELECT first_at, lag(last_at) OVER (PARTITION BY session_id // 100000 ORDER BY session_id) AS previous_last
    FROM spans
) WHERE first_at < previous_last;
