// A real OAuth 2.1 authorization server for the tests, on loopback: oauth2-mock-server
// (npm, pinned by scripts/node-tools.sh) serves its metadata (OpenID discovery), its
// keys (/jwks) and tokens (/token, client_credentials with RFC 8707's `resource` as the
// audience, as the MCP Python SDK asks for them). Around it, what the tests need of a
// real server's life:
//
//   POST /issue       {scope, aud, sub, exp_in, iss, kid, foreign}  → {token}: a signed
//                     access token with these claims (`foreign`: signed by a key the
//                     JWKS does not publish);
//   POST /opaque      {scope, aud, sub, exp_in}  → {token}: an opaque token only the
//                     introspection endpoint knows;
//   POST /introspect  (RFC 7662, form-encoded, client_secret_basic) → what it knows;
//   POST /rotate      → {kid}: a new key, published and used from now on;
//   POST /jwks-mode   {mode: "normal" | "garbage" | "hang"}: how /jwks answers.
//   GET  /stats       → {jwks: <fetches of /jwks>, introspections: <n>}
//
// It prints `issuer=<url>` on stdout once it listens.
//
//   "$(./scripts/node-tools.sh)" tests/e2e/authorization-server.mjs [port]

import http from 'node:http';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';

// The package is installed beside the node that runs this (target/conformance-node).
function findPackage() {
  for (let dir = dirname(process.execPath); dir !== dirname(dir); dir = dirname(dir)) {
    const entry = join(dir, 'node_modules', 'oauth2-mock-server', 'dist', 'index.js');
    if (existsSync(entry)) return entry;
  }
  throw new Error('oauth2-mock-server is not installed: run ./scripts/node-tools.sh');
}
const { OAuth2Issuer, OAuth2Service } = await import(pathToFileURL(findPackage()).href);

const issuer = new OAuth2Issuer();
let current = (await issuer.keys.generate('RS256')).kid;
const service = new OAuth2Service(issuer);
// Keys nobody publishes: a token they sign is a forgery.
const outsider = new OAuth2Issuer();
await outsider.keys.generate('RS256');

const opaque = new Map();
const stats = { jwks: 0, introspections: 0 };
let jwksMode = 'normal';

// /token (client_credentials): the audience is the resource asked for, the subject the
// client.
service.on('beforeTokenSigning', (token, req) => {
  const body = req.body ?? {};
  let client = body.client_id;
  const basic = req.headers.authorization;
  if (basic?.startsWith('Basic ')) {
    client = decodeURIComponent(Buffer.from(basic.slice(6), 'base64').toString().split(':')[0]);
  }
  if (body.resource) token.payload.aud = body.resource;
  token.payload.sub = client ?? 'anonymous-client';
  token.payload.client_id = client;
});

function claimsOf(body) {
  const now = Math.floor(Date.now() / 1000);
  const claims = {
    iss: body.iss ?? issuer.url,
    sub: body.sub ?? 'alice',
    iat: now,
    nbf: now - 10,
    exp: now + (body.exp_in ?? 3600),
  };
  if (body.aud !== undefined) claims.aud = body.aud;
  if (body.scope !== undefined) claims.scope = body.scope;
  if (body.email !== undefined) claims.email = body.email;
  return claims;
}

async function issue(body) {
  const claims = claimsOf(body);
  const signer = body.foreign ? outsider : issuer;
  signer.url = issuer.url;
  return signer.buildToken({
    kid: body.foreign ? undefined : (body.kid ?? current),
    expiresIn: body.exp_in ?? 3600,
    scopesOrTransform: (_header, payload) => {
      for (const key of Object.keys(payload)) delete payload[key];
      Object.assign(payload, claims);
    },
  });
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (chunk) => (text += chunk));
    req.on('end', () => resolve(text));
    req.on('error', reject);
  });
}

function send(res, status, value) {
  const text = JSON.stringify(value);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

const server = http.createServer(async (req, res) => {
  const path = new URL(req.url, 'http://x').pathname;
  try {
    if (req.method === 'POST' && path === '/issue') {
      return send(res, 200, { token: await issue(JSON.parse(await readBody(req))) });
    }
    if (req.method === 'POST' && path === '/opaque') {
      const token = randomUUID().replaceAll('-', '') + randomUUID().replaceAll('-', '');
      opaque.set(token, claimsOf(JSON.parse(await readBody(req))));
      return send(res, 200, { token });
    }
    if (req.method === 'POST' && path === '/introspect') {
      stats.introspections += 1;
      const basic = req.headers.authorization ?? '';
      const [id, secret] = Buffer.from(basic.replace(/^Basic /, ''), 'base64').toString().split(':');
      if (id !== 'mango-rs' || secret !== 'introspection-secret') {
        return send(res, 401, { error: 'invalid_client' });
      }
      const token = new URLSearchParams(await readBody(req)).get('token');
      const claims = opaque.get(token);
      const now = Math.floor(Date.now() / 1000);
      if (!claims || claims.exp < now) return send(res, 200, { active: false });
      return send(res, 200, { active: true, token_type: 'Bearer', ...claims });
    }
    if (req.method === 'POST' && path === '/rotate') {
      current = (await issuer.keys.generate('RS256')).kid;
      return send(res, 200, { kid: current });
    }
    if (req.method === 'POST' && path === '/jwks-mode') {
      jwksMode = JSON.parse(await readBody(req)).mode;
      return send(res, 200, { mode: jwksMode });
    }
    if (req.method === 'GET' && path === '/stats') {
      return send(res, 200, stats);
    }
    if (req.method === 'GET' && path === '/jwks') {
      stats.jwks += 1;
      if (jwksMode === 'garbage') {
        res.writeHead(200, { 'content-type': 'application/json' });
        return res.end('{"keys": [{"kty": "RSA", "n": 42}], "oops');
      }
      if (jwksMode === 'hang') return; // never answers
    }
  } catch (e) {
    return send(res, 400, { error: 'invalid_request', error_description: String(e) });
  }
  service.requestHandler(req, res);
});

server.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => {
  issuer.url = `http://127.0.0.1:${server.address().port}`;
  console.log(`issuer=${issuer.url}`);
});
