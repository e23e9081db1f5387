"""The PDF renderer's shared font configuration (webapp/statements/pdf.py)."""

from __future__ import annotations

import io
import re
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


# What the PDFs load: their stylesheet, their templates and what those include.
PDF_SOURCES = ("static/css/statement-print.css", "templates/pdf/statement.html", "templates/pdf/plan_document.html",
               "templates/statements/partials/_statement_body.html")


def _pdf_sources() -> dict[str, str]:
    """Each source's text, lowercased, without its CSS and Jinja comments (which may name a rule)."""
    comments = re.compile(r"/\*.*?\*/|{#.*?#}", re.DOTALL)
    return {name: comments.sub("", (ROOT / name).read_text()).lower() for name in PDF_SOURCES}


def test_the_pdf_sources_list_every_stylesheet_and_include_they_use():
    # Keeps PDF_SOURCES honest: a new stylesheet or include must be added there to be checked.
    linked = set()
    for text in _pdf_sources().values():
        linked |= {f"static/{path}" for path in re.findall(r'href="app-static:/([^"]+\.css)"', text)}
        linked |= {f"templates/{path}" for path in re.findall(r'{%-?\s*include\s+"([^"]+)"', text)}
    assert linked and linked <= set(PDF_SOURCES), linked - set(PDF_SOURCES)


def test_no_pdf_stylesheet_or_template_declares_a_font_face():
    # An @font-face rule would add its font to the shared configuration for the worker's lifetime;
    # a font the statements need must be installed on the worker host instead (Dockerfile).
    offenders = [name for name, text in _pdf_sources().items() if "@font-face" in text]
    assert offenders == []


def test_no_pdf_stylesheet_or_template_asks_for_opentype_features():
    # WeasyPrint 70 leaks a Pango attribute list for every text layout with font features
    # (weasyprint/text/line_break.py): `font-variant-numeric: tabular-nums` on the amounts grew a
    # worker by ~0.09 MB a statement, for good. DejaVu Sans, the statements' font, has tabular
    # figures by default, so the columns line up without the feature (the pages rendered
    # pixel-identical with and without it).
    pattern = re.compile(r"font-(variant|feature-settings|kerning)")
    offenders = {name: pattern.findall(text) for name, text in _pdf_sources().items() if pattern.search(text)}
    assert offenders == {}
