"""One HiGHS solve in its own process, for the racing solves of :mod:`zoning.optimize`.

Run as ``python -m zoning._highs_worker PROBLEM.npz RESULT.npz``: reads the MIP (columns,
bounds, integrality, rows in compressed form, costs, an optional start and the HiGHS options)
from ``PROBLEM.npz``, solves it until its deadline, and writes what HiGHS found to
``RESULT.npz`` (written to a temporary name and renamed, so a half-written result is never read).

Several workers with different random seeds race on the cores, talking with the parent in lines:

- out (stdout): ``bound <dual> <primal>`` about twice a second;
- in (stdin): ``stop`` (or the end of stdin): stop early and report the best plan and dual bound
  so far.

The MIP is the same in every worker, so every worker's dual bound holds for every plan. (Handing
a worker's better plans to the others through HiGHS's user-solution callback was tried on the
demo district: it closed the gap later, not sooner, on four of five clusterings.)
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time

import numpy as np

#: Seconds between two progress reports.
REPORT_EVERY = 0.5


class _Link:
    """The worker's side of the conversation (the stdin reader thread and HiGHS's callback).

    ``report(best_objective, best_bound)`` is called every ``REPORT_EVERY`` seconds of the search
    (the worker prints it as a line; :meth:`zoning.optimize._Mip.run` uses the same callback for
    a solve in its own process).
    """

    def __init__(self, report=None):
        self.report = report
        self.stop = threading.Event()
        self.last = 0.0

    def listen(self, stream) -> None:
        try:
            for line in stream:
                if line.split()[:1] == ["stop"]:
                    break
        except (OSError, ValueError):
            pass
        finally:
            self.stop.set()

    def interrupt(self, e) -> None:
        """HiGHS's MIP interrupt callback: stop when told; report progress now and then."""
        if self.stop.is_set():
            e.interrupt()
            return
        now = time.monotonic()
        if self.report is not None and now - self.last >= REPORT_EVERY:
            self.last = now
            self.report(float(e.data_out.mip_primal_bound), float(e.data_out.mip_dual_bound))


def _print_bound(best: float, bound: float) -> None:
    """One progress line for the parent: ``bound <dual> <primal>``."""
    print(f"bound {bound!r} {best!r}", flush=True)


def solve(problem: dict, link: _Link | None = None) -> dict:
    """Solve the MIP of ``problem`` (:meth:`zoning.optimize._Mip.matrix` and the rest)."""
    import highspy

    from zoning.optimize import _highs

    link = link or _Link()
    options = json.loads(str(problem["options"]))
    h = _highs(options)
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
    h.cbMipInterrupt += link.interrupt
    if link.stop.is_set():  # stopped before it began
        return {"status": "Interrupted by user", "infeasible": False, "optimal": False,
                "col": np.zeros(0), "objective": np.nan, "dual_bound": -np.inf}
    h.run()
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
    link = _Link(_print_bound)
    threading.Thread(target=link.listen, args=(sys.stdin,), daemon=True).start()
    out = solve(problem, link)
    tmp = f"{result_path}.{os.getpid()}.tmp.npz"
    np.savez(tmp, **{k: np.asarray(v) for k, v in out.items()})
    os.replace(tmp, result_path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
