"""The JSON API under /api/v1: one blueprint per resource, all validated by the registry's models."""
