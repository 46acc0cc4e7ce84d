"""A `#[model]`'s tools and resource, with the official MCP Python SDK (`mcp` on PyPI),
against the ledger fixture's `Entry` model (the table `entries`, `label` unique).

usage: models.py [--legacy] <app> <token> <reader token> <other token> http <url>

<app> is the ledger app's name in the project (its tools' prefix and its resources'
scheme); <token> a bearer token with every scope, <reader token> one with only
`entries:read` (the model's writes are hidden from it and refused), <other token> a
second caller with every scope (the postings' scope hook keeps each caller's apart). Creates 60
entries, pages through them, filters, updates, deletes; books `Posting`s against some
(a model whose `entry_id` refers to `Entry`), finds them by their entry's label and sums
them per entry, pages through 1,000 of them; checks the errors a client gets for a
duplicate label, a posting that refers to no entry or that `clean` refuses, the delete
of an entry that postings refer to, and a filter on a field that is not there; and
that a second caller sees none of the first's postings. Exits 0 when every check passed.
"""

import asyncio
import json
import sys

import httpx2
from mcp import Client, MCPError
from mcp.client.streamable_http import streamable_http_client
from mcp.types import ResourceTemplateReference


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def text_of(result):
    return "".join(getattr(c, "text", "") for c in result.content)


async def scenario(client, app, run):
    tool = lambda op: f"{app}_entry_{op}"
    tools = [t.name for t in (await client.list_tools()).tools]
    for op in ["query", "get", "create", "update", "delete"]:
        check(tool(op) in tools, f"{tool(op)} is not listed: {tools}")
    query = next(t for t in (await client.list_tools()).tools if t.name == tool("query"))
    check("filter" in query.input_schema["properties"], query.input_schema)
    check(query.output_schema is not None, "the query tool has no output schema")

    ids = []
    for i in range(60):
        r = await client.call_tool(tool("create"), {"label": f"{run} {i:02}"})
        check(not r.is_error, f"create {i}: {text_of(r)}")
        ids.append(r.structured_content["id"])
    r = await client.call_tool(tool("create"), {"label": f"{run} 07"})
    check(r.is_error and "`label`: another Entry has this value already" in text_of(r), f"duplicate: {text_of(r)}")

    # Every row once, largest id first, 25 at a time.
    seen, cursor, total = [], None, None
    while True:
        args = {"filter": {"label": {"starts_with": f"{run} "}}, "order": "-id", "limit": 25, "count": cursor is None}
        if cursor:
            args["cursor"] = cursor
        r = await client.call_tool(tool("query"), args)
        check(not r.is_error, f"query: {text_of(r)}")
        page = r.structured_content
        if total is None:
            total = page["total"]
        seen.extend(row["id"] for row in page["rows"])
        cursor = page.get("next_cursor")
        if not cursor:
            break
    check(total == 60, f"total: {total}")
    check(seen == sorted(ids, reverse=True), f"paged ids: {seen}")

    r = await client.call_tool(tool("query"), {"filter": {"label": {"in": [f"{run} 03", f"{run} 04"]}}})
    check([row["label"] for row in r.structured_content["rows"]] == [f"{run} 03", f"{run} 04"], f"in: {r}")
    r = await client.call_tool(tool("query"), {"filter": {"title": {"eq": "x"}}})
    check(r.is_error and "unknown field `title`" in text_of(r), f"unknown field: {text_of(r)}")
    r = await client.call_tool(tool("query"), {"filter": {"label": {"eq": "'; DROP TABLE entries; --"}}, "count": True})
    check(not r.is_error and r.structured_content["total"] == 0, f"SQL as data: {r}")


    bulk = await postings(client, app, run, ids)
    r = await client.call_tool(tool("delete"), {"id": ids[1]})
    check(r.is_error and "other rows refer to it" in text_of(r), f"delete of a referred entry: {text_of(r)}")
    r = await client.call_tool(tool("get"), {"id": ids[1]})
    check(not r.is_error, f"the referred entry is still there: {text_of(r)}")

    first = ids[0]
    r = await client.call_tool(tool("update"), {"id": first, "label": f"{run} renamed"})
    check(not r.is_error and r.structured_content["label"] == f"{run} renamed", f"update: {text_of(r)}")
    r = await client.call_tool(tool("get"), {"id": first})
    check(r.structured_content["label"] == f"{run} renamed", f"get after update: {r}")

    uri = f"{app}://entries/{first}"
    r = await client.read_resource(uri)
    check(json.loads(r.contents[0].text)["label"] == f"{run} renamed", f"read {uri}: {r}")
    r = await client.complete(ResourceTemplateReference(type="ref/resource", uri=f"{app}://entries/{{id}}"),
                              {"name": "id", "value": str(first)})
    check(str(first) in r.completion.values, f"completion: {r}")

    r = await client.call_tool(tool("delete"), {"id": first})
    check(not r.is_error and r.structured_content["id"] == first, f"delete: {text_of(r)}")
    r = await client.call_tool(tool("get"), {"id": first})
    check(r.is_error and f"there is no Entry with id {first}" in text_of(r), f"get after delete: {text_of(r)}")
    try:
        r = await client.read_resource(uri)
        check(False, f"read {uri} after delete answered {r}")
    except MCPError as e:
        check(f"there is no Entry with id {first}" in e.message, f"read after delete: {e.message}")
    return bulk


