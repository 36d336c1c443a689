#!/usr/bin/env python3
"""A tiny HTTP/1.1 reverse proxy that adds `X-MCP-Server-Key` to every request.

The MCP conformance suite sends no credentials, and Sluice's `/mcp` requires a key. This proxy
sits between them and forwards everything verbatim (method, path, every header including `Host`
and `Origin`, the body, and the streamed response), only adding the key header (an existing
one is replaced). It works on bytes: each request head is parsed just enough to insert the
header and to find the end of the body (Content-Length or chunked), so keep-alive connections
and streamed (SSE) responses pass through untouched.

Usage: CLIENTS_KEY=sluice_... key_proxy.py --target 127.0.0.1:8080 [--port 0] [--log FILE]
Prints `listening on PORT` on stdout once it accepts connections.
Python standard library only.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

MAX_HEAD = 64 * 1024
LOG = sys.stderr


def log(msg: str) -> None:
    print(msg, file=LOG, flush=True)


async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy bytes until EOF (the response direction: never parsed)."""
    try:
        while True:
            chunk = await reader.read(65536)
            if not chunk:
                break
            writer.write(chunk)
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        try:
            if writer.can_write_eof():
                writer.write_eof()
        except (OSError, RuntimeError):
            pass


def rewrite_head(head: bytes, key: str) -> tuple[bytes, int | None, bool, str]:
    """Insert the key header; return (new head, content length, chunked, description)."""
    lines = head[:-4].split(b"\r\n")
    request_line, headers = lines[0], lines[1:]
    kept: list[bytes] = []
    length: int | None = None
    chunked = False
    host = origin = b"-"
    for line in headers:
        name, _, value = line.partition(b":")
        lname = name.strip().lower()
        if lname == b"x-mcp-server-key":
            continue
        if lname == b"content-length":
            length = int(value.strip())
        elif lname == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
        elif lname == b"host":
            host = value.strip()
        elif lname == b"origin":
            origin = value.strip()
        kept.append(line)
    kept.append(b"X-MCP-Server-Key: " + key.encode())
    new_head = b"\r\n".join([request_line, *kept]) + b"\r\n\r\n"
    desc = f"{request_line.decode(errors='replace')} host={host.decode(errors='replace')} origin={origin.decode(errors='replace')}"
    return new_head, length, chunked, desc


async def forward_requests(
    creader: asyncio.StreamReader, uwriter: asyncio.StreamWriter, key: str
) -> None:
    """Client -> upstream: request by request, adding the key to each head."""
    try:
        while True:
            try:
                head = await creader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError:
                break  # client closed between requests
            except asyncio.LimitOverrunError:
                log("proxy: request head too large; closing")
                break
            new_head, length, chunked, desc = rewrite_head(head, key)
            log(f"proxy: {desc}")
            uwriter.write(new_head)
            if chunked:
                while True:
                    size_line = await creader.readuntil(b"\r\n")
                    uwriter.write(size_line)
                    size = int(size_line.split(b";")[0].strip(), 16)
                    if size == 0:
                        # trailers, up to the empty line
                        while True:
                            line = await creader.readuntil(b"\r\n")
                            uwriter.write(line)
                            if line == b"\r\n":
                                break
                        break
                    uwriter.write(await creader.readexactly(size + 2))
            elif length:
                uwriter.write(await creader.readexactly(length))
            await uwriter.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        try:
            if uwriter.can_write_eof():
                uwriter.write_eof()
        except (OSError, RuntimeError):
            pass


async def handle(
    creader: asyncio.StreamReader, cwriter: asyncio.StreamWriter, target: tuple[str, int], key: str
) -> None:
    try:
        ureader, uwriter = await asyncio.open_connection(*target, limit=MAX_HEAD)
    except OSError as e:
        log(f"proxy: cannot reach {target}: {e}")
        cwriter.close()
        return
    try:
        await asyncio.gather(forward_requests(creader, uwriter, key), pipe(ureader, cwriter))
    finally:
        for w in (uwriter, cwriter):
            try:
                w.close()
            except OSError:
                pass


async def main() -> None:
    global LOG
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--target", required=True, help="HOST:PORT of the upstream server")
    ap.add_argument("--port", type=int, default=0, help="port to listen on (0: any free port)")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--log", help="append request lines to this file (default: stderr)")
    args = ap.parse_args()
    key = os.environ.get("CLIENTS_KEY", "")
    if not key:
        sys.exit("key_proxy: set CLIENTS_KEY")
    if args.log:
        LOG = open(args.log, "a", buffering=1)  # noqa: SIM115
    host, _, port = args.target.rpartition(":")
    target = (host, int(port))
    server = await asyncio.start_server(
        lambda r, w: handle(r, w, target, key), args.host, args.port, limit=MAX_HEAD
    )
    bound = server.sockets[0].getsockname()[1]
    print(f"listening on {bound}", flush=True)

    async def exit_with_parent() -> None:
        # Never outlive the process that started us (e.g. when a suite is killed on timeout).
        parent = os.getppid()
        while os.getppid() == parent:
            await asyncio.sleep(1)
        log("proxy: parent gone; exiting")
        os._exit(0)

    watcher = asyncio.create_task(exit_with_parent())
    async with server:
        await server.serve_forever()
    watcher.cancel()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
