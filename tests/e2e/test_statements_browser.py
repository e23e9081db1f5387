"""Statements end to end in a real browser, with a real worker (issue 8, item 1).

A manager sends statements for a date range with a message and watches the run's progress
fragment poll until it finishes; the live app's `python -m jobs worker` (its own process, on the
same database and a private Redis) renders the PDFs and "sends" the emails into the outbox. The
agent then downloads their PDF; the admin's Outbox lists the emails with their PDF attachments.
"""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass
from datetime import date, timedelta

import pytest

from tests.e2e.support import ADMIN_EMAIL, AGENT_EMAILS, MANAGER_EMAIL, new_context, shoot, sign_in

pytestmark = pytest.mark.browser

MESSAGE = "Thank you for a strong quarter. Questions about a line? Reply to this email."
RUN_TIMEOUT_MS = 90_000  # two PDFs and two emails; usually done in a few seconds


@dataclass
class SentRun:
    run_url: str
    statements: dict[str, str]  # agent name -> statement number
    started: date
    ended: date


@pytest.fixture(scope="module")
def sent_run(live_server, live_worker, browser, artifacts) -> SentRun:
    """Maria sends statements to two of her agents and watches the run finish (through the UI)."""
    context, watch = new_context(browser)
    try:
        manager = sign_in(context, live_server, MANAGER_EMAIL)
        manager.get_by_role("navigation", name="Main").get_by_role("link", name="Statements").click()
        manager.wait_for_load_state("networkidle")
        shoot(manager, artifacts, "manager-statements")
        manager.get_by_role("link", name="Send statements").click()
        manager.wait_for_load_state("networkidle")
        assert manager.url.endswith("/statements/send")

        ended = date.today()
        started = (ended.replace(day=1) - timedelta(days=62)).replace(day=1)
        manager.get_by_label("First day").fill(started.isoformat())
        manager.get_by_label("Last day").fill(ended.isoformat())
        names = ["Alice Chen", "Bob Martin"]
        for name in names:
            manager.get_by_label(name, exact=True).check()
        manager.get_by_label("Message").fill(MESSAGE)
        manager.get_by_role("button", name="Send statements").click()
        manager.wait_for_url(re.compile(r"/statements/runs/\d+$"))
        run_url = manager.url
        progress = manager.locator("#run-progress")
        progress.wait_for()

        # The fragment polls itself (hx-trigger every 2s) until every statement settled, then stops.
        manager.wait_for_function(
            "() => { const p = document.querySelector('#run-progress');"
            " return p && !p.hasAttribute('hx-trigger'); }", timeout=RUN_TIMEOUT_MS)
        assert manager.url == run_url
        heading = progress.locator("h2").inner_text()
        assert heading == "All done", heading
        assert progress.locator(".run-count").inner_text() == f"{len(names)} of {len(names)} done"
        statements: dict[str, str] = {}
        for row in progress.locator("tbody tr").all():
            cells = row.locator("td")
            statements[cells.nth(1).inner_text().strip()] = cells.nth(0).inner_text().strip().removeprefix("No. ")
            assert "Ready" in cells.nth(3).inner_text()
            assert "Sent" in cells.nth(4).inner_text()
        assert sorted(statements) == sorted(names)
        # Stopped polling: nothing more is asked of the server.
        requests: list[str] = []
        manager.on("request", lambda request: requests.append(request.url))
        manager.wait_for_timeout(2_500)
        assert [url for url in requests if "/statements/runs/" in url] == []
        shoot(manager, artifacts, "manager-statements-run-progress")
        watch.assert_clean()
    finally:
        context.close()
    return SentRun(run_url=run_url, statements=statements, started=started, ended=ended)


def test_manager_sends_statements_and_the_agent_downloads_the_pdf(sent_run, live_server, browser,
                                                                   artifacts, tmp_path):
    started = time.monotonic()
    number = sent_run.statements["Alice Chen"]
    context, watch = new_context(browser, accept_downloads=True)
    try:
        agent = sign_in(context, live_server, AGENT_EMAILS["Alice Chen"])
        agent.get_by_role("navigation", name="Main").get_by_role("link", name="Statements").click()
        agent.wait_for_load_state("networkidle")
        shoot(agent, artifacts, "agent-statements")
        agent.get_by_role("link", name=f"No. {number}", exact=True).first.click()
        agent.wait_for_load_state("networkidle")
        assert re.search(r"/statements/\d+$", agent.url), agent.url
        expect_text = agent.locator("main")
        assert MESSAGE in expect_text.inner_text()  # the manager's message is on the statement

        status = agent.locator("#statement-status")
        download_link = status.get_by_role("link", name="Download PDF")
        shown_sha = status.locator("code.hash").get_attribute("title")
        assert re.fullmatch(r"[0-9a-f]{64}", shown_sha or ""), shown_sha
        shoot(agent, artifacts, "agent-statement-detail")

        with agent.expect_download() as download_info:
            download_link.click()
        download = download_info.value
        assert download.suggested_filename == f"statement-{number}.pdf"
        saved = tmp_path / download.suggested_filename
        download.save_as(saved)
        data = saved.read_bytes()
        assert data.startswith(b"%PDF")
        digest = hashlib.sha256(data).hexdigest()
        assert digest == shown_sha

        # The same URL, asked for with the agent's cookies: the headers carry the same sha256.
        response = context.request.get(live_server + download_link.get_attribute("href"))
        assert response.status == 200
        assert response.headers["x-content-sha256"] == digest
        assert response.headers["etag"].strip('"') == digest
        assert response.body() == data
        watch.assert_clean()
    finally:
        context.close()
    assert time.monotonic() - started < 60


def test_the_outbox_shows_the_statement_emails_with_their_pdfs(sent_run, live_server, browser, artifacts):
    started = time.monotonic()
    context, watch = new_context(browser)
    try:
        admin = sign_in(context, live_server, ADMIN_EMAIL)
        admin.goto(f"{live_server}/admin/outbox")
        admin.wait_for_load_state("networkidle")
        assert admin.get_by_role("heading", name="Outbox").is_visible()
        shoot(admin, artifacts, "admin-outbox")
        for name, number in sent_run.statements.items():
            row = admin.locator("tbody tr").filter(has_text=AGENT_EMAILS[name]).filter(
                has=admin.get_by_role("link", name=f"statement-{number}.pdf", exact=True))
            assert row.count() == 1, f"no single outbox email to {name} with statement-{number}.pdf"
            attachment = row.get_by_role("link", name=f"statement-{number}.pdf", exact=True)
            response = context.request.get(live_server + attachment.get_attribute("href"))
            assert response.status == 200
            assert response.body().startswith(b"%PDF")

        # One message, opened: addressed to the agent, with the manager's message and the PDF.
        alice_number = sent_run.statements["Alice Chen"]
        row = admin.locator("tbody tr").filter(
            has=admin.get_by_role("link", name=f"statement-{alice_number}.pdf", exact=True))
        row.locator("td").nth(2).get_by_role("link").click()
        admin.wait_for_load_state("networkidle")
        body = admin.locator("main").inner_text()
        assert AGENT_EMAILS["Alice Chen"] in body
        assert f"statement-{alice_number}.pdf" in body
        shoot(admin, artifacts, "admin-outbox-message")
        watch.assert_clean()
    finally:
        context.close()
    assert time.monotonic() - started < 60