async def postings(client, app, run, ids):
    """`Posting` (its `entry_id` refers to `Entry`; each caller's own): returns the id of
    the entry its 1,000 bulk postings are booked against."""
    # A second model refers to the first: postings found by their entry's label, summed
    # per entry; one that refers to no entry, and an entry that is referred to, refused.
    posting = lambda op: f"{app}_posting_{op}"
    for n, entry in enumerate(ids[1:4]):
        for amount in (10, 20 + n):
            r = await client.call_tool(posting("create"), {"entry_id": entry, "amount": amount})
            check(not r.is_error, f"posting: {text_of(r)}")
    r = await client.call_tool(posting("create"), {"entry_id": 999999999, "amount": 1})
    check(r.is_error and "refers to a row that does not exist" in text_of(r), f"dangling posting: {text_of(r)}")
    # Refused by the model's clean: nothing is written.
    r = await client.call_tool(posting("create"), {"entry_id": ids[1], "amount": 0})
    check(r.is_error and "`amount`: a posting needs an amount" in text_of(r), f"clean: {text_of(r)}")
    r = await client.call_tool(posting("query"), {"filter": {"entry": {"label": {"eq": f"{run} 02"}}}, "count": True})
    check(not r.is_error and r.structured_content["total"] == 2, f"by the entry's label: {r}")
    check({row["entry_id"] for row in r.structured_content["rows"]} == {ids[2]}, f"by the entry's label: {r}")
    r = await client.call_tool(posting("aggregate"), {
        "filter": {"entry": {"label": {"starts_with": f"{run} "}}},
        "group_by": "entry_id",
        "aggregate": [{"fn": "count"}, {"fn": "sum", "field": "amount"}, {"fn": "max", "field": "amount"}],
    })
    check(not r.is_error, f"aggregate: {text_of(r)}")
    sums = [(row["entry_id"], row["count"], float(row["sum_amount"]), row["max_amount"]) for row in r.structured_content["rows"]]
    check(sums == [(ids[1], 2, 30.0, 20), (ids[2], 2, 31.0, 21), (ids[3], 2, 32.0, 22)], f"sums: {sums}")

    # 1,000 postings on one entry, then every one of them once, largest amount first,
    # 100 a page, by the cursor.
    bulk = ids[5]
    for start in range(0, 1000, 50):
        results = await asyncio.gather(*[
            client.call_tool(posting("create"), {"entry_id": bulk, "amount": 1000 + i})
            for i in range(start, start + 50)
        ])
        for r in results:
            check(not r.is_error, f"bulk posting: {text_of(r)}")
    seen, cursor = [], None
    while True:
        args = {"filter": {"entry_id": {"eq": bulk}}, "order": "-amount", "limit": 100}
        if cursor:
            args["cursor"] = cursor
        r = await client.call_tool(posting("query"), args)
        check(not r.is_error, f"bulk page: {text_of(r)}")
        seen.extend(row["amount"] for row in r.structured_content["rows"])
        cursor = r.structured_content.get("next_cursor")
        if not cursor:
            break
    check(seen == list(range(1999, 999, -1)), f"1,000 postings paged: {len(seen)} {seen[:3]}…{seen[-3:]}")
    return bulk


