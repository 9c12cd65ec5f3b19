"""saas-synth helpers: the logic the notebooks call, laid out in the order the data flows.

    params, schema, units, io, duck, streams, scenarios    what everything shares: strict parameters, the one
                                                          schema (tables, vocabularies, key events, ledger),
                                                          time units, the dataset folder, DuckDB, keyed
                                                          randomness, the planted scenarios
    generate/       the simulation: accounts -> users, sessions, projects, tasks -> events
    imperfections/  values blanked, events delayed and re-sent, the as_of extract, the ledger
    quality/        rules, activity metrics, guardrails, imperfection rates, profile, metric SQL vs keys
                    (SQL over the dataset; never imports generate/ or imperfections/)
    publish/        answer keys, warehouse, package beside the data, manifest, reports, README figures
    pipeline, blocks, parallel    the notebooks' steps, blocks of accounts, where blocks run
    cli, run, runs, verify, bench the commands: `saas-synth` (run, verify, export, list), a whole run, its
                                  runs folder, a dataset check, the benchmark
    load            a published dataset's tables as pandas DataFrames (nullable ids stay integers)
    plotting/       charts and tables for the notebooks

The notebooks use `pipeline`, `plotting`, `duck` and the `quality` modules.
"""

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]

__all__ = ["PROJECT_ROOT"]
