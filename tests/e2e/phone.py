"""Phone and accessibility checks of the browser tests (issue 13, item 7).

Every main page, as each role, is opened at 390 x 844 (a phone): the page must not scroll
sideways (`document.documentElement.scrollWidth <= innerWidth`), and axe-core (WCAG 2.1 A and AA
rules) must find no serious or critical violation, there and again at 1280 px. Each check leaves
a screenshot of both widths in test-artifacts/phone/ for a person to look at.

axe-core is vendored under tests/e2e/vendor/axe-core (see its README). The app's
Content-Security-Policy refuses an injected <script>, so the source is evaluated through the
DevTools protocol (`page.evaluate`), which the policy does not govern; the pages themselves keep
their policy, so a style or script it blocks still shows in the layout under test.
"""

from __future__ import annotations

import re
import sqlite3
from contextlib import closing
from pathlib import Path

from tests.e2e.support import Watch, sign_in

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
AXE_VERSION = "4.14.1"
AXE_SOURCE = Path(__file__).with_name("vendor") / "axe-core" / "axe.min.js"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
SERIOUS = ("serious", "critical")

# What sticks out past the right edge, outermost first, and not inside something that scrolls or
# clips it (a `.table-scroll` region), nor hidden (a closed menu): the elements to fix when a page
# scrolls sideways.
OVERFLOWING = """
() => {
  const edge = window.innerWidth + 0.5;
  const contained = (el) => {
    for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      if (/(auto|scroll|hidden|clip)/.test(getComputedStyle(p).overflowX)) return true;
    }
    return false;
  };
  const classes = (el) =>
    typeof el.className === 'string' ? el.className.trim().split(/\\s+/).filter(Boolean) : [];
  const name = (el) => [el.tagName.toLowerCase() + (el.id ? '#' + el.id : ''), ...classes(el)].join('.');
  const found = [];
  for (const el of document.querySelectorAll('body *')) {
    const box = el.getBoundingClientRect();
    if (box.width > 0 && box.right > edge && el.checkVisibility() && !contained(el)) {
      found.push(name(el) + ' (right edge ' + Math.round(box.right) + ' px)');
    }
  }
  const root = document.documentElement;
  return {scrollWidth: root.scrollWidth, innerWidth: window.innerWidth, found: found.slice(0, 8)};
}
"""

# Problems of the cells of a table stacked into cards (no longer laid out as table cells), each
# as "table: text", at most six of each kind:
# - unlabelled: a value that does not say what it holds; each needs its column's name
#   (data-label), bar a row's actions and a message spanning the row;
# - squeezed: text with almost no room (a fixed desktop width minus the label's padding), whose
#   words would break a letter per line.
STACKED_CELL_PROBLEMS = """
() => {
  const cells = [...document.querySelectorAll('td')].filter((td) => td.getClientRects().length
    && getComputedStyle(td).display !== 'table-cell' && td.textContent.trim());
  const room = (td) => {
    const style = getComputedStyle(td);
    return td.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
  };
  const describe = (found) => found.slice(0, 6).map((td) => {
    const table = td.closest('table');
    return (table.id || table.className) + ': ' + td.textContent.trim().slice(0, 40);
  });
  return {
    unlabelled: describe(cells.filter((td) => !td.hasAttribute('data-label') && !td.hasAttribute('colspan')
      && !td.classList.contains('actions'))),
    squeezed: describe(cells.filter((td) => room(td) < 48)),
  };
}
"""

RUN_AXE = """
async (tags) => {
  const options = {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']};
  const result = await window.axe.run(document, options);
  return result.violations.map((v) => ({id: v.id, impact: v.impact, help: v.help,
    targets: v.nodes.slice(0, 4).map((n) => n.target.join(' '))}));
}
"""


def phone_context(browser):
    """A browser context at phone size with a Watch (CSP violations, console errors) attached."""
    context = browser.new_context(viewport=PHONE)
    return context, Watch(context)