async def other_caller(client, app, run, bulk):
    """A second caller with every scope: the first caller's postings are not its to see,
    count, sum or change; its own are."""
    posting = lambda op: f"{app}_posting_{op}"
    r = await client.call_tool(posting("query"), {"filter": {"entry_id": {"eq": bulk}}, "count": True, "limit": 1})
    check(not r.is_error and r.structured_content["total"] == 0, f"another's postings: {r}")
    r = await client.call_tool(posting("create"), {"entry_id": bulk, "amount": 7})
    check(not r.is_error, f"its own posting: {text_of(r)}")
    mine = r.structured_content["id"]
    r = await client.call_tool(posting("aggregate"), {"filter": {"entry_id": {"eq": bulk}}, "aggregate": [{"fn": "count"}, {"fn": "sum", "field": "amount"}]})
    check(r.structured_content["rows"] == [{"count": 1, "sum_amount": 7}], f"its own sums: {r.structured_content}")
    r = await client.call_tool(posting("get"), {"id": mine - 1})
    check(r.is_error and f"there is no Posting with id {mine - 1}" in text_of(r), f"another's posting by id: {text_of(r)}")
    r = await client.call_tool(posting("update"), {"id": mine - 1, "amount": 1})
    check(r.is_error and f"there is no Posting with id {mine - 1}" in text_of(r), f"another's posting changed: {text_of(r)}")
    r = await client.call_tool(posting("delete"), {"id": mine})
    check(not r.is_error, f"its own posting deleted: {text_of(r)}")


def connect(url, token, mode):
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30)
    return http, Client(streamable_http_client(url, http_client=http), mode=mode)


async def reader(client, app):
    """A token with `entries:read` only: reads, never writes."""
    tools = [t.name for t in (await client.list_tools()).tools]
    check(f"{app}_entry_query" in tools and f"{app}_entry_get" in tools, f"reader's tools: {tools}")
    check(f"{app}_entry_create" not in tools and f"{app}_entry_delete" not in tools, f"reader sees writes: {tools}")
    check(not any(t.startswith(f"{app}_posting_") for t in tools), f"reader sees postings (postings:read): {tools}")
    try:
        r = await client.call_tool(f"{app}_entry_create", {"label": "not allowed"})
        check(False, f"reader's create answered {r}")
    except MCPError as e:
        check("needs the scope entries:write" in e.message, f"reader's create: {e.message}")
    r = await client.call_tool(f"{app}_entry_query", {"filter": {"label": {"eq": "not allowed"}}, "count": True})
    check(not r.is_error and r.structured_content["total"] == 0, f"reader's query: {r}")


async def main():
    args = sys.argv[1:]
    mode = "auto"
    if args[0] == "--legacy":
        mode, args = "legacy", args[1:]
    app, token, read_token, other_token, kind, url = args
    check(kind == "http", f"only http: {kind}")
    http, client = connect(url, token, mode)
    async with http, client:
        bulk = await scenario(client, app, "legacy" if mode == "legacy" else "rounds")
        protocol = client.protocol_version
    http, client = connect(url, other_token, mode)
    async with http, client:
        await other_caller(client, app, "legacy" if mode == "legacy" else "rounds", bulk)
    http, client = connect(url, read_token, mode)
    async with http, client:
        await reader(client, app)
    print(json.dumps({"ok": True, "protocol": protocol}))


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except AssertionError as e:
        print(f"CHECK FAILED: {e}", file=sys.stderr)
        sys.exit(1)
