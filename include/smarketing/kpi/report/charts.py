"""Charts as inline SVG, drawn by matplotlib (no JavaScript, no network: the file prints as it shows).

Matplotlib's object API (`Figure`, no pyplot) keeps no global state, so reports can be drawn in
parallel tasks. Text stays text in the SVG (`svg.fonttype: none`: small, selectable, searchable), and the
ids matplotlib gives clip paths are salted with the chart's own id so several charts inline in one page
never share one; with no date in the metadata the same numbers give the same bytes.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import matplotlib as mpl
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, PercentFormatter

PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f")
STYLE = {
    "svg.fonttype": "none",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.prop_cycle": mpl.cycler(color=PALETTE),
}

Series = dict[str, Sequence[float | None]]


def _plain(labels: Sequence[str]) -> list[str]:
    """Names from the warehouse (campaigns, channels) drawn as written: a "$" would start mathtext."""
    return [str(label).replace("$", r"\$") for label in labels]


def _values(values: Sequence[float | None]) -> np.ndarray:
    return np.array([np.nan if v is None else float(v) for v in values], dtype=float)


def _svg(chart_id: str, fig: Figure) -> str:
    buffer = io.StringIO()
    with mpl.rc_context({"svg.hashsalt": chart_id, **STYLE}):
        fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    text = buffer.getvalue()
    # the XML prolog and DOCTYPE are for a file of its own, not an element inside HTML
    return text[text.index("<svg") :]


def _figure(height: float = 2.8) -> Figure:
    with mpl.rc_context(STYLE):
        fig = Figure(figsize=(7.2, height))
        fig.add_subplot()
    return fig


def _axis_format(ax: object, unit: str, axis: str = "y") -> None:
    target = ax.yaxis if axis == "y" else ax.xaxis  # type: ignore[attr-defined]
    if unit == "share":
        target.set_major_formatter(PercentFormatter(1.0, decimals=0))
    else:
        target.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}" if abs(v) >= 10 else f"{v:g}"))


def bars(chart_id: str, labels: Sequence[str], series: Series, *, title: str, unit: str = "count") -> str:
    """Grouped vertical bars: one group per label, one bar per series. `unit` "share" writes %."""
    with mpl.rc_context(STYLE):
        fig = _figure()
        ax = fig.axes[0]
        x = np.arange(len(labels))
        width = 0.8 / max(len(series), 1)
        for i, (name, values) in enumerate(series.items()):
            ax.bar(x + (i - (len(series) - 1) / 2) * width, _values(values), width, label=_plain([name])[0])
        ax.set_xticks(
            x,
            _plain(labels),
            rotation=30 if len(labels) > 6 else 0,
            ha="right" if len(labels) > 6 else "center",
        )
        _axis_format(ax, unit)
        _finish(ax, title, legend=len(series) > 1)
        return _svg(chart_id, fig)


def hbars(chart_id: str, labels: Sequence[str], series: Series, *, title: str, unit: str = "count") -> str:
    """Grouped horizontal bars (long category names: channels, campaigns), first label on top."""
    with mpl.rc_context(STYLE):
        fig = _figure(height=max(2.4, 0.32 * len(labels) * max(1, len(series)) ** 0.5 + 1))
        ax = fig.axes[0]
        y = np.arange(len(labels))
        height = 0.8 / max(len(series), 1)
        for i, (name, values) in enumerate(series.items()):
            ax.barh(
                y + (i - (len(series) - 1) / 2) * height, _values(values), height, label=_plain([name])[0]
            )
        ax.set_yticks(y, _plain(labels))
        ax.invert_yaxis()
        _axis_format(ax, unit, axis="x")
        _finish(ax, title, legend=len(series) > 1)
        return _svg(chart_id, fig)


def lines(
    chart_id: str,
    labels: Sequence[str],
    series: Series,
    *,
    title: str,
    unit: str = "count",
    hollow: Sequence[bool] = (),
) -> str:
    """One line per series over ordered labels (months). `hollow[i]`: point i is provisional (open cohort)."""
    with mpl.rc_context(STYLE):
        fig = _figure()
        ax = fig.axes[0]
        x = np.arange(len(labels))
        for name, values in series.items():
            (line,) = ax.plot(x, _values(values), marker="o", label=_plain([name])[0])
            if any(hollow):
                marks = _values(values)[np.array(hollow, dtype=bool)]
                ax.plot(x[np.array(hollow, dtype=bool)], marks, "o", mfc="white", mec=line.get_color())
        ax.set_xticks(x, labels)
        _axis_format(ax, unit)
        _finish(ax, title, legend=len(series) > 1)
        return _svg(chart_id, fig)


def trend(
    chart_id: str,
    rows: Sequence[Mapping[str, Any]],
    *,
    x: str,
    series: str,
    value: str,
    title: str,
    unit: str = "count",
    name: Callable[[Any], str] = str,
) -> str:
    """One line per distinct `series` value over the sorted months in `x` (long rows: month, series,
    value); a month a series has no row for is a gap. `name` writes a series value as its legend label."""
    months = sorted({row[x] for row in rows})
    values = {(row[series], row[x]): row[value] for row in rows}
    names = list(dict.fromkeys(row[series] for row in rows))
    return lines(
        chart_id,
        [f"{m:%b %Y}" for m in months],
        {name(s): [values.get((s, m)) for m in months] for s in names},
        title=title,
        unit=unit,
    )


def _finish(ax: object, title: str, *, legend: bool) -> None:
    ax.set_title(title, loc="left", fontsize=10)  # type: ignore[attr-defined]
    ax.grid(axis="both", alpha=0.25)  # type: ignore[attr-defined]
    if legend:
        ax.legend(frameon=False, fontsize=8)  # type: ignore[attr-defined]
