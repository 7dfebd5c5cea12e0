"""Task types and their handlers: the registry, typed payloads, the dispatcher RQ calls, and the services
(AI, webhooks, MongoDB) handlers use. Nothing here imports the server or the worker machinery."""
