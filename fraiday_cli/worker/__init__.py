"""The worker pool: N forked slots on RQ, weighted queues, prompt crash recovery, graceful stop."""
