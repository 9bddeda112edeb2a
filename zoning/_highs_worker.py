"""One HiGHS solve in its own process, for the racing solves of :mod:`zoning.optimize`.

Run as ``python -m zoning._highs_worker PROBLEM.npz RESULT.npz``: reads the MIP (columns,
bounds, integrality, rows as triplets, costs, an optional start and the HiGHS options) from
``PROBLEM.npz``, solves it until its deadline, and writes what HiGHS found to ``RESULT.npz``
(written to a temporary name and renamed, so a half-written result is never read). A line on
standard input (or its end) stops the solve early: the worker then reports its best plan and
its dual bound so far. Several workers with different random seeds race on the two cores; the
MIP is the same, so every worker's dual bound bounds every worker's plan.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time

import numpy as np


def solve(problem: dict, stop: threading.Event | None = None) -> dict:
    """Solve the MIP of ``problem`` (arrays as :func:`zoning.optimize._Mip.problem` gives)."""
    import highspy

    from zoning.optimize import _highs

    options = json.loads(str(problem["options"]))
    h = _highs(options)
    h.HandleUserInterrupt = True
    n = int(problem["n_col"])
    inf = highspy.kHighsInf
    h.addVars(n, np.zeros(n), problem["ub"])
    integer = problem["integer"].astype(np.int32)
    h.changeColsIntegrality(len(integer), integer, np.ones(len(integer), np.uint8))
    lo, hi = problem["lo"], problem["hi"]
    h.addRows(len(lo), np.where(np.isfinite(lo), lo, -inf), np.where(np.isfinite(hi), hi, inf),
              len(problem["val"]), problem["starts"].astype(np.int32),
              problem["col"].astype(np.int32), problem["val"])
    h.changeColsCost(n, np.arange(n, dtype=np.int32), problem["cost"])
    if problem["start"].size:
        h.setSolution(n, np.arange(n, dtype=np.int32), problem["start"])
    h.setOptionValue("time_limit", max(float(problem["deadline"]) - time.time(), 0.5))
    done = threading.Event()
    if stop is not None:
        def watch():
            while not done.is_set():
                if stop.wait(0.05):
                    h.cancelSolve()
                    return
        threading.Thread(target=watch, daemon=True).start()
    h.solve()
    done.set()
    status, info = h.getModelStatus(), h.getInfo()
    has = info.primal_solution_status == 2
    return {
        "status": h.modelStatusToString(status),
        "infeasible": status == highspy.HighsModelStatus.kInfeasible,
        "optimal": status == highspy.HighsModelStatus.kOptimal,
        "col": np.asarray(h.getSolution().col_value) if has else np.zeros(0),
        "objective": float(info.objective_function_value) if has else np.nan,
        "dual_bound": float(info.mip_dual_bound),
    }


def main(argv: list[str]) -> int:
    problem_path, result_path = argv
    with np.load(problem_path, allow_pickle=False) as f:
        problem = dict(f)
    stop = threading.Event()

    def listen():  # a line or the end of stdin: stop early
        try:
            sys.stdin.readline()
        finally:
            stop.set()

    threading.Thread(target=listen, daemon=True).start()
    out = solve(problem, stop)
    tmp = f"{result_path}.{os.getpid()}.tmp.npz"
    np.savez(tmp, **{k: np.asarray(v) for k, v in out.items()})
    os.replace(tmp, result_path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
