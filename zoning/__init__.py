"""zoning: plan school service zones (招生服务片区) and assign homes to schools in Chongqing.

The handful of names a notebook needs are here; everything else lives in its module
(:mod:`zoning.crs`, :mod:`zoning.unitcode`, :mod:`zoning.io`, :mod:`zoning.store`,
:mod:`zoning.zones`, :mod:`zoning.demo`, :mod:`zoning.maps`, :mod:`zoning.textimport`).
"""

from zoning.address import AddressIndex, normalize_address, parse_address
from zoning.assign import Locator, assign_parcels, assign_points
from zoning.crs import from_working, to_working
from zoning.errors import (
    CRSError,
    InfeasibleError,
    UnitCodeError,
    ValidationError,
    ZoningError,
    ZoningWarning,
)
from zoning.io import read_layer, read_table, write_layer
from zoning.lookup import lookup
from zoning.store import Dataset, GeoPackageStore, open_store
from zoning.textimport import import_plan, import_text, read_text_list
from zoning.unitcode import UnitCode, is_valid, parse
from zoning.zones import validate

__version__ = "0.1.0"

__all__ = [
    "AddressIndex",
    "CRSError",
    "Dataset",
    "GeoPackageStore",
    "InfeasibleError",
    "Locator",
    "UnitCode",
    "UnitCodeError",
    "ValidationError",
    "ZoningError",
    "ZoningWarning",
    "assign_parcels",
    "assign_points",
    "from_working",
    "import_plan",
    "import_text",
    "is_valid",
    "lookup",
    "normalize_address",
    "open_store",
    "parse",
    "parse_address",
    "read_layer",
    "read_table",
    "read_text_list",
    "to_working",
    "validate",
    "write_layer",
]


def load_dataset(path) -> Dataset:
    """Read a district store (a GeoPackage path) into a :class:`Dataset`."""
    return open_store(path).load()


__all__ += ["load_dataset"]
