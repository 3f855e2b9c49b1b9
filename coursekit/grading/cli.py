"""The command line: ``python -m coursekit.grading {assign,grade,gradescope} ...``."""

import argparse

from coursekit.grading.assign import assign, masters
from coursekit.grading.grade import grade


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m coursekit.grading", description="Graded exercises of the course."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    to_assign = commands.add_parser(
        "assign", help="regenerate exercises/, the autograder and the Gradescope archive "
                       "from solutions/")
    to_assign.add_argument("chapters", nargs="*", help="e.g. 02-concepts")
    to_assign.add_argument("--all", action="store_true",
                           help="every master in solutions/ (also when no chapter is named)")
    to_assign.add_argument("--no-check", action="store_true",
                           help="skip grading the solution (faster)")

    to_grade = commands.add_parser("grade", help="grade a folder of submitted notebooks")
    to_grade.add_argument("submissions_dir")
    to_grade.add_argument("--chapter", required=True, help="e.g. 02-concepts")
    to_grade.add_argument("--out", required=True, help="the CSV file to write")
    to_grade.add_argument("--timeout", type=float, default=600,
                          help="seconds per submission in all (default 600)")
    to_grade.add_argument("--cell-timeout", type=float, default=None,
                          help="seconds per cell and per call of an answer "
                               "(default: half the timeout, at most 300)")
    to_grade.add_argument("--jobs", type=int, default=1,
                          help="submissions graded at the same time (default 1)")
    to_grade.add_argument("--autograder", help="an autograder zip (default: built afresh)")
    to_grade.add_argument("--memory-gb", type=float, default=6.0,
                          help="address space of a submission's process (default 6 GiB)")
    to_grade.add_argument("--cell-log", default=None,
                          help="a file to add, per submission, what its cells raised in its "
                               "own words (for debugging; never in the CSV)")
    to_grade.add_argument("--fresh", action="store_true",
                          help="grade everything again, even what the CSV already holds")
    to_grade.add_argument("--unsafe-no-sandbox", action="store_true",
                          help="grade without a sandbox where bubblewrap is missing: "
                               "submissions can then read and change this user's files")

    scope = commands.add_parser(
        "gradescope", help="(used by run_autograder) grade /autograder/submission")
    scope.add_argument("--root", default="/autograder",
                       help="Gradescope's folder (default /autograder)")
    scope.add_argument("--unsafe-no-sandbox", action="store_true")

    args = parser.parse_args(argv)
    if args.command == "assign":
        for chapter in masters() if args.all or not args.chapters else args.chapters:
            generated = assign(chapter, check_solutions=not args.no_check)
            print(f"{chapter}: wrote {generated.notebook}, {generated.tests_dir}, "
                  f"{generated.autograder}, {generated.gradescope}")
    elif args.command == "grade":
        from coursekit.grading.sandbox import Limits

        grade(args.submissions_dir, args.chapter, args.out, timeout=args.timeout,
              jobs=args.jobs, autograder=args.autograder, cell_timeout=args.cell_timeout,
              unsafe=args.unsafe_no_sandbox, fresh=args.fresh, cell_log=args.cell_log,
              limits=Limits(memory_gb=args.memory_gb))
    else:
        from coursekit.grading.gradescope_results import run

        run(args.root, unsafe=args.unsafe_no_sandbox)
    return 0
