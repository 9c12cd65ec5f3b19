"""The simulation: pure functions from (params, keyed random streams) to tables.

accounts (the plan, drawn in one piece) -> a block of accounts: users, sessions, projects, tasks and
their timelines (block) -> events derived from that state. Every account draws from its own streams,
so a block gives exactly the rows its accounts give alone.
"""
