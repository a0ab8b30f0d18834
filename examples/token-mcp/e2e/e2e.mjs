// End-to-end test: drives the token-mcp binary over stdio with the official
// TypeScript MCP SDK, against a local HTTP API (in this process) that
// checks the bearer token and can rotate it. Run by .ci/token-e2e.sh:
//
//   TOKEN_MCP_BIN=/path/token-mcp node e2e.mjs
//
// Prints one line per check and a final "N passed, N failed"; exits 1 on
// any failure.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { createServer } from "node:http";
import { mkdtempSync, writeFileSync, chmodSync, mkdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const CANARY = "c4n4ryf00d";
const FILE_TOKEN = `tok-${CANARY}-file-Zq3T9xWm2LkP8vRb`;
const ROTATED_TOKEN = `tok-${CANARY}-rotated-5NcY7hJd4GsF`;
const ENV_TOKEN = `tok-${CANARY}-env-6aQe1Ut0xWm2Lk`;
const STAGING_TOKEN = `tok-${CANARY}-staging-P8vRb5NcY7hJ`;
const REQUEST_TOKEN = `tok-${CANARY}-request-d4GsF6aQe1Ut`;
// Text a model may paste into any argument; none of it may come back.
const SECRET_LOOKING = [
  "AKIAIOSFODNN7EXAMPLE",
  "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
  "ghp_Zq3T9xWm2LkP8vRb5NcY7hJd4GsF6aQe1Ut0",
  "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b",
];

const bin = process.env.TOKEN_MCP_BIN;
if (!bin) {
  console.error("set TOKEN_MCP_BIN");
  process.exit(2);
}

let passed = 0, failed = 0;
const seen = []; // every result and every stderr chunk, for the leak check
function check(name, ok, detail = "") {
  if (ok) { passed++; console.log(`ok   ${name}`); }
  else { failed++; console.log(`FAIL ${name}${detail ? ": " + detail : ""}`); }
}

// The local API: accepts the tokens in `accepted`; /echo answers with the
// Authorization header it received, as a careless API might.
let accepted = new Set([FILE_TOKEN, ENV_TOKEN, STAGING_TOKEN, REQUEST_TOKEN]);
const hits = [];
const api = createServer((req, res) => {
  const auth = req.headers.authorization ?? "";
  const tok = auth.startsWith("Bearer ") ? auth.slice(7) : "";
  hits.push({ path: req.url, ok: accepted.has(tok) });
  if (!accepted.has(tok)) {
    res.writeHead(401, { "content-type": "text/plain" }).end("unauthorized");
    return;
  }
  if (req.url === "/echo") {
    res.writeHead(200, { "content-type": "text/plain" }).end(`you sent: ${auth}`);
    return;
  }
  res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ items: ["a", "b"], path: req.url }));
});
await new Promise((resolve) => api.listen(0, "127.0.0.1", resolve));
const apiURL = `http://127.0.0.1:${api.address().port}`;

// A home with ~/.mcp/credentials (default and staging sections) and a
// profiles file offering "staging".
const home = mkdtempSync(join(tmpdir(), "token-e2e-"));
chmodSync(home, 0o700);
mkdirSync(join(home, ".mcp"), { mode: 0o700 });
const credsPath = join(home, ".mcp", "credentials");
const writeCreds = (tok) => writeFileSync(credsPath, `[default]\ntoken = ${tok}\n\n[staging]\ntoken = ${STAGING_TOKEN}\n`, { mode: 0o600 });
writeCreds(FILE_TOKEN);
writeFileSync(join(home, ".mcp", "profiles.json"), JSON.stringify({
  profiles: { staging: { source: "file:staging", description: "the staging API" } },
}), { mode: 0o600 });

async function connect(extraEnv = {}) {
  const transport = new StdioClientTransport({
    command: bin,
    env: { HOME: home, TOKEN_MCP_API_URL: apiURL, ...extraEnv },
    stderr: "pipe",
  });
  transport.stderr.on("data", (d) => seen.push(String(d)));
  const client = new Client({ name: "token-e2e", version: "1.0.0" });
  await client.connect(transport);
  return client;
}

async function call(client, args) {
  const res = await client.callTool({ name: "api_get", arguments: args });
  seen.push(JSON.stringify(res));
  return res;
}
const text = (r) => (r.content ?? []).map((c) => c.text ?? "").join("\n");

