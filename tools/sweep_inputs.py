"""Run the bad-input table (tests/input_cases.py) against a checkout of coursekit.

    .venv/bin/python tools/sweep_inputs.py --root /work/base --out before.json

Every case is classified as

- clear error: a TypeError or ValueError naming the argument, raised by coursekit's code;
- deep error: any other exception, one raised from inside torch, NumPy or another library,
  or one whose message does not name the argument;
- silent wrong: returned without error where an error was expected, or returned a value
  other than the reference;
- handled right: returned the reference value;
- hang: no answer within the time limit (--timeout, 30 s a case by default);
- crash: the process died of a signal during the case (a segmentation fault in C code,
  e.g. torchvision's roi_align on a NaN box before issue 23);
- broken case: the table itself failed (should never happen).

The cases run in a child process that imports coursekit from ``--root`` (first on
sys.path) and the table from this repository; a case that hangs past the limit, even in
C code, is recorded and the child restarted after it; so is a case that kills it.

``--only`` may be given several times (a case runs when its id contains any of them), e.g.
chapter 9's callables:

    .venv/bin/python tools/sweep_inputs.py --root . --only regions. --only instances. \
        --only metrics.count_confusion --only metrics.exact_match --only metrics.digit_ \
        --only metrics.paired_bootstrap --only models.CountNet --only models.pretrained_mask \
        --only scenes.digit_counts
"""

import argparse
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CATEGORIES = ("clear error", "deep error", "silent wrong", "handled right", "hang", "crash",
              "broken case")


