"""The DBF API format: fetching, pacing and archiving board responses, and normalizing them into snapshot
rows (field parsing, local times, reason codes, the per-interval ledger)."""
