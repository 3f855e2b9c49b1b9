"""The prediction browser of chapters 4 and 5; it lives in ``coursekit.widgets``."""

from coursekit.widgets.prediction_browser import Frame, PredictionBrowser

__all__ = ["Frame", "PredictionBrowser"]
