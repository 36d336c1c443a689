#!/usr/bin/env python3
"""MCP Inspector CLI (@modelcontextprotocol/inspector 2.12.0) against Sluice's POST /mcp.

`mcp-inspector --cli URL --transport http --header "X-MCP-Server-Key: K" --method ...` in the
three protocol eras it can speak (`--protocol-era legacy|auto|modern`; ad-hoc URL runs default
to legacy). With `--format json` the CLI prints one JSON object, `{"result": ...}` or
`{"error": ...}`. Results of the 2026-07-28 era carry `_meta.io.modelcontextprotocol/serverInfo`,
legacy results do not: that is how the checks tell which era was spoken.

Environment: CLIENTS_MCP_URL, CLIENTS_KEY, CLIENTS_WORK (HOME for the CLI's state files).
`mcp-inspector` must be on PATH (Node 24). Prints PASS/FAIL lines; exits 1 if any failed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

URL = os.environ["CLIENTS_MCP_URL"]
KEY = os.environ["CLIENTS_KEY"]
WRONG_KEY = "sluice_000000000000_" + "0" * 64
WORK = os.environ.get("CLIENTS_WORK", "/tmp/sluice-clients")
TIMEOUT = float(os.environ.get("CLIENTS_CHECK_TIMEOUT", "30")) * 2
EXPECTED_TOOLS = ["get_schemas", "get_tables", "get_columns", "execute_query_safe", "explain_query"]
SERVER_INFO = "io.modelcontextprotocol/serverInfo"

passed = 0
failed = 0


def report(name: str, ok: bool, why: str = "") -> None:
    global passed, failed
    if ok:
        passed += 1
        print(f"PASS {name}", flush=True)
    else:
        failed += 1
        print(f"FAIL {name}: {' '.join(why.split())[:600]}", flush=True)


def inspector(*args: str, key: str = KEY, era: str = "legacy") -> tuple[int, dict, str]:
    home = os.path.join(WORK, "inspector-home")
    os.makedirs(home, exist_ok=True)
    cmd = [
        "mcp-inspector",
        "--cli",
        URL,
        "--transport",
        "http",
        "--header",
        f"X-MCP-Server-Key: {key}",
        "--protocol-era",
        era,
        "--format",
        "json",
        *args,
    ]
    try:
        proc = subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "HOME": home, "NO_COLOR": "1"},
        )
    except subprocess.TimeoutExpired:
        return -1, {}, f"timed out after {TIMEOUT:.0f}s"
    doc: dict = {}
    # the result goes to stdout; an error envelope may come on stderr
    for stream in (proc.stdout, proc.stderr):
        for candidate in (stream.strip(), *reversed(stream.strip().splitlines())):
            try:
                parsed = json.loads(candidate)
            except (json.JSONDecodeError, ValueError):
                continue
            if isinstance(parsed, dict) and ("result" in parsed or "error" in parsed):
                doc = parsed
                break
        if doc:
            break
    return proc.returncode, doc, (proc.stdout + proc.stderr)[-2000:]


def check(name: str, fn) -> None:
    try:
        fn()
    except AssertionError as e:
        report(name, False, str(e))
        return
    except Exception as e:  # noqa: BLE001
        report(name, False, f"{type(e).__name__}: {e}")
        return
    report(name, True)


def assert_era(result: dict, era: str) -> None:
    meta = result.get("_meta") or {}
    if era == "legacy":
        assert SERVER_INFO not in meta, f"legacy result carries 2026 _meta: {meta}"
    else:
        assert meta.get(SERVER_INFO, {}).get("name") == "sluice", f"no 2026 serverInfo stamp in {meta}"


def main() -> int:
    for era in ("legacy", "auto", "modern"):
        tag = f"inspector[{era}]"

        def tools_list(era: str = era) -> None:
            rc, doc, out = inspector("--method", "tools/list", era=era)
            assert rc == 0 and "result" in doc, f"exit {rc}: {out}"
            names = [t["name"] for t in doc["result"]["tools"]]
            assert names == EXPECTED_TOOLS, f"tools {names}"

        def query(era: str = era) -> None:
            rc, doc, out = inspector(
                "--method",
                "tools/call",
                "--tool-name",
                "execute_query_safe",
                "--tool-arg",
                "tableName=orders",
                "limit=2",
                'selectColumns=[{"field":"id"},{"field":"customer_id"},{"field":"amount"}]',
                'where=[{"field":"status","op":"=","value":"paid"},{"field":"amount","op":">","value":20}]',
                'orderBy=[{"field":"amount","direction":"desc"}]',
                era=era,
            )
            assert rc == 0 and "result" in doc, f"exit {rc}: {out}"
            res = doc["result"]
            assert res.get("isError") is False, f"isError: {res}"
            sc = res["structuredContent"]
            assert sc["rows"] == [[102, 1, 120], [106, 2, 42]], f"rows {sc['rows']}"
            assert sc["rowCount"] == 2 and sc["truncated"] is False, sc
            assert json.loads(res["content"][0]["text"]) == sc, "text block differs from structuredContent"
            assert_era(res, era)

        def get_tables(era: str = era) -> None:
            rc, doc, out = inspector(
                "--method", "tools/call", "--tool-name", "get_tables", "--tool-args-json", "{}", era=era
            )
            assert rc == 0 and "result" in doc, f"exit {rc}: {out}"
            names = sorted(t["qualifiedName"] for t in doc["result"]["structuredContent"]["tables"])
            assert names == ["main.customers", "main.orders"], f"tables {names}"
            assert_era(doc["result"], era)

        def wrong_key(era: str = era) -> None:
            rc, doc, out = inspector("--method", "tools/list", key=WRONG_KEY, era=era)
            assert rc != 0 and "error" in doc and "result" not in doc, f"exit {rc}: {out}"
            print(f"  info: wrong key -> exit {rc}: {json.dumps(doc['error'])[:200]}", flush=True)

        check(f"{tag} tools/list", tools_list)
        check(f"{tag} tools/call execute_query_safe (--tool-arg)", query)
        check(f"{tag} tools/call get_tables (--tool-args-json)", get_tables)
        check(f"{tag} wrong key is refused", wrong_key)

    def strict() -> None:
        rc, _, out = inspector("--method", "tools/list", "--strict")
        # exit 6 = an error-severity schema portability problem; warnings are allowed
        assert rc == 0, f"exit {rc}: {out}"

    check("inspector[legacy] tools/list --strict: no schema portability errors", strict)

    def unknown_tool() -> None:
        rc, doc, out = inspector("--method", "tools/call", "--tool-name", "drop_all_tables", "--tool-args-json", "{}")
        assert rc != 0 or doc.get("result", {}).get("isError") is True, f"exit {rc}: {out}"
        print(f"  info: unknown tool -> exit {rc}: {json.dumps(doc)[:200] or out[-200:]}", flush=True)

    check("inspector[legacy] unknown tool fails", unknown_tool)
    print(f"inspector: {passed} passed, {failed} failed", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
