"""A widget for chapters 4 and 5: browse segmentations, one frame at a time.

A frame is one image with its truth and one or more named predictions: held-out scenes
under FCN-32s, 16s and 8s (chapter 4), or one slice as U-Net learns, epoch by epoch
(chapter 5). Like the widgets of chapter 2 (``coursekit.widgets``) it lives twice:
live, a slider that redraws the frame; in the rendered book, a precomputed replay.
"""

from dataclasses import dataclass

import ipywidgets as widgets
import matplotlib.pyplot as plt
from IPython.display import display

from coursekit import viz
from coursekit._checks import check_int, check_number, describe
from coursekit.widgets.replay import LIVE_NOTE, ReplayWidget, replay_html


@dataclass
class Frame:
    """image: (C, H, W); truth: (H, W) int; predictions: {name: (H, W) int}; title: str."""

    image: object
    truth: object
    predictions: dict
    title: str = ""


class PredictionBrowser(ReplayWidget):
    """Step through ``frames`` with a slider (``controls["frame"]``).

    class_names: one per class (class 0 is the background). ``index`` is the frame shown.
    panel, fontsize, alpha: passed to ``viz.show_predictions`` (the replay's frames are
    drawn at 72 dpi: a row of five 1.9-inch panels fills the book's column, and fontsize
    12 then shows as 9 points; alpha=1 paints each class in one flat colour).
    """

    def __init__(self, frames, class_names, caption: str = "the frame", *,
                 panel: float = 2.2, fontsize: float = 9, alpha: float = 0.6):
        if not isinstance(frames, list | tuple) or not all(isinstance(f, Frame) for f in frames):
            raise TypeError(f"frames: expected a list of Frame, got {describe(frames)}")
        if not frames:
            raise ValueError("frames: expected at least one Frame, got none")
        if not isinstance(caption, str):
            raise TypeError(f"caption: expected a str, got {describe(caption)}")
        self.frames, self.class_names, self.caption = list(frames), class_names, caption
        self.style = {"panel": check_number(panel, "panel", low=0, low_open=True),
                      "fontsize": check_number(fontsize, "fontsize", low=0, low_open=True),
                      "alpha": check_number(alpha, "alpha", low=0, high=1)}
        self.controls = {"frame": widgets.IntSlider(value=0, min=0, max=len(frames) - 1,
                                                    description="frame")}
        output = widgets.interactive_output(self._update, self.controls)
        self.widget = widgets.VBox([self.controls["frame"], output])

    def draw(self, index: int, fig=None):
        """Draw frame ``index`` (0 to len(frames) - 1), into ``fig`` if given."""
        frame = self.frames[check_int(index, "index", low=0, high=len(self.frames) - 1)]
        return viz.show_predictions(frame.image, frame.truth, frame.predictions,
                                    self.class_names, title=frame.title, fig=fig,
                                    **self.style)

    def _update(self, frame):
        self.index = frame
        fig = self.draw(frame)
        display(fig)
        plt.close(fig)

    def replay(self) -> str:
        """The HTML replay: every frame, with a slider and play buttons."""
        fig = self.draw(0)

        def draw(i):
            self.draw(i, fig=fig)

        return replay_html(fig, draw, len(self.frames), caption=LIVE_NOTE + self.caption + ".")
