"""The replicas test's client side: load through nginx, a call that asks its client
across replicas, resource updates across replicas, a session behind nginx. The Rust test
(tests/tests/replicas.rs) starts PostgreSQL, the replicas and nginx, and checks the
database afterwards.

usage: replicas.py load <url> <seconds> <workers> <out.json> [<stop-file>]
       replicas.py elicit <url>
       replicas.py replay <url> <other-url>
       replicas.py listen <listen-url> <write-url>
       replicas.py session <url> <write-url>

Every command prints one JSON line; exits 0 when every check passed.
"""

import asyncio
import json
import os
import select
import sys
import threading
import time
import uuid

import http.client
import urllib.parse

import anyio
from mcp import Client
from mcp.types import ElicitResult, ResourceUpdatedNotification

PROTOCOL = "2026-07-28"
META = {
    "io.modelcontextprotocol/protocolVersion": PROTOCOL,
    "io.modelcontextprotocol/clientInfo": {"name": "replicas-test", "version": "1"},
    "io.modelcontextprotocol/clientCapabilities": {"elicitation": {"form": {}}},
}


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def text_of(result):
    return "".join(getattr(c, "text", "") for c in result.content)


class Http:
    """One keep-alive HTTP/1.1 connection to a URL's server, used as HTTP clients use
    their pooled connections (httpx, browsers): an idle connection the server closed is
    not reused, and a request that fails on a reused connection before any answer (the
    server closed it as the request went out: nginx's reload does) is sent once more on
    a new one. `stale` counts those."""

    stale = 0

    def __init__(self, url):
        self.url = urllib.parse.urlsplit(url)
        self.conn = None

    def _closed_by_server(self):
        sock = self.conn.sock
        if sock is None:
            return True
        readable, _, _ = select.select([sock], [], [], 0)
        return bool(readable)

    def post(self, body, headers):
        data = json.dumps(body)
        headers = {"Content-Type": "application/json", **headers}
        for attempt in (0, 1):
            if self.conn is not None and self._closed_by_server():
                self.close()
            reused = self.conn is not None
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.url.hostname, self.url.port, timeout=30)
            try:
                self.conn.request("POST", self.url.path, body=data, headers=headers)
                r = self.conn.getresponse()
                return r.status, r.read()
            except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
                self.close()
                if not reused or attempt:
                    raise
                Http.stale += 1
            except Exception:
                self.close()
                raise

    def close(self):
        if self.conn is not None:
            self.conn.close()
        self.conn = None


def call(http, name, arguments, extra=None, id=1):
    """One tools/call of protocol 2026-07-28, as any client sends it (no session):
    (HTTP status, the JSON-RPC answer or None)."""
    params = {"name": name, "arguments": arguments, "_meta": META}
    params.update(extra or {})
    body = {"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": params}
    headers = {
        "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": PROTOCOL,
        "Mcp-Method": "tools/call",
        "Mcp-Name": name,
    }
    status, data = http.post(body, headers)
    try:
        return status, json.loads(data)
    except ValueError:
        return status, None


def load(url, seconds, workers, out, stop_file=None):
    """`workers` threads, each calling orders_place and orders_put in turn with a fresh
    token, until `seconds` pass (or `stop_file` appears); every call is recorded with
    whether it was acknowledged (a result that is not an error)."""
    records = []
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def worker(n):
        mine = []
        conn = Http(url)
        i = 0
        while time.monotonic() < deadline and not (stop_file and os.path.exists(stop_file)):
            tool = "orders_place" if i % 2 == 0 else "orders_put"
            token = f"w{n}-{uuid.uuid4()}"
            try:
                status, answer = call(conn, tool, {"token": token, "item": "apple"})
                result = (answer or {}).get("result")
                ok = status == 200 and result is not None and not result.get("isError")
                why = None if ok else f"{status} {json.dumps(answer)[:300]}"
            except (OSError, http.client.HTTPException) as e:
                ok, why = False, f"{type(e).__name__}: {e}"
            mine.append({"tool": tool, "token": token, "ok": ok, "why": why})
            i += 1
        conn.close()
        with lock:
            records.extend(mine)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with open(out, "w") as f:
        json.dump(records, f)
    print(json.dumps({"ok": True, "calls": len(records), "failed": sum(not r["ok"] for r in records),
                      "stale": Http.stale}))


