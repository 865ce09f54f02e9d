"""What Airflow tasks and the in-process loop call: the runtime context, the schedule, stages run by name,
the retrain chain, and the alert outbox. Domain-free platform: stages are reached by name."""
