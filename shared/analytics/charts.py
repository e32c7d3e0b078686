"""A campaign's numbers as HTML: two server-rendered SVG line charts (views and engagement rate per
day, one line per platform) and the tables of the same numbers under them. One fragment, embedded by
the standalone campaign page (shared/analytics/page.py) and by the console's campaign page, styled by
one stylesheet (charts.css beside this module) that each serves its own way: the standalone page
inline under its hash, the console as a static file. No script. Colours are SVG presentation
attributes (not style attributes, which a strict Content-Security-Policy blocks), and each platform
also has its own dash pattern and marker so the lines can be told apart without colour. A day that
counts a manually recorded snapshot (shared/analytics/manual.py) is a hollow point saying so, and
its posts cell says how many were recorded manually.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from jinja2 import Environment, select_autoescape
from markupsafe import Markup

from shared.analytics.campaign import METRICS, CampaignNumbers
from shared.model.platform import display_name

_env = Environment(autoescape=select_autoescape(default=True, default_for_string=True), trim_blocks=True,
                   lstrip_blocks=True)

# Okabe-Ito colours (distinct for the common colour-vision deficiencies), each with a dash pattern.
_SERIES_STYLE = {"tiktok": ("#0072B2", ""), "instagram": ("#D55E00", "6 3"), "x": ("#009E73", "2 3"),
                 "youtube": ("#CC79A7", "8 3 2 3"), "linkedin": ("#E69F00", "12 4"), "buffer": ("#56B4E9", "4 2")}
_FALLBACK_STYLES = [("#000000", "1 2"), ("#000000", "6 2 1 2")]

# Chart geometry in viewBox units; the SVG scales to the page width.
_W, _H = 640, 280
_LEFT, _RIGHT, _TOP, _BOTTOM = 64, 28, 16, 44  # room for half of the last day's label at the right
_MAX_X_LABELS = 8

STYLESHEET = Path(__file__).resolve().parent / "charts.css"
# Every rule is scoped to the fragment's wrapper, so the console's own stylesheet and this one stay apart.
WRAPPER_CLASS = "campaign-numbers"
CSS = STYLESHEET.read_text(encoding="utf-8")


def count_text(value: int | None) -> str:
    return "n/a" if value is None else f"{value:,}"


def rate_text(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.2f} %"


@dataclass(frozen=True)
class Series:
    platform: str
    name: str
    colour: str
    dash: str
    points: list[tuple[float, float, str, bool]]  # x, y, point label, counts a manual snapshot
    path: str


@dataclass(frozen=True)
class Chart:
    ident: str
    title: str
    description: str
    series: list[Series]
    y_ticks: list[tuple[float, str]]
    x_ticks: list[tuple[float, str]]
    width: int = _W
    height: int = _H
    left: int = _LEFT
    right: int = _W - _RIGHT
    top: int = _TOP
    bottom: int = _H - _BOTTOM


def _styles(platforms: list[str]) -> dict[str, tuple[str, str]]:
    spare = iter(_FALLBACK_STYLES)
    return {p: _SERIES_STYLE.get(p) or next(spare, ("#59636e", "")) for p in platforms}


def nice_max(value: float) -> float:
    """The smallest 1, 2, 2.5 or 5 times a power of ten at or above value (the axis top)."""
    if value <= 0:
        return 1.0
    magnitude = 10.0 ** math.floor(math.log10(value))
    return next(step * magnitude for step in (1, 2, 2.5, 5, 10) if step * magnitude >= value * (1 - 1e-9))


def _chart(ident: str, title: str, numbers: CampaignNumbers, value_of, label_of, axis_label) -> Chart:
    """One line per platform over every day of the range; value_of(day row) is None where there is no number."""
    days = [numbers.from_ + timedelta(days=i) for i in range((numbers.to - numbers.from_).days + 1)]
    platforms = sorted({d.platform for d in numbers.days})
    styles = _styles(platforms)
    values = [value_of(d) for d in numbers.days if value_of(d) is not None]
    top = nice_max(max(values, default=0))
    span_x = _W - _RIGHT - _LEFT

    def x_of(day: date) -> float:
        if len(days) == 1:
            return _LEFT + span_x / 2
        return round(_LEFT + span_x * (day - days[0]).days / (len(days) - 1), 2)

    def y_of(value: float) -> float:
        return round(_H - _BOTTOM - (_H - _BOTTOM - _TOP) * value / top, 2)

    series = []
    for platform in platforms:
        points = [(x_of(d.date), y_of(value_of(d)),
                   f"{display_name(platform)}, {d.date.isoformat()}: {label_of(d)}{_manual_note(d.manual_posts)}",
                   d.manual_posts > 0)
                  for d in sorted(numbers.days, key=lambda d: d.date) if d.platform == platform and value_of(d) is not None]
        path = " ".join(f"{'M' if i == 0 else 'L'}{x},{y}" for i, (x, y, _, _) in enumerate(points))
        colour, dash = styles[platform]
        series.append(Series(platform, display_name(platform), colour, dash, points, path))
    y_ticks = [(y_of(top * i / 4), axis_label(top * i / 4)) for i in range(5)]
    every = max(1, -(-len(days) // _MAX_X_LABELS))
    x_ticks = [(x_of(day), day.strftime("%b %d")) for day in days[::every]]
    first, last = days[0].isoformat(), days[-1].isoformat()
    described = "; ".join(f"{s.name}: {len(s.points)} day{'s' if len(s.points) != 1 else ''}"
                          + (f", {sum(p[3] for p in s.points)} with manually recorded numbers"
                             if any(p[3] for p in s.points) else "") for s in series)
    description = (f"Line chart of {title.lower()} from {first} to {last}, one line per platform ({described}). "
                   "The table below the charts has every number.") if series else f"No numbers from {first} to {last}."
    return Chart(ident, title, description, series, y_ticks, x_ticks)


def _manual_note(manual_posts: int) -> str:
    if not manual_posts:
        return ""
    return f" (includes {manual_posts} manually recorded snapshot{'s' if manual_posts != 1 else ''})"


def posts_text(posts: int, manual_posts: int) -> str:
    """A posts cell: how many posts, and how many of them count a manually recorded snapshot."""
    return f"{count_text(posts)} ({manual_posts} manual)" if manual_posts else count_text(posts)


def _count_unit(value: float) -> str:
    if value >= 1_000_000:
        return f"{value / 1_000_000:g}M"
    if value >= 1_000:
        return f"{value / 1_000:g}k"
    return f"{value:g}"


_FRAGMENT = _env.from_string("""<div class="{{ wrapper }}">
<p class="muted">Numbers from {{ numbers.from_.isoformat() }} to {{ numbers.to.isoformat() }} (UTC days). Each day
counts every post's last snapshot of that day, so a day shows where the campaign stood at its end.</p>
{% if not numbers.days %}
<p id="empty">No numbers for this campaign between {{ numbers.from_.isoformat() }} and {{ numbers.to.isoformat() }}
yet.</p>
{% else %}
<ul class="legend" aria-label="Platforms">
{% for s in charts[0].series %}
<li data-platform="{{ s.platform }}"><svg viewBox="0 0 28 12" width="28" height="12" aria-hidden="true" focusable="false"><line x1="1" y1="6"
 x2="27" y2="6" stroke="{{ s.colour }}" stroke-width="3"{% if s.dash %} stroke-dasharray="{{ s.dash }}"{% endif %}/></svg>{{ s.name }}</li>
{% endfor %}
</ul>
{% if any_manual %}
<p class="muted" id="manual-note">A hollow point includes numbers recorded by hand (not pulled from the platform);
the tables say how many posts were counted with such a snapshot.</p>
{% endif %}
{% for chart in charts %}
<figure>
<figcaption id="{{ chart.ident }}-caption">{{ chart.title }}</figcaption>
<svg class="chart" id="{{ chart.ident }}" viewBox="0 0 {{ chart.width }} {{ chart.height }}" role="img"
 aria-labelledby="{{ chart.ident }}-title {{ chart.ident }}-desc" xmlns="http://www.w3.org/2000/svg">
