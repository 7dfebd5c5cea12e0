"""``/dashboard``: fraiday's own operator pages (queues, jobs by state, one job, workers), like Asynqmon.

It is built on the same reading as ``fraiday queues`` and ``fraiday jobs`` and sits behind the API keys
like ``/api/v1`` (a browser gets a Basic-auth prompt: any user name, an API key as the password). What
it promises: jobs are read as JSON only, never unpickled; every value is escaped by Jinja's
autoescaping (templates are ``.html``) and a strict Content-Security-Policy forbids scripts anyway;
actions change state only on POST with a CSRF token; an unknown queue, state or job is a 404 page.
"""

from flask import Flask

from fraiday_cli.server.auth import DASHBOARD_PREFIX
from fraiday_cli.server.dashboard import actions, pages
from fraiday_cli.server.dashboard.blueprint import new_blueprint


def init_app(app: Flask) -> None:
    blueprint = new_blueprint()
    pages.register(blueprint)
    actions.register(blueprint)
    app.register_blueprint(blueprint, url_prefix=DASHBOARD_PREFIX)
