"""The scheduler process: APScheduler with thin job wrappers that call services."""
