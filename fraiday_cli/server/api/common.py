"""What every API module shares: the error answers each route documents, and reading a session."""

from typing import Any

from flask_openapi3.models.tag import Tag
from flask_openapi3.types import ResponseDict

from fraiday_cli.server.errors import ErrorBody, not_found
from fraiday_cli.server.resources import resources

ERRORS: ResponseDict = {
    400: ErrorBody,
    401: ErrorBody,
    404: ErrorBody,
    413: ErrorBody,
    415: ErrorBody,
    503: ErrorBody,
}
SECURITY: list[dict[str, list[str]]] = [{"bearer": []}]


def tag(name: str, description: str) -> list[Tag]:
    return [Tag(name=name, description=description)]


def session_or_404(session_id: str) -> dict[str, Any]:
    session = resources().services.db.chat.get_session(session_id)
    if session is None:
        raise not_found("session", session_id)
    return session
