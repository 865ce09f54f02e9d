"""The MLflow registry: the tracking adapter, the champion alias and its history (`promote`, rollback),
and rebuilding a registered version from its lineage. Domain-free platform."""
