"""A small HTML reader for tests: the tags of a page with their attributes and text."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser


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
