"""Talking back, with the official MCP Python SDK (`mcp` on PyPI), against the ledger
fixture: elicitation (accept, decline, cancel), sampling, log levels, a call that asks
twice and writes (three rounds on 2026-07-28), resource subscriptions.

usage: talk.py [--legacy] [--slow] stdio <command> [args...]
       talk.py [--legacy] [--slow] http <url>

--legacy negotiates 2025-11-25 (an `initialize` handshake, server-to-client requests,
`logging/setLevel`, `resources/subscribe`); without it, 2026-07-28 (rounds, the log
level in each request's `_meta`, `subscriptions/listen`). Over HTTP a second client's
call causes the update the first one hears of. --slow checks instead a client that
answers after `[input] timeout` (the server must run with 0.5 s). Exits 0 when every
check passed.
"""

import asyncio
import json
import sys
import uuid

import anyio
from mcp import Client, MCPError, StdioServerParameters
from mcp.types import CreateMessageResult, ElicitResult, ResourceUpdatedNotification, TextContent


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def text_of(result):
    return "".join(getattr(c, "text", "") for c in result.content)


REPLIES = []
ASKED = []
SAMPLED = []
LOGS = []
UPDATES = []


async def on_elicit(context, params):
    ASKED.append(params)
    return REPLIES.pop(0)


async def on_sample(context, params):
    SAMPLED.append(params)
    return CreateMessageResult(role="assistant", content=TextContent(type="text", text="five words, no more"),
                               model="test-model", stop_reason="endTurn")


async def on_log(params):
    LOGS.append(params)


async def on_message(message):
    if isinstance(message, ResourceUpdatedNotification):
        UPDATES.append(str(message.params.uri))


def accept(**content):
    return ElicitResult(action="accept", content=content)


async def count(client):
    r = await client.call_tool("ledger_count", {})
    return r.structured_content["result"]


async def wait_for(cond, what, seconds=5):
    for _ in range(int(seconds / 0.02)):
        if cond():
            return
        await asyncio.sleep(0.02)
    check(False, what)


def client_for(server, mode, **extra):
    return Client(server, mode=mode, elicitation_callback=on_elicit, sampling_callback=on_sample,
                  logging_callback=on_log, message_handler=on_message, **extra)


