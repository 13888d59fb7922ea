"""A matplotlib figure as an inline PNG image (R: ``content_image_plot()``).

matplotlib is not a dependency: it is imported only when a plot is captured,
and ``pyplot`` only when the current figure is asked for (never to create
one). The figure is drawn at the size asked for, then given back its own
size, so the user's figure, window and backend are left as they were.
"""

from __future__ import annotations

import io
import math
import sys
from typing import Any

from ._content import ContentImageInline
from ._content_files import MAX_IMAGE_BYTES
from ._errors import ConfigurationError

__all__ = ["content_image_plot"]

#: Dots per inch the plot is drawn at: matplotlib's default (R's ``png()`` uses 72).
PLOT_DPI = 100


def _pixels(value: Any, name: str) -> int:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not float(value).is_integer()
        or value < 1
    ):
        raise ConfigurationError(
            f"content_image_plot(): {name} must be a whole number of pixels, 1 or more, "
            f"not {value!r}."
        )
    return int(value)


def _inches(pixels: int) -> float:
    """``pixels / PLOT_DPI``, nudged up so that matplotlib never rounds it down a pixel."""
    inches = pixels / PLOT_DPI
    while inches * PLOT_DPI < pixels:
        inches = math.nextafter(inches, math.inf)
    return inches


def _current_figure() -> Any:
    """pyplot's current figure; never one pyplot would create just to answer."""
    pyplot = sys.modules.get("matplotlib.pyplot")  # not imported: no figure can be open
    if pyplot is None or not pyplot.get_fignums():
        raise ConfigurationError(
            "content_image_plot(): no plot to capture: there is no open matplotlib figure. "
            "Draw one first (e.g. plt.plot(...)), or pass the figure as fig=."
        )
    return pyplot.gcf()


def _is_empty(fig: Any) -> bool:
    parts = ("axes", "artists", "texts", "images", "lines", "patches", "legends", "subfigs")
    return not any(getattr(fig, part, None) for part in parts)


def content_image_plot(width: int = 768, height: int = 768, fig: Any = None) -> ContentImageInline:
    """The current matplotlib figure as a PNG image (R: ``content_image_plot()``).

    ``fig`` is the figure to capture (a ``matplotlib.figure.Figure``); by
    default pyplot's current figure (``plt.gcf()``), which must exist:
    ``ConfigurationError`` when no figure is open or it is empty. The figure
    is drawn at ``width`` x ``height`` pixels (R's defaults, 768 x 768) at
    100 dpi, its layout fitted to that size, whatever the backend; the
    figure itself keeps its size. Needs matplotlib (only when called).
    """
    width = _pixels(width, "width")
    height = _pixels(height, "height")
    if fig is None:
        fig = _current_figure()
    else:
        figure_module = sys.modules.get("matplotlib.figure")  # no Figure without it
        if figure_module is None or not isinstance(fig, figure_module.Figure):
            hint = " (for an Axes, pass ax.figure)" if hasattr(fig, "get_figure") else ""
            raise ConfigurationError(
                "content_image_plot(): fig must be a matplotlib Figure"
                f"{hint}, not {type(fig).__name__}."
            )
    if _is_empty(fig):
        raise ConfigurationError(
            "content_image_plot(): no plot to capture: the figure is empty. "
            "Draw something on it first."
        )
    import matplotlib

    size = tuple(fig.get_size_inches())
    buffer = io.BytesIO()
    try:
        fig.set_size_inches(_inches(width), _inches(height), forward=False)
        # "standard": the whole figure, even if the user's rc asks for bbox "tight".
        with matplotlib.rc_context({"savefig.bbox": "standard"}):
            fig.savefig(buffer, format="png", dpi=PLOT_DPI)
    finally:
        fig.set_size_inches(*size, forward=False)
    data = buffer.getvalue()
    if len(data) > MAX_IMAGE_BYTES:
        raise ConfigurationError(
            f"content_image_plot(): the {width}x{height} PNG is {len(data) / 2**20:.1f} MB; "
            f"images sent inline may be at most {MAX_IMAGE_BYTES / 2**20:.1f} MB. "
            "Use a smaller width and height."
        )
    return ContentImageInline("image/png", data)
