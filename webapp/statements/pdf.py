"""HTML to PDF with WeasyPrint. Imported only by the worker's jobs, never by the web process.

The statement HTML may only pull the app's own static files: anything else (file: URLs,
network addresses, data smuggled into a customer name) is refused, so a crafted value cannot
make the worker read local files or call out.
"""

from __future__ import annotations

import mimetypes
from functools import cache
from pathlib import Path

from weasyprint import HTML
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import URLFetcher, URLFetcherResponse

STATIC_ROOT = Path(__file__).resolve().parents[2] / "static"
# The statement templates link assets as app-static:/css/..., a scheme nothing else uses.
STATIC_SCHEME = "app-static:"

# One font configuration for every render in this process. WeasyPrint builds a new one (a fresh
# Fontconfig config and Pango font map, in native memory) when none is given, and a long-lived
# worker that renders thousands of statements grew by about 0.4 MB per render that way; shared, the
# font map is built once and its caches are reused (bench/statement_run.py, worker memory).
# Sharing is safe because statements use system fonts only: an @font-face rule would add its font
# to this configuration for good (tests/services/test_pdf_fonts.py keeps the PDF sources free of
# it, and of the OpenType features WeasyPrint leaks memory for).
@cache
def font_config() -> FontConfiguration:
    """The process's shared WeasyPrint font configuration, built on first use."""
    return FontConfiguration()


class StaticOnlyFetcher(URLFetcher):
    """Serves files under static/ for `app-static:` URLs and refuses every other URL."""

    def __init__(self, static_root: Path = STATIC_ROOT, **kwargs):
        super().__init__(allowed_protocols=(), **kwargs)
        self.static_root = static_root.resolve()

    def fetch(self, url, headers=None):
        """Return the static file named by an app-static: URL; raise for anything else."""
        if not url.startswith(STATIC_SCHEME):
            raise ValueError(f"refused to fetch {url[:80]!r}: statements may only use the app's static files")
        relative = url[len(STATIC_SCHEME):].lstrip("/").split("?")[0].split("#")[0]
        path = (self.static_root / relative).resolve()
        if not path.is_relative_to(self.static_root) or not path.is_file():
            raise ValueError(f"refused to fetch {url[:80]!r}: not a static file")
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return URLFetcherResponse(url, body=path.read_bytes(), headers={"Content-Type": content_type})


def html_to_pdf(html: str, *, fail_on_errors: bool = True) -> bytes:
    """Render statement HTML to PDF bytes; a refused or missing resource fails the render."""
    fetcher = StaticOnlyFetcher(fail_on_errors=fail_on_errors)
    document = HTML(string=html, base_url=STATIC_SCHEME + "/", url_fetcher=fetcher)
    return document.write_pdf(font_config=font_config())
