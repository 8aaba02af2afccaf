"""Charts for the portal's pages: matplotlib drawn on the server as SVG, shown as <img>.

A chart of figures (a course's, a report's) is kept on disk and served at /charts/<name>.svg, a name no one can
guess (an HMAC of what the chart shows, under the portal's secret) and whose image never changes, so a browser
fetches it once and the page that shows it stays small: the course dashboard was 750 KB of HTML with its 18
charts written into it. One trainee's own chart is never written to disk: it stays a data: URL in the page.
Every portal process behind one address must see the same store (one machine's ACADEMY_VAR_DIR, or a shared one).
The portal's Content-Security-Policy allows images from itself and from data: URLs and no inline script or
style, so a chart is an image, never markup in the page. Korean labels use the Nanum font the project installs
(fonts-nanum), written as glyph paths so that the browser needs no font; a page always puts the numbers beside a
chart, in a table, for screen readers and for copying. matplotlib is imported on the first chart only, and pyplot never
(its global state is not thread-safe).
"""
from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import inspect
import io
import os
import re
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, abort, current_app, has_request_context, url_for
from markupsafe import Markup, escape

from academy.policy import Role, allow

bp = Blueprint("charts", __name__)
BRAND, OK, ERR, INK = "#0b5cad", "#1c7c3a", "#b42318", "#1d2433"


@functools.lru_cache(maxsize=1)
def _setup() -> Any:
    """Set matplotlib up once: Nanum for Korean, no mathtext, glyphs as paths, stable ids; return Figure."""
    import matplotlib
    from matplotlib import font_manager
    from matplotlib.figure import Figure

    nanum = [f.name for f in font_manager.fontManager.ttflist if f.name in ("NanumGothic", "NanumBarunGothic")]
    matplotlib.rcParams.update({
        "font.family": nanum[:1] + ["DejaVu Sans"],
        "text.parse_math": False,  # a "$" in a name is a dollar sign, never mathtext (which can fail)
        "svg.fonttype": "path",
        "svg.hashsalt": "academy",  # the same figure gives the same SVG
        "axes.spines.top": False, "axes.spines.right": False, "font.size": 9,
    })
    return Figure


# What a drawn chart may be when read back from the shared store: an SVG data: URL in base64, nothing that could
# leave the <img src="..."> attribute it is written into unescaped.
_DRAWN = re.compile(r"data:image/svg\+xml;base64,[A-Za-z0-9+/]*={0,2}")
STORE_LIMIT = 4000  # images kept on disk beyond which the least recently used (and not in use) are removed
IN_USE_SECONDS = 900  # an image used this recently may still be named by a kept page (kept at most 10 minutes)
UNUSED_SECONDS = 86400  # an image unused this long is removed whatever the store's size
FOLDER = "chart-images"  # under ACADEMY_VAR_DIR: images named by HMAC (the older "charts" held plain hashes)
_CONTEXT = b"academy-chart/v1\0"  # what an HMAC under the portal's secret is for here


class Image(str):
    """A stored chart: its name, written into a page as its address under that page's mount point (built when
    the page is written, escaped: a kept value never carries one request's mount point into another's page)."""

    __slots__ = ()

    def __html__(self) -> str:
        return str(escape(url_for("charts.image", name=str(self))))


@functools.lru_cache(maxsize=1)
def _code_stamp() -> str:
    """What besides a chart's own code and numbers decides its image: this module and matplotlib's version."""
    import matplotlib

    return hashlib.sha256(Path(__file__).read_bytes() + matplotlib.__version__.encode()).hexdigest()


