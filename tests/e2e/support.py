"""Helpers of the browser tests: signing in, watching a page for errors, screenshots."""

from __future__ import annotations

from pathlib import Path

from webapp.demo import ADMIN, AGENTS, DEMO_PASSWORD, MANAGERS

ADMIN_EMAIL = ADMIN[0]
MANAGER_EMAIL = MANAGERS[0][0]  # Maria Lopez, manager of the demo's first team
AGENT_EMAILS = {name: email for email, name, _team in AGENTS}
VIEWPORT = {"width": 1280, "height": 900}

# Every CSP violation of any page of the context, reported to Python through a binding.
REPORT_CSP = """
document.addEventListener("securitypolicyviolation", function (event) {
  window.__reportCsp([event.violatedDirective, event.blockedURI, event.sourceFile, event.lineNumber]
    .join(" "));
});
"""


class Watch:
    """Console errors, uncaught exceptions, CSP violations and 4xx/5xx responses of a context."""

    def __init__(self, context):
        self.csp: list[str] = []
        self.console: list[str] = []
        self.http: list[str] = []
        context.expose_binding("__reportCsp", lambda _source, text: self.csp.append(text))
        context.add_init_script(REPORT_CSP)
        context.on("page", self.watch_page)
        for page in context.pages:
            self.watch_page(page)

    def watch_page(self, page) -> None:
        page.on("console", lambda message: message.type == "error" and self.console.append(message.text))
        page.on("pageerror", lambda error: self.console.append(f"uncaught: {error}"))
        page.on("response", lambda response: response.status >= 400 and self.http.append(
            f"{response.status} {response.request.method} {response.url}"))

    def assert_clean(self, allowed_http: tuple[str, ...] = ()) -> None:
        """No CSP violation, no console error, no failed request except the `allowed_http` ones.

        An allowed 4xx response also logs "Failed to load resource: ... 4xx" on the console; those
        console lines are allowed for the same responses only.
        """
        assert self.csp == [], self.csp
        unexpected_http = [line for line in self.http if not any(part in line for part in allowed_http)]
        assert unexpected_http == [], unexpected_http
        allowed_codes = {line.split(" ", 1)[0] for line in self.http if line not in unexpected_http}
        console = [text for text in self.console
                   if not (text.startswith("Failed to load resource")
                           and any(f"status of {code}" in text for code in allowed_codes))]
        assert console == [], self.console


def new_context(browser, **options):
    """A browser context (own cookies) with a Watch attached: returns (context, watch)."""
    context = browser.new_context(viewport=VIEWPORT, **options)
    return context, Watch(context)


def sign_in(context, base_url: str, email: str):
    """A new page of `context`, signed in as `email` with the demo password."""
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{base_url}/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state("networkidle")
    assert "/login" not in page.url, f"{email} could not sign in"
    return page


def shoot(page, artifacts: Path, name: str) -> Path:
    """A full-page screenshot into test-artifacts/ (git-ignored)."""
    path = artifacts / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
