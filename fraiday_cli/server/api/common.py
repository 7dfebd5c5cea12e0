"""What every API module shares: the error answers each route documents, and reading a session."""

from typing import Any

from flask_openapi3.blueprint import APIBlueprint
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


def api_blueprint(import_name: str, url_prefix: str, tag: str, description: str) -> APIBlueprint:
    """A resource's blueprint under /api/v1 (named after its module): its OpenAPI tag, the bearer
    scheme and the error answers every route may give."""
    return APIBlueprint(
        import_name.rsplit(".", 1)[-1],
        import_name,
        url_prefix=f"/api/v1{url_prefix}",
        abp_tags=[Tag(name=tag, description=description)],
        abp_security=SECURITY,
        abp_responses=ERRORS,
    )


def session_or_404(session_id: str) -> dict[str, Any]:
    session = resources().services.db.chat.get_session(session_id)
    if session is None:
        raise not_found("session", session_id)
    return session