try {
  const client = await connect();
  const { tools } = await client.listTools();
  const schema = tools.find((t) => t.name === "api_get")?.inputSchema;
  check("tools/list has api_get", !!schema, JSON.stringify(tools));
  check("by default the schema has no credentials argument", schema && !schema.properties.credentials && schema.properties.credential_profile?.type === "string",
    JSON.stringify(schema));

  let r = await call(client, { path: "/v1/items" });
  check("token from ~/.mcp/credentials", !r.isError && r.structuredContent?.status === 200 && r.structuredContent.body.includes('"items"'), JSON.stringify(r));

  // Rotation: the file gets a new token and the API accepts only it.
  writeCreds(ROTATED_TOKEN);
  accepted = new Set([ROTATED_TOKEN, STAGING_TOKEN]);
  hits.length = 0;
  r = await call(client, { path: "/v1/items" });
  check("rotated token: 401 → re-resolve → retry once → 200", !r.isError && r.structuredContent?.status === 200 &&
    hits.length === 2 && !hits[0].ok && hits[1].ok, JSON.stringify({ r, hits }));

  // A token the API rejects and the source still holds: no retry.
  accepted = new Set([STAGING_TOKEN]);
  hits.length = 0;
  r = await call(client, { path: "/v1/items" });
  check("rejected and unchanged: one request, the 401 comes back", !r.isError && r.structuredContent?.status === 401 && hits.length === 1,
    JSON.stringify({ r, hits }));
  accepted = new Set([ROTATED_TOKEN, STAGING_TOKEN]);

  r = await call(client, { path: "/v1/items", credential_profile: "staging" });
  check("credential_profile staging (profiles.json → file:staging)", !r.isError && r.structuredContent?.status === 200, JSON.stringify(r));

  r = await call(client, { path: "/echo" });
  check("an API that echoes the token: scrubbed from the result", !r.isError && text(r).includes("Bearer [REDACTED]") &&
    !JSON.stringify(r).includes(ROTATED_TOKEN), JSON.stringify(r));

  r = await call(client, { path: "/v1/items", credential_profile: "prod" });
  check("a profile not offered is refused, saying where the operator offers them", r.isError && text(r).includes("profiles.json"), text(r));

  r = await call(client, { path: "/v1/items", credentials: { token: REQUEST_TOKEN } });
  check("credentials refused by default, saying how to allow them", r.isError && text(r).includes("MCP_ALLOW_REQUEST_CREDENTIALS=true"), text(r));

  for (const c of SECRET_LOOKING) {
    for (const [what, args] of [
      ["unknown argument name", { path: "/v1/items", [c]: 1 }],
      ["unknown argument value", { path: "/v1/items", tokn: c }],
      ["wrong type", { path: { p: c } }],
      ["missing required", { credential_profile: c }],
      ["profile named by a secret", { path: "/v1/items", credential_profile: c }],
      ["credentials not offered", { path: "/v1/items", credentials: { token: c } }],
      ["path holding a secret", { path: c }],
    ]) {
      r = await call(client, args);
      check(`${what} is refused without repeating it`, r.isError && !JSON.stringify(r).includes(c), JSON.stringify(r));
    }
  }
  await client.close();

  // The environment's token, and request credentials when allowed.
  const allow = await connect({ API_TOKEN: ENV_TOKEN, MCP_ALLOW_REQUEST_CREDENTIALS: "true", HOME: mkdtempSync(join(tmpdir(), "token-e2e-empty-")) });
  accepted = new Set([ENV_TOKEN, REQUEST_TOKEN]);
  const s2 = (await allow.listTools()).tools[0].inputSchema;
  check("allowed: the schema has credentials.token, a write-only string", s2.properties.credentials?.properties?.token?.type === "string" &&
    s2.properties.credentials.properties.token.writeOnly === true && s2.properties.credentials.additionalProperties === false, JSON.stringify(s2));
  r = await call(allow, { path: "/v1/items" });
  check("token from API_TOKEN", !r.isError && r.structuredContent?.status === 200, JSON.stringify(r));
  hits.length = 0;
  r = await call(allow, { path: "/v1/items", credentials: { token: REQUEST_TOKEN } });
  check("credentials in the call, when allowed", !r.isError && r.structuredContent?.status === 200 && hits.length === 1, JSON.stringify(r));
  for (const c of SECRET_LOOKING) {
    r = await call(allow, { path: "/v1/items", credentials: { token: c }, credential_profile: "staging" });
    check("the one-of rule, without repeating the values", r.isError && text(r).includes("at most one of") && !JSON.stringify(r).includes(c), JSON.stringify(r));
    r = await call(allow, { path: "/v1/items", credentials: { tokn: c } });
    check("an unknown credentials field, without repeating it", r.isError && !JSON.stringify(r).includes(c), JSON.stringify(r));
  }
  await allow.close();
} catch (e) {
  check("no exception", false, String(e?.stack ?? e));
} finally {
  api.close();
  rmSync(home, { recursive: true, force: true });
}

const leaks = seen.filter((s) => s.includes(CANARY));
check("no token in any result or log line", leaks.length === 0, leaks.join("\n").slice(0, 2000));
const echoed = seen.filter((s) => SECRET_LOOKING.some((c) => s.includes(c)));
check("no secret-looking argument repeated in any result or log line", echoed.length === 0, echoed.join("\n").slice(0, 2000));

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
