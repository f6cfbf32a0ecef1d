"""A PNG bar chart of referrals per goal and week, large enough to read on a phone.

matplotlib is imported inside the function, so starting the bot does not pay for it, and pyplot is
never used: a Figure with the Agg canvas keeps no global state and can be drawn in a worker thread.
"""

from __future__ import annotations

import io

from babel.dates import format_skeleton
from babel.numbers import format_decimal

from bot.i18n import Translator
from bot.stats import Report

WIDTH, HEIGHT, DPI = 1200, 800, 100
# Okabe-Ito colours: distinguishable with the common colour-vision deficiencies.
COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
MAX_LABELLED_WEEKS = 8  # numbers on top of the bars while there is room for them


def referrals_chart(report: Report, tr: Translator) -> bytes:
    """Grouped bars: for each week of the report, one bar per goal; goal names translated."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    _ = tr.gettext
    weeks = report.weeks
    goals = list(report.goal_names) + [
        slug for w in weeks[:1] for slug in w.goals if slug not in report.goal_names
    ]
    figure = Figure(figsize=(WIDTH / DPI, HEIGHT / DPI), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    group = 0.8
    width = group / max(len(goals), 1)
    positions = list(range(len(weeks)))
    for index, slug in enumerate(goals):
        offsets = [x - group / 2 + width * (index + 0.5) for x in positions]
        values = [w.goals.get(slug, 0) for w in weeks]
        bars = axes.bar(
            offsets,
            values,
            width=width * 0.92,
            color=COLOURS[index % len(COLOURS)],
            label=_(report.goal_names.get(slug, slug)),
        )
        if len(weeks) <= MAX_LABELLED_WEEKS:
            axes.bar_label(
                bars,
                labels=[format_decimal(v, locale=tr.locale) for v in values],
                fontsize=15,
                padding=3,
            )
    step = max(1, -(-len(weeks) // 12))  # at most about twelve week labels
    axes.set_xticks(positions[::step])
    axes.set_xticklabels(
        [
            f"W{w.week.week:02d}\n{format_skeleton('MMMd', w.week.start, locale=tr.locale)}"
            for w in weeks[::step]
        ],
        fontsize=17,
    )
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.yaxis.set_major_formatter(
        FuncFormatter(lambda value, _pos: format_decimal(int(value), locale=tr.locale))
    )
    axes.tick_params(axis="y", labelsize=17)
    top = max((w.goals.get(slug, 0) for w in weeks for slug in goals), default=0)
    axes.set_ylim(0, max(top * 1.15, 1))
    axes.grid(axis="y", alpha=0.3)
    axes.set_axisbelow(True)
    axes.spines[["top", "right"]].set_visible(False)
    # Translators: title of the staff chart.
    axes.set_title(_("Referrals per goal and week"), fontsize=26, pad=16)
    # Translators: label of the chart's vertical axis.
    axes.set_ylabel(_("Referrals"), fontsize=19)
    if weeks:
        first, last = weeks[0].week, weeks[-1].week
        axes.set_xlabel(f"{first} – {last}" if first != last else str(first), fontsize=17)
    axes.legend(
        loc="upper center",
        bbox_to_anchor=(0.5, -0.2),
        ncols=2,
        fontsize=17,
        frameon=False,
    )
    out = io.BytesIO()
    figure.savefig(out, format="png", dpi=DPI, metadata={"Software": None})
    return out.getvalue()
