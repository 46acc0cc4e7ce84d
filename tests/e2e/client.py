"""Drives a mango server with the official MCP Python SDK (`mcp` on PyPI).

usage: client.py [--legacy] [--pages N] stdio <command> [args...]
       client.py [--legacy] [--pages N] http <url>

--legacy negotiates a 2025 protocol version (an `initialize` handshake, and a session
over HTTP) instead of the newest one. --pages N checks instead that tools/list gives N
tools, page by page (the server has a page size), in order.

Exits 0 when every check passed; prints what failed otherwise.
"""

import asyncio
import json
import sys

from mcp import Client, MCPError, StdioServerParameters
from mcp.types import PromptReference


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def text_of(result):
    return "".join(getattr(c, "text", "") for c in result.content)


LOGS = []


async def on_log(params):
    LOGS.append(params)


async def scenario(client, mode):
    tools = await client.list_tools()
    names = [t.name for t in tools.tools]
    check(names == sorted(names), f"tools/list is not sorted: {names}")
    expected = ["calc_add", "calc_boom", "calc_divide", "calc_scaled", "calc_slow", "hello", "picture", "shout"]
    check(names == expected, f"tools: {names} != {expected}")
    add = next(t for t in tools.tools if t.name == "calc_add")
    check(add.input_schema["properties"]["a"]["description"] == "The first number.", add.input_schema)
    check(add.output_schema is not None, "calc_add has no output_schema")
    check(add.annotations is not None and add.annotations.read_only_hint is True, add.annotations)
    scaled = next(t for t in tools.tools if t.name == "calc_scaled")
    check(list(scaled.input_schema["properties"]) == ["x"], f"injected values leaked: {scaled.input_schema}")

    r = await client.call_tool("calc_add", {"a": 2, "b": 3})
    check(not r.is_error and r.structured_content == {"result": 5}, f"calc_add: {r}")
    r = await client.call_tool("hello", {"name": "Ada"})
    check(not r.is_error and text_of(r) == "Hello, Ada!", f"hello: {r}")
    r = await client.call_tool("shout", {"text": "hi", "times": 2})
    check(text_of(r) == "HIHI", f"shout: {r}")
    r = await client.call_tool("calc_scaled", {"x": 4})
    check(r.structured_content == {"result": 40}, f"calc_scaled (settings): {r}")
    # the tool's ctx.info(...) reached the client as a log message
    for _ in range(50):
        if any("scaling 4" in str(getattr(m, "data", m)) for m in LOGS):
            break
        await asyncio.sleep(0.02)
    check(any("scaling 4" in str(getattr(m, "data", m)) for m in LOGS), f"no log message from calc_scaled: {LOGS}")
    # progress notifications reach the caller's progress callback
    progress = []

    async def on_progress(done, total, message):
        progress.append((done, total, message))

    r = await client.call_tool("calc_slow", {"millis": 10}, progress_callback=on_progress)
    check(text_of(r) == "slept 10 ms", f"calc_slow: {r}")
    check(progress and progress[-1][0] == 1.0, f"no progress from calc_slow: {progress}")
    r = await client.call_tool("calc_divide", {"a": 1, "b": 0})
    check(r.is_error and "cannot divide by zero" in text_of(r), f"calc_divide: {r}")
    r = await client.call_tool("calc_boom", {})
    check(r.is_error and "boom on purpose" in text_of(r), f"calc_boom: {r}")

    # a wrong argument type: an error result naming the field
    r = await client.call_tool("calc_add", {"a": 1, "b": "two"})
    check(r.is_error and "`b`" in text_of(r), f"wrong type: {r}")
    # an unknown tool: a clean error
    try:
        r = await client.call_tool("calc_ad", {})
        check(r.is_error and "unknown tool" in text_of(r), f"unknown tool: {r}")
    except MCPError as e:
        check("unknown tool `calc_ad`" in str(e) and "calc_add" in str(e), f"unknown tool: {e}")

    # rich content: text, an image (base64 of the tool's bytes), a link to a resource
    r = await client.call_tool("picture", {})
    kinds = [c.type for c in r.content]
    check(kinds == ["text", "image", "resource_link"], f"picture: {kinds}")
    check(r.content[1].data == "iVBORw0KGgo=" and r.content[1].mime_type == "image/png", f"picture: {r.content[1]}")
    check(str(r.content[2].uri) == "notes://welcome", f"picture: {r.content[2]}")

    # resources and templates
    resources = await client.list_resources()
    uris = [str(x.uri) for x in resources.resources]
    check(uris == ["notes://welcome"], f"resources/list: {uris}")
    check(resources.resources[0].title == "Welcome", f"resources/list: {resources.resources[0]}")
    templates = await client.list_resource_templates()
    found = [t.uri_template for t in templates.resource_templates]
    check(found == ["notes://{number}"], f"resources/templates/list: {found}")
    r = await client.read_resource("notes://welcome")
    check(r.contents[0].text == "Welcome to the notes.", f"read notes://welcome: {r}")
    r = await client.read_resource("notes://7")
    check(r.contents[0].text == "note 7" and r.contents[0].mime_type == "text/plain", f"read notes://7: {r}")
    for uri, code, says in [
        ("notes://seven", -32602, "invalid value `seven` for `number`"),
        ("nowhere://x", -32602, "no resource has the URI `nowhere://x`"),
    ]:
        try:
            r = await client.read_resource(uri)
            check(False, f"read {uri} answered {r}")
        except MCPError as e:
            check(e.code == code and says in e.message, f"read {uri}: {e.code} {e.message}")

    # prompts
    prompts = await client.list_prompts()
    check([p.name for p in prompts.prompts] == ["write_note"], f"prompts/list: {prompts}")
    args = [(a.name, a.required) for a in prompts.prompts[0].arguments]
    check(args == [("topic", True), ("words", False)], f"prompt arguments: {args}")
    r = await client.get_prompt("write_note", {"topic": "tea", "words": "20"})
    roles = [m.role for m in r.messages]
    check(roles == ["user", "assistant"], f"prompts/get roles: {roles}")
    check(r.messages[0].content.text == "Write a note about tea in at most 20 words.", f"prompts/get: {r}")
    for args, says in [({}, "needs the argument `topic`"), ({"topic": "x", "words": "many"}, "invalid value `many`")]:
        try:
            r = await client.get_prompt("write_note", args)
            check(False, f"get_prompt {args} answered {r}")
        except MCPError as e:
            check(e.code == -32602 and says in e.message, f"get_prompt {args}: {e.code} {e.message}")

    # completions
    r = await client.complete(PromptReference(type="ref/prompt", name="write_note"), {"name": "topic", "value": "te"})
    check(r.completion.values == ["tea", "teapots"], f"completion/complete: {r}")
    try:
        r = await client.complete(PromptReference(type="ref/prompt", name="write_note"), {"name": "nope", "value": ""})
        check(False, f"completing an unknown argument answered {r}")
    except MCPError as e:
        check(e.code == -32602 and "no argument `nope`" in e.message, f"complete unknown: {e.code} {e.message}")

    # 200 concurrent calls, every answer right, and the server still answers after
    results = await asyncio.gather(*(client.call_tool("calc_add", {"a": i, "b": 1}) for i in range(200)))
    wrong = [i for i, r in enumerate(results) if r.is_error or r.structured_content != {"result": i + 1}]
    check(not wrong, f"{len(wrong)} of 200 concurrent calls were wrong: {wrong[:5]}")
    r = await client.call_tool("calc_add", {"a": 40, "b": 2})
    check(r.structured_content == {"result": 42}, f"after the burst: {r}")
    return len(names)


