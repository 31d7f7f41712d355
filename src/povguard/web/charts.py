"""Charts and the map as inline SVG made on the server (no script, no network).

Colours are SVG presentation attributes and classes (the content security policy
blocks inline ``style``). :func:`line_chart` draws monthly series;
:func:`region_map` draws regions as the Voronoi cells of their centroids, clipped to
a padded bounding box, shaded by at-risk rate, each cell a link.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape
from typing import Final

from markupsafe import Markup

Point = tuple[float, float]

#: Shading classes of the map, lightest first, with their upper bounds (rate).
RATE_BINS: Final = (0.02, 0.05, 0.1, 0.2, 0.4)
#: Fill of each shade (class ``shade-<i>``), lightest first; ``shade-none`` is grey.
SHADES: Final = ("#fff5eb", "#fdd0a2", "#fdae6b", "#f16913", "#d94801", "#8c2d04")
NO_DATA: Final = "#e5e7eb"
#: Line colours of the series, in order.
COLOURS: Final = ("#0b5cad", "#b42318", "#3b6e22", "#b54708", "#6941c6", "#0e7490")


def shade_index(rate: float | None) -> int | None:
    """Index of the shade of an at-risk rate (None: no households)."""
    if rate is None:
        return None
    for i, bound in enumerate(RATE_BINS):
        if rate < bound:
            return i
    return len(RATE_BINS)


def _num(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


# ---------------------------------------------------------------------- lines


@dataclass(frozen=True)
class Series:
    """A named series of values (None: missing) over the chart's labels."""

    name: str
    values: Sequence[float | None]


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    exp = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * exp:
            return float(step * exp)
    return float(10 * exp)


