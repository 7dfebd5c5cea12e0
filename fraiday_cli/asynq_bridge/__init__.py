"""The switch-over bridge from the Go service: Asynq tasks left in Redis become fraiday tasks."""
