"""The embedded store: one GeoPackage file holding a district's layers, plans and audit log.

Layers ``district``, ``schools``, ``zones``, ``parcels``, ``addresses``; attribute tables ``classes``,
``enrolment``, ``births``, ``housing``; and the store's own tables ``plans``, ``applicants`` and
``audit_log``. Every write that changes layers goes to a copy of the file which replaces the original
only when complete: a failed import leaves the store as it was. Audit entries are single SQLite
transactions.

The PostGIS back end (same schema, chosen with a ``postgresql://`` URL) is a later addition.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import sqlite3
from contextlib import closing
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit

import geopandas as gpd
import pandas as pd
import pyogrio

from zoning.errors import ValidationError
from zoning.io import LAYERS, TABLES, atomic_path, read_layer, read_table, refuse_personal_fields

__all__ = ["Dataset", "GeoPackageStore", "open_store"]

# The store's own tables. Applicants hold only what the enrolment rules need (seeds 000 五(四)):
# no guardian occupation or income column exists, and none can be added through the importer.
_OWN_TABLES = {
    "meta": """
        CREATE TABLE IF NOT EXISTS meta (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        )""",
    "audit_log": """
        CREATE TABLE IF NOT EXISTS audit_log (
            entry_id INTEGER PRIMARY KEY AUTOINCREMENT,
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            target TEXT NOT NULL,
            detail TEXT NOT NULL DEFAULT ''
        )""",
    "plans": """
        CREATE TABLE IF NOT EXISTS plans (
            plan_id TEXT PRIMARY KEY,
            parent_id TEXT,
            level TEXT,
            author TEXT NOT NULL,
            note TEXT NOT NULL DEFAULT '',
            status TEXT NOT NULL DEFAULT 'draft',
            created_at TEXT NOT NULL,
            payload TEXT NOT NULL DEFAULT '{}'
        )""",
    "applicants": """
        CREATE TABLE IF NOT EXISTS applicants (
            applicant_id TEXT PRIMARY KEY,
            year INTEGER NOT NULL,
            level TEXT NOT NULL,
            id_number TEXT NOT NULL,
            name TEXT NOT NULL,
            birth_date TEXT NOT NULL,
            hukou_address TEXT,
            residence_address TEXT,
            property_unit_code TEXT,
            category TEXT NOT NULL DEFAULT 'local',
            application_type TEXT NOT NULL DEFAULT 'public',
            school_id TEXT,
            status TEXT NOT NULL DEFAULT 'registered',
            created_at TEXT NOT NULL
        )""",
}


@dataclass(frozen=True)
class Dataset:
    """A district's data in memory, all geometry in the working CRS.

    Attributes
    ----------
    schools, zones, parcels, addresses : geopandas.GeoDataFrame
        Indexed by ``school_id``, ``zone_id``, ``parcel_id``, ``address_id``.
    district : geopandas.GeoDataFrame or None
        The district boundary (one row), used for gap checks.
    tables : dict of str to pandas.DataFrame
        ``classes``, ``enrolment``, ``births``, ``housing`` where present.
    """

    schools: gpd.GeoDataFrame
    zones: gpd.GeoDataFrame
    parcels: gpd.GeoDataFrame
    addresses: gpd.GeoDataFrame
    district: gpd.GeoDataFrame | None = None
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)

    @property
    def crs(self):
        """The working CRS of the layers."""
        return self.zones.crs

    def layer(self, name: str):
        """Return a layer or table by name.

        Raises
        ------
        ValidationError
            For a name that is neither a layer nor a table of this dataset.
        """
        if name in LAYERS:
            return getattr(self, name)
        if name not in self.tables:
            raise ValidationError(
                f"dataset has no layer or table {name!r}; it has "
                f"{', '.join([*(n for n in LAYERS if getattr(self, n) is not None), *self.tables])}"
            )
        return self.tables[name]

    def with_layers(self, **layers) -> Dataset:
        """Return a copy with some layers replaced."""
        return replace(self, **layers)


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def _register_attribute_table(con: sqlite3.Connection, name: str) -> None:
    """Make a table visible to GIS software as a GeoPackage attribute table."""
    con.execute(
        "INSERT OR IGNORE INTO gpkg_contents (table_name, data_type, identifier, last_change) "
        "VALUES (?, 'attributes', ?, ?)",
        (name, name, "2000-01-01T00:00:00Z"),
    )


class GeoPackageStore:
    """A district store in one GeoPackage file.

    Parameters
    ----------
    path : path-like
        The ``.gpkg`` file. It need not exist yet: :meth:`save` creates it.

    Examples
    --------
    >>> store = GeoPackageStore("data/demo.gpkg")  # doctest: +SKIP
    >>> ds = store.load()  # doctest: +SKIP
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"GeoPackageStore({str(self.path)!r})"

    # ---------------------------------------------------------------- reading
    def layers(self) -> list[str]:
        """Names of the layers and tables in the file."""
        self._require()
        try:
            return [str(r[0]) for r in pyogrio.list_layers(self.path)]
        except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
            raise self._damaged(exc) from exc

    def _damaged(self, exc: Exception) -> ValidationError:
        return ValidationError(
            f"{self.path}: is not a readable GeoPackage ({exc}); the file may be truncated or "
            "damaged. Restore it from a backup, or rebuild it with `zoning demo` or by importing "
            "the layers again"
        )

    def _connect(self, path: Path | None = None) -> sqlite3.Connection:
        """An SQLite connection to the store, refusing files that are not SQLite databases."""
        con = sqlite3.connect(path or self.path)
        try:
            con.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.DatabaseError as exc:
            con.close()
            raise self._damaged(exc) from exc
        return con

    @staticmethod
    def _has_table(con: sqlite3.Connection, name: str) -> bool:
        row = con.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
        ).fetchone()
        return row is not None

    def _require(self) -> None:
        if not self.path.exists():
            raise ValidationError(
                f"{self.path}: no such store; build the demo with `zoning demo --out {self.path}` "
                "or import layers first"
            )

    def read(self, name: str):
        """Read one layer (GeoDataFrame, indexed by its id) or table (DataFrame)."""
        self._require()
        if name in LAYERS:
            return read_layer(self.path, name, layer=name)
        if name in TABLES:
            return read_table(self.path, name, sheet=name)
        if name in _OWN_TABLES:
            # reading never writes: a store without the table yet reads as an empty table
            with closing(self._connect()) as con:
                if self._has_table(con, name):
                    # rowid order is insertion order: the audit log oldest first
                    return pd.read_sql_query(f"SELECT * FROM {name} ORDER BY rowid", con)
            with closing(sqlite3.connect(":memory:")) as con:
                con.execute(_OWN_TABLES[name])
                return pd.read_sql_query(f"SELECT * FROM {name}", con)
        raise ValidationError(
            f"{self.path}: unknown layer {name!r}; known: "
            f"{', '.join([*LAYERS, *TABLES, *_OWN_TABLES])}"
        )

    def load(self) -> Dataset:
        """Read the whole district into a :class:`Dataset`."""
        present = set(self.layers())
        missing = [n for n in ("schools", "zones", "parcels", "addresses") if n not in present]
        if missing:
            raise ValidationError(
                f"{self.path}: missing layer(s) {', '.join(missing)}; import them with the CLI "
                "or rebuild the demo"
            )
        layers = {n: self.read(n) for n in ("schools", "zones", "parcels", "addresses")}
        district = self.read("district") if "district" in present else None
        tables = {n: self.read(n) for n in TABLES if n in present}
        return Dataset(**layers, district=district, tables=tables)

    # ---------------------------------------------------------------- writing
    def save(self, dataset: Dataset, *, actor: str | None = None, note: str = "") -> None:
        """Write every layer and table of ``dataset``, atomically.

        Parameters
        ----------
        dataset : Dataset
            What to write; layers not in it are kept.
        actor : str, optional
            Who saves; when given, the save is written to the audit log in the same file.
        note : str
            Free text for the audit log.
        """
        frames = {n: getattr(dataset, n) for n in LAYERS if getattr(dataset, n, None) is not None}
        frames.update(dataset.tables)
        self._write(frames, actor=actor, action="save", target="dataset", detail=note)

    def import_layer(self, kind: str, path: str | os.PathLike, *, actor: str, **read_kwargs):
        """Read a file as layer ``kind`` (checked and converted) and store it, atomically.

        Parameters
        ----------
        kind : str
            A layer (``schools``, ``zones`` …) or table (``births`` …) name.
        path : path-like
            The file to import.
        actor : str
            Who imports; written to the audit log.
        **read_kwargs
            Passed to :func:`zoning.io.read_layer` (``source="gcj02"``, ``encoding="GBK"`` …).

        Returns
        -------
        GeoDataFrame or DataFrame
            What was stored.
        """
        if kind in LAYERS:
            frame = read_layer(path, kind, **read_kwargs)
        elif kind in TABLES:
            frame = read_table(path, kind, **read_kwargs)
        else:
            raise ValidationError(f"kind {kind!r}: use one of {', '.join([*LAYERS, *TABLES])}")
        self._write({kind: frame}, actor=actor, action="import", target=kind,
                    detail=f"{len(frame)} rows from {Path(path).name}")
        return frame

    def _write(self, frames: dict, *, actor: str | None, action: str, target: str,
               detail: str) -> None:
        for name, frame in frames.items():
            refuse_personal_fields(frame, layer=name)
            id_col = LAYERS.get(name, {}).get("id")
            if id_col and frame.index.name != id_col and id_col not in frame.columns:
                raise ValidationError(
                    f"layer {name!r}: no {id_col} (index is {frame.index.name!r}, columns "
                    f"{', '.join(map(str, frame.columns))}); index the frame by {id_col} "
                    f"(frame.set_index({id_col!r}) or frame.rename_axis({id_col!r})) before saving"
                )
        if self.path.exists():
            with closing(self._connect()):
                pass  # refuse to build on a damaged file
        with atomic_path(self.path, copy=True) as tmp:
            for name, frame in frames.items():
                out = frame.reset_index() if frame.index.name else frame
                kwargs = {"layer": name, "driver": "GPKG"}
                if isinstance(out, gpd.GeoDataFrame):
                    kwargs["geometry_type"] = _geometry_type(out)
                pyogrio.write_dataframe(out, tmp, **kwargs)
            with closing(self._connect(tmp)) as con, con:
                self._ensure_own_tables(con)
                if actor is not None:
                    self._append_audit(con, actor, action, target, detail)

    def _ensure_own_tables(self, con: sqlite3.Connection) -> None:
        have = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        for name, ddl in _OWN_TABLES.items():
            if name not in have:
                con.execute(ddl)
                if "gpkg_contents" in have:
                    _register_attribute_table(con, name)

    @staticmethod
    def _append_audit(con, actor, action, target, detail) -> None:
        con.execute(
            "INSERT INTO audit_log (at, actor, action, target, detail) VALUES (?, ?, ?, ?, ?)",
            (_now(), str(actor), str(action), str(target),
             detail if isinstance(detail, str) else json.dumps(detail, ensure_ascii=False)),
        )

    def audit(self, actor: str, action: str, target: str, detail: str | dict = "") -> None:
        """Append one entry to the audit log (who did what to which zone or plan, and when)."""
        self._require()
        with closing(self._connect()) as con, con:
            self._ensure_own_tables(con)
            self._append_audit(con, actor, action, target, detail)

    def set_meta(self, key: str, value: str) -> None:
        """Store a small key/value fact about the store (schema version, how it was built)."""
        self._require()
        with closing(self._connect()) as con, con:
            self._ensure_own_tables(con)
            con.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def get_meta(self, key: str) -> str | None:
        """A value stored with :meth:`set_meta`, or None."""
        self._require()
        with closing(self._connect()) as con:
            if not self._has_table(con, "meta"):
                return None
            row = con.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    # ---------------------------------------------------------------- plans
    def save_plan_record(self, rec: dict, *, actor: str, statuses: tuple) -> None:
        """Insert a plan version, or move a stored one to its next status, with an audit entry.

        One SQLite transaction: the plan row and its audit entry are written together or not
        at all. A plan id names one version forever: its content never changes, only its
        status, and only forwards (``statuses`` order) from the status it had when read.

        Raises
        ------
        ValidationError
            If the stored plan moved on meanwhile (another planner or approver), or the status
            would go backwards.
        """
        self._require()
        with closing(self._connect()) as con, con:
            self._ensure_own_tables(con)
            row = con.execute("SELECT status, payload FROM plans WHERE plan_id = ?",
                              (rec["plan_id"],)).fetchone()
            if row is None:
                con.execute(
                    "INSERT INTO plans (plan_id, parent_id, level, author, note, status, "
                    "created_at, payload) VALUES (:plan_id, :parent_id, :level, :author, :note, "
                    ":status, :created_at, :payload)", rec)
                self._append_audit(con, actor, "plan_save", rec["plan_id"], {
                    "parent_id": rec["parent_id"], "level": rec["level"],
                    "status": rec["status"], "note": rec["note"]})
                return
            old = row[0]
            if row[1] != rec["payload"]:
                raise ValidationError(f"plan {rec['plan_id']} is already stored with other "
                                      "content; a stored plan never changes: edit it to make a "
                                      "new version")
            if old == rec["status"]:
                return
            if statuses.index(rec["status"]) != statuses.index(old) + 1:
                raise ValidationError(f"plan {rec['plan_id']} is {old} in the store; it cannot "
                                      f"become {rec['status']} (reload it and try again)")
            cur = con.execute("UPDATE plans SET status = ? WHERE plan_id = ? AND status = ?",
                              (rec["status"], rec["plan_id"], old))
            if cur.rowcount != 1:  # pragma: no cover - guarded by the transaction
                raise ValidationError(f"plan {rec['plan_id']} changed meanwhile; reload it")
            self._append_audit(con, actor, "plan_status", rec["plan_id"],
                               {"from": old, "to": rec["status"]})

    def plan_record(self, plan_id: str) -> dict:
        """One stored plan row as a dict.

        Raises
        ------
        ValidationError
            If there is no such plan.
        """
        self._require()
        with closing(self._connect()) as con:
            if self._has_table(con, "plans"):
                con.row_factory = sqlite3.Row
                row = con.execute("SELECT * FROM plans WHERE plan_id = ?", (plan_id,)).fetchone()
                if row is not None:
                    return dict(row)
        raise ValidationError(f"{self.path}: no plan {plan_id!r}; list them with "
                              "zoning.simulate.list_plans(store)")

    def audit_log(self) -> pd.DataFrame:
        """The audit log, oldest first."""
        return self.read("audit_log")


def _geometry_type(gdf: gpd.GeoDataFrame) -> str:
    kinds = set(gdf.geom_type.dropna().unique())
    if kinds <= {"Point"}:
        return "Point"
    if kinds <= {"Polygon", "MultiPolygon"}:
        return "MultiPolygon" if "MultiPolygon" in kinds else "Polygon"
    return "Unknown"


def open_store(url: str | os.PathLike) -> GeoPackageStore:
    """Open a store from a path to a ``.gpkg`` file (a ``postgresql://`` URL comes later).

    Raises
    ------
    ValidationError
        For a URL scheme that is not supported yet.
    """
    text = str(url)
    if "://" in text:
        parts = urlsplit(text)
        # never echo credentials: user, password and query (?password=...) are left out
        shown = f"{parts.scheme}://{parts.hostname or ''}{parts.path}"
        if parts.scheme in ("postgresql", "postgres"):
            raise ValidationError(
                f"{shown}: the PostGIS back end is not available in this version; "
                "use a .gpkg file"
            )
        raise ValidationError(
            f"{shown}: unknown store URL scheme {parts.scheme!r}; use a path to a .gpkg file"
        )
    return GeoPackageStore(text)