def drawn(maxsize: int = 512) -> Callable:
    """Keep a chart function's images by its arguments: in this process (the last `maxsize`), and on disk under
    ACADEMY_VAR_DIR/chart-images for every portal process (a gunicorn worker draws a chart another already drew only
    once: the dashboard's 18 take seconds). A chart is a pure function of its numbers, so the key, an HMAC under
    the portal's secret of the function's source, this module, matplotlib's version and the arguments, can never
    name a stale image; what is read back must be a base64 SVG data: URL, else it is drawn again.

    The function then answers an Image (its address, /charts/<key>.svg, see image()); where the store cannot keep
    the image (a full or read-only disk), the image itself as a data: URL."""
    def wrap(draw: Callable[..., Markup]) -> Callable[..., Markup]:
        source = inspect.getsource(draw)

        def store(secret: bytes, *args: Any) -> str:
            message = _CONTEXT + f"{_code_stamp()}\n{source}\n{args!r}".encode()
            key = hmac.new(secret, message, hashlib.sha256).hexdigest()
            path = _folder() / f"{key}.txt"
            try:
                text = path.read_text("ascii")
                if _DRAWN.fullmatch(text):
                    os.utime(path)  # recently used: kept when the store is trimmed
                    return key
            except (OSError, UnicodeDecodeError):
                pass
            image = str(draw(*args))
            return key if _store(path, image) else image

        stored = functools.lru_cache(maxsize=maxsize)(store)

        @functools.wraps(draw)
        def kept(*args: Any) -> Markup | Image:
            if not has_request_context():
                return Markup(draw(*args))  # not for a page (a script): the image itself
            secret = _secret()
            found = stored(secret, *args)
            if found.startswith("data:"):
                return Markup(found)
            try:
                os.utime(_folder() / f"{found}.txt")  # in use: kept when the store is trimmed
            except OSError:
                found = store(secret, *args)  # trimmed meanwhile (or the disk went away): stored again
                if found.startswith("data:"):
                    return Markup(found)
            return Image(found)

        kept.cache_clear = stored.cache_clear  # type: ignore[attr-defined]
        return kept
    return wrap


def _folder() -> Path:
    from academy.config import var_dir

    return var_dir() / FOLDER


def _secret() -> bytes:
    secret = current_app.secret_key
    return secret.encode() if isinstance(secret, str) else bytes(secret or b"")


_NAME = re.compile(r"[0-9a-f]{64}")


@bp.get("/charts/<name>.svg")
@allow(Role.ADMIN, Role.PROVINCE, Role.INSTRUCTOR)
def image(name: str) -> Response:
    """Answer a stored chart to the roles whose pages show stored charts (a trainee's own charts are in their
    pages): its name is its capability (only the page that shows the chart knows it) and its content never
    changes, so the browser may keep it, in its own cache and for an hour at most."""
    path = _folder() / f"{name}.txt" if _NAME.fullmatch(name) else None
    try:
        text = path.read_text("ascii") if path is not None else ""
    except (OSError, UnicodeDecodeError):
        text = ""
    if path is None or not _DRAWN.fullmatch(text):
        abort(404)
    try:
        os.utime(path)  # in use: kept when the store is trimmed
    except OSError:
        pass  # trimmed meanwhile, or a read-only disk: the image read stands
    return Response(base64.b64decode(text.split(",", 1)[1]), mimetype="image/svg+xml", headers={
        "Cache-Control": "private, max-age=3600, immutable",
        "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; sandbox",
    })


def _store(path: Path, text: str) -> bool:
    """Write one image atomically (readers see all of it or none); trim the store now and then. Return whether
    the image is in the store."""
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=folder, suffix=".tmp", delete=False, encoding="ascii") as out:
            try:
                out.write(text)
            except OSError:
                out.close()
                os.unlink(out.name)  # a half-written temporary file is not left behind (a full disk)
                raise
        os.replace(out.name, path)
    except OSError:
        return False  # the store is a cache: a full or read-only disk only means drawing again (into the page)
    if int(path.name[:2], 16) == 0:  # about one write in 256
        _trim(folder)
    return True


def _trim(folder: Path) -> None:
    """Remove the images unused for a day, and beyond STORE_LIMIT the least recently used of those not in use (an
    image used in the last IN_USE_SECONDS may be named by a page a process keeps)."""
    now = time.time()
    used: list[tuple[float, Path]] = []
    for entry in folder.glob("*.txt"):
        try:
            used.append((entry.stat().st_mtime, entry))
        except OSError:
            continue  # removed by another process meanwhile
    used.sort()
    extra = len(used) - STORE_LIMIT
    for when, entry in used:
        if now - when > UNUSED_SECONDS or (extra > 0 and now - when > IN_USE_SECONDS):
            entry.unlink(missing_ok=True)
            extra -= 1


def figure(width: float, height: float) -> tuple[Any, Any]:
    """Return a new (figure, axes). Figures are made without pyplot, whose global state is not safe to share
    between the threads of one portal process (matplotlib's advice for web servers)."""
    fig = _setup()(figsize=(width, height))
    return fig, fig.subplots()


def svg_data_url(fig: Any) -> Markup:
    """Return the figure as an SVG data: URL (Markup: base64 needs no escaping, and escaping a page's worth of
    charts, hundreds of kilobytes, would cost every view milliseconds)."""
    out = io.BytesIO()
    fig.savefig(out, format="svg", bbox_inches="tight", metadata={"Date": None})
    return Markup("data:image/svg+xml;base64," + base64.b64encode(out.getvalue()).decode("ascii"))


