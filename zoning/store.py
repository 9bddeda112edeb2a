"""The embedded store: one GeoPackage file holding a district's layers, plans and audit log.

Layers ``district``, ``schools``, ``zones``, ``parcels``, ``addresses``; attribute tables ``classes``,
``enrolment``, ``births``, ``housing``; and the store's own tables ``plans``, ``applicants`` and
``audit_log``, plus the enrolment season's ``enrol_results`` and ``notices``. Every write that
changes layers goes to a copy of the file which replaces the original only when complete: a failed
import leaves the store as it was. Rows of the store's own tables and their audit entries are written
in single SQLite transactions.

The audit log is append-only and hash-chained: each entry stores the SHA-256 of the previous entry
(``prev_hash``) and its own (``hash``, over ``prev_hash`` and the entry's fields), so an edited or
deleted entry breaks the chain (:meth:`GeoPackageStore.verify_audit`). A file written before the
chain existed is migrated on its next write: the columns are added and the existing entries chained
in order. The chain is public (no secret key): whoever can rewrite the file can also recompute every
hash, so a district records the head hash elsewhere (a daily report) and checks it with
``verify_audit(head=...)``.

The PostGIS back end (:mod:`zoning.postgis`) has the same schema and methods, chosen with a
``postgresql://`` URL in :func:`open_store`; :func:`copy_store` moves a store between the two.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import math
import os
import sqlite3
from collections.abc import Iterable
from contextlib import closing, suppress
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio

from zoning.errors import PlanConflict, ValidationError
from zoning.io import LAYERS, TABLES, atomic_path, read_layer, read_table, refuse_personal_fields

__all__ = ["AuditCheck", "Dataset", "GeoPackageStore", "copy_store", "open_store", "store_label",
           "store_location"]

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
            detail TEXT NOT NULL DEFAULT '',
            prev_hash TEXT,
            hash TEXT
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
            payload TEXT NOT NULL DEFAULT '{}',
            base_id TEXT,
            branch INTEGER NOT NULL DEFAULT 0
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
            created_at TEXT NOT NULL,
            hukou_unit_code TEXT,
            hukou_holder TEXT NOT NULL DEFAULT 'parent',
            hukou_since_birth INTEGER NOT NULL DEFAULT 0,
            hukou_date TEXT,
            property_owner TEXT NOT NULL DEFAULT 'parent',
            residence_unit_code TEXT,
            residence_permit_start TEXT,
            rural INTEGER NOT NULL DEFAULT 0,
            disability TEXT NOT NULL DEFAULT 'none',
            home_teaching INTEGER NOT NULL DEFAULT 0,
            special_group TEXT,
            special_reason TEXT,
            sibling_group TEXT,
            applied_on TEXT,
            override_by TEXT,
            override_reason TEXT
        )""",
    # one row per applicant and season: the decision, the rule and seed it cites, the placement
    "enrol_results": """
        CREATE TABLE IF NOT EXISTS enrol_results (
            applicant_id TEXT NOT NULL,
            year INTEGER NOT NULL,
            level TEXT NOT NULL,
            outcome TEXT NOT NULL,
            route TEXT,
            school_id TEXT,
            zone_id TEXT,
            rule TEXT NOT NULL,
            citation TEXT NOT NULL,
            reason_zh TEXT NOT NULL,
            lottery_order INTEGER,
            lottery_hash TEXT,
            distance_m REAL,
            decided_at TEXT NOT NULL,
            PRIMARY KEY (year, applicant_id)
        )""",
    # admission notices with their 报到码 (seeds 000 四(五)); check-in fills checked_in_at
    "notices": """
        CREATE TABLE IF NOT EXISTS notices (
            code TEXT PRIMARY KEY,
            applicant_id TEXT NOT NULL,
            year INTEGER NOT NULL,
            level TEXT NOT NULL,
            school_id TEXT NOT NULL,
            route TEXT NOT NULL,
            issued_at TEXT NOT NULL,
            text_zh TEXT NOT NULL,
            checked_in_at TEXT,
            checked_in_by TEXT
        )""",
    # sign-in (zoning.auth): local users with salted slow hashes (argon2id), never the password
    "users": """
        CREATE TABLE IF NOT EXISTS users (
            username TEXT PRIMARY KEY,
            display_name TEXT NOT NULL DEFAULT '',
            role TEXT NOT NULL,
            pw_hash TEXT NOT NULL,
            active INTEGER NOT NULL DEFAULT 1,
            created_at TEXT NOT NULL,
            disabled_at TEXT
        )""",
    # sessions: only the SHA-256 of the bearer token is stored; the token is shown once
    "sessions": """
        CREATE TABLE IF NOT EXISTS sessions (
            token_hash TEXT PRIMARY KEY,
            username TEXT NOT NULL,
            created_at TEXT NOT NULL,
            expires_at TEXT NOT NULL,
            revoked_at TEXT
        )""",
}

