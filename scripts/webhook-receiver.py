#!/usr/bin/env python3
"""A webhook receiver to try fraiday's webhooks on this machine: prints every delivery, answers 204.

    python3 scripts/webhook-receiver.py [PORT]        listens on 127.0.0.1:PORT (default 9000)

fraiday refuses webhooks to loopback unless FRAIDAY_WEBHOOK_ALLOWLIST admits it, which
scripts/run-local.sh does (127.0.0.1, localhost). For each delivery it prints the event type, the
delivery id and the signature header on one line, then the raw body on the next: the exact bytes the
signature covers, to check with the snippet in docs/webhooks.md. Standard library only, so the system
python3 runs it. A real receiver must verify the signature before trusting a body.
"""

import errno
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

DEFAULT_PORT = 9000


class PrintDeliveries(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        event = self.headers.get("X-Fraiday-Event", "-")
        delivery = self.headers.get("X-Fraiday-Delivery", "-")
        signature = self.headers.get("X-Fraiday-Signature", "-")
        print(f"{event} delivery={delivery} signature={signature}", flush=True)
        print(body.decode("utf-8", errors="replace"), flush=True)
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the delivery lines above say everything


def main(argv: list[str]) -> int:
    if len(argv) > 1 or (argv and not argv[0].isdigit()):
        print("usage: python3 scripts/webhook-receiver.py [PORT]", file=sys.stderr)
        return 2
    port = int(argv[0]) if argv else DEFAULT_PORT
    try:
        server = ThreadingHTTPServer(("127.0.0.1", port), PrintDeliveries)
    except OSError as error:
        in_use = error.errno == errno.EADDRINUSE
        reason = "is already in use" if in_use else f"cannot be used: {error.strerror}"
        print(f"webhook-receiver: port {port} {reason}; give another as the argument", file=sys.stderr)
        return 2
    print(f"webhook-receiver: listening on http://127.0.0.1:{port}/ (Ctrl+C stops it)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
