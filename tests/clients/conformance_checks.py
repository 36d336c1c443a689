#!/usr/bin/env python3
"""MCP conformance suite (@modelcontextprotocol/conformance 0.1.16) server scenarios.

The scenarios send no credentials, so they run through key_proxy.py, which forwards every
request verbatim (Host and Origin included) and only adds `X-MCP-Server-Key`. The URL uses
`localhost` because the dns-rebinding scenario requires a loopback host name.

Each scenario's checks.json (written with -o) is read: every check must be SUCCESS. For
dns-rebinding-protection it also asserts that the refusal came from Sluice's Host check (403,
before the key is looked at) and that the proxy really forwarded the foreign Host; a control run
straight against Sluice (no key) shows the valid-Host request is then refused with 401.

Environment: CLIENTS_MCP_PORT (Sluice's port), CLIENTS_KEY, CLIENTS_WORK (scratch directory).
`conformance` must be on PATH (Node 24). Prints PASS/FAIL lines; exits 1 if any failed.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
PORT = os.environ["CLIENTS_MCP_PORT"]
WORK = os.environ.get("CLIENTS_WORK", "/tmp/sluice-clients")
TIMEOUT = float(os.environ.get("CLIENTS_CHECK_TIMEOUT", "30")) * 2
SCENARIOS = ["server-initialize", "tools-list", "ping", "dns-rebinding-protection"]

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


def start_proxy(log: str) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(
        [sys.executable, os.path.join(HERE, "key_proxy.py"), "--target", f"127.0.0.1:{PORT}", "--log", log],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if not line.startswith("listening on "):
        proc.kill()
        raise RuntimeError(f"key_proxy did not start: {line!r}")
    return proc, int(line.rsplit(" ", 1)[1])


def run_scenario(url: str, scenario: str, out_dir: str) -> tuple[int, str, list[dict]]:
    shutil.rmtree(out_dir, ignore_errors=True)
    try:
        proc = subprocess.run(
            ["conformance", "server", "--url", url, "--scenario", scenario, "-o", out_dir],
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            env={**os.environ, "NO_COLOR": "1", "FORCE_COLOR": "0"},
        )
    except subprocess.TimeoutExpired:
        return -1, f"timed out after {TIMEOUT:.0f}s", []
    output = proc.stdout + proc.stderr
    checks: list[dict] = []
    for f in glob.glob(os.path.join(out_dir, "*", "checks.json")):
        with open(f) as fh:
            checks.extend(json.load(fh))
    return proc.returncode, output, checks


def raw_post(url: str, headers: dict[str, str]) -> tuple[int, str]:
    body = json.dumps(
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
        }
    ).encode()
    req = urllib.request.Request(url, data=body, method="POST")
    req.add_header("Content-Type", "application/json")
    req.add_header("Accept", "application/json, text/event-stream")
    for k, v in headers.items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=10) as res:
            return res.status, res.read().decode(errors="replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")


def main() -> int:
    os.makedirs(WORK, exist_ok=True)
    proxy_log = os.path.join(WORK, "key_proxy.log")
    open(proxy_log, "w").close()
    proxy, pport = start_proxy(proxy_log)
    url = f"http://localhost:{pport}/mcp"
    print(f"  info: key_proxy on {url} -> 127.0.0.1:{PORT}", flush=True)
    try:
        for scenario in SCENARIOS:
            name = f"conformance[0.1.16] {scenario}"
            started = time.monotonic()
            rc, output, checks = run_scenario(url, scenario, os.path.join(WORK, "conformance", scenario))
            bad = [c for c in checks if c.get("status") != "SUCCESS"]
            if rc != 0 or not checks or bad:
                why = f"exit {rc}; " + (
                    "; ".join(f"{c.get('id')}: {c.get('status')} {c.get('errorMessage') or c.get('details')}" for c in bad)
                    if bad
                    else ("no checks.json" if not checks else "")
                )
                report(name, False, why)
                print(output, flush=True)
                continue
            ids = ", ".join(c["id"] for c in checks)
            if scenario == "dns-rebinding-protection":
                by_id = {c["id"]: c for c in checks}
                rej = by_id.get("localhost-host-rebinding-rejected", {}).get("details", {})
                acc = by_id.get("localhost-host-valid-accepted", {}).get("details", {})
                problems = []
                if rej.get("statusCode") != 403 or "Host" not in json.dumps(rej.get("body")):
                    problems.append(f"foreign Host not refused by the Host check: {rej}")
                if acc.get("statusCode") != 200:
                    problems.append(f"valid Host not accepted: {acc}")
                with open(proxy_log) as fh:
                    seen = fh.read()
                if "host=evil.example.com origin=http://evil.example.com" not in seen:
                    problems.append("the proxy did not forward the foreign Host/Origin verbatim")
                if problems:
                    report(name, False, "; ".join(problems))
                    continue
            report(f"{name} ({ids}; {time.monotonic() - started:.1f}s)", True)

        # Sluice itself, without the proxy: a foreign Host is refused before the key is
        # asked for (403, not 401), and a keyless loopback request is refused (401) - which is
        # why the scenarios need the proxy.
        direct = f"http://127.0.0.1:{PORT}/mcp"
        status, body = raw_post(direct, {"Host": "evil.example.com", "Origin": "http://evil.example.com"})
        report(
            "direct: foreign Host without a key -> 403 from the Host check",
            status == 403 and "Host" in body,
            f"got {status} {body[:200]}",
        )
        status, body = raw_post(direct, {"Origin": "http://evil.example.com", "X-MCP-Server-Key": os.environ["CLIENTS_KEY"]})
        report("direct: foreign Origin with a valid key -> 403", status == 403, f"got {status} {body[:200]}")
        status, body = raw_post(direct, {})
        report("direct: loopback Host without a key -> 401", status == 401, f"got {status} {body[:200]}")
        status, body = raw_post(url, {})
        report("proxy: loopback Host, key added by the proxy -> 200", status == 200, f"got {status} {body[:200]}")
    finally:
        proxy.terminate()
        try:
            proxy.wait(5)
        except subprocess.TimeoutExpired:
            proxy.kill()
    print(f"conformance: {passed} passed, {failed} failed", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