# Columns of the own tables that are never handed out by :meth:`GeoPackageStore.read` (screens,
# exports): password hashes are read only through :meth:`GeoPackageStore.query` by zoning.auth.
_SECRET_COLUMNS = {"users": ("pw_hash",), "sessions": ("token_hash",)}

# Indexes of the own tables. One active application per child and year, public or private,
# never both (seeds 000 四(二)): a second one fails in the database even if two imports race.
_OWN_INDEXES = {
    "applicants_one_per_child": """
        CREATE UNIQUE INDEX IF NOT EXISTS applicants_one_per_child ON applicants (year, id_number)
        WHERE status NOT IN ('withdrawn', 'rejected', 'cancelled', 'duplicate')""",
    "notices_applicant": """
        CREATE INDEX IF NOT EXISTS notices_applicant ON notices (year, applicant_id)""",
}

#: ``prev_hash`` of the first audit entry.
GENESIS = "0" * 64


def _entry_hash(prev_hash: str, entry_id, at, actor, action, target, detail) -> str:
    """SHA-256 of one audit entry, chained to the previous entry's hash."""
    body = json.dumps([int(entry_id), at, actor, action, target, detail], ensure_ascii=False,
                      separators=(",", ":"))
    return hashlib.sha256(f"{prev_hash}\n{body}".encode()).hexdigest()


@dataclass(frozen=True)
class AuditCheck:
    """What :meth:`GeoPackageStore.verify_audit` found.

    Attributes
    ----------
    ok : bool
        The chain is whole (and ends at ``head`` when one was given).
    entries : int
        Entries read.
    head : str or None
        Hash of the last entry: record it elsewhere to detect a rewritten log later.
    broken_entry : int or None
        ``entry_id`` of the first entry found broken (edited, or following a deletion); for
        entries deleted at the end, the first missing id.
    problem, problem_zh : str
        What is wrong, in English and in Chinese ("" when ok).
    """

    ok: bool
    entries: int
    head: str | None
    broken_entry: int | None = None
    problem: str = ""
    problem_zh: str = ""


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


