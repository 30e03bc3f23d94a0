"""Evaluator throughput: evaluations per second serially and in parallel, and the cost of the sandbox.

    python benchmarks/bench_evaluate.py [REPEATS]

(a) a bare interpreter start, `python -c pass` and `python -I -S -c pass` (what the sandbox execs);
(b) one sandboxed run of a trivial function on one input (`run_cases`), and the same run with the
    `none` isolation (limits and a temporary folder only), so the namespaces' share is visible;
(c) `evaluate` of every solvable task's reference (static checks, all visible and hidden tests),
    one after another and then `evaluate_many` with one worker per core.
Each timing is the median of REPEATS runs (default 20; 3 for the suite passes).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time

from agent_affect.evaluate import Limits, evaluate, evaluate_many, load_suite, resolve_isolation, run_cases

TRIVIAL = "def f(x):\n    return x\n"


def median_seconds(function, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    python = os.path.realpath(sys.executable)
    mode = resolve_isolation("auto")
    cores = os.cpu_count() or 1
    bare = median_seconds(lambda: subprocess.run([python, "-c", "pass"], check=True), repeats)
    bare_is = median_seconds(lambda: subprocess.run([python, "-I", "-S", "-c", "pass"], check=True), repeats)
    sandboxed = median_seconds(lambda: run_cases(TRIVIAL, "f", [[1]], Limits()), repeats)
    unisolated = median_seconds(lambda: run_cases(TRIVIAL, "f", [[1]], Limits(isolation="none")), repeats)

    suite = load_suite()
    pairs = [(task, task.reference) for task in suite.values() if not task.impossible]
    cases = sum(len(task.visible) + len(task.hidden) for task, _ in pairs)
    serial = median_seconds(lambda: [evaluate(task, code) for task, code in pairs], 3)
    parallel = median_seconds(lambda: evaluate_many(pairs, workers=cores), 3)
    verdicts = evaluate_many(pairs, workers=cores)
    assert all(verdict.passed for verdict in verdicts), [v.to_dict() for v in verdicts if not v.passed]

    print(f"isolation {mode}, {cores} cores, {python}")
    print(f"{'what':58s} {'ms':>8s}")
    print(f"{'python -c pass':58s} {bare * 1e3:8.1f}")
    print(f"{'python -I -S -c pass':58s} {bare_is * 1e3:8.1f}")
    print(f"{'sandboxed run, trivial function, 1 input (' + mode + ')':58s} {sandboxed * 1e3:8.1f}")
    print(f"{'same without isolation (none)':58s} {unisolated * 1e3:8.1f}")
    print(f"{'overhead per evaluation over python -c pass':58s} {(sandboxed - bare) * 1e3:8.1f}")
    n = len(pairs)
    print(
        f"\nsuite: {n} solvable references, {cases} test cases\n"
        f"serial    {serial:6.2f} s  {n / serial:6.1f} evaluations/s  {serial / n * 1e3:6.1f} ms each\n"
        f"parallel  {parallel:6.2f} s  {n / parallel:6.1f} evaluations/s  ({cores} workers, "
        f"{serial / parallel:.2f}x serial)"
    )


if __name__ == "__main__":
    main()
