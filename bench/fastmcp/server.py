"""The FastMCP (Python) side of mango's benchmark: the same two tools as the mango
project and the raw rmcp server, `add(a, b)` and `note_add(text)`, with the same
SQLite settings (WAL, synchronous=NORMAL, busy_timeout, immediate transactions) and
pooled connections (one per worker thread, reused).

usage: python server.py http <port> <db file> | python server.py stdio <db file>

`cargo run -p mango-bench --release -- all --with-fastmcp` installs FastMCP into a
venv of its own and runs this; nothing else uses it.
"""

import sqlite3
import sys
import threading

from fastmcp import FastMCP

mcp = FastMCP("fastmcp-bench")
DB = ""
local = threading.local()


def connection() -> sqlite3.Connection:
    conn = getattr(local, "conn", None)
    if conn is None:
        conn = sqlite3.connect(DB, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA busy_timeout = 5000")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        local.conn = conn
    return conn


@mcp.tool
def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


@mcp.tool
def note_add(text: str) -> int:
    """Insert a note; returns how many there are."""
    conn = connection()
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute("INSERT INTO notes (text) VALUES (?)", (text,))
        (count,) = conn.execute("SELECT COUNT(*) FROM notes").fetchone()
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return count


def main() -> None:
    global DB
    args = sys.argv[1:]
    if len(args) == 3 and args[0] == "http":
        DB = args[2]
    elif len(args) == 2 and args[0] == "stdio":
        DB = args[1]
    else:
        sys.exit("usage: server.py http <port> <db file> | server.py stdio <db file>")
    connection().execute(
        "CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY AUTOINCREMENT, text TEXT NOT NULL)"
    )
    if args[0] == "http":
        mcp.run(
            transport="http",
            host="127.0.0.1",
            port=int(args[1]),
            path="/mcp",
            stateless_http=True,
            json_response=True,
            show_banner=False,
            log_level="warning",
        )
    else:
        mcp.run(transport="stdio", show_banner=False)


if __name__ == "__main__":
    main()