class _StoreCommon:
    """What both back ends do the same way, over their own ``layers``/``read``/``_write``."""

    def load(self) -> Dataset:
        """Read the whole district into a :class:`Dataset`."""
        present = set(self.layers())
        missing = [n for n in ("schools", "zones", "parcels", "addresses") if n not in present]
        if missing:
            raise ValidationError(
                f"{self._label()}: missing layer(s) {', '.join(missing)}; import them with the "
                "CLI, copy a store in (`zoning store copy`) or rebuild the demo"
            )
        layers = {n: self.read(n) for n in ("schools", "zones", "parcels", "addresses")}
        district = self.read("district") if "district" in present else None
        tables = {n: self.read(n) for n in TABLES if n in present}
        return Dataset(**layers, district=district, tables=tables)

    def save(self, dataset: Dataset, *, actor: str | None = None, note: str = "") -> None:
        """Write every layer and table of ``dataset``, atomically.

        One file replace (GeoPackage) or one transaction (PostGIS): all of it, or nothing.

        Parameters
        ----------
        dataset : Dataset
            What to write; layers not in it are kept.
        actor : str, optional
            Who saves; when given, the save is written to the audit log with it.
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

    def dump(self) -> dict:
        """Everything in the store, for :func:`copy_store` (layers, tables, own tables, log)."""
        return _dump(self)

    def audit_log(self) -> pd.DataFrame:
        """The audit log, oldest first."""
        return self.read("audit_log")


class GeoPackageStore(_StoreCommon):
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

    def _label(self) -> str:
        return str(self.path)

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
                    frame = pd.read_sql_query(f"SELECT * FROM {name} ORDER BY rowid", con)
                    return frame.drop(columns=list(_SECRET_COLUMNS.get(name, ())),
                                      errors="ignore")
            with closing(sqlite3.connect(":memory:")) as con:
                con.execute(_OWN_TABLES[name])
                frame = pd.read_sql_query(f"SELECT * FROM {name}", con)
                return frame.drop(columns=list(_SECRET_COLUMNS.get(name, ())), errors="ignore")
        raise ValidationError(
            f"{self.path}: unknown layer {name!r}; known: "
            f"{', '.join([*LAYERS, *TABLES, *_OWN_TABLES])}"
        )

    def _write(self, frames: dict, *, actor: str | None, action: str, target: str,
               detail: str) -> None:
        _check_frames(frames)
        if self.path.exists():
            with closing(self._connect()):
                pass  # refuse to build on a damaged file
        with atomic_path(self.path, copy=True) as tmp:
            _write_layers(frames, tmp)
            with closing(self._connect(tmp)) as con, con:
                self._ensure_own_tables(con)
                if actor is not None:
                    self._append_audit(con, actor, action, target, detail)

    def _ensure_own_tables(self, con: sqlite3.Connection) -> None:
        """Create the own tables, and migrate older files: add new columns, chain the audit log."""
        have = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        for name, ddl in _OWN_TABLES.items():
            if name not in have:
                con.execute(ddl)
                if "gpkg_contents" in have:
                    _register_attribute_table(con, name)
            else:
                added = self._add_missing_columns(con, name)
                if name == "audit_log" and "hash" in added:
                    self._chain_existing(con)
        for ddl in _OWN_INDEXES.values():
            # an older file may already hold duplicates: the importer still refuses new ones
            with suppress(sqlite3.IntegrityError):
                con.execute(ddl)

    @staticmethod
    def _add_missing_columns(con: sqlite3.Connection, name: str) -> list[str]:
        """ALTER TABLE an own table of an older file to the current schema; the added columns."""
        have = {r[1] for r in con.execute(f"PRAGMA table_info({name})")}
        with closing(sqlite3.connect(":memory:")) as mem:
            mem.execute(_OWN_TABLES[name])
            want = mem.execute(f"PRAGMA table_info({name})").fetchall()
        added = []
        for _cid, col, kind, notnull, default, _pk in want:
            if col in have:
                continue
            spec = f"{col} {kind}"
            if default is not None:
                spec += f" DEFAULT {default}"
            if notnull and default is not None:
                spec += " NOT NULL"
            con.execute(f"ALTER TABLE {name} ADD COLUMN {spec}")
            added.append(col)
        return added

    @staticmethod
    def _chain_existing(con: sqlite3.Connection) -> None:
        """Chain the entries of an audit log written before the chain existed, oldest first."""
        prev = GENESIS
        rows = con.execute("SELECT entry_id, at, actor, action, target, detail FROM audit_log "
                           "ORDER BY entry_id").fetchall()
        for row in rows:
            h = _entry_hash(prev, *row)
            con.execute("UPDATE audit_log SET prev_hash = ?, hash = ? WHERE entry_id = ?",
                        (prev, h, row[0]))
            prev = h

    @staticmethod
    def _append_audit(con, actor, action, target, detail) -> None:
        row = (_now(), str(actor), str(action), str(target), _audit_text(detail))
        # insert first: from then on this transaction holds the write lock, so the previous
        # entry read below is the last one for good (two writers cannot chain to the same entry)
        cur = con.execute(
            "INSERT INTO audit_log (at, actor, action, target, detail) VALUES (?, ?, ?, ?, ?)", row)
        entry_id = cur.lastrowid
        last = con.execute("SELECT hash FROM audit_log WHERE entry_id < ? ORDER BY entry_id DESC "
                           "LIMIT 1", (entry_id,)).fetchone()
        prev = GENESIS if last is None else (last[0] or GENESIS)
        con.execute("UPDATE audit_log SET prev_hash = ?, hash = ? WHERE entry_id = ?",
                    (prev, _entry_hash(prev, entry_id, *row), entry_id))

    def verify_audit(self, *, head: str | None = None) -> AuditCheck:
        """Check the audit log's hash chain; report the first edited or deleted entry.

        Reading only: the file is not changed. Detected: an entry whose fields no longer give its
        hash (edited), an entry whose ``prev_hash`` is not the hash of the entry before it or a
        gap in the entry ids (deleted or inserted), entries deleted at the end (SQLite's
        AUTOINCREMENT counter is ahead of the last entry), and, with ``head``, a log that does
        not contain the head hash recorded earlier (rewritten with recomputed hashes).

        Parameters
        ----------
        head : str, optional
            A head hash recorded earlier (``AuditCheck.head``), optionally as ``"ENTRY_ID:HASH"``;
            the log must contain it (at that entry).

        Returns
        -------
        AuditCheck

        Raises
        ------
        ValidationError
            If the store does not exist or is not a GeoPackage.
        """
        self._require()
        with closing(self._connect()) as con:
            if not self._has_table(con, "audit_log"):
                return AuditCheck(True, 0, None)
            cols = {r[1] for r in con.execute("PRAGMA table_info(audit_log)")}
            if not {"prev_hash", "hash"} <= cols:
                n = con.execute("SELECT count(*) FROM audit_log").fetchone()[0]
                return AuditCheck(
                    False, n, None, None,
                    f"{self.path}: the audit log predates hash chaining and cannot be verified; "
                    "any write to the store (or `zoning audit verify --migrate`) chains the "
                    "existing entries from then on",
                    "审计日志为旧格式，尚未建立哈希链，无法核验；对该数据库的任何一次写入（或运行 "
                    "`zoning audit verify --migrate`）会为现有记录建立哈希链。")
            rows = con.execute("SELECT entry_id, at, actor, action, target, detail, prev_hash, "
                               "hash FROM audit_log ORDER BY entry_id").fetchall()
            seq = None
            if self._has_table(con, "sqlite_sequence"):
                got = con.execute("SELECT seq FROM sqlite_sequence WHERE name = 'audit_log'"
                                  ).fetchone()
                seq = None if got is None else int(got[0])
        return _check_chain(rows, seq, head)

    # ---------------------------------------------------------------- own tables, rows
    def query(self, name: str, where: dict | None = None) -> pd.DataFrame:
        """Rows of one of the store's own tables matching ``where`` (column = value), read only.

        Raises
        ------
        ValidationError
            For a name that is not one of the store's own tables, or an unknown column.
        """
        self._own(name)
        self._require()
        where = dict(where or {})
        clause = " AND ".join(f"{c} = ?" for c in where) or "1"
        params = [_sql_value(v) for v in where.values()]
        with closing(self._connect()) as con:
            if self._has_table(con, name):
                self._check_columns(con, name, where)
                return pd.read_sql_query(f"SELECT * FROM {name} WHERE {clause} ORDER BY rowid",
                                         con, params=params)
        # reading never writes: a store without the table yet reads as an empty table
        with closing(sqlite3.connect(":memory:")) as con:
            con.execute(_OWN_TABLES[name])
            self._check_columns(con, name, where)
            return pd.read_sql_query(f"SELECT * FROM {name} WHERE {clause}", con, params=params)

    def write_rows(self, rows: dict[str, pd.DataFrame], *, replace: dict[str, dict] | None = None,
                   audit: Iterable[dict] = ()) -> None:
        """Insert rows into the store's own tables, with audit entries, in one transaction.

        Everything is written, or nothing (a duplicate key or a second application of the same
        child rolls the whole write back).

        Parameters
        ----------
        rows : dict of str to pandas.DataFrame
            Table name → rows; the columns must be columns of the table.
        replace : dict of str to dict, optional
            Table name → ``{column: value}``: delete the matching rows first (re-running a
            season replaces that season's rows).
        audit : iterable of dict
            Entries with ``actor``, ``action``, ``target`` and ``detail``, appended in order.

        Raises
        ------
        ValidationError
            Unknown table or column, a key already stored, a second active application of one
            child in a year (seeds 000 四(二)).
        PersonalDataError
            A column holds guardians' occupation or income.
        """
        self._require()
        for name, frame in rows.items():
            self._own(name)
            refuse_personal_fields(frame, layer=name)
        with closing(self._connect()) as con:
            try:
                with con:
                    self._ensure_own_tables(con)
                    for name, where in (replace or {}).items():
                        self._own(name)
                        self._check_columns(con, name, where)
                        clause = " AND ".join(f"{c} = ?" for c in where) or "1"
                        con.execute(f"DELETE FROM {name} WHERE {clause}",
                                    [_sql_value(v) for v in where.values()])
                    for name, frame in rows.items():
                        if not len(frame):
                            continue
                        cols = [str(c) for c in frame.columns]
                        self._check_columns(con, name, cols)
                        marks = ", ".join("?" * len(cols))
                        values = zip(*(_sql_column(frame.iloc[:, j])
                                       for j in range(frame.shape[1])), strict=True)
                        con.executemany(f"INSERT INTO {name} ({', '.join(cols)}) VALUES ({marks})",
                                        values)
                    for entry in audit:
                        self._append_audit(con, entry["actor"], entry["action"], entry["target"],
                                           entry.get("detail", ""))
            except sqlite3.IntegrityError as exc:
                raise ValidationError(
                    f"{self.path}: nothing was written: {exc}. A row with the same key is "
                    "already stored (an applicant_id, or a child who already has an active "
                    "application this year: public or private, never both, seeds 000 四(二)); "
                    "remove it from the input, or withdraw the stored one first") from exc

    def update_rows(self, name: str, where: dict, values: dict, *, only_if_null: str | None = None,
                    audit: Iterable[dict] = ()) -> int:
        """Update matching rows of an own table and append audit entries, in one transaction.

        Parameters
        ----------
        name : str
            One of the store's own tables.
        where : dict
            ``{column: value}`` selecting the rows.
        values : dict
            ``{column: new value}``.
        only_if_null : str, optional
            Update only rows where this column is still NULL (compare-and-set: a second
            check-in of the same 报到码 changes nothing).
        audit : iterable of dict
            Written only when at least one row changed.

        Returns
        -------
        int
            Rows changed.
        """
        self._require()
        self._own(name)
        with closing(self._connect()) as con, con:
            self._ensure_own_tables(con)
            self._check_columns(con, name, [*where, *values,
                                            *([only_if_null] if only_if_null else [])])
            clause = " AND ".join(f"{c} = ?" for c in where) or "1"
            if only_if_null:
                clause += f" AND {only_if_null} IS NULL"
            sets = ", ".join(f"{c} = ?" for c in values)
            cur = con.execute(f"UPDATE {name} SET {sets} WHERE {clause}",
                              [*map(_sql_value, values.values()), *map(_sql_value, where.values())])
            if cur.rowcount:
                for entry in audit:
                    self._append_audit(con, entry["actor"], entry["action"], entry["target"],
                                       entry.get("detail", ""))
            return cur.rowcount

    def migrate(self) -> None:
        """Bring an older file's own tables to the current schema (and chain its audit log)."""
        self._require()
        with closing(self._connect()) as con, con:
            self._ensure_own_tables(con)

    @staticmethod
    def _own(name: str) -> None:
        _check_own(name)

    @staticmethod
    def _check_columns(con, name: str, cols) -> None:
        have = {r[1] for r in con.execute(f"PRAGMA table_info({name})")}
        unknown = [str(c) for c in cols if c not in have]
        if unknown:
            raise ValidationError(f"table {name!r} has no column(s) {', '.join(unknown)}; its "
                                  f"columns are {', '.join(sorted(have))}")

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
    def save_plan_record(self, rec: dict, *, actor: str, statuses: tuple,
                         lineage: tuple = (), branch: bool = False) -> None:
        """Insert a plan version, or move a stored one to its next status, with an audit entry.

        One transaction: the plan row and its audit entry are written together or not at all.
        A plan id names one version forever: its content never changes, only its status, and
        only forwards (``statuses`` order), one step at a time.

        Optimistic locking: a new version is saved *over* the nearest stored version it was
        edited from (the first stored id in ``lineage``, its ancestors nearest first; stored as
        ``base_id``). A stored version takes one next version: when two planners edit the same
        stored version, the first save wins and the second is refused with
        :class:`~zoning.errors.PlanConflict` naming the newer version; nothing is overwritten.
        A plan with no stored ancestor (a fresh proposal from the zones in force) starts a line
        of its own. ``branch=True`` stores an alternative beside a line (an optimiser's trade-off
        plan, a variant to compare) without that check. Of two approvers moving the same plan
        on, exactly one succeeds.

        Raises
        ------
        PlanConflict
            Another version was saved over the same one meanwhile, or the stored plan's status
            moved on meanwhile (another approver).
        ValidationError
            The plan is stored with other content, or the status would skip or go backwards.
        """
        self._require()
        with closing(self._connect()) as con, con:
            # take the write lock before reading: the head check and the insert cannot interleave
            # with another process's save
            con.execute("BEGIN IMMEDIATE")
            self._ensure_own_tables(con)
            row = con.execute("SELECT status, payload FROM plans WHERE plan_id = ?",
                              (rec["plan_id"],)).fetchone()
            base = head = None
            if row is None and lineage:
                marks = ", ".join("?" * len(lineage))
                stored = {r[0] for r in con.execute(
                    f"SELECT plan_id FROM plans WHERE plan_id IN ({marks})", tuple(lineage))}
                base = next((p for p in lineage if p in stored), None)
                if base is not None and not branch:
                    head = con.execute(
                        "SELECT plan_id, author, created_at FROM plans WHERE base_id = ? AND "
                        "branch = 0 ORDER BY rowid DESC LIMIT 1", (base,)).fetchone()
            step = _plan_step(rec, row, statuses, base, head)
            if step is None:
                return
            if step == "insert":
                con.execute(
                    "INSERT INTO plans (plan_id, parent_id, level, author, note, status, "
                    "created_at, payload, base_id, branch) VALUES (:plan_id, :parent_id, :level, "
                    ":author, :note, :status, :created_at, :payload, :base_id, :branch)",
                    {**rec, "base_id": base, "branch": int(branch)})
                self._append_audit(con, actor, "plan_save", rec["plan_id"], {
                    "parent_id": rec["parent_id"], "base_id": base, "level": rec["level"],
                    "status": rec["status"], "note": rec["note"], "branch": bool(branch)})
                return
            old = row[0]
            cur = con.execute("UPDATE plans SET status = ? WHERE plan_id = ? AND status = ?",
                              (rec["status"], rec["plan_id"], old))
            if cur.rowcount != 1:  # pragma: no cover - guarded by the write lock
                raise PlanConflict(_conflict_message(rec["plan_id"], old, rec["status"]))
            self._append_audit(con, actor, "plan_status", rec["plan_id"],
                               {"from": old, "to": rec["status"]})

    def data_version(self) -> str:
        """A token that changes whenever a layer or table is written (for caches)."""
        self._require()
        with closing(self._connect()) as con:
            if not self._has_table(con, "gpkg_contents"):
                return ""
            row = con.execute("SELECT max(last_change) FROM gpkg_contents WHERE data_type IN "
                              "('features', 'attributes') AND table_name NOT IN "
                              f"({', '.join('?' * len(_OWN_TABLES))})",
                              tuple(_OWN_TABLES)).fetchone()
        return f"{self.path.stat().st_ino}:{row[0] or ''}"

    def _meta_rows(self) -> pd.DataFrame:
        with closing(self._connect()) as con:
            if not self._has_table(con, "meta"):
                return pd.DataFrame({"key": [], "value": []})
            return pd.read_sql_query("SELECT key, value FROM meta ORDER BY rowid", con)

    def _audit_seq(self) -> int | None:
        with closing(self._connect()) as con:
            if not self._has_table(con, "sqlite_sequence"):
                return None
            row = con.execute("SELECT seq FROM sqlite_sequence WHERE name = 'audit_log'").fetchone()
        return None if row is None else int(row[0])

    def restore(self, dump: dict, *, actor: str | None = None) -> None:
        """Write a :meth:`dump` into this store, which must not hold data yet, atomically."""
        frames = dump["layers"]
        _check_frames(frames)
        if self.path.exists():
            with closing(self._connect()) as con:
                have = {r[0] for r in con.execute("SELECT name FROM sqlite_master "
                                                  "WHERE type = 'table'")}
                used = have & {*LAYERS, *TABLES} or any(
                    con.execute(f"SELECT count(*) FROM {n}").fetchone()[0]
                    for n in _OWN_TABLES if n != "meta" and n in have)
            if used:
                raise ValidationError(f"{self.path}: the store is not empty; restore into a new "
                                      "file")
        with atomic_path(self.path, copy=self.path.exists()) as tmp:
            _write_layers(frames, tmp)
            with closing(self._connect(tmp)) as con, con:
                self._ensure_own_tables(con)
                for name, frame in dump["own"].items():
                    if not len(frame):
                        continue
                    have = {r[1] for r in con.execute(f"PRAGMA table_info({name})")}
                    cols = [c for c in frame.columns if c in have]
                    if name == "meta":
                        con.execute("DELETE FROM meta")
                    con.executemany(
                        f"INSERT INTO {name} ({', '.join(cols)}) VALUES "
                        f"({', '.join('?' * len(cols))})",
                        zip(*(_sql_column(frame[c]) for c in cols), strict=True))
                if dump.get("audit_seq"):
                    con.execute("DELETE FROM sqlite_sequence WHERE name = 'audit_log'")
                    con.execute("INSERT INTO sqlite_sequence (name, seq) VALUES ('audit_log', ?)",
                                (int(dump["audit_seq"]),))
                if actor is not None:
                    self._append_audit(con, actor, "restore", "store",
                                       f"{sum(len(f) for f in frames.values())} features")

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



def _audit_text(detail) -> str:
    return detail if isinstance(detail, str) else json.dumps(detail, ensure_ascii=False,
                                                             default=str)


def _check_own(name: str) -> None:
    if name not in _OWN_TABLES or name == "meta":
        raise ValidationError(f"{name!r} is not one of the store's own tables; use one of "
                              f"{', '.join(n for n in _OWN_TABLES if n != 'meta')}")


def _check_frames(frames: dict) -> None:
    """Refuse layers that carry forbidden personal fields or lack their id (before any write)."""
    for name, frame in frames.items():
        refuse_personal_fields(frame, layer=name)
        id_col = LAYERS.get(name, {}).get("id")
        if id_col and frame.index.name != id_col and id_col not in frame.columns:
            raise ValidationError(
                f"layer {name!r}: no {id_col} (index is {frame.index.name!r}, columns "
                f"{', '.join(map(str, frame.columns))}); index the frame by {id_col} "
                f"(frame.set_index({id_col!r}) or frame.rename_axis({id_col!r})) before saving"
            )
        if id_col:
            ids = frame.index if frame.index.name == id_col else pd.Index(frame[id_col])
            dup = ids[ids.duplicated()]
            if len(dup):
                raise ValidationError(
                    f"layer {name!r}: {len(dup)} duplicate {id_col} value(s) "
                    f"({', '.join(map(str, dup.unique()[:5]))}); every feature needs its own id: "
                    "merge or renumber them before saving")


def _conflict_message(plan_id: str, old: str, new: str) -> str:
    return (f"plan {plan_id} is already {old} in the store (another approver moved it on); it "
            f"cannot become {new}: reload it (方案 {plan_id} 已被他人改为“{old}”，请重新载入后再操作)")


def _plan_step(rec: dict, row, statuses: tuple, base, head) -> str | None:
    """What saving ``rec`` does given the stored ``row`` (status, payload).

    ``base`` is the stored version it was edited from, ``head`` (plan_id, author, created_at)
    the version already saved over ``base``, if any. ``"insert"`` a new version, ``"update"``
    its status, or None (already stored as it is).
    """
    if row is None:
        if head is not None:
            raise PlanConflict(
                f"plan {rec['plan_id']} was not saved: {head[1]} already saved version {head[0]} "
                f"over version {base} at {head[2]}. Nothing was overwritten. Load {head[0]} and "
                f"make the edit again, or save this one as an alternative (branch=True). "
                f"(已有人在同一版本上保存了新版本 {head[0]}（{head[1]}，{head[2]}）；本次未保存。"
                "请载入该版本后重新调整，或另存为备选方案。)")
        return "insert"
    old = row[0]
    if row[1] != rec["payload"]:
        raise ValidationError(f"plan {rec['plan_id']} is already stored with other content; a "
                              "stored plan never changes: edit it to make a new version")
    if old == rec["status"]:
        if statuses.index(old) == 0:
            return None  # the same draft saved twice
        # a second approver: the first one already moved it to this status
        raise PlanConflict(_conflict_message(rec["plan_id"], old, rec["status"]))
    if statuses.index(rec["status"]) != statuses.index(old) + 1:
        if statuses.index(rec["status"]) < statuses.index(old):
            raise PlanConflict(_conflict_message(rec["plan_id"], old, rec["status"]))
        raise ValidationError(f"plan {rec['plan_id']} is {old} in the store; it cannot become "
                              f"{rec['status']} (reload it and try again)")
    return "update"


def _dump(store) -> dict:
    """Everything in a store as frames: ``layers`` (layers and tables), ``own`` tables, counter."""
    present = set(store.layers())
    layers = {n: store.read(n) for n in (*LAYERS, *TABLES) if n in present}
    own = {n: store.query(n) for n in _OWN_TABLES if n != "meta"}
    own["meta"] = store._meta_rows()
    return {"layers": layers, "own": own, "audit_seq": store._audit_seq()}


def copy_store(source, target, *, actor: str | None = None) -> None:
    """Copy every layer, table, plan version, applicant row and the audit log into an empty store.

    The audit log is copied entry by entry with its hashes, so ``verify_audit`` on the copy gives
    the same head as on the source; a ``restore`` entry is then appended when ``actor`` is given.
    Used to move a district from its GeoPackage into PostGIS, to back a store up (export to a new
    ``.gpkg``) and to restore it.

    Parameters
    ----------
    source, target : store or str
        Stores or what :func:`open_store` takes (a ``.gpkg`` path or a ``postgresql://`` URL).
        ``target`` must hold no data yet.

    Raises
    ------
    ValidationError
        If the target already holds data (nothing is written), or the source cannot be read.
    """
    src = open_store(source) if isinstance(source, str | os.PathLike) else source
    dst = open_store(target) if isinstance(target, str | os.PathLike) else target
    dst.restore(src.dump(), actor=actor)


def _sql_value(v):
    """A pandas/numpy cell as SQLite takes it: None for missing, plain int/float/str."""
    if v is None:
        return None
    if isinstance(v, bool):
        return int(v)
    if hasattr(v, "item") and getattr(v, "ndim", None) == 0 and not isinstance(v, pd.Timestamp):
        v = v.item()
        if isinstance(v, bool):
            return int(v)
    if isinstance(v, float) and math.isnan(v):
        return None
    if v is pd.NaT or (isinstance(v, pd.Timestamp) and pd.isna(v)):
        return None
    if isinstance(v, pd.Timestamp | _dt.datetime | _dt.date):
        return v.isoformat()
    if v is pd.NA:
        return None
    return v


def _sql_column(s: pd.Series) -> list:
    """A column as SQLite values, converted at once (a frame of 50,000 rows in milliseconds)."""
    if pd.api.types.is_bool_dtype(s.dtype) and not s.isna().any():
        return s.astype(int).tolist()
    if pd.api.types.is_integer_dtype(s.dtype) and isinstance(s.dtype, np.dtype):
        return s.tolist()
    if pd.api.types.is_float_dtype(s.dtype) and isinstance(s.dtype, np.dtype):
        return [None if v != v else v for v in s.tolist()]
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        return [None if pd.isna(v) else v.isoformat() for v in s]
    values = s.to_numpy(dtype=object, na_value=None)
    return [v if v is None or isinstance(v, str | int | float) and not isinstance(v, bool)
            and v == v else _sql_value(v) for v in values]


def _check_chain(rows: list, seq: int | None, head: str | None) -> AuditCheck:
    """Walk the chain of audit rows (entry_id order); the first problem found, if any."""
    prev, prev_id = GENESIS, 0
    last_hash = None
    for entry_id, at, actor, action, target, detail, prev_hash, h in rows:
        if entry_id != prev_id + 1:
            missing = (f"entry {prev_id + 1}" if entry_id == prev_id + 2
                       else f"entries {prev_id + 1}-{entry_id - 1}")
            return AuditCheck(False, len(rows), last_hash, entry_id,
                              f"{missing} deleted: entry {entry_id} follows entry {prev_id}",
                              f"审计日志第 {prev_id + 1} 至 {entry_id - 1} 条已被删除（第 {entry_id} 条"
                              f"前缺少记录）。")
        if prev_hash != prev:
            return AuditCheck(False, len(rows), last_hash, entry_id,
                              f"entry {entry_id}: prev_hash does not match the hash of entry "
                              f"{prev_id}: an entry before it was deleted, replaced or edited",
                              f"审计日志第 {entry_id} 条与前一条记录的哈希不连续：其前的记录被删除、"
                              "替换或改动。")
        if h != _entry_hash(prev_hash, entry_id, at, actor, action, target, detail):
            return AuditCheck(False, len(rows), last_hash, entry_id,
                              f"entry {entry_id} was edited: its fields no longer give its hash",
                              f"审计日志第 {entry_id} 条已被改动（内容与其哈希不符）。")
        prev, prev_id, last_hash = h, entry_id, h
    if seq is not None and seq > prev_id:
        return AuditCheck(False, len(rows), last_hash, prev_id + 1,
                          f"entries {prev_id + 1}-{seq} deleted at the end of the log (entry ids "
                          f"were issued up to {seq})",
                          f"审计日志末尾第 {prev_id + 1} 至 {seq} 条已被删除。")
    if head:
        want_id, _, want = head.rpartition(":") if ":" in head else ("", "", head)
        hashes = {r[0]: r[7] for r in rows}
        found = (hashes.get(int(want_id)) == want if want_id.strip().isdigit()
                 else want in hashes.values())
        if not found:
            return AuditCheck(False, len(rows), last_hash, None,
                              f"the recorded head hash {head} is not in the log: the log was "
                              "rewritten (hashes recomputed) or entries up to it were deleted",
                              f"审计日志中找不到此前记录的哈希 {head}：日志已被重写或删除。")
    return AuditCheck(True, len(rows), last_hash)


def _write_layers(frames: dict, path: Path) -> None:
    """Write layers and attribute tables into a GeoPackage file (the temporary copy)."""
    for name, frame in frames.items():
        out = frame.reset_index() if frame.index.name else frame
        kwargs = {"layer": name, "driver": "GPKG"}
        if isinstance(out, gpd.GeoDataFrame):
            kwargs["geometry_type"] = _geometry_type(out)
        pyogrio.write_dataframe(out, path, **kwargs)


def _geometry_type(gdf: gpd.GeoDataFrame) -> str:
    kinds = set(gdf.geom_type.dropna().unique())
    if kinds <= {"Point"}:
        return "Point"
    if kinds <= {"Polygon", "MultiPolygon"}:
        return "MultiPolygon" if "MultiPolygon" in kinds else "Polygon"
    return "Unknown"


def store_location(url: str | os.PathLike) -> str:
    """A store's name as another process can open it: an absolute ``.gpkg`` path, or the URL.

    Raises
    ------
    ValidationError
        If a GeoPackage store does not exist (a PostGIS schema is checked when it is read).
    """
    store = open_store(url)
    if isinstance(store, GeoPackageStore):
        store._require()
        return str(store.path.resolve())
    return _mend_url(str(url))


def _mend_url(text: str) -> str:
    """A URL that went through pathlib (a CLI option typed Path) lost one slash: mend it."""
    for scheme in ("postgresql:/", "postgres:/"):
        if text.startswith(scheme) and not text.startswith(scheme + "/"):
            return scheme + "/" + text[len(scheme):]
    return text


def store_label(store) -> str:
    """A short name of a store for screens and health checks: file name or PostGIS schema."""
    return store.path.name if isinstance(store, GeoPackageStore) else f"{store.schema}"


def open_store(url: str | os.PathLike):
    """Open a store: a path to a ``.gpkg`` file, or a ``postgresql://`` URL (extra ``postgis``).

    Returns
    -------
    GeoPackageStore or zoning.postgis.PostGISStore
        Both offer the same methods.

    Raises
    ------
    ValidationError
        For an unknown URL scheme (the message never shows a password).
    """
    if not isinstance(url, str | os.PathLike) or isinstance(url, bytes):
        return url  # already a store
    text = _mend_url(str(url))
    if "://" in text:
        parts = urlsplit(text)
        if parts.scheme in ("postgresql", "postgres"):
            from zoning.postgis import PostGISStore

            return PostGISStore(text)
        # never echo credentials: user, password and query (?password=...) are left out
        shown = f"{parts.scheme}://{parts.hostname or ''}{parts.path}"
        raise ValidationError(
            f"{shown}: unknown store URL scheme {parts.scheme!r}; use a path to a .gpkg file "
            "or a postgresql:// URL"
        )
    return GeoPackageStore(text)
