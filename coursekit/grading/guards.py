"""Guards around one call of an answer, in the process where the answer runs: torch's own
functions switched off (``refusing``), and a watch on the calls it makes (``watching``).

They run in the student's notebook for the public checks and, under the grader, in the
submission's process (``worker``), where the student's code can undo them: they catch the
honest shortcut, not a determined cheat (README, "what the grader does not protect against").
"""

import contextlib
import sys
from unittest import mock

import torch
import torch.nn.functional as F

from coursekit.grading.failures import ForbiddenCall


@contextlib.contextmanager
def refusing(names):
    """Within this block, ``torch.<name>`` and ``torch.nn.functional.<name>`` for each of
    ``names`` (e.g. "conv2d") raise ForbiddenCall with a plain message."""
    def refuse(name):
        def refused(*args, **kwargs):
            raise ForbiddenCall(
                f"your answer calls torch's own {name}; this question asks you to compute it "
                "yourself, without it"
            )
        return refused

    with contextlib.ExitStack() as stack:
        for name in names:
            for module in (torch, F):
                if hasattr(module, name):
                    stack.enter_context(mock.patch.object(module, name, refuse(name)))
        yield


@contextlib.contextmanager
def watching(off_limits, seen):
    """Watch every Python call in this block; append to the list ``seen`` each call of a
    function whose file lies under one of ``off_limits`` (and of a compiled function of a
    module named so: "cv2/" for ``cv2.connectedComponents``), as "name from place". Code
    that switches the watch off (``sys.setprofile``) is noted too. Used by
    ``checks.computed_by_hand`` and, under the grader, in the submission's process.
    """
    if not off_limits:
        yield
        return

    def notice(frame, event, arg):
        if event == "call":
            path = frame.f_code.co_filename.replace("\\", "/")
            seen.extend(f"{frame.f_code.co_name} from {part.rstrip('/')}"
                        for part in off_limits if part in path)
        elif event == "c_call":        # a compiled function (cv2's): by its module's name
            path = str(getattr(arg, "__module__", None) or "").replace(".", "/") + "/"
            seen.extend(f"{getattr(arg, '__name__', '?')} from {part.rstrip('/')}"
                        for part in off_limits if path.startswith(part))

    previous = sys.getprofile()
    sys.setprofile(notice)
    try:
        yield
    finally:
        if sys.getprofile() is not notice:  # the answer switched the watch off
            seen.append("sys.setprofile (it switched off the grader's watch)")
        sys.setprofile(previous)
