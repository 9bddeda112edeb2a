"""Coverage-guided fuzzing (atheris, libFuzzer) of the pure-text parsers (not part of ``make test``).

One parser per run, the same contract and targets as the suite (``targets.py``); the input is
the fuzzer's bytes read as UTF-8 (invalid bytes become U+FFFD), started from the real samples and
a dictionary of the characters addresses and codes are made of::

    pip install atheris          # a wheel for CPython 3.11 on x86-64 Linux; no clang needed
    .venv/bin/python tests/fuzz/run_atheris.py unitcode -max_total_time=180
    .venv/bin/python tests/fuzz/run_atheris.py address -max_total_time=300 -timeout=30

Parsers: ``unitcode``, ``address`` (with the index of a small demo district), ``rules``,
``text_list``, ``enroll_text``. libFuzzer prints ``Done N runs in T second(s)`` at the end; a crash
(an exception that is not a ZoningError, or a broken property) is written as ``crash-<sha1>`` in
the working directory: copy it to ``tests/corpus/<parser>/`` once it is fixed. The fuzzer's
growing corpus is kept in ``$TMPDIR/zoning-atheris/<parser>`` (not in the repository).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

with atheris.instrument_imports(include=["zoning"]):
    import zoning.address
    import zoning.enroll
    import zoning.textimport
    import zoning.unitcode  # noqa: F401

from fuzz import targets as T  # noqa: E402

T.USE_ALARM = False  # libFuzzer's -timeout uses SIGALRM itself


def _seeds(parser: str) -> list[str]:
    return {
        "unitcode": T.VALID_CODES + T.VALID_PARCELS + ["500112 001002 gb00012 f00010203"],
        "address": T.address_seeds(),
        "rules": T.rule_seeds(),
        "text_list": T.text_list_seeds(),
        "enroll_text": ["50011220200831123X", "ABCD-EFGH-JKMNP"],
    }[parser]


def _dictionary(path: Path) -> None:
    """libFuzzer dictionary: every character of :data:`targets.NASTY` and a few words."""
    words = list(dict.fromkeys(T.NASTY)) + ["号附", "栋", "单元", "除外", "单号", "双号", "以上",
                                            "社区", "组", "交叉口", "之一", "GB", "F000"]
    lines = []
    for w in words:
        raw = w.encode("utf-8", "surrogatepass")
        lines.append('"' + "".join(f"\\x{b:02x}" for b in raw) + '"')
    path.write_text("\n".join(lines) + "\n", encoding="ascii")


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in ("unitcode", "address", "rules", "text_list",
                                                   "enroll_text"):
        sys.exit(__doc__)
    parser = sys.argv.pop(1)
    index = None
    if parser == "address":
        from zoning.address import AddressIndex
        from zoning.demo import write_demo
        from zoning.store import GeoPackageStore

        demo = Path(tempfile.mkdtemp(prefix="fuzz-demo-")) / "demo.gpkg"
        write_demo(demo, seed=11, n_parcels=500, n_addresses=2_000)
        index = AddressIndex.from_frame(GeoPackageStore(demo).load().addresses)
    target = {"unitcode": T.unitcode_target, "rules": T.rules_target,
              "text_list": T.text_list_target, "enroll_text": T.enroll_text_target,
              "address": lambda s: T.address_target(s, index)}[parser]

    corpus = Path(tempfile.gettempdir()) / "zoning-atheris" / parser
    corpus.mkdir(parents=True, exist_ok=True)
    for k, seed in enumerate(_seeds(parser)):
        (corpus / f"seed-{k:03d}").write_bytes(seed.encode("utf-8"))
    for p in T.corpus_files(parser):  # what once broke something is a good start too
        (corpus / f"regression-{p.name}").write_bytes(p.read_bytes())
    dictionary = corpus.parent / f"{parser}.dict"
    _dictionary(dictionary)

    def one(data: bytes) -> None:
        target(data.decode("utf-8", errors="replace"))

    args = [*sys.argv, f"-dict={dictionary}", str(corpus)]
    if not any(a.startswith("-timeout") for a in args):
        args.insert(1, "-timeout=30")
    atheris.Setup(args, one)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
