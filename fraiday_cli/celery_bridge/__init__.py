"""The migration bridge from legacy Celery producers to fraiday tasks."""
