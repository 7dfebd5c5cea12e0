"""/dashboard in a real browser (Debian's Chromium driven by selenium) against real gunicorn and workers.

An operator's view: pages render, error text from an outside service is shown as text and never runs,
the buttons work (a dead letter requeued from its page is run again by a worker, JSON all along), a
planted pickle is shown and deleted without being unpickled, and a form posted from another site is
refused. A screenshot of each page is kept under tests/artifacts/dashboard/ (git-ignored).
"""

import json
import re
import shutil
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import redis
import requests
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.expected_conditions import staleness_of
from selenium.webdriver.support.wait import WebDriverWait

from fraiday_cli.tasks.pausing import paused_queues
from handlers.wire_format import ATTEMPTS_META, JOB_FUNCTION, MAX_ATTEMPTS_META, TASK_TYPE_META
from tests.harness.process import free_port
from tests.processes import FraidayProcess, fraiday, wait_for
from tests.server.conftest import API_KEY, AUTH
from tests.support.http_stub import Answer, HttpStub, http_stub
from tests.support.planted_jobs import plant_pickled

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "dashboard"
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
XSS = "<img src=x onerror=\"document.title='xss-ran'\"><script>document.title='xss-ran'</script>"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,1000",
)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[WebDriver]:
    if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
        pytest.fail("chromium and chromium-driver are not installed: run ./scripts/setup.sh", pytrace=False)
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*FLAGS, f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER, port=free_port()))
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


