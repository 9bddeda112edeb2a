"""The PostGIS back end: the same layers, tables, plans and audit log in PostgreSQL 15 + PostGIS 3.

Chosen with a URL wherever a store is named (``--store postgresql://user@host/db``, extra
``postgis``). A city keeps its 41 districts in one database, one schema each:
``postgresql://host/zoning?schema=yubei`` (default schema ``public``). The schema is created on the
first write; the PostGIS extension must be installable by the user (or already installed).

It behaves as :class:`zoning.store.GeoPackageStore` does, method for method, so the whole package
uses either through :func:`zoning.store.open_store`:

- Layers are tables with a ``geometry`` column (``geometry(Geometry, SRID)``) and a GiST index, in
  the working CRS; attribute tables are plain tables. A write replaces its tables inside one
  transaction with its audit entry: a failed import, a dropped connection or a killed process
  leaves the store exactly as it was (PostgreSQL's DDL is transactional).
- The store's own tables have the GeoPackage's columns (from the same schema definition,
  ``zoning.store._OWN_TABLES``) plus a hidden ``row_seq`` that keeps insertion order. Older
  schemas are migrated by adding the missing columns, as in the GeoPackage.
- The audit log is the same hash chain. Entry ids are issued under a table lock from a counter in
  ``meta`` (not a sequence, whose values a rolled-back transaction would skip), so a gap always
  means a deletion, and entries deleted at the end are found against the counter.
- Plan versions: a status change locks the plan's row (``SELECT … FOR UPDATE``), so of two
  approvers exactly one moves it; a new version is checked against the level's head under a
  lock (see :meth:`zoning.store.GeoPackageStore.save_plan_record`).

Credentials never appear in messages or ``repr``: only scheme, host, database and schema.
"""

from __future__ import annotations

import datetime as _dt
import re
import sqlite3
from collections.abc import Iterable
from contextlib import closing, contextmanager
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from zoning.errors import ValidationError
from zoning.io import LAYERS, TABLES, refuse_personal_fields
from zoning.store import (
    _OWN_INDEXES,
    _OWN_TABLES,
    _SECRET_COLUMNS,
    GENESIS,
    AuditCheck,
    PlanConflict,
    _audit_text,
    _check_chain,
    _check_frames,
    _check_own,
    _conflict_message,
    _entry_hash,
    _now,
    _plan_step,
    _sql_column,
    _sql_value,
    _StoreCommon,
)

__all__ = ["PostGISStore"]

_IDENT = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_PG_TYPES = {"INTEGER": "BIGINT", "REAL": "DOUBLE PRECISION", "TEXT": "TEXT"}


def _psycopg():
    try:
        import psycopg
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ValidationError(
            "the PostGIS back end needs psycopg: pip install -e \".[postgis]\" "
            "(未安装 PostGIS 支持：请运行 pip install -e \".[postgis]\")") from exc
    return psycopg


def _own_columns(name: str) -> list[tuple]:
    """(name, sqlite type, notnull, default, pk order) of an own table, from its definition."""
    with closing(sqlite3.connect(":memory:")) as mem:
        mem.execute(_OWN_TABLES[name])
        return [(c, t, bool(nn), d, pk) for _cid, c, t, nn, d, pk
                in mem.execute(f"PRAGMA table_info({name})")]


def _own_ddl(name: str) -> str:
    """PostgreSQL DDL of an own table, translated from its SQLite definition."""
    cols, keys = [], []
    for col, kind, notnull, default, pk in _own_columns(name):
        spec = f"{col} {_PG_TYPES.get(kind.upper(), 'TEXT')}"
        if default is not None:
            spec += f" DEFAULT {default}"
        if notnull:
            spec += " NOT NULL"
        cols.append(spec)
        if pk:
            keys.append((pk, col))
    cols.append("row_seq BIGSERIAL")
    if keys:
        cols.append(f"PRIMARY KEY ({', '.join(c for _, c in sorted(keys))})")
    return f"CREATE TABLE IF NOT EXISTS {name} ({', '.join(cols)})"


