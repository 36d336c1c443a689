#!/usr/bin/env python3
"""The official Python MCP SDK (`mcp` 2.3.0) against Sluice's `POST /mcp`.

Runs the same checks in the SDK's three connection modes:
- `legacy`: the `initialize` handshake (2025-11-25);
- `auto`: `server/discover` first, adopting 2026-07-28 when the server offers it;
- `2026-07-28`: no handshake, every request carries the modern `_meta` envelope and headers.
Every HTTP exchange is recorded (httpx2 event hooks) so the checks can also assert which era
was actually spoken on the wire.

Environment: CLIENTS_MCP_URL, CLIENTS_KEY (read tools; customers + orders),
CLIENTS_LIMITED_KEY (get_tables only; customers), CLIENTS_BASE_URL, CLIENTS_ADMIN_TOKEN and
CLIENTS_DB_ID (to issue and revoke a key while a client is connected).
Prints one `PASS name` / `FAIL name: why` line per check; exits 1 if any failed.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import traceback
import urllib.request
from typing import Any, Awaitable, Callable

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

if sys.version_info < (3, 11):
    sys.exit("python_client.py needs Python 3.11+ (asyncio.timeout)")

URL = os.environ["CLIENTS_MCP_URL"]
KEY = os.environ["CLIENTS_KEY"]
LIMITED_KEY = os.environ["CLIENTS_LIMITED_KEY"]
WRONG_KEY = "sluice_000000000000_" + "0" * 64
CHECK_TIMEOUT = float(os.environ.get("CLIENTS_CHECK_TIMEOUT", "30"))

EXPECTED_TOOLS = ["get_schemas", "get_tables", "get_columns", "execute_query_safe", "explain_query"]
QUERY = {
    "tableName": "orders",
    "selectColumns": [{"field": "id"}, {"field": "customer_id"}, {"field": "amount"}, {"field": "status"}],
    "where": [{"field": "status", "op": "=", "value": "paid"}, {"field": "amount", "op": ">", "value": 20}],
    "orderBy": [{"field": "amount", "direction": "desc"}],
    "limit": 2,
}
EXPECTED_ROWS = [[102, 1, 120.0, "paid"], [106, 2, 42.0, "paid"]]

results: list[tuple[str, bool, str]] = []


class Wire:
    """Records (json-rpc method, MCP-Protocol-Version header, HTTP status) of each POST."""

    def __init__(self) -> None:
        self.exchanges: list[dict[str, Any]] = []

    async def on_request(self, request: httpx2.Request) -> None:
        method = None
        if request.method == "POST":
            try:
                method = json.loads(request.content).get("method")
            except Exception:  # noqa: BLE001
                method = "?"
        self.exchanges.append(
            {
                "http": request.method,
                "method": method,
                "version": request.headers.get("mcp-protocol-version"),
                "mcp_method": request.headers.get("mcp-method"),
                "status": None,
            }
        )

    async def on_response(self, response: httpx2.Response) -> None:
        for ex in reversed(self.exchanges):
            if ex["status"] is None:
                ex["status"] = response.status_code
                break

    def posts(self) -> list[dict[str, Any]]:
        return [e for e in self.exchanges if e["http"] == "POST"]

    def summary(self) -> str:
        return ", ".join(f"{e['http']} {e['method'] or ''} v={e['version']} -> {e['status']}" for e in self.exchanges)


def admin_api(method: str, path: str, body: dict | None = None) -> dict:
    req = urllib.request.Request(
        os.environ["CLIENTS_BASE_URL"] + path,
        data=json.dumps(body).encode() if body is not None else None,
        method=method,
    )
    req.add_header("Content-Type", "application/json")
    req.add_header("Authorization", "Bearer " + os.environ["CLIENTS_ADMIN_TOKEN"])
    with urllib.request.urlopen(req, timeout=10) as res:
        raw = res.read()
        return json.loads(raw) if raw else {}


def client_for(key: str, mode: str, wire: Wire) -> Client:
    http = httpx2.AsyncClient(
        headers={"X-MCP-Server-Key": key},
        timeout=httpx2.Timeout(20.0),
        event_hooks={"request": [wire.on_request], "response": [wire.on_response]},
    )
    return Client(streamable_http_client(URL, http_client=http), mode=mode, read_timeout_seconds=20)


async def check(name: str, fn: Callable[[], Awaitable[None]]) -> bool:
    try:
        # asyncio.timeout (3.11+), not asyncio.wait_for (a new task) nor anyio.fail_after (a
        # cancel scope the connect check would leave open): the SDK's anyio task groups must be
        # entered and left in the same task, properly nested.
        async with asyncio.timeout(CHECK_TIMEOUT):
            await fn()
    except AssertionError as e:
        why = " ".join((str(e) or "assertion failed").split())[:600]
        results.append((name, False, why))
        print(f"FAIL {name}: {why}", flush=True)
        return False
    except Exception as e:  # noqa: BLE001
        detail = " ".join(f"{type(e).__name__}: {e}".split())[:600]
        results.append((name, False, detail))
        print(f"FAIL {name}: {detail}", flush=True)
        traceback.print_exc(limit=3)
        return False
    results.append((name, True, ""))
    print(f"PASS {name}", flush=True)
    return True


def structured(result: Any) -> Any:
    return result.structured_content


def text_json(result: Any) -> Any:
    texts = [c.text for c in result.content if getattr(c, "type", None) == "text"]
    assert texts, f"no text content in {result!r}"
    return json.loads(texts[0])


async def expect_error(coro: Awaitable[Any], what: str) -> str:
    """The call must fail: a JSON-RPC error (MCPError) or an isError result. Returns how."""
    try:
        res = await coro
    except MCPError as e:
        return f"MCPError {e.code}: {e.error.message}"
    assert getattr(res, "is_error", False), f"{what}: expected an error, got {res!r}"
    texts = " ".join(getattr(c, "text", "") for c in res.content)
    return f"isError: {texts[:120]}"


async def run_mode(mode: str) -> None:
    tag = f"python[{mode}]"
    wire = Wire()
    modern = mode != "legacy"
    client = client_for(KEY, mode, wire)
    entered = False

    async def connect() -> None:
        nonlocal entered
        await client.__aenter__()
        entered = True
        version = client.protocol_version
        if modern:
            assert version == "2026-07-28", f"negotiated {version}, expected 2026-07-28 ({wire.summary()})"
            if mode == "auto":  # learnt from server/discover's _meta
                info = client.server_info
                assert info is not None and info.name == "sluice", f"serverInfo {info!r}"
        else:
            assert version == "2025-11-25", f"negotiated {version}, expected 2025-11-25"
            info = client.server_info
            assert info is not None and info.name == "sluice", f"serverInfo {info!r}"
        posts = wire.posts()
        if mode == "legacy":
            assert posts and posts[0]["method"] == "initialize", wire.summary()
            assert posts[0]["status"] == 200, wire.summary()
        elif mode == "auto":
            assert posts and posts[0]["method"] == "server/discover", wire.summary()
            assert posts[0]["status"] == 200, wire.summary()
            assert not any(p["method"] == "initialize" for p in posts), "fell back to initialize: " + wire.summary()
        else:
            assert posts == [], f"the pinned mode sent requests while connecting: {wire.summary()}"

    if not await check(f"{tag} connect", connect):
        if entered:
            await client.__aexit__(None, None, None)
        return

    try:

        async def list_tools() -> None:
            listed = await client.list_tools()
            names = [t.name for t in listed.tools]
            assert names == EXPECTED_TOOLS, f"tools {names}"
            for t in listed.tools:
                assert t.description, f"{t.name} has no description"
                assert t.input_schema.get("type") == "object", f"{t.name} inputSchema {t.input_schema}"
            if mode == "legacy":
                # the SDK sends notifications/initialized without waiting for it; by now it has
                assert any(p["method"] == "notifications/initialized" and p["status"] == 202 for p in wire.posts()), (
                    "notifications/initialized was not answered 202: " + wire.summary()
                )
            if modern:
                last = wire.posts()[-1]
                assert last["method"] == "tools/list" and last["version"] == "2026-07-28", wire.summary()
                assert last["mcp_method"] == "tools/list", wire.summary()

        async def get_schemas() -> None:
            res = await client.call_tool("get_schemas", {})
            assert not res.is_error, f"isError: {res.content}"
            assert structured(res)["schemas"] == [{"name": "main", "tableCount": 2}], structured(res)

        async def get_columns() -> None:
            # the SDK validates structuredContent against the tool's outputSchema
            res = await client.call_tool("get_columns", {"tableName": "orders"})
            assert not res.is_error, f"isError: {res.content}"
            cols = [c["name"] for c in structured(res)["columns"]]
            assert cols == ["id", "customer_id", "amount", "status"], f"columns {cols}"
            how = await expect_error(client.call_tool("get_columns", {"tableName": "staff"}), "staff columns")
            assert "salary" not in how, how

        async def get_tables() -> None:
            res = await client.call_tool("get_tables", {})
            assert not res.is_error, f"isError: {res.content}"
            names = sorted(t["qualifiedName"] for t in structured(res)["tables"])
            assert names == ["main.customers", "main.orders"], f"tables {names} (staff must not be listed)"

        async def query() -> None:
            res = await client.call_tool("execute_query_safe", QUERY)
            assert not res.is_error, f"isError: {res.content}"
            sc = structured(res)
            assert [c["name"] for c in sc["columns"]] == ["id", "customer_id", "amount", "status"], sc["columns"]
            assert sc["rows"] == EXPECTED_ROWS, f"rows {sc['rows']}"
            assert sc["rowCount"] == 2, f"rowCount {sc['rowCount']}"
            assert text_json(res) == sc, "the text block differs from structuredContent"

        async def explain() -> None:
            res = await client.call_tool("explain_query", QUERY)
            assert not res.is_error, f"isError: {res.content}"
            sc = structured(res)
            assert sc["format"] == "text" and "orders" in sc["plan"], sc

        async def bad_column() -> None:
            # a tool error is an isError result the model can read, not a protocol error
            res = await client.call_tool("execute_query_safe", {"tableName": "orders", "selectColumns": [{"field": "nope"}]})
            assert res.is_error, f"expected isError, got {res!r}"
            text = " ".join(getattr(c, "text", "") for c in res.content)
            assert "nope" in text, f"the error does not name the column: {text}"

        async def not_whitelisted() -> None:
            how = await expect_error(
                client.call_tool("execute_query_safe", {"tableName": "staff", "limit": 1}), "staff query"
            )
            assert "Secret Agent" not in how, how

        async def unknown_tool() -> None:
            how = await expect_error(client.call_tool("drop_all_tables", {}), "unknown tool")
            print(f"  info: unknown tool -> {how}", flush=True)

        await check(f"{tag} tools/list", list_tools)
        await check(f"{tag} tools/call get_schemas", get_schemas)
        await check(f"{tag} tools/call get_tables", get_tables)
        await check(f"{tag} tools/call get_columns (and not for staff)", get_columns)
        await check(f"{tag} tools/call execute_query_safe", query)
        await check(f"{tag} tools/call explain_query (SQLite plan, not run)", explain)
        await check(f"{tag} query with an unknown column -> isError naming it", bad_column)
        await check(f"{tag} query on a table outside the whitelist fails", not_whitelisted)
        await check(f"{tag} unknown tool fails", unknown_tool)
    finally:
        await client.__aexit__(None, None, None)

    async def limited() -> None:
        lwire = Wire()
        async with client_for(LIMITED_KEY, mode, lwire) as lc:
            names = [t.name for t in (await lc.list_tools()).tools]
            assert names == ["get_tables"], f"limited key lists {names}"
            res = await lc.call_tool("get_tables", {})
            assert not res.is_error, res.content
            tables = [t["qualifiedName"] for t in structured(res)["tables"]]
            assert tables == ["main.customers"], f"limited key sees {tables}"
            how = await expect_error(lc.call_tool("execute_query_safe", QUERY), "non-granted tool")
            print(f"  info: non-granted tool -> {how}", flush=True)

    async def wrong_key() -> None:
        bwire = Wire()
        try:
            async with client_for(WRONG_KEY, mode, bwire) as bc:
                await bc.list_tools()
        except Exception as e:  # noqa: BLE001
            while getattr(e, "exceptions", None):  # unwrap (Base)ExceptionGroup
                e = e.exceptions[0]
            statuses = sorted({e["status"] for e in bwire.posts() if e["status"] is not None})
            assert statuses and all(s in (401, 403) for s in statuses), (
                f"expected only 401/403 answers, got {bwire.summary()}"
            )
            print(f"  info: wrong key -> {type(e).__name__}: {e} (HTTP {statuses})", flush=True)
            return
        raise AssertionError("a wrong key was accepted: " + bwire.summary())

    async def revoked_while_connected() -> None:
        issued = admin_api(
            "POST",
            "/api/mcp-keys",
            {"name": f"revoke-{mode}", "dbManagementId": os.environ["CLIENTS_DB_ID"], "tableWhitelist": ["orders"]},
        )
        rwire = Wire()
        async with client_for(issued["keyValue"], mode, rwire) as rc:
            res = await rc.call_tool("get_tables", {})
            assert not res.is_error, res.content
            admin_api("DELETE", f"/api/mcp-keys/{issued['id']}")
            try:
                res = await rc.call_tool("get_tables", {})
            except MCPError as e:
                assert rwire.posts()[-1]["status"] == 401, rwire.summary()
                print(f"  info: revoked key -> MCPError {e.code}: {e.error.message}", flush=True)
                return
            raise AssertionError(f"the revoked key still works: {res!r}")

    await check(f"{tag} non-granted tool (limited key)", limited)
    await check(f"{tag} key revoked while connected is refused at once", revoked_while_connected)
    await check(f"{tag} wrong key is refused", wrong_key)


async def main() -> int:
    modes = sys.argv[1:] or ["legacy", "auto", "2026-07-28"]
    for mode in modes:
        await run_mode(mode)
    failed = [r for r in results if not r[1]]
    print(f"python: {len(results) - len(failed)} passed, {len(failed)} failed", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