def signed_in(browser, base_url: str, email: str):
    """(context, watch, page): a phone-sized context signed in as `email`."""
    context, watch = phone_context(browser)
    return context, watch, sign_in(context, base_url, email)


def session_of(browser, base_url: str, email: str):
    """For a module fixture (`yield from`): (page, watch) signed in as `email`, closed after the module."""
    context, watch, page = signed_in(browser, base_url, email)
    try:
        yield page, watch
    finally:
        context.close()


def check_listed(session, base_url: str, path: str, artifacts: Path, name: str) -> None:
    """check_page on `path` (ids filled in) with the session's page: it fits and passes axe."""
    page, watch = session
    url = base_url + path
    assert_fits(check_page(page, url, artifacts, name), watch, url)


def open_on_phone(session, url: str):
    """The session's page, at phone size, on `url`: for a form to fill before check_after."""
    page, _watch = session
    page.set_viewport_size(PHONE)
    page.goto(url, wait_until="networkidle")
    return page


def check_after(session, artifacts: Path, name: str) -> None:
    """check_loaded on what the session's page shows now (a form's answer): it fits and passes axe."""
    page, watch = session
    page.wait_for_load_state("networkidle")
    assert_fits(check_loaded(page, artifacts, name), watch, page.url)


def sideways_overflow(page) -> str | None:
    """None, or what makes the page wider than the window at its current size."""
    seen = page.evaluate(OVERFLOWING)
    if seen["scrollWidth"] <= seen["innerWidth"]:
        return None
    return (f"scrolls sideways: scrollWidth {seen['scrollWidth']} > innerWidth {seen['innerWidth']}; "
            f"sticking out: {', '.join(seen['found']) or 'nothing found'}")


def axe_violations(page) -> list[str]:
    """axe-core's serious and critical WCAG 2.1 A/AA violations of the page as it is now."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(AXE_SOURCE.read_text(encoding="utf-8"))
    assert page.evaluate("() => window.axe.version") == AXE_VERSION
    return [f"{v['id']} ({v['impact']}): {v['help']} -> {'; '.join(v['targets'])}"
            for v in page.evaluate(RUN_AXE, AXE_TAGS) if v["impact"] in SERIOUS]


def check_page(page, url: str, artifacts: Path, name: str) -> list[str]:
    """Open `url` at phone size and then at desktop size: every problem found, with where."""
    page.set_viewport_size(PHONE)
    response = page.goto(url, wait_until="networkidle")
    assert response is not None and response.status < 500, f"{url}: {response and response.status}"
    return check_loaded(page, artifacts, name)


def check_loaded(page, artifacts: Path, name: str) -> list[str]:
    """The checks of `check_page` on the page already open (after a form was sent, say)."""
    problems: list[str] = []
    page.set_viewport_size(PHONE)
    overflow = sideways_overflow(page)
    if overflow:
        problems.append(f"390 px: {overflow}")
    stacked = page.evaluate(STACKED_CELL_PROBLEMS)
    problems += [f"390 px: stacked cell without its label: {cell}" for cell in stacked["unlabelled"]]
    problems += [f"390 px: stacked cell with no room for its text: {cell}" for cell in stacked["squeezed"]]
    problems += [f"390 px: {v}" for v in axe_violations(page)]
    screenshot(page, artifacts, f"{name}-390")
    page.set_viewport_size(DESKTOP)
    problems += [f"1280 px: {v}" for v in axe_violations(page)]
    screenshot(page, artifacts, f"{name}-1280")
    page.set_viewport_size(PHONE)
    return problems


def screenshot(page, artifacts: Path, name: str) -> Path:
    """A full-page screenshot into test-artifacts/phone/ (git-ignored)."""
    folder = artifacts / "phone"
    folder.mkdir(exist_ok=True)
    path = folder / f"{re.sub(r'[^a-z0-9-]+', '-', name.lower())}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def assert_fits(problems: list[str], watch: Watch, url: str) -> None:
    """No problem on the page, and no Content-Security-Policy violation while it was shown."""
    assert watch.csp == [], watch.csp
    assert problems == [], f"{url}:\n  " + "\n  ".join(problems)


def live_rows(live_directory: Path, sql: str, *params) -> list[tuple]:
    """Rows of the live app's SQLite database (read only): ids of the demo's records to visit.
    `params`: positional values, or one dict of named ones."""
    uri = f"file:{live_directory / 'e2e.db'}?mode=ro"
    values = params[0] if len(params) == 1 and isinstance(params[0], dict) else params
    with closing(sqlite3.connect(uri, uri=True)) as connection:
        return connection.execute(sql, values).fetchall()


def live_id(live_directory: Path, sql: str, *params) -> int:
    """The first column of the first row of `sql`, which must find one."""
    rows = live_rows(live_directory, sql, *params)
    assert rows, f"nothing found: {sql} {params}"
    return rows[0][0]


def user_id(live_directory: Path, email: str) -> int:
    """The live database's id of the demo user with this email."""
    return live_id(live_directory, "SELECT id FROM users WHERE email = ?", email)


