"""The official MCP Python SDK's OAuth client against a mango server that is an OAuth
resource server: client credentials (`ClientCredentialsOAuthProvider`), with no scope
configured, so that the SDK takes the scopes from the server's 401 challenge, finds the
authorization server through the Protected Resource Metadata and the authorization
server's own metadata, and asks for a token for this server's URL (RFC 8707).

    python oauth_client.py [--legacy] <server url> <issuer>

`--legacy`: the 2025-11-25 handshake (a session), else the SDK's default negotiation
(2026-07-28 with a server that offers it).

Prints one JSON line: what the tools answered, and the tools listed.
"""

import asyncio
import json
import sys
import warnings

import httpx2
from mcp import Client
from mcp.client.auth.extensions.client_credentials import ClientCredentialsOAuthProvider
from mcp.client.streamable_http import streamable_http_client


class Memory:
    """Tokens and client information, kept in memory."""

    def __init__(self):
        self.tokens = None
        self.client_info = None

    async def get_tokens(self):
        return self.tokens

    async def set_tokens(self, tokens):
        self.tokens = tokens

    async def get_client_info(self):
        return self.client_info

    async def set_client_info(self, client_info):
        self.client_info = client_info


async def main(url, issuer, mode):
    warnings.simplefilter("error")  # a deprecated path in the SDK's flow fails the test
    provider = ClientCredentialsOAuthProvider(
        server_url=url,
        storage=Memory(),
        client_id="vault-client",
        client_secret="vault-client-secret",
        issuer=issuer,
    )
    async with httpx2.AsyncClient(auth=provider, timeout=30) as http:
        async with Client(streamable_http_client(url, http_client=http), mode=mode) as client:
            tools = [t.name for t in (await client.list_tools()).tools]
            whoami = (await client.call_tool("vault_whoami", {})).content[0].text
            deposit = (await client.call_tool("vault_deposit", {"coins": 5})).content[0].text
    print(json.dumps({"tools": tools, "whoami": whoami, "deposit": deposit, "mode": mode}))


if __name__ == "__main__":
    args = sys.argv[1:]
    mode = "auto"
    if args[0] == "--legacy":
        mode, args = "legacy", args[1:]
    asyncio.run(main(args[0], args[1], mode))
