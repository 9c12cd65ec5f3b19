-- An as_of extract (snapshot.as_of) leaves out the deliveries ingested after it, listed in
-- truth.not_yet_arrived; every other rule reads qa.events, which includes them, so it excuses exactly those.

-- rule: snapshot_cut_at_as_of | the published events are exactly the deliveries ingested by as_of; every later one is listed in truth.not_yet_arrived (none without as_of)
SELECT (SELECT count(*) FROM raw.events WHERE ingested_at_utc > getvariable('as_of'))
     + (SELECT count(*) FROM truth.not_yet_arrived
        WHERE getvariable('as_of') IS NULL OR ingested_at_utc <= getvariable('as_of'));