async def pages(client, expected):
    names, cursor, count = [], None, 0
    while True:
        page = await client.list_tools(cursor=cursor, cache_mode="refresh")
        names += [t.name for t in page.tools]
        count += 1
        cursor = page.next_cursor
        if not cursor:
            break
        check(count <= expected, f"more pages than tools: {count}")
    check(len(names) == expected, f"{len(names)} tools in {count} pages, not {expected}")
    check(names == sorted(names) and len(set(names)) == expected, "the pages are not in order, or repeat")
    check(count > 1, f"one page of {len(names)} tools: no page size?")
    try:
        await client.list_tools(cursor="not-a-cursor", cache_mode="refresh")
        check(False, "an invalid cursor was accepted")
    except MCPError as e:
        check(e.code == -32602 and "invalid cursor" in e.message, f"invalid cursor: {e.code} {e.message}")
    return len(names), count


async def main():
    args = sys.argv[1:]
    mode = "auto"
    if args[0] == "--legacy":
        mode, args = "legacy", args[1:]
    expected_pages = None
    if args[0] == "--pages":
        expected_pages, args = int(args[1]), args[2:]
    kind, rest = args[0], args[1:]
    if kind == "stdio":
        server = StdioServerParameters(command=rest[0], args=rest[1:])
    elif kind == "http":
        server = rest[0]
    else:
        raise SystemExit(f"unknown transport {kind}")
    # log_level: on 2026-07-28 a request gets log messages only when it asks for them.
    async with Client(server, mode=mode, logging_callback=on_log, log_level="info") as client:
        if expected_pages is not None:
            n, count = await pages(client, expected_pages)
            print(json.dumps({"ok": True, "tools": n, "pages": count}))
            return
        info = client.server_info
        n = await scenario(client, mode)
        print(json.dumps({"ok": True, "server": info.name if info else None, "tools": n,
                          "protocol": client.protocol_version}))


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except AssertionError as e:
        print(f"CHECK FAILED: {e}", file=sys.stderr)
        sys.exit(1)
