"""The certificate as a PDF, drawn on demand from what was stored at issue (fpdf2, QR code by qrcode).

Nothing is kept on disk: the certificate row holds every word the PDF prints, so the same certificate always
gives the same document and there is no file to back up or to lose. Korean needs a Korean font embedded: the
Nanum font the project installs (fonts-nanum), found through matplotlib's font manager as the charts find it,
or the file ACADEMY_CERTIFICATE_FONT names; without one the PDF is refused with FontMissing, never drawn with
empty boxes.
"""
from __future__ import annotations

import functools
import logging
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import qrcode
from flask import current_app
from fpdf import FPDF

from academy.certificates.models import Certificate

ACADEMY_KO = "경남 AI 혁신 아카데미"
ACADEMY_EN = "Gyeongnam AI Innovation Academy"
# The four partner universities, each by the Korean name it uses itself.
UNIVERSITIES_KO = ("인제대학교", "경남대학교", "국립창원대학교", "경상국립대학교")
NANUM = ("NanumGothic", "NanumBarunGothic")
SEOUL = ZoneInfo("Asia/Seoul")
INK, BRAND, GREY = (29, 36, 51), (11, 92, 173), (90, 98, 112)
# fontTools warns of every table of the Nanum files it cannot subset (and drops them, as it should).
logging.getLogger("fontTools.subset").setLevel(logging.ERROR)


class FontMissing(RuntimeError):
    """No Korean font to embed: install fonts-nanum (scripts/install.sh does) or set ACADEMY_CERTIFICATE_FONT."""


@functools.lru_cache(maxsize=4)
def _find_fonts(configured: str | None) -> tuple[str, str]:
    if configured:
        if not Path(configured).is_file():
            raise FontMissing(f"ACADEMY_CERTIFICATE_FONT={configured} is not a font file")
        return configured, configured
    from matplotlib import font_manager  # only when the first certificate is drawn: it reads the font cache

    found: dict[str, str] = {}
    for family in NANUM:
        for font in font_manager.fontManager.ttflist:
            if font.name == family and font.fname.lower().endswith(".ttf"):
                weight = font.weight if isinstance(font.weight, int) else 700 if font.weight == "bold" else 400
                found.setdefault("bold" if weight >= 600 else "regular", font.fname)
        if "regular" in found:
            return found["regular"], found.get("bold", found["regular"])
        found.clear()
    raise FontMissing("No Nanum font found (NanumGothic or NanumBarunGothic): install fonts-nanum, "
                      "or set ACADEMY_CERTIFICATE_FONT to a TTF file with Korean glyphs")


def font_files() -> tuple[str, str]:
    """Return the (regular, bold) TTF files that certificates embed; raise FontMissing when there are none."""
    return _find_fonts(current_app.config.get("CERTIFICATE_FONT"))


def qr_image(url: str):
    """Return the QR code of the verification address as an image (error correction M, 4-module border)."""
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=8, border=4)
    code.add_data(url)
    code.make(fit=True)
    # Grey, not 1-bit: fpdf2 would store a 1-bit image as CCITT fax, which some PDF readers misdraw.
    return code.make_image(fill_color="black", back_color="white").get_image().convert("L")


def _date(at: datetime) -> tuple[str, str]:
    local = at.astimezone(SEOUL)
    return f"{local.year}년 {local.month}월 {local.day}일", local.strftime("%d %B %Y")


class _Document(FPDF):
    def __init__(self) -> None:
        super().__init__(format="A4", unit="mm")
        regular, bold = font_files()
        self.add_font("Nanum", "", regular)
        self.add_font("Nanum", "B", bold)
        self.set_auto_page_break(True, margin=42)
        self.set_margins(22, 20, 22)
        self.set_creator(ACADEMY_EN)

    def line_of(self, text: str, size: float, *, bold: bool = False, color=INK, align: str = "C", h: float = 0) -> None:
        self.set_font("Nanum", "B" if bold else "", size)
        self.set_text_color(*color)
        self.multi_cell(0, h or size * 0.55, text, align=align, new_x="LMARGIN", new_y="NEXT")

    def heading(self, text: str) -> None:
        self.ln(4)
        self.line_of(text, 11, bold=True, color=BRAND, align="L")
        self.set_draw_color(*BRAND)
        self.line(self.l_margin, self.get_y(), self.w - self.r_margin, self.get_y())
        self.ln(2)