async def elicit(url):
    """The official SDK through nginx: a call that asks, answered (nginx's log says
    which replica had each round)."""
    asked = []

    async def on_elicit(context, params):
        asked.append(params)
        return ElicitResult(action="accept", content={"confirm": True})

    async with Client(url, elicitation_callback=on_elicit) as client:
        r = await client.call_tool("orders_confirm", {"token": f"sdk-{uuid.uuid4()}", "item": "pear"})
        check(not r.is_error, f"confirm: {r}")
        check(len(asked) == 1, f"questions: {asked}")
        placed_by = text_of(r).removeprefix("placed by ")
        print(json.dumps({"ok": True, "question": asked[0].message, "placed_by": placed_by}))


def replay(url, other):
    """By hand: the round's state is accepted by another replica, and refused once the
    call completed, on any replica; `other` is a replica with another key."""
    token = f"raw-{uuid.uuid4()}"
    args = {"token": token, "item": "plum"}
    conn, foreign_conn = Http(url), Http(other)
    status, first = call(conn, "orders_confirm", args)
    result = first["result"]
    check(result.get("resultType") == "input_required", f"first round: {first}")
    state = result["requestState"]
    (key,) = result["inputRequests"].keys()
    answers = {key: {"action": "accept", "content": {"confirm": True}}}
    extra = {"inputResponses": answers, "requestState": state}
    # a replica with another key: refused, cleanly
    status, foreign = call(foreign_conn, "orders_confirm", args, extra)
    check(status == 200 and "error" in foreign, f"another key: {status} {foreign}")
    foreign_message = foreign["error"]["message"]
    status, done = call(conn, "orders_confirm", args, extra)
    check(status == 200 and "result" in done and not done["result"].get("isError"), f"second round: {done}")
    # the same answer again, to each replica behind nginx in turn
    refusals = []
    for _ in range(3):
        status, again = call(conn, "orders_confirm", args, extra)
        check("error" in again, f"replayed: {again}")
        refusals.append(again["error"]["message"])
    print(json.dumps({"ok": True, "token": token, "foreign": foreign_message, "refusals": refusals}))


async def listen(listen_url, write_url):
    """subscriptions/listen on one replica; a write through another; the update heard."""
    async with Client(listen_url) as listener:
        async with listener.listen(resource_subscriptions=["orders://count"]) as sub:
            async with Client(write_url) as writer:
                r = await writer.call_tool("orders_place", {"token": f"listen-{uuid.uuid4()}", "item": "fig"})
                check(not r.is_error, f"place: {r}")
                by = text_of(r)
            with anyio.fail_after(10):
                async for event in sub:
                    check(str(event.uri) == "orders://count", event)
                    break
    print(json.dumps({"ok": True, "written_by": by}))


async def session(url, write_url):
    """A 2025-11-25 session through nginx: every request reaches the replica that made
    it; its subscription hears of a write made on another replica."""
    updates = []

    async def on_message(message):
        if isinstance(message, ResourceUpdatedNotification):
            updates.append(str(message.params.uri))

    async with Client(url, mode="legacy", message_handler=on_message) as client:
        seen = set()
        for _ in range(6):
            r = await client.call_tool("orders_whoami", {})
            seen.add(text_of(r))
        check(len(seen) == 1, f"one session, several replicas: {seen}")
        await client.subscribe_resource("orders://count")
        async with Client(write_url) as writer:
            r = await writer.call_tool("orders_place", {"token": f"session-{uuid.uuid4()}", "item": "kiwi"})
            check(not r.is_error, f"place: {r}")
            by = text_of(r)
        for _ in range(500):
            if updates:
                break
            await asyncio.sleep(0.02)
        check(updates == ["orders://count"], f"updates: {updates}")
    print(json.dumps({"ok": True, "replica": seen.pop(), "written_by": by}))


def main():
    command, args = sys.argv[1], sys.argv[2:]
    if command == "load":
        load(args[0], float(args[1]), int(args[2]), args[3], args[4] if len(args) > 4 else None)
    elif command == "elicit":
        asyncio.run(elicit(args[0]))
    elif command == "replay":
        replay(args[0], args[1])
    elif command == "listen":
        asyncio.run(listen(args[0], args[1]))
    elif command == "session":
        asyncio.run(session(args[0], args[1]))
    else:
        raise SystemExit(f"unknown command {command}")


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # noqa: BLE001 - the test reads the message
        import traceback
        print(json.dumps({"ok": False, "error": f"{type(e).__name__}: {e}"}))
        traceback.print_exception(e)
        sys.exit(1)
