"""The app factory: gunicorn and the tests build the app the same way, and nothing connects at import."""

from flask import Flask

from config import Settings
from fraiday_cli.server import health
from fraiday_cli.server.resources import EXTENSION_KEY, ServerResources


def create_app(settings: Settings) -> Flask:
    app = Flask("fraiday")
    app.extensions[EXTENSION_KEY] = ServerResources(settings)
    app.register_blueprint(health.blueprint)
    return app
