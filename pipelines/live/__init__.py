"""Live predictions while the trains run: incremental detection, features and scoring (`railcast live`)."""
