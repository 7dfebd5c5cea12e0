"""The periodic-task scheduler: cron entries from configuration, one active instance at a time."""