def hbar(labels: list[str], values: list[float], *, xmax: float, xlabel: str, color: str = BRAND,
         personal: bool = False) -> str:
    """A horizontal bar per label (first label on top), as an SVG data: URL. A personal chart (one trainee's own
    scores or levels) is kept in this process only, never on disk, where retention and erasure could not reach it."""
    args = (tuple(labels), tuple(float(v) for v in values), xmax, xlabel, color)
    return _own_hbar(*args) if personal else _hbar(*args)


def _draw_hbar(labels: tuple[str, ...], values: tuple[float, ...], xmax: float, xlabel: str, color: str) -> str:
    fig, ax = figure(4.4, 0.32 * len(labels) + 0.9)
    ax.barh(list(reversed(labels)), list(reversed(values)), color=color)
    ax.set_xlim(0, xmax)
    ax.set_xlabel(xlabel)
    return svg_data_url(fig)


# A chart is a pure function of its arguments: the same numbers give the same image, so the images of the
# numbers drawn are kept (drawing one costs tens of milliseconds; a changed number is a new key).
_hbar = drawn()(_draw_hbar)
_own_hbar = functools.lru_cache(maxsize=512)(_draw_hbar)


def competency_chart(profile: list[Any], locale: str) -> str:
    """A trainee's skill levels (1-5), strongest first (placements/profiles.py SkillLevel)."""
    labels = [s.name_ko if locale == "ko" else s.name_en for s in profile]
    return hbar(labels, [s.level for s in profile], xmax=5, xlabel="수준 / level (1–5)", personal=True)


def progress_chart(rows: list[Any]) -> str:
    """A trainee's score in percent per assignment of a course, in course order (courses/services.py MyAssignment);
    an ungraded one shows no bar."""
    labels = [r.assignment.nbgrader_name for r in rows]
    values = [100 * r.grade.score / r.grade.max_score if r.grade and r.grade.max_score else 0.0 for r in rows]
    return hbar(labels, values, xmax=100, xlabel="점수 (%) / score (%)", color=OK, personal=True)


def outcome_charts(frame: Any, total: str, metrics: dict[str, tuple[str, float]]) -> dict[str, str]:
    """One bar chart per metric of an outcome frame (reports/frames.py), a bar per group (the total row left out):
    metrics maps a column to (axis label, scale: 100 for a rate shown in percent, 1 for a number)."""
    groups = [key for key in frame.index if key != total]
    charts = {}
    for column, (label, scale) in metrics.items():
        values = [float(frame.at[key, column]) * scale for key in groups]
        present = [(str(k), v) for k, v in zip(groups, values) if v == v]  # NaN: no data for that group
        if present:
            top = 100.0 if scale == 100 else max(v for _k, v in present) * 1.1 or 1.0
            charts[column] = hbar([k for k, _v in present], [v for _k, v in present], xmax=top, xlabel=label)
    return charts


def lines(xs: list[str], series: dict[str, list[float | None]], *, ylabel: str, ymax: float | None = None) -> str:
    """A line with markers per series over the same x values (None: no point), a legend where there are
    several series; as an SVG data: URL."""
    numbers = tuple((str(name), tuple(None if v is None or v != v else float(v) for v in values))
                    for name, values in series.items())
    return _lines(tuple(str(x) for x in xs), numbers, str(ylabel), None if ymax is None else float(ymax))


@drawn()  # kept by its numbers, as _hbar
def _lines(xs: tuple[str, ...], numbers: tuple[tuple[str, tuple[float | None, ...]], ...], ylabel: str,
           ymax: float | None) -> str:
    series = dict(numbers)
    fig, ax = figure(4.4, 2.4)
    positions = list(range(len(xs)))
    for i, (name, values) in enumerate(series.items()):
        points = [(x, v) for x, v in zip(positions, values) if v is not None and v == v]
        if points:
            ax.plot([x for x, _v in points], [v for _x, v in points], marker="o", label=name,
                    color=BRAND if len(series) == 1 else None, linewidth=1.5)
    ax.set_xticks(positions, xs)
    if len(xs) > 4:
        ax.tick_params(axis="x", labelrotation=45, labelsize=7)
    ax.set_xlim(-0.5, len(xs) - 0.5)
    top = ymax or max([v for vs in series.values() for v in vs if v is not None and v == v] or [0]) * 1.1 or 1.0
    ax.set_ylim(0, top)
    ax.set_ylabel(ylabel)
    if len(series) > 1 and ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7, loc="lower left", ncol=2, frameon=False)  # scores sit high: the bottom is free
    return svg_data_url(fig)
