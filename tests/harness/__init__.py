"""Real servers for the test suite: a redis-server and a MongoDB-wire server on free loopback ports."""
