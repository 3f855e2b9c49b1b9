"""Graded exercises: thin glue over otter-grader, and a grader that a submission cannot game.

Each chapter's exercise is written once, as an otter-assign master notebook
``solutions/NN-name.ipynb`` (solutions, public tests, hidden tests). This package is split
in layers by audience; a module imports only from layers below its own
(tests/test_grading_layers.py):

1. shared words and data: ``codec`` (the data-only format between the grader and a
   submission's process), ``failures`` (what a failed check is called), ``fakes`` (the
   stand-ins a test hands to an answer), ``feedback`` (the notes and CSV cells the grader
   writes, in its own words only);
2. ``sandbox`` (bubblewrap), ``guards`` (torch's functions refused and calls watched around
   one call of an answer), ``public_tests`` (a public test file run without otter),
   ``gradescope`` (the archive Gradescope gets);
3. the two ends of the channel and the students: ``remote`` (the grader's side: proxies for
   the student's objects, every reply checked and bounded), ``student`` (the ``grader`` of
   an exercise notebook and its feedback);
4. ``checks`` (what the tests in a master import: ``expect_result``, ``call``, ``fake``,
   ...) and ``worker`` (the submission's side, in the sandbox);
5. instructors: ``assign`` (``python -m coursekit.grading assign CH`` makes the exercise,
   its public tests, the autograder and the Gradescope archive from the master), then
   ``grade`` (``python -m coursekit.grading grade SUBMISSIONS --chapter CH --out
   scores.csv``), then ``gradescope_results`` (the same grader inside Gradescope's
   container);
6. ``cli``: the command line.

The names below are those the generated tests and the notebooks use.
"""

from coursekit.grading.assign import BUILD_DIR, SOLUTIONS_DIR, Generated, assign, masters
from coursekit.grading.checks import (
    NOT_ANSWERED,
    OWN_IMPLEMENTATIONS,
    ForbiddenCall,
    Probe,
    _fail,
    call,
    computed_by_hand,
    cpu_seconds,
    describe,
    expect_equal,
    expect_result,
    expect_tensor,
    fake,
    forbidden,
)
from coursekit.grading.grade import Grader, _number, grade, question_points
from coursekit.grading.student import (
    EXERCISES_DIR,
    QUESTIONS_FILE,
    ExerciseGrader,
    Feedback,
    exercise_grader,
    first_cell_source,
)

__all__ = [
    "BUILD_DIR", "EXERCISES_DIR", "NOT_ANSWERED", "OWN_IMPLEMENTATIONS", "QUESTIONS_FILE",
    "SOLUTIONS_DIR", "ExerciseGrader", "Feedback", "ForbiddenCall", "Generated", "Grader",
    "Probe", "_fail", "_number", "assign", "call", "computed_by_hand", "cpu_seconds",
    "describe",
    "exercise_grader", "expect_equal", "expect_result", "expect_tensor", "fake",
    "first_cell_source", "forbidden", "grade", "masters", "question_points",
]