def render_pdf(certificate: Certificate, url: str) -> bytes:
    """Return the certificate as a PDF: academy and universities, holder, cohort, courses passed,
    competencies with their evidence, serial, date of issue, and the QR code of the verification address."""
    data = certificate.data
    date_ko, date_en = _date(certificate.issued_at)
    pdf = _Document()
    pdf.set_title(f"수료증 {certificate.serial}")
    pdf.add_page()
    pdf.set_draw_color(*BRAND)
    pdf.set_line_width(0.8)
    pdf.rect(10, 10, pdf.w - 20, pdf.h - 20)
    pdf.set_line_width(0.2)
    pdf.line_of(ACADEMY_KO, 15, bold=True, color=BRAND)
    pdf.line_of(ACADEMY_EN, 10, color=BRAND)
    pdf.ln(6)
    pdf.line_of("수 료 증", 30, bold=True)
    pdf.line_of("Certificate of Completion", 13, color=GREY)
    pdf.ln(6)
    pdf.line_of(certificate.holder_name, 22, bold=True)
    pdf.line_of(certificate.cohort_label_ko, 11)
    pdf.line_of(certificate.cohort_label_en, 9, color=GREY)
    pdf.ln(4)
    pdf.line_of("위 사람은 경남 AI 혁신 아카데미의 교육과정을 이수하였으므로 이 증서를 수여합니다.", 10.5, h=6)
    pdf.line_of("has completed the programme of the Gyeongnam AI Innovation Academy.", 9, color=GREY)

    pdf.heading("이수 과목 / Courses passed")
    for course in data["courses"]:
        pdf.line_of(f"{course['code']}  {course['title_ko']} ({course['title_en']})  ·  {course['percent']:.0f}점 / 100",
                    9.5, align="L", h=5.5)
    pdf.heading("역량과 근거 / Competencies and evidence")
    for skill in data["competencies"]:
        pdf.line_of(f"{skill['name_ko']} ({skill['name_en']})  ·  수준 level {skill['level']:.1f} / 5", 9.5,
                    bold=True, align="L", h=5.5)
        evidence = ", ".join(f"{e['assignment']} {e['percent']:.0f}점" for e in skill["evidence"])
        pdf.line_of(f"근거 evidence: {evidence}", 8.5, color=GREY, align="L", h=4.8)

    _footer(pdf, certificate, url, date_ko, date_en)
    return bytes(pdf.output())


def _footer(pdf: _Document, certificate: Certificate, url: str, date_ko: str, date_en: str) -> None:
    """Serial, date, the universities and the QR code, at the foot of the last page."""
    size = 30
    if pdf.get_y() > pdf.h - 20 - size - 14:
        pdf.add_page()
    top = pdf.h - 18 - size
    pdf.image(qr_image(url), x=pdf.w - 20 - size, y=top, w=size, h=size)
    pdf.set_auto_page_break(False)
    pdf.set_xy(22, top)
    left = pdf.w - 20 - size - 26
    for text, font_size, bold in (
        (f"증서 번호 Serial No. {certificate.serial}", 9, True),
        (f"발급일 Issued {date_ko} ({date_en})", 9, False),
        ("  ·  ".join(UNIVERSITIES_KO), 10, True),
        (f"{ACADEMY_KO} · {ACADEMY_EN}", 8, False),
        (f"진위 확인 Verify: {url}", 7, False),
    ):
        pdf.set_font("Nanum", "B" if bold else "", font_size)
        pdf.set_text_color(*INK)
        pdf.set_x(22)
        pdf.multi_cell(left, font_size * 0.55, text, align="L", new_x="LMARGIN", new_y="NEXT")
