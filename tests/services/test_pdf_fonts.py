"""The PDF renderer's shared font configuration (webapp/statements/pdf.py)."""

from __future__ import annotations

import io
from pathlib import Path

import weasyprint
from pypdf import PdfReader
from weasyprint.text.fonts import FontConfiguration

from webapp.statements import pdf

ROOT = Path(__file__).resolve().parents[2]


def _text(document: bytes) -> str:
    return "".join(page.extract_text() for page in PdfReader(io.BytesIO(document)).pages)


def test_every_render_reuses_one_font_configuration(monkeypatch):
    # A new configuration per render is what made long-lived workers grow by ~0.4 MB a render.
    seen = []
    write_pdf = weasyprint.HTML.write_pdf

    def spy(self, *args, **kwargs):
        seen.append(kwargs.get("font_config"))
        return write_pdf(self, *args, **kwargs)

    monkeypatch.setattr(weasyprint.HTML, "write_pdf", spy)
    page = '<link rel="stylesheet" href="app-static:/css/statement-print.css"><p>{}</p>'
    first = pdf.html_to_pdf(page.format("Commission 1,234.56"))
    second = pdf.html_to_pdf(page.format("Commission 7,890.12"))

    assert len(seen) == 2
    assert isinstance(seen[0], FontConfiguration)
    assert seen[0] is seen[1] is pdf.font_config()
    # Reuse changes nothing in what is drawn: each PDF holds its own text, not the previous one's.
    assert "1,234.56" in _text(first) and "7,890.12" not in _text(first)
    assert "7,890.12" in _text(second) and "1,234.56" not in _text(second)


def test_no_statement_stylesheet_or_template_declares_a_font_face():
    # An @font-face rule would add its font to the shared configuration for the worker's lifetime;
    # a font the statements need must be installed on the worker host instead (Dockerfile).
    sources = [*sorted((ROOT / "static" / "css").glob("*.css")), *sorted((ROOT / "templates" / "pdf").glob("*.html")),
               *sorted((ROOT / "templates" / "statements").rglob("*.html"))]
    assert sources, "the stylesheets and templates were not found"
    offenders = [str(path.relative_to(ROOT)) for path in sources if "@font-face" in path.read_text().lower()]
    assert offenders == []
