"""Producing tasks: the task client (Asynq's Client), uniqueness, and scheduling."""
