"""The SQLite index of the registry: which versions exist and where each alias points.

The index is the source of truth for what is published: a version folder that is not
in the index is an orphan. Writers run inside ``BEGIN IMMEDIATE``, which takes SQLite's
write lock up front, so concurrent publishers (threads or processes) are serialized and
each sees the versions the others committed. Readers never create the file: listing a
registry that does not exist yet writes nothing.

The default rollback journal is used rather than WAL: WAL needs a writable ``-shm`` file
even to read and misbehaves on network file systems, and publishing is rare enough that
its concurrency gains do not matter (readers are only blocked during the brief commit).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import IntegrityError, RegistryError

__all__ = ["SCHEMA_VERSION", "Index", "Memory", "Row"]

SCHEMA_VERSION = 1  # PRAGMA user_version; bump with a migration in _migrate
LOCK_TIMEOUT_S = 120.0  # how long a writer waits for another publisher to finish

_SCHEMA = """
CREATE TABLE IF NOT EXISTS models (
    name TEXT NOT NULL,
    version INTEGER NOT NULL CHECK (version >= 1),
    architecture TEXT NOT NULL,
    dataset TEXT NOT NULL,
    steps INTEGER NOT NULL,
    created TEXT NOT NULL,              -- ISO-8601 UTC
    PRIMARY KEY (name, version)
);
-- The highest version ever issued per name: removed versions are never reissued, so
-- "name:3" means the same weights for as long as it exists.
CREATE TABLE IF NOT EXISTS names (
    name TEXT PRIMARY KEY,
    last_version INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS aliases (
    name TEXT NOT NULL,
    alias TEXT NOT NULL,
    version INTEGER NOT NULL,
    PRIMARY KEY (name, alias),
    FOREIGN KEY (name, version) REFERENCES models (name, version) ON DELETE CASCADE
);
"""


@dataclass(frozen=True)
class Row:
    """One indexed version, aliases included."""

    name: str
    version: int
    architecture: str
    dataset: str
    steps: int
    created: str
    aliases: tuple[str, ...]


@dataclass
class Memory:
    """What an index remembers beyond the manifests: aliases, and the highest version ever issued per name."""

    versions: set[tuple[str, int]] = field(default_factory=set)  # (name, version) rows
    aliases: dict[tuple[str, str], int] = field(default_factory=dict)  # (name, alias) -> version
    issued: dict[str, int] = field(default_factory=dict)  # name -> last version issued


class Index:
    """Access to ``index.sqlite``; every method opens and closes its own connection."""

    def __init__(self, path: Path) -> None:
        self.path = path

    # -- connections ---------------------------------------------------------------------------
    @contextmanager
    def reading(self) -> Iterator[sqlite3.Connection | None]:
        """A read-only connection, or None when there is no index yet (nothing is created)."""
        if not self.path.exists():
            yield None
            return
        # mode=rw never creates the file, yet can roll back a hot journal left by a crashed
        # writer (a read-only connection cannot); on write-protected media SQLite reads only.
        uri = self.path.resolve().as_uri() + "?mode=rw"
        try:
            with closing(sqlite3.connect(uri, uri=True, timeout=LOCK_TIMEOUT_S)) as conn:
                version = self._user_version(conn)
                yield conn if version else None
        except sqlite3.DatabaseError as exc:
            raise self._broken(exc) from exc

    @contextmanager
    def writing(self) -> Iterator[sqlite3.Connection]:
        """One write transaction under SQLite's write lock: committed on success, rolled back on error."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.is_symlink():
            raise RegistryError(f"refusing to write through {self.path}: it is a symbolic link; the index must be a "
                                "file inside the registry root: replace the link with the file it points to")
        try:
            conn = sqlite3.connect(self.path, timeout=LOCK_TIMEOUT_S, isolation_level=None)
        except sqlite3.DatabaseError as exc:
            raise self._broken(exc) from exc
        with closing(conn):
            try:
                conn.execute("PRAGMA foreign_keys = ON")
                conn.execute("BEGIN IMMEDIATE")
                self._migrate(conn)
            except sqlite3.DatabaseError as exc:
                raise self._broken(exc) from exc
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                if isinstance(exc, sqlite3.DatabaseError):
                    raise RegistryError(f"the registry index {self.path} refused the change: {exc}") from exc
                raise

    def _user_version(self, conn: sqlite3.Connection) -> int:
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        if version > SCHEMA_VERSION:
            raise RegistryError(f"the registry index {self.path} has schema version {version}, newer than this "
                                f"ganzoo understands ({SCHEMA_VERSION}); upgrade ganzoo")
        return version

    def _migrate(self, conn: sqlite3.Connection) -> None:
        # Runs inside the write transaction, so two first publishers cannot both create it.
        if self._user_version(conn) < 1:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _broken(self, exc: sqlite3.DatabaseError) -> IntegrityError:
        return IntegrityError(f"the registry index {self.path} cannot be used: {exc}; the manifests in models/ "
                              "still describe every version: rebuild the index from them with: ganzoo models "
                              f"reindex --registry {self.path.parent}")

    def salvage(self) -> Memory:
        """Whatever a damaged index still lets us read (read-only, table by table); never raises."""
        memory = Memory()
        if not self.path.is_file():
            return memory
        try:
            conn = sqlite3.connect(self.path.resolve().as_uri() + "?mode=ro", uri=True, timeout=LOCK_TIMEOUT_S)
        except sqlite3.Error:
            return memory
        with closing(conn):
            for read in (_read_versions, _read_aliases, _read_issued):
                try:
                    read(conn, memory)
                except (sqlite3.Error, TypeError, ValueError):
                    continue
        return memory

    # -- queries -------------------------------------------------------------------------------
    def rows(self, name: str | None = None) -> list[Row]:
        with self.reading() as conn:
            return [] if conn is None else query_rows(conn, name)

    def names(self) -> list[str]:
        with self.reading() as conn:
            if conn is None:
                return []
            return [r[0] for r in conn.execute("SELECT DISTINCT name FROM models ORDER BY name")]

    def lookup(self, name: str, version: int | None, alias: str | None) -> Row | None:
        """The row a reference points to; a bare name means ``@latest``, else the highest version."""
        with self.reading() as conn:
            if conn is None:
                return None
            if version is None:
                target = conn.execute("SELECT version FROM aliases WHERE name = ? AND alias = ?",
                                      (name, alias or "latest")).fetchone()
                if target is None and alias is None:
                    target = conn.execute("SELECT MAX(version) FROM models WHERE name = ?", (name,)).fetchone()
                if target is None or target[0] is None:
                    return None
                version = int(target[0])
            found = query_rows(conn, name, version)
            return found[0] if found else None

    def aliases(self, name: str) -> dict[str, int]:
        with self.reading() as conn:
            if conn is None:
                return {}
            return dict(conn.execute("SELECT alias, version FROM aliases WHERE name = ? ORDER BY alias", (name,)))

    def quick_check(self) -> str:
        with self.reading() as conn:
            if conn is None:
                return "ok"
            return "; ".join(str(r[0]) for r in conn.execute("PRAGMA quick_check"))


# -- statements used inside a write transaction ---------------------------------------------------


def query_rows(conn: sqlite3.Connection, name: str | None = None, version: int | None = None) -> list[Row]:
    sql = "SELECT name, version, architecture, dataset, steps, created FROM models"
    where: list[str] = []
    params: list[object] = []
    if name is not None:
        where.append("name = ?")
        params.append(name)
    if version is not None:
        where.append("version = ?")
        params.append(version)
    if where:
        sql += " WHERE " + " AND ".join(where)
    aliases: dict[tuple[str, int], list[str]] = {}
    for n, a, v in conn.execute("SELECT name, alias, version FROM aliases ORDER BY alias"):
        aliases.setdefault((n, v), []).append(a)
    return [Row(n, v, arch, ds, steps, created, tuple(aliases.get((n, v), ())))
            for n, v, arch, ds, steps, created in conn.execute(sql + " ORDER BY name, version", params)]


def next_version(conn: sqlite3.Connection, name: str) -> int:
    """One more than any version ever issued for ``name`` (call inside the write transaction)."""
    issued = conn.execute("SELECT last_version FROM names WHERE name = ?", (name,)).fetchone()
    existing = conn.execute("SELECT MAX(version) FROM models WHERE name = ?", (name,)).fetchone()
    return max(int(issued[0]) if issued else 0, int(existing[0] or 0)) + 1


def insert_version(conn: sqlite3.Connection, row: Row) -> None:
    conn.execute("INSERT INTO models (name, version, architecture, dataset, steps, created) VALUES (?, ?, ?, ?, ?, ?)",
                 (row.name, row.version, row.architecture, row.dataset, row.steps, row.created))
    conn.execute("INSERT INTO names (name, last_version) VALUES (?, ?) "
                 "ON CONFLICT (name) DO UPDATE SET last_version = MAX(last_version, excluded.last_version)",
                 (row.name, row.version))
    for alias in row.aliases:
        point_alias(conn, row.name, alias, row.version)


def point_alias(conn: sqlite3.Connection, name: str, alias: str, version: int) -> None:
    conn.execute("INSERT INTO aliases (name, alias, version) VALUES (?, ?, ?) "
                 "ON CONFLICT (name, alias) DO UPDATE SET version = excluded.version", (name, alias, version))


def delete_alias(conn: sqlite3.Connection, name: str, alias: str) -> bool:
    """Drop one alias (the version it points to stays); False when there was none."""
    return conn.execute("DELETE FROM aliases WHERE name = ? AND alias = ?", (name, alias)).rowcount > 0


def delete_version(conn: sqlite3.Connection, name: str, version: int) -> None:
    """Drop a version and its aliases; ``latest`` falls back to the highest remaining version."""
    had_latest = conn.execute("SELECT 1 FROM aliases WHERE name = ? AND alias = 'latest' AND version = ?",
                              (name, version)).fetchone()
    conn.execute("DELETE FROM aliases WHERE name = ? AND version = ?", (name, version))
    conn.execute("DELETE FROM models WHERE name = ? AND version = ?", (name, version))
    if had_latest:
        remaining = conn.execute("SELECT MAX(version) FROM models WHERE name = ?", (name,)).fetchone()[0]
        if remaining is not None:
            point_alias(conn, name, "latest", int(remaining))


def remembered(conn: sqlite3.Connection) -> Memory:
    """What a usable index holds beyond the manifests (call inside the write transaction)."""
    memory = Memory()
    for read in (_read_versions, _read_aliases, _read_issued):
        read(conn, memory)
    return memory


def _read_versions(conn: sqlite3.Connection, memory: Memory) -> None:
    memory.versions.update((str(n), int(v)) for n, v in conn.execute("SELECT name, version FROM models"))


def _read_aliases(conn: sqlite3.Connection, memory: Memory) -> None:
    memory.aliases.update(((str(n), str(a)), int(v)) for n, a, v in
                          conn.execute("SELECT name, alias, version FROM aliases"))


def _read_issued(conn: sqlite3.Connection, memory: Memory) -> None:
    memory.issued.update((str(n), int(v)) for n, v in conn.execute("SELECT name, last_version FROM names"))


def rebuild(conn: sqlite3.Connection, rows: list[Row], issued: dict[str, int]) -> None:
    """Replace every row, alias and issued number with ``rows`` (aliases included) and ``issued``."""
    conn.execute("DELETE FROM aliases")
    conn.execute("DELETE FROM models")
    conn.execute("DELETE FROM names")
    for row in rows:
        insert_version(conn, row)
    for name, last in issued.items():
        conn.execute("INSERT INTO names (name, last_version) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET "
                     "last_version = MAX(last_version, excluded.last_version)", (name, last))