def load_table():
    """tests/input_cases.py of this repository, whatever ``tests`` the root may have."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("input_cases", REPO / "tests" /
                                                  "input_cases.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["input_cases"] = module
    spec.loader.exec_module(module)
    return module


# ------------------------------------------------------------------------- the child


def selected(table, only) -> list[int]:
    """The indices of the cases whose id contains ``only`` (a str, or a list of them: any
    one; all cases without it)."""
    only = [only] if isinstance(only, str) else list(only or [])
    return [i for i, case in enumerate(table.CASES)
            if not only or any(part in case.id for part in only)]


def worker(root: str, start: int, timeout: float, only) -> None:
    """Run the selected cases from index ``start`` on, one JSON line per case on the
    original stdout."""
    protocol = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)                       # anything printed by a case goes to stderr
    sys.path.insert(0, root)
    table = load_table()
    import coursekit

    failures = table.warm_up()
    protocol.write(json.dumps({"ready": coursekit.__file__, "import_failures": failures}) + "\n")
    for index in [i for i in selected(table, only) if i >= start]:
        case = table.CASES[index]
        protocol.write(json.dumps({"start": index}) + "\n")
        began = time.perf_counter()
        if case.module in failures:
            outcome = table.Outcome("deep error", False,
                                    f"coursekit.{case.module} does not import: "
                                    f"{failures[case.module]}")
        else:
            outcome = table.run_case(case, timeout=timeout)
        protocol.write(json.dumps({"done": index, "category": outcome.category,
                                   "passed": outcome.passed, "detail": outcome.detail,
                                   "seconds": round(time.perf_counter() - began, 3)}) + "\n")
    protocol.write(json.dumps({"finished": True}) + "\n")


# ------------------------------------------------------------------------ the parent


def _reader(stream, lines: queue.Queue) -> None:
    for line in stream:
        lines.put(line)
    lines.put(None)


def sweep(root: Path, timeout: float, only, log) -> tuple[dict, str]:
    """{case index: result} for every selected case, and the coursekit file the child
    imported."""
    env = dict(os.environ, COURSEKIT_FAST="1", MPLBACKEND="Agg", PYTHONDONTWRITEBYTECODE="1")
    if (REPO / "data").is_dir():
        env.setdefault("COURSEKIT_DATA", str(REPO / "data"))
    results, start, imported = {}, 0, ""
    table_size = len(load_table().CASES)
    while start < table_size:
        child = subprocess.Popen(
            [sys.executable, __file__, "--worker", "--root", str(root), "--start", str(start),
             "--timeout", str(timeout)] + [arg for part in (only or [])
                                           for arg in ("--only", part)],
            stdout=subprocess.PIPE, stderr=log, text=True, cwd=REPO, env=env,
            start_new_session=True)
        lines: queue.Queue = queue.Queue()
        threading.Thread(target=_reader, args=(child.stdout, lines), daemon=True).start()
        current, limit = None, 300.0          # the first line comes after the imports
        while True:
            try:
                line = lines.get(timeout=limit)
            except queue.Empty:
                line = "hung"
            if line is None or line == "hung":
                died = child.poll() if line is None else None
                if died is None and line is None:
                    try:
                        died = child.wait(timeout=5)
                    except subprocess.TimeoutExpired:
                        pass
                try:
                    os.killpg(child.pid, signal.SIGKILL)
                except ProcessLookupError:    # it died alone: nothing of it is left
                    pass
                child.wait()
                if current is None:
                    raise SystemExit(f"the child for {root} died before running a case")
                if line == "hung":
                    category, detail = "hang", f"no answer within {timeout} s (killed)"
                elif died is not None and died < 0:
                    category = "crash"
                    detail = f"the process died of {signal.Signals(-died).name} (a crash in C)"
                else:
                    category, detail = "deep error", f"the process ended (exit status {died})"
                results[current] = {"category": category, "passed": False, "seconds": None,
                                    "detail": detail}
                start = current + 1
                break
            message = json.loads(line)
            if "ready" in message:
                imported = message["ready"]
                limit = timeout + 10
            elif "start" in message:
                current = message["start"]
            elif "done" in message:
                results[message.pop("done")] = message
                current = None
            elif "finished" in message:
                child.wait()
                start = table_size
                break
    return results, imported


def report(table, results: dict) -> dict:
    per_module: dict = {}
    overall, passed = Counter(), Counter()
    cases = []
    for index in sorted(results):
        case, result = table.CASES[index], results[index]
        category = result["category"]
        overall[category] += 1
        per_module.setdefault(case.module, Counter())[category] += 1
        passed["pass" if result["passed"] else "fail"] += 1
        cases.append({"id": case.id, "module": case.module, "target": case.target,
                      "expected": str(case.expect), **result})
    return {"counts": {c: overall[c] for c in CATEGORIES},
            "pass": passed["pass"], "fail": passed["fail"],
            "per_module": {m: {c: n[c] for c in CATEGORIES} for m, n in per_module.items()},
            "cases": cases}


def print_table(summary: dict, root: Path, imported: str, seconds: float) -> None:
    columns = [c for c in CATEGORIES if c != "broken case" or summary["counts"][c]]
    width = max(len(m) for m in summary["per_module"]) + 2
    print(f"coursekit input sweep of {root} (coursekit imported from {imported}): "
          f"{sum(summary['counts'].values())} cases in {seconds:.0f} s")
    header = "".join(f"{c:>15}" for c in columns) + f"{'pass':>8}{'fail':>7}"
    print(f"{'':<{width}}{header}")

    def row(name, counts, ok, bad):
        print(f"{name:<{width}}" + "".join(f"{counts[c]:>15}" for c in columns)
              + f"{ok:>8}{bad:>7}")

    row("all", summary["counts"], summary["pass"], summary["fail"])
    for module in sorted(summary["per_module"]):
        module_cases = [c for c in summary["cases"] if c["module"] == module]
        ok = sum(c["passed"] for c in module_cases)
        row(module, summary["per_module"][module], ok, len(module_cases) - ok)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", required=True, type=Path,
                        help="the checkout whose coursekit/ is swept")
    parser.add_argument("--out", type=Path, help="write the counts and every case's outcome")
    parser.add_argument("--timeout", type=float, default=30.0,
                        help="seconds per case (a widget replay takes about 10)")
    parser.add_argument("--log", type=Path, help="where the cases' own output goes")
    parser.add_argument("--only", action="append",
                        help="run only the cases whose id contains this text, e.g. "
                        "'metrics.' or 'uint8'; several --only: any of them")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--start", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    root = args.root.resolve()
    if args.worker:
        worker(str(root), args.start, args.timeout, args.only)
        return 0
    if not (root / "coursekit" / "__init__.py").is_file():
        parser.error(f"--root: expected a checkout with coursekit/__init__.py, got {root}")
    began = time.perf_counter()
    with open(args.log or os.devnull, "w") as log:
        results, imported = sweep(root, args.timeout, args.only, log)
    if not results:
        parser.error(f"--only: no case id contains any of {args.only!r}")
    summary = report(load_table(), results)
    summary = {"root": str(root), "coursekit": imported, **summary}
    print_table(summary, root, imported, time.perf_counter() - began)
    if args.out:
        args.out.write_text(json.dumps(summary, indent=1) + "\n")
        print(f"written: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