def line_chart(
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    title: str,
    testid: str = "trend-chart",
    width: int = 640,
    height: int = 240,
    fmt: Callable[[float], str] = lambda v: f"{v:,.0f}",
) -> Markup:
    """An SVG line chart of ``series`` over ``labels`` (x axis) with a legend.

    Parameters
    ----------
    labels
        The x values' labels (e.g. periods).
    series
        The lines; a None value breaks its line.
    title
        Accessible title of the chart.
    testid
        ``data-testid`` of the ``svg`` element.
    width, height
        Size of the view box.
    fmt
        Formats the axis values.

    Returns
    -------
    Markup
        The ``<svg>`` element.
    """
    left, right, top, bottom = 56, 12, 12, 44
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [v for s in series for v in s.values if v is not None]
    top_value = _nice_max(max(values)) if values else 1.0
    n = len(labels)

    def x(i: int) -> float:
        return left + (plot_w * i / (n - 1) if n > 1 else plot_w / 2)

    def y(v: float) -> float:
        return top + plot_h - plot_h * v / top_value

    parts = [
        f'<svg class="chart" data-testid="{escape(testid)}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
    ]
    for k in range(5):
        tick = top_value * k / 4
        parts.append(
            f'<line class="grid" x1="{left}" x2="{width - right}" y1="{_num(y(tick))}" '
            f'y2="{_num(y(tick))}" stroke="#d1d9e0" stroke-width="1"/>'
            f'<text x="{left - 6}" y="{_num(y(tick) + 4)}" text-anchor="end" font-size="11" '
            f'fill="#59636e">{escape(fmt(tick))}</text>'
        )
    step = max(1, math.ceil(n / 8))
    for i, label in enumerate(labels):
        if i % step == 0 or i == n - 1:
            parts.append(
                f'<text x="{_num(x(i))}" y="{height - bottom + 16}" text-anchor="middle" '
                f'font-size="11" fill="#59636e">{escape(label)}</text>'
            )
    for j, s in enumerate(series):
        colour = COLOURS[j % len(COLOURS)]
        runs: list[list[str]] = [[]]
        for i, v in enumerate(s.values):
            if v is None:
                runs.append([])
                continue
            runs[-1].append(f"{_num(x(i))},{_num(y(v))}")
            parts.append(
                f'<circle cx="{_num(x(i))}" cy="{_num(y(v))}" r="2.5" fill="{colour}">'
                f"<title>{escape(s.name)} {escape(labels[i])}: {escape(fmt(v))}</title></circle>"
            )
        for run in runs:
            if len(run) > 1:
                parts.append(
                    f'<polyline class="series series-{j}" fill="none" stroke="{colour}" '
                    f'stroke-width="2" points="{" ".join(run)}"/>'
                )
        lx = left + (j % 3) * (plot_w // 3)
        ly = height - 12 + 0 * j
        if j >= 3:
            lx += 10
        parts.append(
            f'<rect x="{lx}" y="{ly - 8}" width="10" height="10" fill="{colour}"/>'
            f'<text x="{lx + 14}" y="{ly + 1}" font-size="11" fill="#1f2328">'
            f"{escape(s.name)}</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))


# ------------------------------------------------------------------------ map


@dataclass(frozen=True)
class MapCell:
    """A region to draw: centroid, at-risk rate, link and label."""

    key: str
    name: str
    lon: float | None
    lat: float | None
    rate: float | None
    href: str
    label: str


def _clip(polygon: list[Point], a: float, b: float, c: float) -> list[Point]:
    """The part of a convex polygon where ``a*x + b*y <= c`` (Sutherland-Hodgman)."""
    out: list[Point] = []
    n = len(polygon)
    for i in range(n):
        p, q = polygon[i], polygon[(i + 1) % n]
        fp, fq = a * p[0] + b * p[1] - c, a * q[0] + b * q[1] - c
        if fp <= 0:
            out.append(p)
        if (fp < 0 < fq) or (fq < 0 < fp):
            t = fp / (fp - fq)
            out.append((p[0] + t * (q[0] - p[0]), p[1] + t * (q[1] - p[1])))
    return out


def voronoi_cells(
    points: Sequence[Point], box: tuple[float, float, float, float]
) -> list[list[Point]]:
    """The Voronoi cell of each point, clipped to ``box`` (xmin, ymin, xmax, ymax).

    Each cell is the box cut by the bisector half-planes towards every other point
    (O(n^2): fine for the tens to hundreds of regions of one map). Coincident points
    share their cell.
    """
    xmin, ymin, xmax, ymax = box
    cells = []
    for i, (px, py) in enumerate(points):
        poly: list[Point] = [(xmin, ymin), (xmax, ymin), (xmax, ymax), (xmin, ymax)]
        for j, (qx, qy) in enumerate(points):
            if i == j or (qx == px and qy == py):
                continue
            # points closer to p than to q: 2(q-p).x <= |q|^2 - |p|^2
            a, b = 2 * (qx - px), 2 * (qy - py)
            c = qx * qx + qy * qy - px * px - py * py
            poly = _clip(poly, a, b, c)
            if not poly:
                break
        cells.append(poly)
    return cells


def _legend(x0: float, y0: float, title: str, no_data: str) -> list[str]:
    parts = [f'<g class="legend"><text x="{x0}" y="{y0 - 6}" font-size="12">{escape(title)}</text>']
    bounds = (0.0, *RATE_BINS)
    for i, colour in enumerate(SHADES):
        lo = bounds[i]
        text = (
            f"≥{lo * 100:.0f}%"
            if i == len(SHADES) - 1
            else f"{lo * 100:.0f}–{RATE_BINS[i] * 100:.0f}%"
        )
        y = y0 + i * 18
        parts.append(
            f'<rect class="shade-{i}" x="{x0}" y="{y}" width="14" height="14" fill="{colour}" '
            f'stroke="#59636e" stroke-width="0.5"/><text x="{x0 + 20}" y="{y + 11}" '
            f'font-size="11">{text}</text>'
        )
    y = y0 + len(SHADES) * 18
    parts.append(
        f'<rect class="shade-none" x="{x0}" y="{y}" width="14" height="14" fill="{NO_DATA}" '
        f'stroke="#59636e" stroke-width="0.5"/><text x="{x0 + 20}" y="{y + 11}" '
        f'font-size="11">{escape(no_data)}</text></g>'
    )
    return parts


def _cell_link(cell: MapCell, shape: str, label_xy: Point) -> str:
    shade = shade_index(cell.rate)
    cls = "shade-none" if shade is None else f"shade-{shade}"
    fill = NO_DATA if shade is None else SHADES[shade]
    lx, ly = label_xy
    return (
        f'<a href="{escape(cell.href)}" class="cell" data-region="{escape(cell.key)}">'
        f"<title>{escape(cell.label)}</title>"
        f"{shape.format(cls=cls, fill=fill)}"
        f'<text x="{_num(lx)}" y="{_num(ly)}" text-anchor="middle" font-size="12" '
        f'fill="#1f2328">{escape(cell.name)}</text></a>'
    )


def region_map(
    cells: Sequence[MapCell],
    *,
    title: str,
    legend_title: str,
    no_data: str,
    width: int = 640,
    height: int = 420,
) -> Markup:
    """The map: Voronoi cells of the regions' centroids, or tiles when centroids lack.

    Parameters
    ----------
    cells
        The regions; when any has no centroid, every region is drawn as a tile of a grid.
    title
        Accessible title.
    legend_title, no_data
        Legend texts.
    width, height
        Size of the view box (the legend takes the right 130 units).

    Returns
    -------
    Markup
        The ``<svg data-testid="map">`` element.
    """
    legend_w = 130
    map_w, pad = width - legend_w, 10
    parts = [
        f'<svg class="map" data-testid="map" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
    ]
    located = [c for c in cells if c.lon is not None and c.lat is not None]
    if cells and len(located) == len(cells):
        lons = [float(c.lon) for c in located if c.lon is not None]
        lats = [float(c.lat) for c in located if c.lat is not None]
        span_x = max(max(lons) - min(lons), 1e-3)
        span_y = max(max(lats) - min(lats), 1e-3)
        margin = 0.25 * max(span_x, span_y)
        box = (min(lons) - margin, min(lats) - margin, max(lons) + margin, max(lats) + margin)
        kx = math.cos(math.radians((box[1] + box[3]) / 2))  # shrink longitude at this latitude
        bw, bh = (box[2] - box[0]) * kx, box[3] - box[1]
        scale = min((map_w - 2 * pad) / bw, (height - 2 * pad) / bh)

        def project(p: Point) -> Point:
            return (pad + (p[0] - box[0]) * kx * scale, pad + (box[3] - p[1]) * scale)

        points = [(float(c.lon or 0), float(c.lat or 0)) for c in located]
        for cell, poly, pt in zip(located, voronoi_cells(points, box), points, strict=True):
            xy = [project(p) for p in poly]
            path = " ".join(f"{_num(px)},{_num(py)}" for px, py in xy)
            shape = (
                f'<polygon class="{{cls}}" points="{path}" fill="{{fill}}" '
                'stroke="#ffffff" stroke-width="1.5"/>'
            )
            parts.append(_cell_link(cell, shape, project(pt)))
    else:
        n = max(1, len(cells))
        cols = max(1, math.ceil(math.sqrt(n * map_w / height)))
        rows = math.ceil(n / cols)
        tw, th = (map_w - 2 * pad) / cols, (height - 2 * pad) / max(rows, 1)
        for i, cell in enumerate(cells):
            x0, y0 = pad + (i % cols) * tw, pad + (i // cols) * th
            shape = (
                f'<rect class="{{cls}}" x="{_num(x0 + 1)}" y="{_num(y0 + 1)}" '
                f'width="{_num(tw - 2)}" height="{_num(th - 2)}" fill="{{fill}}" '
                f'stroke="#ffffff" stroke-width="1.5"/>'
            )
            parts.append(_cell_link(cell, shape, (x0 + tw / 2, y0 + th / 2 + 4)))
    parts.extend(_legend(map_w + 10, 30, legend_title, no_data))
    parts.append("</svg>")
    return Markup("".join(parts))