<title id="{{ chart.ident }}-title">{{ chart.title }}</title>
<desc id="{{ chart.ident }}-desc">{{ chart.description }}</desc>
{% for y, label in chart.y_ticks %}
<line class="grid" x1="{{ chart.left }}" x2="{{ chart.right }}" y1="{{ y }}" y2="{{ y }}"/>
<text x="{{ chart.left - 8 }}" y="{{ y + 4 }}" text-anchor="end">{{ label }}</text>
{% endfor %}
<line class="axis" x1="{{ chart.left }}" x2="{{ chart.right }}" y1="{{ chart.bottom }}" y2="{{ chart.bottom }}"/>
{% for x, label in chart.x_ticks %}
<text x="{{ x }}" y="{{ chart.bottom + 20 }}" text-anchor="middle">{{ label }}</text>
{% endfor %}
{% for s in chart.series %}
<g class="series" data-platform="{{ s.platform }}">
<path d="{{ s.path }}" fill="none" stroke="{{ s.colour }}" stroke-width="2.5"{% if s.dash %} stroke-dasharray="{{ s.dash }}"{% endif %}/>
{% for x, y, label, manual in s.points %}
{% if manual %}
<circle class="manual" data-manual="true" cx="{{ x }}" cy="{{ y }}" r="4" fill="#ffffff" stroke="{{ s.colour }}" stroke-width="2"><title>{{ label }}</title></circle>
{% else %}
<circle cx="{{ x }}" cy="{{ y }}" r="4" fill="{{ s.colour }}"><title>{{ label }}</title></circle>
{% endif %}
{% endfor %}
</g>
{% endfor %}
</svg>
</figure>
{% endfor %}
{% endif %}
<h{{ level }} id="days-heading">Per day</h{{ level }}>
<div class="table-wrap" role="region" aria-labelledby="days-heading" tabindex="0">
<table id="days">
<thead><tr><th scope="col">Date</th><th scope="col" class="text">Platform</th><th scope="col">Posts</th>
{% for m in metric_titles %}<th scope="col">{{ m }}</th>{% endfor %}<th scope="col">Engagement</th></tr></thead>
<tbody>
{% for d in numbers.days %}
<tr data-date="{{ d.date.isoformat() }}" data-platform="{{ d.platform }}"><td>{{ d.date.isoformat() }}</td>
<td class="text">{{ name(d.platform) }}</td><td>{{ posts(d.posts, d.manual_posts) }}</td>
{% for m in metrics %}<td>{{ count(d[m]) }}</td>{% endfor %}<td>{{ rate(d.engagement_rate) }}</td></tr>
{% else %}
<tr><td colspan="{{ metrics|length + 4 }}">No days with numbers.</td></tr>
{% endfor %}
</tbody>
</table>
</div>
<h{{ level }} id="totals-heading">Totals per platform</h{{ level }}>
<p class="muted">Each post's last snapshot in the range.</p>
<div class="table-wrap" role="region" aria-labelledby="totals-heading" tabindex="0">
<table id="totals">
<thead><tr><th scope="col" class="text">Platform</th><th scope="col">Posts</th>
{% for m in metric_titles %}<th scope="col">{{ m }}</th>{% endfor %}<th scope="col">Engagement</th></tr></thead>
<tbody>
{% for t in numbers.totals %}
<tr data-platform="{{ t.platform }}"><td class="text">{{ name(t.platform) }}</td><td>{{ posts(t.posts, t.manual_posts) }}</td>
{% for m in metrics %}<td>{{ count(t[m]) }}</td>{% endfor %}<td>{{ rate(t.engagement_rate) }}</td></tr>
{% else %}
<tr><td colspan="{{ metrics|length + 3 }}">No posts with numbers.</td></tr>
{% endfor %}
</tbody>
</table>
</div>
</div>""")


def numbers_html(numbers: CampaignNumbers, *, heading_level: int = 2) -> Markup:
    """The charts and tables of `numbers`; their headings at `heading_level` (the page around them has
    the level above). The page must carry CSS."""
    charts = [
        _chart("views-chart", "Views per day", numbers, lambda d: d.views, lambda d: f"{count_text(d.views)} views",
               _count_unit),
        _chart("engagement-chart", "Engagement rate per day", numbers, lambda d: d.engagement_rate,
               lambda d: f"{rate_text(d.engagement_rate)} engagement", lambda v: f"{v * 100:g}%"),
    ]
    return Markup(_FRAGMENT.render(numbers=numbers, charts=charts, wrapper=WRAPPER_CLASS, level=heading_level,
                                   metrics=METRICS, metric_titles=[m.capitalize() for m in METRICS],
                                   name=display_name, count=count_text, rate=rate_text, posts=posts_text,
                                   any_manual=any(d.manual_posts for d in numbers.days)))
