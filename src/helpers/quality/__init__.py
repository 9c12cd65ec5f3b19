"""Quality: the rules, activity metrics, guardrails, imperfection rates, profile and metric
reconciliation, all SQL over the dataset (helpers.duck) that reads the tables and never the
generator's code: the same checks a Stage 3 user can run against the warehouse."""
