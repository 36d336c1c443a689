#!/usr/bin/env python3
"""Prepare what the client checks need on a running Sluice, through its REST API.

1. Create a SQLite "shop" database (customers, orders, staff) at --sqlite.
2. Sign in as the administrator (password in $CLIENTS_ADMIN_PASSWORD).
3. Register the SQLite file as a connection (POST /api/database-configs) and refresh its schema.
4. Issue MCP keys (POST /api/mcp-keys):
   - CLIENTS_KEY: the read tools, tables customers and orders (not staff);
   - CLIENTS_LIMITED_KEY: get_tables only, table customers.
5. Write the connection id and an administrator access token (for checks that issue and revoke
   keys of their own).
Writes `export NAME=value` lines to --env-out for the shell to source.
Python standard library only.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sqlite3
import sys
import urllib.error
import urllib.request

CUSTOMERS = [
    (1, "Ada Lovelace", "ada@example.com", "UK"),
    (2, "Grace Hopper", "grace@example.com", "US"),
    (3, "Alan Turing", "alan@example.com", "UK"),
    (4, "Edsger Dijkstra", "edsger@example.com", "NL"),
]
ORDERS = [
    (101, 1, 25.5, "paid"),
    (102, 1, 120.0, "paid"),
    (103, 2, 75.25, "pending"),
    (104, 3, 9.99, "paid"),
    (105, 4, 300.0, "refunded"),
    (106, 2, 42.0, "paid"),
]


def make_sqlite(path: str) -> None:
    if os.path.exists(path):
        os.remove(path)
    con = sqlite3.connect(path)
    con.executescript(
        """
        CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT NOT NULL,
                                country TEXT NOT NULL);
        CREATE TABLE orders (id INTEGER PRIMARY KEY,
                             customer_id INTEGER NOT NULL REFERENCES customers(id),
                             amount REAL NOT NULL, status TEXT NOT NULL);
        CREATE TABLE staff (id INTEGER PRIMARY KEY, name TEXT NOT NULL, salary INTEGER NOT NULL);
        """
    )
    con.executemany("INSERT INTO customers VALUES (?, ?, ?, ?)", CUSTOMERS)
    con.executemany("INSERT INTO orders VALUES (?, ?, ?, ?)", ORDERS)
    con.execute("INSERT INTO staff VALUES (1, 'Secret Agent', 1000000)")
    con.commit()
    con.close()


def call(base: str, method: str, path: str, body: dict | None = None, token: str | None = None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=30) as res:
            raw = res.read()
            return json.loads(raw) if raw else {}
    except urllib.error.HTTPError as e:
        sys.exit(f"setup: {method} {path} -> {e.code}: {e.read().decode(errors='replace')}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True, help="http://127.0.0.1:PORT")
    ap.add_argument("--sqlite", required=True)
    ap.add_argument("--env-out", required=True)
    args = ap.parse_args()
    password = os.environ["CLIENTS_ADMIN_PASSWORD"]

    make_sqlite(args.sqlite)
    token = call(args.base, "POST", "/api/auth/sign-in", {"username": "admin", "password": password})[
        "accessToken"
    ]
    created = call(
        args.base,
        "POST",
        "/api/database-configs",
        {
            "name": "Shop",
            "description": "client test fixture",
            "provider": "sqlite",
            "connection_config": {"path": os.path.abspath(args.sqlite)},
            "is_active": True,
        },
        token,
    )
    db_id = created["data"]["id"]
    schema = call(args.base, "POST", f"/api/database-configs/{db_id}/refresh-schema", {}, token)
    names = sorted(t["name"] for t in schema["schema"]["tables"])
    if names != ["customers", "orders", "staff"]:
        sys.exit(f"setup: unexpected schema snapshot tables {names}")

    key = call(
        args.base,
        "POST",
        "/api/mcp-keys",
        {
            "name": "clients-main",
            "dbManagementId": db_id,
            "tableWhitelist": ["customers", "orders"],
            "rateLimitPerMinute": 100000,
        },
        token,
    )
    limited = call(
        args.base,
        "POST",
        "/api/mcp-keys",
        {
            "name": "clients-limited",
            "dbManagementId": db_id,
            "tableWhitelist": ["customers"],
            "allowedTools": ["get_tables"],
            "rateLimitPerMinute": 100000,
        },
        token,
    )
    with open(args.env_out, "w") as f:
        f.write(f"export CLIENTS_KEY={shlex.quote(key['keyValue'])}\n")
        f.write(f"export CLIENTS_LIMITED_KEY={shlex.quote(limited['keyValue'])}\n")
        f.write(f"export CLIENTS_DB_ID={shlex.quote(db_id)}\n")
        # an access token (15 minutes) for checks that change keys while a client is connected
        f.write(f"export CLIENTS_ADMIN_TOKEN={shlex.quote(token)}\n")
        f.write(f"export CLIENTS_BASE_URL={shlex.quote(args.base)}\n")
    print(f"setup: connection {db_id}, keys {key['keyPrefix']} and {limited['keyPrefix']}")


if __name__ == "__main__":
    main()