class Dashboard:
    """The server's dashboard as the browser reaches it (Basic credentials in the first URL)."""

    def __init__(self, driver: WebDriver, base: str) -> None:
        self.driver = driver
        self.base = base
        self.login = base.replace("http://", f"http://ops:{API_KEY}@")

    def open(self, path: str) -> None:
        self.driver.get(self.base + path)

    def text(self, css: str = "main") -> str:
        return str(self.driver.find_element(By.CSS_SELECTOR, css).text)

    def click(self, label: str, within: str = "main") -> None:
        self.follow(self.driver.find_element(By.CSS_SELECTOR, f'{within} button[value="{label.lower()}"]'))

    def follow(self, element: WebElement) -> None:
        """Click a link or button and wait for the page it leads to (the old one going stale)."""
        element.click()
        WebDriverWait(self.driver, 10).until(staleness_of(element))

    def shot(self, name: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        assert self.driver.save_screenshot(str(path))
        print(f"screenshot: {path}")

    def assert_no_script_ran(self) -> None:
        assert self.driver.title != "xss-ran"
        assert self.driver.find_elements(By.CSS_SELECTOR, "main img, main script") == []


@pytest.fixture
def server(api_env: dict[str, str], tmp_path: Path) -> Iterator[tuple[str, dict[str, str], HttpStub]]:
    with http_stub() as ai:
        env = {**api_env, "AI_SERVICE_URL": ai.url, "SLACK_AI_TOKEN": "tok-dashboard"}
        port = free_port()
        args = ["server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
        with fraiday(args, env, tmp_path / "server.log") as process:
            base = f"http://127.0.0.1:{port}"
            wait_for(lambda: _answers(base, process), 30, what="the server answering /ping")
            yield base, env, ai


def _answers(base: str, process: FraidayProcess) -> bool:
    assert process.proc.poll() is None, process.output()[-2000:]
    try:
        return requests.get(base + "/ping", timeout=1).status_code == 200
    except requests.RequestException:  # refused, or accepted by the master before a worker answers
        return False


@pytest.fixture
def dashboard(browser: WebDriver, server: tuple[str, dict[str, str], HttpStub]) -> Dashboard:
    board = Dashboard(browser, server[0] + "/dashboard")
    browser.get(board.login + "/")
    assert "Queues" in board.text("h1")
    return board


def api(base: str, method: str, path: str, **kwargs: Any) -> Any:
    response = requests.request(method, f"{base}/api/v1{path}", headers=AUTH, timeout=5, **kwargs)
    assert response.status_code < 300, response.text
    return response.json()


def raw_meta(connection: redis.Redis, task_id: str) -> Any:
    return json.loads(connection.hget(f"rq:job:{task_id}", "meta"))


def test_a_dead_letter_with_an_html_error_is_shown_as_text_then_requeued_and_run(
    dashboard: Dashboard,
    server: tuple[str, dict[str, str], HttpStub],
    redis_conn: redis.Redis,
    tmp_path: Path,
) -> None:
    base, env, ai = server
    ai.script("/v1/chat", Answer(400, XSS), Answer(200, {"reply": "Fixed now."}))
    session_id = api(base, "POST", "/sessions", json={"client_id": "acme"})["session_id"]
    task_id = api(base, "POST", f"/sessions/{session_id}/messages", json={"content": "hi"})["task_id"]
    with fraiday(["worker", "--queue", "chat_workflow"], env, tmp_path / "worker.log") as worker:
        wait_for(lambda: api(base, "GET", f"/tasks/{task_id}")["status"] == "failed", 30, what="dead letter")

        dashboard.open("/")
        dashboard.shot("queues")
        row = dashboard.text('tr[data-queue="chat_workflow"]')
        assert re.match(r"chat_workflow 0 0 0 1 0 1 - ", row), row
        dashboard.follow(
            dashboard.driver.find_element(By.CSS_SELECTOR, 'a[href$="/queues/chat_workflow/jobs/failed"]')
        )
        dashboard.shot("jobs-failed")
        assert "chat:workflow" in dashboard.text(f'tr[data-task-id="{task_id}"]')
        assert XSS in dashboard.text(f'tr[data-task-id="{task_id}"] td.error')
        dashboard.assert_no_script_ran()

        dashboard.follow(dashboard.driver.find_element(By.LINK_TEXT, task_id))
        dashboard.shot("job-failed")
        assert XSS in dashboard.text("#error") and XSS in dashboard.text("#fields")
        assert json.loads(dashboard.text("#payload"))["session_id"] == session_id
        dashboard.assert_no_script_ran()

        dashboard.open("/")
        dashboard.click("Pause", within='tr[data-queue="chat_workflow"]')
        assert "Paused" in dashboard.text("#done")
        assert paused_queues(redis_conn) == {"chat_workflow"}
        dashboard.open(f"/jobs/{task_id}")
        dashboard.click("Requeue")
        assert "Requeued" in dashboard.text("#done") and dashboard.text("#status") == "queued"
        dashboard.shot("job-requeued")
        meta = raw_meta(redis_conn, task_id)  # still JSON, with its whole retry budget back
        assert (meta[TASK_TYPE_META], meta[MAX_ATTEMPTS_META]) == ("chat:workflow", 5)
        assert json.loads(zlib.decompress(redis_conn.hget(f"rq:job:{task_id}", "data")))[0] == JOB_FUNCTION
        assert redis_conn.lrange("rq:queue:chat_workflow", 0, -1) == [task_id.encode()]

        dashboard.open("/")
        dashboard.click("Resume", within='tr[data-queue="chat_workflow"]')
        assert "Resumed" in dashboard.text("#done")
        wait_for(lambda: api(base, "GET", f"/tasks/{task_id}")["status"] == "finished", 30, what="rerun")
        dashboard.open("/workers")
        dashboard.shot("workers")
        assert "chat_workflow" in dashboard.text("#workers")
        worker.stop()
    assert raw_meta(redis_conn, task_id)[ATTEMPTS_META] == 1
    replies = api(base, "GET", f"/sessions/{session_id}/messages")["messages"]
    assert [m["content"] for m in replies if m["role"] == "assistant"] == ["Fixed now."]


def test_a_planted_pickle_is_shown_and_deleted_in_the_browser_and_never_unpickled(
    dashboard: Dashboard,
    server: tuple[str, dict[str, str], HttpStub],
    redis_conn: redis.Redis,
    tmp_path: Path,
) -> None:
    trap = tmp_path / "unpickled-in-server"
    planted = plant_pickled(redis_conn, "planted-in-browser", "events", trap)
    dashboard.open("/queues/events/jobs/failed")
    assert "not a fraiday job: its meta is not a JSON object" in dashboard.text(
        'tr[data-task-id="planted-in-browser"]'
    )
    dashboard.open("/jobs/planted-in-browser")
    dashboard.shot("job-planted-pickle")
    assert "it can only be deleted" in dashboard.text("#problem")
    assert dashboard.driver.find_elements(By.CSS_SELECTOR, 'button[value="requeue"]') == []

    token = dashboard.driver.find_element(By.NAME, "csrf_token").get_attribute("value")
    refused = requests.post(
        f"{server[0]}/dashboard/jobs/planted-in-browser/requeue",
        data={"csrf_token": token},
        auth=("ops", API_KEY),
        timeout=5,
        allow_redirects=False,
    )
    assert refused.status_code == 409 and "cannot be requeued, only deleted" in refused.text
    assert redis_conn.hgetall("rq:job:planted-in-browser") == planted

    dashboard.click("Delete")
    assert "Deleted" in dashboard.text("#done")
    assert redis_conn.exists("rq:job:planted-in-browser") == 0
    assert not trap.exists()


def test_a_form_posted_from_another_site_and_a_get_on_an_action_change_nothing(
    dashboard: Dashboard, server: tuple[str, dict[str, str], HttpStub], redis_conn: redis.Redis
) -> None:
    forged = (
        f'<form method="post" action="{server[0]}/dashboard/queues/events/pause">'
        '<input type="hidden" name="csrf_token" value="guessed"><button id="go">Win a prize</button></form>'
    )
    dashboard.driver.get("data:text/html," + quote(forged))  # a page of another origin
    dashboard.follow(dashboard.driver.find_element(By.ID, "go"))
    dashboard.shot("forged-post")
    assert "CSRF token is missing or wrong" in dashboard.text("#message")
    assert paused_queues(redis_conn) == set()
    dashboard.open("/queues/events/pause")
    dashboard.shot("get-on-action")
    assert "method_not_allowed" in dashboard.driver.page_source
    assert paused_queues(redis_conn) == set()
    dashboard.open("/jobs/no-such-job")
    dashboard.shot("not-found")
    assert dashboard.text("h1") == "404 Not Found"
    assert "There is no job 'no-such-job'" in dashboard.text("#message")
