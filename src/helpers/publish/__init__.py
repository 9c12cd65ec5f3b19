"""The published deliverables: the answer keys (truth/), the warehouse, the package beside the data
(DDL, dictionary, dbt sources, datapackage, CSV copies), the manifest and the run's reports."""
