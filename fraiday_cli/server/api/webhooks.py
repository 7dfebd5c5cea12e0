"""Webhook subscriptions per client. The signing secret is shown once, in the answer to creation."""

from typing import Any

from flask import Response, jsonify

from fraiday_cli.server.api.common import api_blueprint
from fraiday_cli.server.api.schemas import (
    ClientPath,
    Webhook,
    WebhookCreate,
    WebhookCreated,
    WebhookList,
    WebhookPath,
)
from fraiday_cli.server.errors import invalid, not_found
from fraiday_cli.server.resources import resources
from handlers.services.destinations import UnsafeDestination

blueprint = api_blueprint(__name__, "/clients", "webhooks", "Webhook subscriptions")


def webhook_fields(subscription: dict[str, Any]) -> dict[str, Any]:
    return {
        "webhook_id": str(subscription["_id"]),
        "client_id": subscription["client_id"],
        "url": subscription["url"],
        "event_types": subscription["event_types"],
        "active": subscription["active"],
        "created_at": subscription["created_at"],
        "deactivated_reason": subscription.get("deactivated_reason"),
    }


@blueprint.post(
    "/<client_id>/webhooks", responses={201: WebhookCreated}, summary="Subscribe a URL to event types"
)
def create_webhook(path: ClientPath, body: WebhookCreate) -> tuple[Response, int]:
    services = resources().services
    try:
        services.destinations.check(body.url)
    except UnsafeDestination as exc:
        raise invalid({"url": str(exc)}) from None
    subscription = services.db.subscriptions.create(path.client_id, body.url, body.event_types)
    created = WebhookCreated(**webhook_fields(subscription), secret=subscription["secret"])
    return jsonify(created.model_dump(mode="json")), 201


@blueprint.get("/<client_id>/webhooks", responses={200: WebhookList}, summary="List a client's webhooks")
def list_webhooks(path: ClientPath) -> Response:
    subscriptions = resources().services.db.subscriptions.for_client(path.client_id)
    listed = WebhookList(webhooks=[Webhook(**webhook_fields(s)) for s in subscriptions])
    return jsonify(listed.model_dump(mode="json"))


@blueprint.get("/<client_id>/webhooks/<webhook_id>", responses={200: Webhook}, summary="Read a webhook")
def get_webhook(path: WebhookPath) -> Response:
    subscription = resources().services.db.subscriptions.get(path.client_id, path.webhook_id)
    if subscription is None:
        raise not_found("webhook", path.webhook_id)
    return jsonify(Webhook(**webhook_fields(subscription)).model_dump(mode="json"))


@blueprint.delete("/<client_id>/webhooks/<webhook_id>", responses={204: None}, summary="Delete a webhook")
def delete_webhook(path: WebhookPath) -> tuple[str, int]:
    if not resources().services.db.subscriptions.delete(path.client_id, path.webhook_id):
        raise not_found("webhook", path.webhook_id)
    return "", 204
