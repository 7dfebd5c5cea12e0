"""Liveness and readiness for the Kubernetes probes.

``/ping`` touches nothing, so a slow database never gets a healthy pod restarted. ``/health`` checks Redis
and MongoDB at once and answers within two seconds whatever they do, naming the dependency that failed.
"""

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait

from flask import Blueprint, Response, jsonify

from fraiday_cli.server.resources import ServerResources, resources

HEALTH_BUDGET_SECONDS = 1.8

blueprint = Blueprint("health", __name__)


@blueprint.get("/ping")
def ping() -> Response:
    return jsonify(status="ok")


def _checks(res: ServerResources) -> dict[str, Callable[[], object]]:
    return {
        "redis": res.redis.ping,
        "mongodb": lambda: res.services.mongo.admin.command("ping"),
    }


@blueprint.get("/health")
def health() -> tuple[Response, int]:
    checks = _checks(resources())
    pool = ThreadPoolExecutor(max_workers=len(checks), thread_name_prefix="health")
    futures = {name: pool.submit(check) for name, check in checks.items()}
    wait(futures.values(), timeout=HEALTH_BUDGET_SECONDS)
    pool.shutdown(wait=False, cancel_futures=True)
    report: dict[str, str] = {}
    for name, future in futures.items():
        if not future.done():
            report[name] = "timeout"
        elif future.exception() is not None:
            report[name] = f"unreachable: {type(future.exception()).__name__}"
        else:
            report[name] = "ok"
    failing = sorted(name for name, state in report.items() if state != "ok")
    if failing:
        return jsonify(status="unavailable", failing=failing, dependencies=report), 503
    return jsonify(status="ok", dependencies=report), 200
