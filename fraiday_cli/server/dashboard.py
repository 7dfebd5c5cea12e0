"""``/dashboard``: rq-dashboard (queues, jobs, workers, like Asynqmon) mounted in the server.

It sits behind the API keys like ``/api/v1`` (a browser gets a Basic-auth prompt: any user name, an API
key as the password). rq-dashboard keeps its serializer in a module-level setting; fraiday's jobs are
JSON, so the app factory sets it here, explicitly, rather than through rq-dashboard's environment hooks.
"""

import rq_dashboard
from flask import Flask
from rq_dashboard import web

from config import Settings
from fraiday_cli.server.auth import DASHBOARD_PREFIX
from handlers.wire_format import SERIALIZER


def init_app(app: Flask, settings: Settings) -> None:
    web.config.serializer = SERIALIZER
    app.config.from_object(rq_dashboard.default_settings)
    app.config["RQ_DASHBOARD_REDIS_URL"] = settings.redis_url
    web.setup_rq_connection(app)  # builds a client; redis-py connects on first use, not here
    app.register_blueprint(rq_dashboard.blueprint, url_prefix=DASHBOARD_PREFIX)