async def talk(server, mode, other):
    legacy = mode == "legacy"
    async with client_for(server, mode, log_level=None if legacy else "warning") as client:
        # elicitation: the form's schema, and the three answers
        REPLIES[:] = [accept(name="Ada"), ElicitResult(action="decline"), ElicitResult(action="cancel")]
        for expected in ["Hello, Ada!", "no name (decline)", "no name (cancel)"]:
            r = await client.call_tool("ledger_greet_asking", {})
            check(not r.is_error and text_of(r) == expected, f"greet_asking: {r} (wanted {expected})")
        schema = ASKED[0].requested_schema
        check(schema["properties"]["name"] == {"type": "string", "description": "Your name."}, schema)
        check(schema.get("required") == ["name"], schema)
        # an answer that does not match the form: an error result naming the field
        REPLIES[:] = [accept(name=7)]
        r = await client.call_tool("ledger_greet_asking", {})
        check(r.is_error and "`name` must be a string" in text_of(r), f"bad answer: {r}")

        # sampling
        r = await client.call_tool("ledger_summarise", {"text": "a long story"})
        check(text_of(r) == "five words, no more (by test-model)", f"summarise: {r}")
        check(SAMPLED[-1].system_prompt == "You summarise in five words." and SAMPLED[-1].max_tokens == 20,
              SAMPLED[-1])

        # a call that writes, asks, writes, asks, writes: what one run writes, once
        before = await count(client)
        REPLIES[:] = [accept(confirm=True), accept(confirm=True)]
        r = await client.call_tool("ledger_insert_asking", {"label": f"asked {uuid.uuid4()}"})
        check(not r.is_error and r.structured_content == {"result": before + 3}, f"insert_asking: {r}")
        check(await count(client) == before + 3, "the call that asked did not write exactly three rows")
        REPLIES[:] = [accept(confirm=True), ElicitResult(action="decline")]
        r = await client.call_tool("ledger_insert_asking", {"label": f"declined {uuid.uuid4()}"})
        check(r.is_error and "stopped before" in text_of(r), f"declined insert_asking: {r}")
        check(await count(client) == before + 3, "a call that stopped at its second question left rows")

        # log levels: warning and above, nothing below
        if legacy:
            await client.set_logging_level("warning")
        LOGS.clear()
        r = await client.call_tool("ledger_chatty", {})
        await wait_for(lambda: len(LOGS) >= 2, f"log messages at warning and above: {LOGS}")
        await asyncio.sleep(0.2)
        levels = [m.level for m in LOGS]
        check(levels == ["warning", "error"], f"log levels after asking for warning: {levels}")

        # subscriptions: an unknown URI is refused; a change (by another client over
        # HTTP) reaches the subscriber once committed
        UPDATES.clear()
        if legacy:
            try:
                await client.subscribe_resource("ledger://nothing")
                check(False, "subscribing to an unknown URI was accepted")
            except MCPError as e:
                check(e.code == -32602 and "no resource has that URI" in e.message, f"{e.code} {e.message}")
            await client.subscribe_resource("ledger://count")
            await insert_from(other, client, mode)
            await wait_for(lambda: "ledger://count" in UPDATES, f"no resources/updated: {UPDATES}")
            # from code outside any call (a task the server runs): mango_rt::resource_changed
            UPDATES.clear()
            await client.call_tool("ledger_touch_later", {})
            await wait_for(lambda: "ledger://count" in UPDATES, f"no update from outside a call: {UPDATES}")
            await client.unsubscribe_resource("ledger://count")
            UPDATES.clear()
            await insert_from(other, client, mode)
            await asyncio.sleep(0.3)
            check(not UPDATES, f"an update after unsubscribing: {UPDATES}")
        else:
            # a URI no resource has is left out of what the server honors
            async with client.listen(resource_subscriptions=["ledger://nothing", "ledger://count"]) as sub:
                check(list(sub.honored.resource_subscriptions or []) == ["ledger://count"], sub.honored)
                await insert_from(other, client, mode)
                with anyio.fail_after(5):
                    async for event in sub:
                        check(str(event.uri) == "ledger://count", event)
                        break

    # a client that asks for no log messages (2026-07-28) gets none; one without the
    # elicitation capability gets a clean error
    if not legacy:
        async with Client(server, mode=mode, logging_callback=on_log) as quiet:
            LOGS.clear()
            await quiet.call_tool("ledger_chatty", {})
            await asyncio.sleep(0.3)
            check(not LOGS, f"log messages without a log level: {LOGS}")
            r = await quiet.call_tool("ledger_greet_asking", {})
            check(r.is_error and "cannot answer an elicitation request: it did not declare the `elicitation` capability" in text_of(r), f"no capability: {r}")


async def slow(server, mode):
    """A client that takes longer to answer than `[input] timeout` (the server runs with
    half a second): the call fails saying so, and the server goes on serving."""
    async def never_in_time(context, params):
        await asyncio.sleep(3)
        return ElicitResult(action="decline")

    async with Client(server, mode=mode, elicitation_callback=never_in_time) as client:
        started = asyncio.get_running_loop().time()
        r = await client.call_tool("ledger_greet_asking", {})
        took = asyncio.get_running_loop().time() - started
        check(r.is_error and "did not answer within 500ms" in text_of(r), f"timeout: {r}")
        check(took < 2.5, f"the timed-out call took {took:.1f} s")
        check(await count(client) >= 0, "the server stopped serving after a timeout")


async def insert_from(other, client, mode):
    """One insert by another client (over HTTP), or by this one (stdio has one client)."""
    if other is None:
        r = await client.call_tool("ledger_insert", {"label": f"insert {uuid.uuid4()}"})
    else:
        async with Client(other, mode=mode) as second:
            r = await second.call_tool("ledger_insert", {"label": f"other {uuid.uuid4()}"})
    check(not r.is_error, f"insert: {r}")


async def main():
    args = sys.argv[1:]
    mode = "auto"
    if args[0] == "--legacy":
        mode, args = "legacy", args[1:]
    slow_client = args[0] == "--slow"
    if slow_client:
        args = args[1:]
    kind, rest = args[0], args[1:]
    if kind == "stdio":
        server, other = StdioServerParameters(command=rest[0], args=rest[1:]), None
    elif kind == "http":
        server, other = rest[0], rest[0]
    else:
        raise SystemExit(f"unknown transport {kind}")
    if slow_client:
        await slow(server, mode)
    else:
        await talk(server, mode, other)
    print(json.dumps({"ok": True, "mode": mode}))


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except Exception as e:  # noqa: BLE001 - the test reads the message
        import traceback
        print(json.dumps({"ok": False, "error": f"{type(e).__name__}: {e}"}))
        traceback.print_exception(e)
        sys.exit(1)
