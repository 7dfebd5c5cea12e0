"""The HTTP API: a Flask app built by :func:`create_app`, served by gunicorn."""
