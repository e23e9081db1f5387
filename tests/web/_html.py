"""A small HTML reader for tests: the tags of a page with their attributes and text, and the few
questions every page test asks of a response (its text, a field's error, the flashes, where it
redirects, its Content-Security-Policy)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html import unescape
from html.parser import HTMLParser
from urllib.parse import urlsplit


@dataclass
class Tag:
    """One start tag: its name, its attributes, and the text up to its end tag."""

    name: str
    attrs: dict[str, str | None]
    text: str = ""
    ancestors: list[Tag] = field(default_factory=list, repr=False)
    _open: bool = field(default=True, repr=False)


class _Reader(HTMLParser):
    """Collects every start tag and the text inside it."""

    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}

    def __init__(self):
        """Start with no tags."""
        super().__init__(convert_charrefs=True)
        self.tags: list[Tag] = []

    def handle_starttag(self, tag, attrs):
        """Record the tag."""
        ancestors = [t for t in self.tags if t._open]
        self.tags.append(Tag(tag, dict(attrs), ancestors=ancestors, _open=tag not in self.VOID))

    def handle_endtag(self, tag):
        """Close the innermost open tag of this name."""
        for item in reversed(self.tags):
            if item.name == tag and item._open:
                item._open = False
                return

    def handle_data(self, data):
        """Add text to every tag still open."""
        for item in self.tags:
            if item._open:
                item.text += data


def tags(html: str, name: str | None = None) -> list[Tag]:
    """Every tag of the page (or every tag called `name`), in document order."""
    reader = _Reader()
    reader.feed(html)
    reader.close()
    return [t for t in reader.tags if name is None or t.name == name]


def within(container: Tag, page: list[Tag], name: str | None = None) -> list[Tag]:
    """The tags (called `name`) of `page` that sit inside `container`, from the same tags() call."""
    return [t for t in page if any(a is container for a in t.ancestors) and name in (None, t.name)]


def by_id(html: str, element_id: str) -> Tag | None:
    """The element with this id, or None."""
    return next((t for t in tags(html) if t.attrs.get("id") == element_id), None)


def html_of(response) -> str:
    """The response body as text."""
    return response.get_data(as_text=True)


def text_of(tag: Tag) -> str:
    """A tag's text with whitespace collapsed."""
    return " ".join(tag.text.split())


def main_text(html: str) -> str:
    """The text of the page's <main>, each tag a word break, entities decoded, whitespace collapsed."""
    main = html[html.index("<main"):html.index("</main>")]
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", main)).split())


def field_error(html: str, field_id: str) -> str | None:
    """The error shown beside a form field (`<p class="field-error" id="<field_id>-error">`), or None.

    Any other attributes are allowed; the text comes back with entities decoded and whitespace collapsed."""
    tag = next((t for t in tags(html, "p") if t.attrs.get("id") == f"{field_id}-error"
                and "field-error" in (t.attrs.get("class") or "").split()), None)
    return text_of(tag) if tag is not None else None


def form_error(html: str) -> str | None:
    """The error shown above a form, not tied to a field (the first `.form-error`), or None."""
    tag = next((t for t in tags(html) if "form-error" in (t.attrs.get("class") or "").split()), None)
    return text_of(tag) if tag is not None else None


def flash_messages(html: str) -> list[str]:
    """The flash messages on the page, in order."""
    return [text_of(t) for t in tags(html, "p") if "flash" in (t.attrs.get("class") or "").split()]


def by_testid(html: str, testid: str) -> str:
    """The text of the element with this data-testid (it must be on the page)."""
    tag = next((t for t in tags(html) if t.attrs.get("data-testid") == testid), None)
    assert tag is not None, f"no {testid} on the page"
    return text_of(tag)


def csp_directives(header: str) -> dict[str, list[str]]:
    """A Content-Security-Policy header as {directive: [sources]}."""
    directives = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            directives[words[0]] = words[1:]
    return directives


def redirect_path(response) -> str:
    """Where a redirect points: its path, and its #fragment when it has one."""
    parts = urlsplit(response.headers["Location"])
    return parts.path + (f"#{parts.fragment}" if parts.fragment else "")
