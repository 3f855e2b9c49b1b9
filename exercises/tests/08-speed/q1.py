# Public tests written by otter assign from solutions/08-speed.ipynb
# (python -m coursekit.grading assign): do not edit.
# ruff: noqa

from otter.test_files import test_case

OK_FORMAT = False

name = "q1"
points = 3
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_counts_and_warm_up(time_calls):
    """a function whose first 3 calls are slow: warmup=3, repeats=5"""
    from coursekit.grading import _fail, call, fake
    clock = fake('Clock')
    model = fake('SlowFirstCalls', clock, slow_calls=3, slow=1.0, fast=0.01)
    got = call(time_calls, 'time_calls', model, warmup=3, repeats=5, clock=clock)
    if not isinstance(got, list | tuple):
        _fail(f'time_calls returned a {type(got).__name__}, expected a list of readings')
    got = [float(r) for r in got]
    if model.calls != 8:
        _fail(f'fn was called {model.calls} times for warmup=3, repeats=5; expected 8', 'warmup calls, then repeats timed calls')
    if len(got) != 5:
        _fail(f'time_calls returned {len(got)} readings for repeats=5, expected 5')
    if clock.now and all((abs(r) < 1e-12 for r in got)):
        _fail('every reading is 0', 'read the time with clock(), the argument, not time.perf_counter(): the checks move a fake clock')
    if any((abs(r - 1.0) < 1e-06 or r > 0.5 for r in got)):
        _fail(f'readings {[round(r, 3) for r in got]}: a slow first call was counted', 'the warm-up calls run first and are not timed')
    if any((abs(r - 0.01) > 1e-09 for r in got)):
        _fail(f'readings {[round(r, 4) for r in got]}, expected 0.01 each', 'one reading per call: clock() just before fn(), clock() just after')

@test_case(points=None, hidden=False)
def test_asynchronous_device(time_calls):
    """a fake GPU: each call queues 50 ms of work and returns at once"""
    from coursekit.grading import _fail, call, fake
    clock = fake('Clock')
    gpu = fake('AsyncDevice', clock, work=0.05, launch_cost=1e-06)
    got = call(time_calls, 'time_calls', gpu.launch, warmup=2, repeats=4, sync=gpu.sync, clock=clock)
    got = [float(r) for r in got]
    if all((r < 0.01 for r in got)):
        _fail(f'readings {[round(r, 6) for r in got]}: only the launch was timed, not the work', 'call sync() after fn() and before reading the clock')
    if abs(got[0] - 0.05) > 1e-06 and all((abs(r - 0.05) < 1e-06 for r in got[1:])):
        _fail(f"the first reading is {got[0]:.3f} s, the others 0.05 s: the warm-up's queued work was counted", 'call sync() before starting the clock too')
    if any((abs(r - 0.05) > 1e-06 for r in got)):
        _fail(f'readings {[round(r, 4) for r in got]}, expected 0.05 each', 'sync() before clock() at the start, and after fn() before clock() at the end')

@test_case(points=None, hidden=False)
def test_real_clock(time_calls):
    """the default clock, time.perf_counter, on a 20 ms sleep"""
    from coursekit.grading import _fail, call, fake
    got = call(time_calls, 'time_calls', fake('Sleep', 0.02), warmup=1, repeats=3)
    if len(got) != 3 or not all((0.019 <= float(r) < 1.0 for r in got)):
        _fail(f'readings {list(got)} for a 20 ms sleep', 'by default clock is time.perf_counter, and a reading is the time after the call minus the time before it')