def open_dispute(browser, base_url: str, live_directory: Path, email: str) -> int:
    """The id of an open dispute of the agent `email`, opened through the agent's form if none is."""
    agent = user_id(live_directory, email)
    found = live_rows(live_directory, "SELECT id FROM disputes WHERE agent_id = ? AND status = 'open' "
                                      "ORDER BY id LIMIT 1", agent)
    if found:
        return found[0][0]
    entry = live_id(live_directory, "SELECT e.id FROM commission_entries e JOIN sales s ON s.id = e.sale_id "
                                    "WHERE e.agent_id = ? ORDER BY e.id LIMIT 1", agent)
    context, _watch = phone_context(browser)
    try:
        page = sign_in(context, base_url, email)
        page.goto(f"{base_url}/ledger/{entry}/dispute")
        page.get_by_label("What is wrong with this line?").fill(
            "The rate on this line should be 5%, as agreed for this customer.")
        page.get_by_role("button", name="Send dispute").click()
        page.wait_for_url(re.compile(r"/disputes/\d+$"))
        return int(page.url.rsplit("/", 1)[1])
    finally:
        context.close()


def agent_records(browser, base_url: str, live_directory: Path, email: str) -> dict[str, int]:
    """Ids of one demo agent's records that the pages of the agent and of their manager show:
    the agent, an approved sale with a ledger line, a pending sale they entered, a ledger line
    not disputed yet, a statement and its run, an open period and an open dispute (opened if none)."""
    agent = user_id(live_directory, email)
    queries = {
        "approved_sale": "SELECT s.id FROM sales s WHERE s.agent_id = :agent AND s.status = 'approved' AND "
                         "EXISTS (SELECT 1 FROM commission_entries e WHERE e.sale_id = s.id) ORDER BY s.id",
        "pending_sale": "SELECT id FROM sales WHERE agent_id = :agent AND entered_by_id = :agent "
                        "AND status = 'pending' ORDER BY id",
        "entry": "SELECT e.id FROM commission_entries e WHERE e.agent_id = :agent AND NOT EXISTS "
                 "(SELECT 1 FROM disputes d WHERE d.entry_id = e.id) ORDER BY e.id DESC",
        "statement": "SELECT id FROM statements WHERE agent_id = :agent ORDER BY id",
        "run": "SELECT run_id FROM statements WHERE agent_id = :agent ORDER BY id",
        "open_period": "SELECT id FROM periods WHERE status = 'open' ORDER BY start_date",
    }
    records = {name: live_id(live_directory, f"{sql} LIMIT 1", {"agent": agent})
               for name, sql in queries.items()}
    return {"agent": agent, **records, "dispute": open_dispute(browser, base_url, live_directory, email)}
