"""Users' API tokens (`[auth] users`) with the official MCP Python SDK (`mcp` on PyPI),
against the ledger fixture served over Streamable HTTP.

usage:
  users.py scopes <url> <reader token> <writer token>
      the reader (a user granted `entries:read`) sees and calls the model's reads,
      not its writes (hidden from its list, refused when called); the writer (a
      superuser's token narrowed to entries:read and entries:write) writes
  users.py refused <url> <token> <words>
      the token gets 401 from the server (the SDK cannot connect; a plain POST is told
      why: <words>)

Exits 0 when every check passed.
"""

import asyncio
import json
import sys
import uuid

import httpx2
from mcp import Client, MCPError
from mcp.client.streamable_http import streamable_http_client


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def connect(url, token):
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30)
    return http, Client(streamable_http_client(url, http_client=http))


async def scopes(url, reader, writer):
    http, client = connect(url, reader)
    async with http, client:
        tools = [t.name for t in (await client.list_tools()).tools]
        check("ledger_entry_query" in tools, f"the reader's tools: {tools}")
        check("ledger_entry_create" not in tools, f"the reader sees the model's writes: {tools}")
        r = await client.call_tool("ledger_entry_query", {"count": True})
        check(not r.is_error, f"the reader's query: {r}")
        try:
            r = await client.call_tool("ledger_entry_create", {"label": "by the reader"})
            check(False, f"the reader's create answered {r}")
        except MCPError as e:
            check("needs the scope entries:write" in e.message, f"the reader's create: {e.message}")
    http, client = connect(url, writer)
    async with http, client:
        tools = [t.name for t in (await client.list_tools()).tools]
        check("ledger_entry_create" in tools, f"the writer's tools: {tools}")
        check("ledger_posting_create" not in tools, f"the narrowed token sees postings: {tools}")
        r = await client.call_tool("ledger_entry_create", {"label": f"by a user's token {uuid.uuid4()}"})
        check(not r.is_error, f"the writer's create: {r}")


async def refused(url, token, words):
    # A plain POST says why.
    async with httpx2.AsyncClient(timeout=30) as http:
        body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
        headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json",
                   "MCP-Protocol-Version": "2025-11-25"}
        r = await http.post(url, json=body, headers={**headers, "Authorization": f"Bearer {token}"})
        check(r.status_code == 401, f"status {r.status_code}: {r.text}")
        check(words in r.text, f"401 without `{words}`: {r.text}")
        check(token not in r.text, "the answer repeats the token")
        check("invalid_token" in r.headers.get("www-authenticate", ""), f"WWW-Authenticate: {r.headers}")
        # A token in the query string is not read.
        r = await http.post(f"{url}?access_token={token}", json=body, headers=headers)
        check(r.status_code == 401, f"a token in the query string: {r.status_code} {r.text}")
    # The SDK cannot connect with it.
    http, client = connect(url, token)
    try:
        async with http, client:
            await client.list_tools()
        check(False, "the SDK connected with a refused token")
    except AssertionError:
        raise
    except BaseException as e:  # noqa: BLE001 (the SDK wraps the 401 its own way)
        check(words in repr(e) or "401" in repr(e), f"the SDK's error: {e!r}")


async def main():
    mode, *args = sys.argv[1:]
    if mode == "scopes":
        await scopes(*args)
    elif mode == "refused":
        await refused(*args)
    else:
        raise AssertionError(f"no mode {mode}")
    print(json.dumps({"ok": True}))


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except AssertionError as e:
        print(f"CHECK FAILED: {e}", file=sys.stderr)
        sys.exit(1)
