"""Whether a server under test answers, for ``wait_for``: a refused or slow connection is "not yet"."""

import requests


def answers_ping(port: int, timeout: float = 2) -> bool:
    try:
        return requests.get(f"http://127.0.0.1:{port}/ping", timeout=timeout).status_code == 200
    except requests.RequestException:
        return False