def _pg_type(s: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(s.dtype):
        return "BOOLEAN"
    if pd.api.types.is_integer_dtype(s.dtype):
        return "BIGINT"
    if pd.api.types.is_float_dtype(s.dtype):
        return "DOUBLE PRECISION"
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        return "TIMESTAMPTZ" if getattr(s.dtype, "tz", None) is not None else "TIMESTAMP"
    return "TEXT"


def _quote(name: str) -> str:
    return '"' + str(name).replace('"', '""') + '"'


class PostGISStore(_StoreCommon):
    """A district store in a PostgreSQL + PostGIS database schema.

    Parameters
    ----------
    url : str
        ``postgresql://[user[:password]@]host[:port]/database[?schema=name&…]``; other query
        parameters (``sslmode`` …) are passed to libpq.
    connect_timeout : int
        Seconds to wait for the server.

    Examples
    --------
    >>> store = PostGISStore("postgresql://planner@localhost/zoning?schema=yubei")  # doctest: +SKIP
    >>> store.import_store("data/demo.gpkg", actor="张工")  # doctest: +SKIP
    >>> ds = store.load()  # doctest: +SKIP
    """

    def __init__(self, url: str, *, connect_timeout: int = 10):
        parts = urlsplit(str(url))
        if parts.scheme not in ("postgresql", "postgres"):
            raise ValidationError(f"{parts.scheme}://…: not a PostgreSQL URL; use postgresql://")
        query = dict(parse_qsl(parts.query))
        schema = query.pop("schema", "public")
        if not _IDENT.match(schema):
            raise ValidationError(
                f"schema {schema!r}: use lower-case letters, digits and _ (at most 63), "
                "e.g. ?schema=yubei")
        self.schema = schema
        self._ready = False  # schema, PostGIS and own tables checked by a committed write
        self.shown = (f"postgresql://{parts.hostname or 'localhost'}"
                      f"{f':{parts.port}' if parts.port else ''}{parts.path}?schema={schema}")
        query.setdefault("connect_timeout", str(connect_timeout))
        query.setdefault("application_name", "zoning")
        self._conninfo = urlunsplit(("postgresql", parts.netloc, parts.path, urlencode(query), ""))

    def __repr__(self) -> str:
        return f"PostGISStore({self.shown!r})"

    def _label(self) -> str:
        return self.shown

    # ------------------------------------------------------------------ connections
    def _connect(self):
        psycopg = _psycopg()
        try:
            con = psycopg.connect(self._conninfo, autocommit=True)
        except psycopg.OperationalError as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ValidationError(
                f"{self.shown}: cannot connect ({first}); check that the server runs and the URL, "
                "user and password are right (scripts/postgis.sh starts a local test server)"
            ) from exc
        con.execute(f"SET search_path TO {self.schema}, public")
        return con

    @contextmanager
    def _transaction(self, *, create: bool = True):
        """A connection in one transaction: committed on success, rolled back on any error.

        The first write of a store object checks the schema, PostGIS and the own tables (and
        adds missing columns); later writes skip those catalogue queries (~30 ms) until one
        fails, so a schema dropped meanwhile is checked, and made, again.
        """
        psycopg = _psycopg()
        con = self._connect()
        check, ok = create and not self._ready, False
        try:
            with con.transaction():
                if check:
                    self._ensure_schema(con)
                yield con
            ok = True
        except psycopg.errors.IntegrityError as exc:
            table = getattr(exc.diag, "table_name", None) or ""
            if table in LAYERS:
                raise ValidationError(
                    f"{self.shown}: nothing was written: layer {table!r} has duplicate "
                    f"{LAYERS[table]['id']} values ({exc.diag.message_detail or exc}); make the "
                    "ids unique and save again") from exc
            raise ValidationError(
                f"{self.shown}: nothing was written: {str(exc).splitlines()[0]}. A row with the "
                "same key is already stored (an applicant_id, or a child who already has an "
                "active application this year: public or private, never both, seeds 000 四(二)); "
                "remove it from the input, or withdraw the stored one first") from exc
        except psycopg.OperationalError as exc:
            raise ValidationError(
                f"{self.shown}: the connection was lost during the write; nothing was written "
                f"({type(exc).__name__}). Try again when the server is back") from exc
        except (psycopg.errors.UndefinedTable, psycopg.errors.InvalidSchemaName,
                psycopg.errors.UndefinedColumn) as exc:
            if check:
                raise
            raise ValidationError(
                f"{self.shown}: nothing was written: the store's tables were dropped or changed "
                f"by another program since this one last wrote ({str(exc).splitlines()[0]}); "
                "try again: the next write checks the schema and makes what is missing") from exc
        finally:
            self._ready = (self._ready or check) if ok else False
            con.close()

    def _ensure_schema(self, con) -> None:
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {self.schema}")
        if con.execute("SELECT 1 FROM pg_extension WHERE extname = 'postgis'").fetchone() is None:
            try:
                with con.transaction():
                    con.execute("CREATE EXTENSION IF NOT EXISTS postgis SCHEMA public")
            except _psycopg().Error as exc:
                raise ValidationError(
                    f"{self.shown}: PostGIS is not installed in this database and this user "
                    "cannot install it; ask the database administrator to run "
                    "CREATE EXTENSION postgis") from exc
        self._ensure_own_tables(con)

    def _tables(self, con) -> set[str]:
        return {r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
            (self.schema,))}

    def _columns(self, con, name: str) -> list[str]:
        return [r[0] for r in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND "
            "table_name = %s ORDER BY ordinal_position", (self.schema, name))]

    def _ensure_own_tables(self, con) -> None:
        # the back end's own counters (audit entry ids, data version), apart from ``meta``
        con.execute("CREATE TABLE IF NOT EXISTS zoning_state (key TEXT PRIMARY KEY, value TEXT)")
        have = self._tables(con)
        for name in _OWN_TABLES:
            if name not in have:
                con.execute(_own_ddl(name))
                continue
            cols = set(self._columns(con, name))
            for col, kind, notnull, default, _pk in _own_columns(name):
                if col in cols:
                    continue
                spec = f"{col} {_PG_TYPES.get(kind.upper(), 'TEXT')}"
                if default is not None:
                    spec += f" DEFAULT {default}"
                    if notnull:
                        spec += " NOT NULL"
                con.execute(f"ALTER TABLE {name} ADD COLUMN {spec}")
        for ddl in _OWN_INDEXES.values():
            try:
                with con.transaction():
                    con.execute(ddl)
            except _psycopg().errors.UniqueViolation:
                pass  # an older store may hold duplicates: the importer still refuses new ones

    def _require(self, con) -> None:
        if not self._tables(con) & {*LAYERS, *TABLES, *_OWN_TABLES}:
            raise ValidationError(
                f"{self.shown}: no store in this schema yet; import one with "
                f"`zoning store copy data/demo.gpkg '{self.shown}'` or import layers first")

    # ------------------------------------------------------------------ reading
    def layers(self) -> list[str]:
        """Names of the layers and tables in the schema."""
        with closing(self._connect()) as con:
            self._require(con)
            have = self._tables(con)
        return [n for n in (*LAYERS, *TABLES, *_OWN_TABLES) if n in have]

    def read(self, name: str):
        """Read one layer (GeoDataFrame, indexed by its id) or table (DataFrame)."""
        if name not in LAYERS and name not in TABLES and name not in _OWN_TABLES:
            raise ValidationError(
                f"{self.shown}: unknown layer {name!r}; known: "
                f"{', '.join([*LAYERS, *TABLES, *_OWN_TABLES])}")
        with closing(self._connect()) as con:
            self._require(con)
            if name not in self._tables(con):
                if name in _OWN_TABLES:  # reading never writes: an empty table
                    return _empty_own(name).drop(columns=list(_SECRET_COLUMNS.get(name, ())),
                                                 errors="ignore")
                present = sorted(self._tables(con) & {*LAYERS, *TABLES})
                raise ValidationError(
                    f"{self.shown}: has no layer {name!r} (it has "
                    f"{', '.join(map(repr, present))}); import it first")
            if name in LAYERS:
                return self._read_layer(con, name)
            order = ("entry_id" if name == "audit_log" else "row_seq" if name in _OWN_TABLES
                     else "_fid")
            frame = self._frame(con, f"SELECT * FROM {name} ORDER BY {order}", ())
            return frame.drop(columns=list(_SECRET_COLUMNS.get(name, ())), errors="ignore")

    def _frame(self, con, sql: str, params) -> pd.DataFrame:
        cur = con.execute(sql, params)
        cols = [d.name for d in cur.description]
        frame = pd.DataFrame.from_records(cur.fetchall(), columns=cols, coerce_float=True)
        return frame.drop(columns=[c for c in ("row_seq", "_fid") if c in frame.columns])

    def _read_layer(self, con, name: str) -> gpd.GeoDataFrame:
        cols = [c for c in self._columns(con, name) if c not in ("geometry", "_fid")]
        srid = con.execute("SELECT srid FROM geometry_columns WHERE f_table_schema = %s AND "
                           "f_table_name = %s AND f_geometry_column = 'geometry'",
                           (self.schema, name)).fetchone()
        select = ", ".join([*map(_quote, cols), "ST_AsBinary(geometry) AS geometry"])
        frame = self._frame(con, f"SELECT {select} FROM {name} ORDER BY _fid", ())
        geoms = shapely.from_wkb(frame.pop("geometry").to_numpy())
        gdf = gpd.GeoDataFrame(frame, geometry=geoms, crs=f"EPSG:{srid[0]}" if srid else None)
        id_col = LAYERS[name]["id"]
        return gdf.set_index(id_col) if id_col in gdf.columns else gdf

    def data_version(self) -> str:
        """A token that changes whenever a layer or table is written (for caches)."""
        with closing(self._connect()) as con:
            if "meta" not in self._tables(con):
                return ""
            row = con.execute("SELECT value FROM zoning_state WHERE key = 'data_version'"
                              ).fetchone()
        return "" if row is None else row[0]

    # ------------------------------------------------------------------ writing layers
    def _write(self, frames: dict, *, actor: str | None, action: str, target: str,
               detail: str) -> None:
        _check_frames(frames)
        with self._transaction() as con:
            for name, frame in frames.items():
                self._replace_table(con, name, frame)
            self._bump_version(con)
            if actor is not None:
                self._append_audit(con, actor, action, target, detail)

    def _replace_table(self, con, name: str, frame) -> None:
        out = frame.reset_index() if frame.index.name else frame.reset_index(drop=True)
        spatial = isinstance(out, gpd.GeoDataFrame)
        geom_col = out.geometry.name if spatial else None
        cols = [str(c) for c in out.columns if c != geom_col]
        defs = ["_fid BIGSERIAL PRIMARY KEY",
                *(f"{_quote(c)} {_pg_type(out[c])}" for c in cols)]
        srid = None
        if spatial:
            srid = out.crs.to_epsg() if out.crs is not None else None
            if srid is None:
                raise ValidationError(
                    f"layer {name!r}: its CRS {out.crs} has no EPSG code; convert it to the "
                    "working CRS (zoning.crs.to_working_gdf) before saving")
            defs.append(f"geometry geometry(Geometry, {srid})")
        con.execute(f"DROP TABLE IF EXISTS {name}")
        con.execute(f"CREATE TABLE {name} ({', '.join(defs)})")
        names = [*map(_quote, cols), *(["geometry"] if spatial else [])]
        values = [_pg_column(out[c]) for c in cols]
        if spatial:
            geoms = shapely.set_srid(out.geometry.to_numpy(), srid)
            values.append(shapely.to_wkb(geoms, hex=True, include_srid=True).tolist())
        with con.cursor().copy(f"COPY {name} ({', '.join(names)}) FROM STDIN") as copy:
            for row in zip(*values, strict=True):
                copy.write_row(row)
        if spatial:
            con.execute(f"CREATE INDEX {name}_geometry_idx ON {name} USING GIST (geometry)")
        id_col = LAYERS.get(name, {}).get("id")
        if id_col and id_col in cols:
            con.execute(f"CREATE UNIQUE INDEX {name}_{id_col}_idx ON {name} ({_quote(id_col)})")
        con.execute(f"ANALYZE {name}")

    def _bump_version(self, con) -> None:
        stamp = _dt.datetime.now(_dt.UTC).isoformat(timespec="microseconds")
        self._set_state(con, "data_version", stamp)

    @staticmethod
    def _set_state(con, key: str, value) -> None:
        con.execute("INSERT INTO zoning_state (key, value) VALUES (%s, %s) ON CONFLICT (key) "
                    "DO UPDATE SET value = EXCLUDED.value", (key, str(value)))

    @staticmethod
    def _get_state(con, key: str) -> str | None:
        row = con.execute("SELECT value FROM zoning_state WHERE key = %s", (key,)).fetchone()
        return None if row is None else row[0]

    # ------------------------------------------------------------------ audit log
    def _append_audit(self, con, actor, action, target, detail) -> int:
        # the table lock serialises appenders (readers still read): ids come from the counter in
        # meta, so a rolled-back write leaves no gap and a deletion at the end is still found
        con.execute("LOCK TABLE audit_log IN EXCLUSIVE MODE")
        seq = self._get_state(con, "audit_seq")
        last = con.execute("SELECT entry_id, hash FROM audit_log ORDER BY entry_id DESC LIMIT 1"
                           ).fetchone()
        entry_id = max(int(seq or 0), last[0] if last else 0) + 1
        prev = GENESIS if last is None else (last[1] or GENESIS)
        row = (_now(), str(actor), str(action), str(target), _audit_text(detail))
        con.execute("INSERT INTO audit_log (entry_id, at, actor, action, target, detail, "
                    "prev_hash, hash) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                    (entry_id, *row, prev, _entry_hash(prev, entry_id, *row)))
        self._set_state(con, "audit_seq", entry_id)
        return entry_id

    def audit(self, actor: str, action: str, target: str, detail: str | dict = "") -> None:
        """Append one entry to the audit log (who did what to which zone or plan, and when)."""
        with self._transaction() as con:
            self._append_audit(con, actor, action, target, detail)

    def verify_audit(self, *, head: str | None = None) -> AuditCheck:
        """Check the audit log's hash chain; see :meth:`zoning.store.GeoPackageStore.verify_audit`."""
        with closing(self._connect()) as con:
            self._require(con)
            if "audit_log" not in self._tables(con):
                return AuditCheck(True, 0, None)
            rows = con.execute("SELECT entry_id, at, actor, action, target, detail, prev_hash, "
                               "hash FROM audit_log ORDER BY entry_id").fetchall()
            seq = self._get_state(con, "audit_seq")
        return _check_chain([tuple(r) for r in rows], None if seq is None else int(seq), head)

    def migrate(self) -> None:
        """Bring an older schema's own tables to the current columns."""
        self._ready = False  # check even if this object has written before
        with self._transaction():
            pass

    # ------------------------------------------------------------------ own tables, rows
    def _own(self, name: str) -> None:
        _check_own(name)

    def _check_columns(self, con, name: str, cols) -> None:
        have = set(self._columns(con, name)) - {"row_seq"}
        unknown = [str(c) for c in cols if c not in have]
        if unknown:
            raise ValidationError(f"table {name!r} has no column(s) {', '.join(unknown)}; its "
                                  f"columns are {', '.join(sorted(have))}")

    def query(self, name: str, where: dict | None = None) -> pd.DataFrame:
        """Rows of one of the store's own tables matching ``where`` (column = value), read only."""
        self._own(name)
        where = dict(where or {})
        with closing(self._connect()) as con:
            self._require(con)
            if name not in self._tables(con):
                empty = _empty_own(name)
                unknown = [c for c in where if c not in empty.columns]
                if unknown:
                    raise ValidationError(f"table {name!r} has no column(s) {', '.join(unknown)}")
                return empty
            self._check_columns(con, name, where)
            clause = " AND ".join(f"{c} = %s" for c in where) or "TRUE"
            order = "entry_id" if name == "audit_log" else "row_seq"
            return self._frame(con, f"SELECT * FROM {name} WHERE {clause} ORDER BY {order}",
                               [_sql_value(v) for v in where.values()])

    def write_rows(self, rows: dict[str, pd.DataFrame], *, replace: dict[str, dict] | None = None,
                   audit: Iterable[dict] = ()) -> None:
        """Insert rows into own tables with audit entries, all or nothing (one transaction)."""
        for name, frame in rows.items():
            self._own(name)
            refuse_personal_fields(frame, layer=name)
        with self._transaction() as con:
            for name, where in (replace or {}).items():
                self._own(name)
                self._check_columns(con, name, where)
                clause = " AND ".join(f"{c} = %s" for c in where) or "TRUE"
                con.execute(f"DELETE FROM {name} WHERE {clause}",
                            [_sql_value(v) for v in where.values()])
            for name, frame in rows.items():
                if not len(frame):
                    continue
                cols = [str(c) for c in frame.columns]
                self._check_columns(con, name, cols)
                values = [_sql_column(frame.iloc[:, j]) for j in range(frame.shape[1])]
                with con.cursor().copy(f"COPY {name} ({', '.join(cols)}) FROM STDIN") as copy:
                    for row in zip(*values, strict=True):
                        copy.write_row(row)
            for entry in audit:
                self._append_audit(con, entry["actor"], entry["action"], entry["target"],
                                   entry.get("detail", ""))

    def update_rows(self, name: str, where: dict, values: dict, *, only_if_null: str | None = None,
                    audit: Iterable[dict] = ()) -> int:
        """Update matching rows of an own table and append audit entries, in one transaction."""
        self._own(name)
        with self._transaction() as con:
            self._check_columns(con, name, [*where, *values,
                                            *([only_if_null] if only_if_null else [])])
            clause = " AND ".join(f"{c} = %s" for c in where) or "TRUE"
            if only_if_null:
                clause += f" AND {only_if_null} IS NULL"
            sets = ", ".join(f"{c} = %s" for c in values)
            cur = con.execute(f"UPDATE {name} SET {sets} WHERE {clause}",
                              [*map(_sql_value, values.values()),
                               *map(_sql_value, where.values())])
            changed = cur.rowcount
            if changed:
                for entry in audit:
                    self._append_audit(con, entry["actor"], entry["action"], entry["target"],
                                       entry.get("detail", ""))
            return changed

    def set_meta(self, key: str, value: str) -> None:
        """Store a small key/value fact about the store."""
        with self._transaction() as con:
            con.execute("INSERT INTO meta (key, value) VALUES (%s, %s) ON CONFLICT (key) "
                        "DO UPDATE SET value = EXCLUDED.value", (key, value))

    def get_meta(self, key: str) -> str | None:
        """A value stored with :meth:`set_meta`, or None."""
        with closing(self._connect()) as con:
            if "meta" not in self._tables(con):
                return None
            row = con.execute("SELECT value FROM meta WHERE key = %s", (key,)).fetchone()
        return None if row is None else row[0]

    # ------------------------------------------------------------------ plans
    def save_plan_record(self, rec: dict, *, actor: str, statuses: tuple,
                         lineage: tuple = (), branch: bool = False) -> None:
        """Insert a plan version or move a stored one on; see GeoPackageStore.save_plan_record."""
        with self._transaction() as con:
            # one writer of plans at a time: the head check and the insert cannot interleave
            con.execute("LOCK TABLE plans IN SHARE ROW EXCLUSIVE MODE")
            row = con.execute("SELECT status, payload FROM plans WHERE plan_id = %s FOR UPDATE",
                              (rec["plan_id"],)).fetchone()
            base = head = None
            if row is None and lineage:
                stored = {r[0] for r in con.execute(
                    "SELECT plan_id FROM plans WHERE plan_id = ANY(%s)", (list(lineage),))}
                base = next((p for p in lineage if p in stored), None)
                if base is not None and not branch:
                    head = con.execute(
                        "SELECT plan_id, author, created_at FROM plans WHERE base_id = %s AND "
                        "branch = 0 ORDER BY row_seq DESC LIMIT 1", (base,)).fetchone()
            step = _plan_step(rec, None if row is None else tuple(row), statuses, base,
                              None if head is None else tuple(head))
            if step is None:
                return
            if step == "insert":
                con.execute(
                    "INSERT INTO plans (plan_id, parent_id, level, author, note, status, "
                    "created_at, payload, base_id, branch) VALUES (%s, %s, %s, %s, %s, %s, %s, "
                    "%s, %s, %s)",
                    (rec["plan_id"], rec["parent_id"], rec["level"], rec["author"], rec["note"],
                     rec["status"], rec["created_at"], rec["payload"], base, int(branch)))
                self._append_audit(con, actor, "plan_save", rec["plan_id"], {
                    "parent_id": rec["parent_id"], "base_id": base, "level": rec["level"],
                    "status": rec["status"], "note": rec["note"], "branch": bool(branch)})
                return
            old = row[0]
            cur = con.execute("UPDATE plans SET status = %s WHERE plan_id = %s AND status = %s",
                              (rec["status"], rec["plan_id"], old))
            if cur.rowcount != 1:  # pragma: no cover - the row is locked
                raise PlanConflict(_conflict_message(rec["plan_id"], old, rec["status"]))
            self._append_audit(con, actor, "plan_status", rec["plan_id"],
                               {"from": old, "to": rec["status"]})

    def plan_record(self, plan_id: str) -> dict:
        """One stored plan row as a dict."""
        with closing(self._connect()) as con:
            if "plans" in self._tables(con):
                frame = self._frame(con, "SELECT * FROM plans WHERE plan_id = %s", (plan_id,))
                if len(frame):
                    return {k: (None if isinstance(v, float) and v != v else v)
                            for k, v in frame.iloc[0].to_dict().items()}
        raise ValidationError(f"{self.shown}: no plan {plan_id!r}; list them with "
                              "zoning.simulate.list_plans(store)")

    # ------------------------------------------------------------------ copy
    def _meta_rows(self) -> pd.DataFrame:
        with closing(self._connect()) as con:
            if "meta" not in self._tables(con):
                return pd.DataFrame({"key": [], "value": []})
            return self._frame(con, "SELECT key, value FROM meta ORDER BY row_seq", ())

    def _audit_seq(self) -> int | None:
        with closing(self._connect()) as con:
            if "zoning_state" not in self._tables(con):
                return None
            seq = self._get_state(con, "audit_seq")
        return None if seq is None else int(seq)

    def restore(self, dump: dict, *, actor: str | None = None) -> None:
        """Write a :meth:`dump` into this store, which must be empty, in one transaction."""
        frames = dump["layers"]
        _check_frames(frames)
        with self._transaction() as con:
            if con.execute("SELECT count(*) FROM audit_log").fetchone()[0] or any(
                    con.execute(f"SELECT count(*) FROM {n}").fetchone()[0]
                    for n in _OWN_TABLES if n not in ("meta", "audit_log")) or (
                    self._tables(con) & {*LAYERS, *TABLES}):
                raise ValidationError(
                    f"{self.shown}: the store is not empty; restore into a new schema "
                    "(?schema=…) or a new database")
            for name, frame in frames.items():
                self._replace_table(con, name, frame)
            for name, frame in dump["own"].items():
                if not len(frame):
                    continue
                cols = [c for c in frame.columns if c in set(self._columns(con, name))]
                values = [_sql_column(frame[c]) for c in cols]
                if name == "meta":
                    con.execute("DELETE FROM meta")
                with con.cursor().copy(f"COPY {name} ({', '.join(cols)}) FROM STDIN") as copy:
                    for row in zip(*values, strict=True):
                        copy.write_row(row)
            if dump.get("audit_seq"):
                self._set_state(con, "audit_seq", int(dump["audit_seq"]))
            self._bump_version(con)
            if actor is not None:
                self._append_audit(con, actor, "restore", "store",
                                   f"{sum(len(f) for f in frames.values())} features")

    def import_store(self, source, *, actor: str) -> None:
        """Copy a GeoPackage (or any) store into this empty one: layers, tables, plans, log."""
        from zoning.store import copy_store

        copy_store(source, self, actor=actor)

    def drop(self) -> None:
        """Delete this store's schema and everything in it (tests, throw-away districts)."""
        if self.schema == "public":
            raise ValidationError("refusing to drop the public schema; drop its tables by hand")
        with closing(self._connect()) as con, con.transaction():
            con.execute(f"DROP SCHEMA IF EXISTS {self.schema} CASCADE")
        self._ready = False


def _empty_own(name: str) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c, *_ in _own_columns(name)})


def _pg_column(s: pd.Series) -> list:
    """A layer column as COPY values (None for missing, numpy scalars as Python ones)."""
    if pd.api.types.is_bool_dtype(s.dtype) and not s.isna().any():
        return s.tolist()
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        return [None if pd.isna(v) else v.to_pydatetime() for v in s]
    if pd.api.types.is_numeric_dtype(s.dtype) and isinstance(s.dtype, np.dtype):
        return [None if v != v else v for v in s.tolist()]
    return [None if v is None or (isinstance(v, float) and v != v) or v is pd.NA
            else (v if isinstance(v, str | int | float | bool) else str(v))
            for v in s.to_numpy(dtype=object)]
