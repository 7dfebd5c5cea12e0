"""The dashboard's blueprint: its templates and stylesheet, headers, CSRF check and error pages."""

from http import HTTPStatus

from flask import Blueprint, Response, render_template, request

from config.redaction import Redactor
from fraiday_cli.server.dashboard import csrf
from fraiday_cli.server.resources import resources

SECURITY_HEADERS = {
    # No script at all, styles only from our stylesheet, forms only to ourselves, never framed.
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


class PageError(Exception):
    """An answer for the operator as a page (404 unknown id, 403 bad token, 409 refused action)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def add_security_headers(response: Response) -> Response:
    response.headers.update(SECURITY_HEADERS)
    return response


def require_csrf_token() -> None:
    """Runs after authentication (an app-wide hook), so the token is derived from a valid key."""
    if request.method == "POST" and not csrf.is_valid():
        raise PageError(403, "The form's CSRF token is missing or wrong: reload the page and try again.")


def template_context() -> dict[str, object]:
    """The CSRF field for forms, and ``redact`` for error texts: the worker already masks secrets in
    what it stores, but a job failed before that, or planted, may still carry one."""
    redactor = Redactor(resources().settings.secret_values())
    return {"csrf_field": csrf.FIELD, "csrf_token": csrf.token, "redact": redactor.redact}


def page_error(exc: PageError) -> tuple[str, int]:
    title = f"{exc.status} {HTTPStatus(exc.status).phrase}"
    return render_template("dashboard/error.html", title=title, message=exc.message), exc.status


def new_blueprint() -> Blueprint:
    """A fresh blueprint per app, so every app the factory builds gets its own routes."""
    blueprint = Blueprint("dashboard", __name__, template_folder="templates", static_folder="static")
    blueprint.after_request(add_security_headers)
    blueprint.before_request(require_csrf_token)
    blueprint.context_processor(template_context)
    blueprint.register_error_handler(PageError, page_error)
    return blueprint
