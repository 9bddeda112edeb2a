"""Longer, bounded hypothesis runs of the fuzz targets (not part of ``make test``).

Runs each parser's strategy in chunks of examples with a new seed per chunk until its time is
up, counts the examples that ran, and keeps every minimal failing input in
``tests/corpus/<parser>/`` (the suite replays them for ever after)::

    .venv/bin/python tests/fuzz/run_hypothesis.py                 # every parser, 120 s each
    .venv/bin/python tests/fuzz/run_hypothesis.py address rules --seconds 300

Exit status 1 when anything failed.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import traceback
import warnings
from pathlib import Path

from hypothesis import HealthCheck, Phase, given, seed, settings

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fuzz import targets as T  # noqa: E402


def _demo():
    """A tiny demo district: the address index and the schools (built in about a second)."""
    from zoning.address import AddressIndex
    from zoning.demo import write_demo
    from zoning.store import GeoPackageStore

    path = Path(tempfile.mkdtemp(prefix="fuzz-demo-")) / "demo.gpkg"
    write_demo(path, seed=11, n_parcels=500, n_addresses=2_000)
    ds = GeoPackageStore(path).load()
    return AddressIndex.from_frame(ds.addresses), ds


def parsers(index, ds) -> dict:
    """parser → (strategy, target(example), save(example, folder))."""

    def text(folder, x):
        T.unique_name(folder, "found", ".txt").write_bytes(x.encode("utf-8", "surrogatepass"))

    def file(folder, x):
        data, suffix = x
        T.unique_name(folder, "found", suffix or ".bin").write_bytes(data)

    def layer(folder, x):
        files, kind = x
        T.save_bundle(T.unique_name(folder, "found", ".json"), files, kind=kind)

    def lottery(folder, x):
        T.save_bundle(T.unique_name(folder, "found", ".json"),
                      {k: v for k, v in x.items() if v is not None})

    def plan(folder, x):
        T.save_bundle(T.unique_name(folder, "found", ".json"), x)

    return {
        "unitcode": (T.unitcode_inputs(), T.unitcode_target, text),
        "address": (T.address_inputs(), lambda s: T.address_target(s, index), text),
        "rules": (T.rules_inputs(), T.rules_target, text),
        "text_list": (T.text_list_inputs(), T.text_list_target, text),
        "enroll_text": (T.enroll_text_inputs(), T.enroll_text_target, text),
        "text_file": (T.text_file_inputs(), lambda x: T.text_file_target(*x), file),
        "layer": (T.layer_inputs(), lambda x: T.layer_files_target(*x), layer),
        "applicants": (T.applicant_inputs(), lambda x: T.applicants_target(*x, ds.schools), file),
        "lottery": (T.lottery_inputs(), T.lottery_target, lottery),
        "plan": (T.plan_inputs(T.zone_files(ds)), lambda x: T.plan_target(x, ds), plan),
    }


def _leaves(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [e for sub in exc.exceptions for e in _leaves(sub)]
    return [exc]


def _signature(exc: BaseException) -> str:
    """Exception type and the innermost frame inside zoning/ (or the last frame)."""
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if "/zoning/" in f.filename] or frames[-1:]
    where = f"{Path(ours[-1].filename).name}:{ours[-1].lineno}" if ours else "?"
    return f"{type(exc).__name__} at {where}"


def run(name, strategy, target, save, *, seconds: float, chunk: int, keep: bool,
        verbose: bool = False) -> dict:
    count = 0
    found: dict[str, str] = {}
    start = time.perf_counter()
    k = 0
    while time.perf_counter() - start < seconds:
        k += 1

        @seed(k)
        @settings(max_examples=chunk, deadline=None, database=None, derandomize=False,
                  phases=[Phase.generate, Phase.shrink],
                  suppress_health_check=list(HealthCheck))
        @given(strategy)
        def test(x):
            nonlocal count
            count += 1
            try:
                target(x)
            except Exception as exc:  # keep the input with the error for the report
                exc.fuzz_input = x  # noqa: B023 - read at once, in this iteration
                raise

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                test()
        except Exception as group:  # a contract failure: report it once, keep the input
            for exc in _leaves(group):
                sig = _signature(exc)
                if sig in found:
                    continue
                found[sig] = f"{exc}"[:300]
                x = getattr(exc, "fuzz_input", None)
                print(f"[{name}] {sig}: {found[sig]}\n    input: {x!r:.400}", flush=True)
                if verbose:
                    frames = traceback.format_tb(exc.__traceback__)
                    print("".join(frames[-6:]), flush=True)
                if keep and x is not None:
                    save(T.CORPUS / name, x)
    return {"parser": name, "examples": count, "chunks": k, "failures": len(found),
            "seconds": round(time.perf_counter() - start, 1), "found": found}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("parsers", nargs="*", help="parsers to run (default: all)")
    ap.add_argument("--seconds", type=float, default=120.0, help="time per parser")
    ap.add_argument("--chunk", type=int, default=500, help="examples per hypothesis run")
    ap.add_argument("-v", "--verbose", action="store_true", help="print the tracebacks")
    ap.add_argument("--no-keep", action="store_true", help="do not write failures to the corpus")
    args = ap.parse_args(argv)
    index, ds = _demo()
    table = parsers(index, ds)
    names = args.parsers or list(table)
    rows = []
    for name in names:
        strategy, target, save = table[name]
        rows.append(run(name, strategy, target, save, seconds=args.seconds, chunk=args.chunk,
                        keep=not args.no_keep, verbose=args.verbose))
        print(rows[-1], flush=True)
    print("\nparser        examples  failures  seconds")
    for r in rows:
        print(f"{r['parser']:<12} {r['examples']:>9} {r['failures']:>9} {r['seconds']:>8}")
    return 1 if any(r["failures"] for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
