"""Imperfections (03_imperfections): values blanked, events delayed or re-sent on purpose, an as_of
extract cut, and a ledger of every row touched or planted.

Two kinds, both listed in the ledger (imperfections/ledger.parquet, schema.LEDGER):
- planted by the simulation, because they change behaviour and the events must still agree with the
  tables: internal/test accounts and outliers (long cycle times, far-future due dates);
- applied here (`inject`), because they only blank, delay or repeat a value: missing values in
  blankable columns, late-arriving events, re-sent duplicate deliveries; then `snapshot` cuts an
  as_of extract and writes the daily increments.
Every choice draws from a stream keyed by (account, table), so the result does not depend on how
accounts are split into parts. Applying is idempotent: the untouched tables are kept in
state/clean/ and raw/ is always rewritten from them. The rates are measured back by helpers.quality.rates.
"""
