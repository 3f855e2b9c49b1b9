"""The HTML replay of a widget, for the rendered book where no Python runs.

``replay_html`` turns a figure and a function that redraws it into a
self-contained HTML slider (images inline, no script from the web);
``ReplayWidget`` is the base class of the course's widgets: its
``_repr_mimebundle_`` gives Jupyter the live widget view and, as ``text/html``,
the replay.
"""

import base64
import io
import re

import matplotlib.pyplot as plt
from matplotlib.animation import FuncAnimation
from matplotlib.figure import Figure

from coursekit._checks import check_int, describe

# ---------------------------------------------------------------------------
# The HTML replay
# ---------------------------------------------------------------------------

_BUTTON_ICONS = {
    # to_jshtml draws its buttons with Font Awesome from a CDN; we use plain characters
    '<i class="fa fa-play fa-flip-horizontal"></i>': "&#9664;",  # play backwards
    '<i class="fa fa-minus"></i>': "&minus;",
    '<i class="fa fa-fast-backward"></i>': "|&#9664;&#9664;",
    '<i class="fa fa-step-backward"></i>': "|&#9664;",
    '<i class="fa fa-pause"></i>': "||",
    '<i class="fa fa-play"></i>': "&#9654;",
    '<i class="fa fa-step-forward"></i>': "&#9654;|",
    '<i class="fa fa-fast-forward"></i>': "&#9654;&#9654;|",
    '<i class="fa fa-plus"></i>': "+",
}
_FONT_AWESOME = ('<link rel="stylesheet"\n'
                 'href="https://maxcdn.bootstrapcdn.com/font-awesome/4.4.0/css/font-awesome.min.css">')

DPI = 72
"""Resolution of the replay frames: small, so that the committed notebook stays small."""


_FRAME = re.compile(r'(data:image/png;base64,)([A-Za-z0-9+/=\\\n]+)(")')
"""A frame of ``to_jshtml``: base64 PNG data, its lines ended by a backslash."""


def _fewer_colours(html: str, colours: int) -> str:
    """Every inline PNG frame of ``html`` re-encoded with a palette of ``colours`` colours
    (plots of lines, bars and text look the same and take about a quarter of the bytes)."""
    from PIL import Image

    def encode(match):
        raw = base64.b64decode(match.group(2).replace("\\\n", ""))
        with Image.open(io.BytesIO(raw)) as image:
            small = image.convert("RGB").quantize(colors=colours)
        buffer = io.BytesIO()
        small.save(buffer, format="PNG", optimize=True)
        return match.group(1) + base64.b64encode(buffer.getvalue()).decode("ascii") + '"'

    return _FRAME.sub(encode, html)


def replay_html(fig, draw, n_frames: int, caption: str, colours: int | None = None) -> str:
    """A self-contained HTML slider over ``n_frames`` frames; closes ``fig``.

    draw(i) redraws ``fig`` for frame i. The frames are PNG images inline in the page
    (``FuncAnimation.to_jshtml``), with the caption below them. colours: None keeps the
    frames in full colour; a number from 2 to 256 stores each with a palette of that many
    colours (256 looks the same for plots and makes the page about four times smaller).
    """
    if not isinstance(fig, Figure):
        raise TypeError(f"fig: expected a matplotlib Figure, got {describe(fig)}")
    if not callable(draw):
        raise TypeError(f"draw: expected a function draw(i) that redraws fig, "
                        f"got {describe(draw)}")
    n_frames = check_int(n_frames, "n_frames", low=1)
    if not isinstance(caption, str):
        raise TypeError(f"caption: expected a str, got {describe(caption)}")
    if colours is not None:
        colours = check_int(colours, "colours", low=2, high=256)
    try:
        animation = FuncAnimation(fig, draw, frames=n_frames, repeat=False)
        with plt.rc_context({"savefig.dpi": DPI}):
            html = animation.to_jshtml(fps=2, default_mode="once")
    finally:
        plt.close(fig)  # so that the notebook shows no stray static copy of it
    if colours is not None:
        html = _fewer_colours(html, colours)
    html = html.replace(_FONT_AWESOME, "")
    for icon, text in _BUTTON_ICONS.items():
        html = html.replace(icon, text)
    return (f'<div class="coursekit-replay">{html}'
            f'<p style="font-size: 90%"><em>{caption}</em></p></div>')


def _png_html(fig) -> str:
    """A figure as an inline <img>; closes ``fig``."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    plt.close(fig)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="figure">'


LIVE_NOTE = ("This is a precomputed replay: drag the slider or press &#9654;. "
             "Run the notebook in Colab or Jupyter for the live widget, where you choose ")


class ReplayWidget:
    """A widget that lives twice: live in Jupyter or Colab, replayed in the book.

    A subclass sets ``self.widget`` (the ipywidgets view) and defines ``replay()``
    (the HTML replay, a str). Its ``_repr_mimebundle_`` hands Jupyter both.
    """

    def _repr_mimebundle_(self, include=None, exclude=None):
        bundle = widget_bundle(self.widget)
        bundle["text/html"] = self.replay()
        return bundle


def widget_bundle(widget) -> dict:
    """The mimebundle that shows ``widget`` live: ipywidgets 8 has ``_repr_mimebundle_``;
    ipywidgets 7 (Colab's 7.7.1) sends the same data from ``_ipython_display_`` instead, so
    it is written out here as 7.7.1 writes it (its plain text cut at 110 characters)."""
    if hasattr(widget, "_repr_mimebundle_"):
        return widget._repr_mimebundle_()
    widget._handle_displayed()   # what 7.7.1's _ipython_display_ does after sending it
    text = repr(widget)
    bundle = {"text/plain": text[:110] + "…" if len(text) > 110 else text}
    if widget._view_name is not None:
        bundle["application/vnd.jupyter.widget-view+json"] = {
            "version_major": 2, "version_minor": 0, "model_id": widget._model_id}
    return bundle
