"""Great Expectations gates over batches (`validate_snapshots`, `validate_features`): the suites, the GX
adapter, quarantine and ledger. Domain-free platform: names columns only through `pipelines.schema`."""
