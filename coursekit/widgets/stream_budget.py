"""Chapter 8's stream budget: can a model keep up with a video, and how late are its answers?

Frames arrive every ``1000 / fps`` ms. A model that takes them ``batch`` at a time must
finish each batch before the next one is collected (``latency <= batch * interval``,
otherwise a queue grows without end), and the first frame of a batch waits for the
``batch - 1`` frames after it before its batch even starts. So batching buys throughput
and pays for it in delay:

    delay of the first frame of a batch = (batch - 1) * interval + latency(batch)

``stream_budget`` computes that from measured latencies (``profiling.latency_throughput``);
the explorer shows it for every model as the frame rate and the batch size change.
"""

import ipywidgets as widgets
import matplotlib.pyplot as plt
from IPython.display import display

from coursekit._checks import check_int, check_number, describe
from coursekit.widgets.replay import LIVE_NOTE, ReplayWidget, replay_html


def stream_budget(latency_ms: float, fps: float, batch: int) -> dict:
    """What a stream of ``fps`` frames per second asks of a model that takes ``batch``
    frames at a time in ``latency_ms`` per batch.

    Returns interval_ms (between two frames), load (latency over the time a batch takes to
    arrive: at most 1 to keep up), keeps_up (bool), and delay_ms (from the arrival of a
    batch's first frame to its result: the wait for the rest of the batch plus the latency).

    >>> stream_budget(20.0, 25, 2)["delay_ms"]     # 40 ms waiting for frame 2, then 20
    60.0
    """
    latency_ms = check_number(latency_ms, "latency_ms", low=0, low_open=True)
    fps = check_number(fps, "fps", low=0, low_open=True)
    batch = check_int(batch, "batch", low=1)
    interval = 1000 / fps
    load = latency_ms / (batch * interval)
    return {"interval_ms": interval, "load": load, "keeps_up": load <= 1,
            "delay_ms": (batch - 1) * interval + latency_ms}


def _check_curves(curves):
    """{model name: rows of profiling.latency_throughput}, with batch sizes in common."""
    if not isinstance(curves, dict) or not curves:
        raise TypeError(f"curves: expected {{model name: the rows latency_throughput "
                        f"returns}}, got {describe(curves)}")
    for name, rows in curves.items():
        if (not isinstance(rows, list) or not rows
                or not all(isinstance(r, dict) and {"batch", "latency_ms"} <= set(r)
                           for r in rows)):
            raise TypeError(f"curves: expected, for {name!r}, the rows latency_throughput "
                            f"returns (dicts with 'batch' and 'latency_ms'), got "
                            f"{describe(rows)}")
    common = set.intersection(*({r["batch"] for r in rows} for rows in curves.values()))
    if not common:
        raise ValueError("curves: the models have no batch size in common")
    return sorted(common)


class StreamBudgetExplorer(ReplayWidget):
    """Choose a frame rate and a batch size; see, for each model of ``curves``, whether it
    keeps up (its load) and how late its answers come (the first frame's delay).

    curves: {model name: the rows ``profiling.latency_throughput`` returned for it}; the
    batch sizes measured for every model are offered. Read the current state from ``fps``,
    ``batch`` and ``budgets`` ({model name: ``stream_budget``}); change it through
    ``controls``: the slider "fps" and the dropdown "batch".
    """

    def __init__(self, curves):
        self.batches = _check_curves(curves)
        self.curves = {name: {r["batch"]: r["latency_ms"] for r in rows}
                       for name, rows in curves.items()}
        self.controls = {
            "fps": widgets.IntSlider(value=30, min=5, max=240, step=5,
                                     description="frames/s"),
            "batch": widgets.Dropdown(options=self.batches, value=self.batches[0],
                                      description="batch"),
        }
        output = widgets.interactive_output(self._update, self.controls)
        self.widget = widgets.VBox([widgets.HBox(list(self.controls.values())), output])

    def budgets(self, fps, batch) -> dict:
        """{model name: stream_budget(its latency at ``batch``, fps, batch)}."""
        if batch not in self.batches:
            raise ValueError(f"batch: expected one of the measured batch sizes "
                             f"{self.batches}, got {describe(batch)}")
        return {name: stream_budget(latencies[batch], fps, batch)
                for name, latencies in self.curves.items()}

    def draw(self, fps, batch, fig=None):
        """The figure for one frame rate and batch size, into ``fig`` if given."""
        budgets = self.budgets(fps, batch)
        if fig is None:
            fig = plt.figure(figsize=(10, 3.2), layout="constrained")
        fig.clear()
        ax_load, ax_delay = fig.subplots(1, 2)
        names = list(budgets)
        colours = ["#009E73" if b["keeps_up"] else "#D55E00" for b in budgets.values()]
        loads = [b["load"] for b in budgets.values()]
        ax_load.barh(names, loads, color=colours)
        ax_load.axvline(1, color="0.3", linestyle="--", linewidth=1)
        ax_load.set_xscale("log")
        ax_load.set_xlim(min(min(loads) / 2, 0.05), max(max(loads) * 2, 4))
        ax_load.set_xlabel("load: latency / time a batch takes to arrive (keeps up at <= 1)")
        ax_load.invert_yaxis()
        delays = [b["delay_ms"] for b in budgets.values()]
        ax_delay.barh(names, delays, color=colours)
        interval = 1000 / fps
        ax_delay.axvline(interval, color="0.3", linestyle="--", linewidth=1)
        ax_delay.text(interval, -0.6, f" one frame: {interval:.0f} ms", fontsize=8,
                      va="bottom")
        ax_delay.set_xscale("log")
        ax_delay.set_xlabel("delay of a batch's first frame (ms)")
        ax_delay.set_yticks([])
        ax_delay.invert_yaxis()
        keeping = sum(b["keeps_up"] for b in budgets.values())
        fig.suptitle(f"{fps} frames/s in batches of {batch}: {keeping} of {len(budgets)} "
                     "models keep up (green)", fontsize=11)
        return fig

    def _update(self, fps, batch):
        self.fps, self.batch = int(fps), int(batch)
        self.budgets_now = self.budgets(self.fps, self.batch)
        fig = self.draw(self.fps, self.batch)
        display(fig)
        plt.close(fig)

    def replay(self) -> str:
        """The HTML replay: 30 frames per second, the batch size growing."""
        frames = [(30, b) for b in self.batches]
        last = self.budgets(30, self.batches[-1])
        first = self.budgets(30, self.batches[0])
        slowest = max(first, key=lambda name: first[name]["load"])
        fig = self.draw(*frames[0])
        caption = (LIVE_NOTE + "the frame rate and the batch size. Here the frame rate stays "
                   "at 30 per second and the batch grows. The first frame of a batch waits "
                   "for the others, so the delay grows with the batch; the load falls only "
                   "where a bigger batch costs less per image. At batch "
                   f"{self.batches[-1]}, {slowest}'s load is {last[slowest]['load']:.2f} "
                   f"(at batch {self.batches[0]}: {first[slowest]['load']:.2f}) and its "
                   f"first frame waits {last[slowest]['delay_ms']:.0f} ms for its answer "
                   f"(at batch {self.batches[0]}: {first[slowest]['delay_ms']:.0f} ms).")
        return replay_html(fig, lambda i: self.draw(*frames[i], fig=fig), len(frames),
                           caption=caption, colours=256)
