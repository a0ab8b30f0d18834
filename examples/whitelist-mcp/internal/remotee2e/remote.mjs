// End-to-end test of whitelist-mcp as a remote server: the built binary
// serves Streamable HTTP (--http) behind the bearer-token check, a real
// OpenID provider (internal/testop, zitadel's op package) issues the
// tokens, and the official TypeScript MCP SDK connects as a user's client
// would: with ClientCredentialsProvider it reads the server's 401, its
// Protected Resource Metadata and the issuer's metadata, and gets its own
// token; with a token it already holds, it sends it as a bearer header.
// Run by .ci/remote-e2e.sh:
//
//   WHITELIST_BIN=... FAKEEC2_BIN=... TESTOP_BIN=... node remote.mjs
//
// Prints one line per check and a final "N passed, N failed"; exits 1 on
// any failure.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { ClientCredentialsProvider } from "@modelcontextprotocol/sdk/client/auth-extensions.js";
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { createServer } from "node:net";
import { mkdtempSync, writeFileSync, chmodSync, mkdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const SG = "sg-0123456789abcdef0";
const ALICE = { key: "AKIAALICEE2E00000001", secret: "alice-secret-c4n4ry-Zq3T9xWm2LkP8vRb5NcY" };
const OPERATOR = { key: "AKIAOPERATORE2E00001", secret: "operator-secret-c4n4ry-hJd4GsF6aQe1Ut0x" };
const CLIENT_SECRETS = { alice: "cs-alice-Lk8vRb5NcY7h", bob: "cs-bob-Jd4GsF6aQe1U", carol: "cs-carol-t0xWm2LkP8vR" };

const { WHITELIST_BIN: bin, FAKEEC2_BIN: fakeBin, TESTOP_BIN: opBin } = process.env;
if (!bin || !fakeBin || !opBin) {
  console.error("set WHITELIST_BIN, FAKEEC2_BIN and TESTOP_BIN");
  process.exit(2);
}

let passed = 0, failed = 0;
const seen = []; // every result, error and stderr chunk, for the leak check
function check(name, ok, detail = "") {
  if (ok) { passed++; console.log(`ok   ${name}`); }
  else { failed++; console.log(`FAIL ${name}${detail ? ": " + detail : ""}`); }
}
const children = [];
function start(cmd, args, env) {
  const p = spawn(cmd, args, { env, stdio: ["pipe", "pipe", "pipe"] });
  children.push(p);
  p.stderr.on("data", (d) => seen.push(String(d)));
  return p;
}
const firstLine = (p, name) => new Promise((resolve, reject) => {
  createInterface({ input: p.stdout }).once("line", resolve);
  p.once("exit", (code) => reject(new Error(`${name} exited with ${code}`)));
});
const freePort = () => new Promise((resolve) => {
  const s = createServer();
  s.listen(0, "127.0.0.1", () => { const { port } = s.address(); s.close(() => resolve(port)); });
});

const port = await freePort();
const resource = `http://127.0.0.1:${port}/mcp`;

const fake = start(fakeBin, ["-groups", SG], { ...process.env, FAKEEC2_IDENTITIES: [ALICE, OPERATOR].map((i) => `${i.key}:${i.secret}`).join(",") });
const endpoint = await firstLine(fake, "fakeec2");

const clients = [
  { id: "cli-alice", secret: CLIENT_SECRETS.alice, subject: "alice", groups: ["sre"] },
  { id: "cli-bob", secret: CLIENT_SECRETS.bob, subject: "bob" },
  { id: "cli-carol", secret: CLIENT_SECRETS.carol, subject: "carol" },
  { id: "cli-expired", secret: CLIENT_SECRETS.alice, subject: "alice", lifetime: "-1m" },
  { id: "cli-elsewhere", secret: CLIENT_SECRETS.alice, subject: "alice", audience: ["https://other.example/mcp"] },
];
const op = start(opBin, ["-resource", resource], { ...process.env, TESTOP_CLIENTS: JSON.stringify(clients) });
const issuer = await firstLine(op, "testop");

// Each user's AWS keys live under its own name: secretfile:DIR/{sub}
// reads DIR/sub-<subject>.json. Bob has none; carol is not allowed.
const home = mkdtempSync(join(tmpdir(), "remote-e2e-"));
chmodSync(home, 0o700);
const users = join(home, "users");
mkdirSync(users, { mode: 0o700 });
writeFileSync(join(users, "sub-alice.json"), JSON.stringify({ access_key_id: ALICE.key, secret_access_key: ALICE.secret }), { mode: 0o600 });
const profilesPath = join(home, "profiles.json");
writeFileSync(profilesPath, JSON.stringify({
  profiles: {
    default: { source: `secretfile:${users}/{sub}`, allow: { issuers: [issuer], subjects: ["alice", "bob"] } },
    operator: { source: "env:", description: "the operator's own keys: stdio only (no allow)" },
  },
}), { mode: 0o600 });

const server = start(bin, ["--http", `127.0.0.1:${port}`], {
  HOME: home,
  MCP_PROFILES_PATH: profilesPath,
  AWS_ENDPOINT_URL: endpoint,
  AWS_ACCESS_KEY_ID: OPERATOR.key, // the operator's own: never a remote caller's
  AWS_SECRET_ACCESS_KEY: OPERATOR.secret,
  MCP_OAUTH_ISSUER: issuer,
  MCP_RESOURCE_URL: resource,
});
let serverLog = "";
server.stderr.on("data", (d) => { serverLog += d; });
for (let i = 0; i < 100 && !serverLog.includes("serving MCP over Streamable HTTP"); i++) {
  await new Promise((r) => setTimeout(r, 100));
}

async function connect(opts) {
  const client = new Client({ name: "remote-e2e", version: "1.0.0" });
  await client.connect(new StreamableHTTPClientTransport(new URL(resource), opts));
  return client;
}
const asUser = (who) => connect({ authProvider: new ClientCredentialsProvider({ clientId: `cli-${who}`, clientSecret: CLIENT_SECRETS[who], expectedIssuer: issuer }) });
async function tokenFor(clientId, secret) {
  const res = await fetch(`${issuer}/oauth/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", authorization: "Basic " + Buffer.from(`${clientId}:${secret}`).toString("base64") },
    body: "grant_type=client_credentials",
  });
  return (await res.json()).access_token;
}
async function call(client, name, args) {
  const res = await client.callTool({ name, arguments: args });
  seen.push(JSON.stringify(res));
  return res;
}
async function refused(name, opts) {
  try {
    const c = await connect(opts);
    await c.close();
    check(name, false, "connected");
  } catch (e) {
    seen.push(String(e));
    check(name, e?.code === 401, `${e?.code} ${e}`);
  }
}

try {
  const meta = await (await fetch(`http://127.0.0.1:${port}/.well-known/oauth-protected-resource/mcp`)).json();
  check("protected resource metadata names the resource and the issuer", meta.resource === resource &&
    JSON.stringify(meta.authorization_servers) === JSON.stringify([issuer]), JSON.stringify(meta));
  const bare = await fetch(resource, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
  check("no token: 401 with resource_metadata", bare.status === 401 &&
    (bare.headers.get("www-authenticate") ?? "").includes(`resource_metadata="http://127.0.0.1:${port}/.well-known/oauth-protected-resource/mcp"`),
    `${bare.status} ${bare.headers.get("www-authenticate")}`);

  // Alice's client discovers the metadata, gets a token from the OP, and
  // calls with her own keys.
  const alice = await asUser("alice");
  const { tools } = await alice.listTools();
  check("alice lists the four tools", tools.length === 4, tools.map((t) => t.name).join(","));
  let r = await call(alice, "whitelist_list", { security_group_id: SG });
  check("alice's call runs with her own keys (default profile, {sub} source)", !r.isError && r.structuredContent?.credential_source?.startsWith("profile"),
    JSON.stringify(r.structuredContent ?? r.content));
  r = await call(alice, "whitelist_add", { security_group_id: SG, ip_address: "203.0.113.9", description: "remote e2e" });
  check("alice adds a rule", !r.isError && r.structuredContent?.status === "added", JSON.stringify(r.content));
  r = await call(alice, "whitelist_list", { security_group_id: SG, credential_profile: "operator" });
  check("alice cannot select the operator's stdio-only profile", r.isError, JSON.stringify(r.content));
  r = await call(alice, "whitelist_list", { security_group_id: SG, subject: "bob" });
  check("an argument naming a subject is refused, not read", r.isError, JSON.stringify(r.content));
  await alice.close();

  // Bob is allowed but has no keys: his call fails, and does not fall
  // through to the operator's keys.
  const bob = await asUser("bob");
  r = await call(bob, "whitelist_list", { security_group_id: SG });
  check("bob (no keys of his own) gets no one else's", r.isError, JSON.stringify(r.structuredContent ?? r.content));
  await bob.close();

  // Carol has a valid token but is not in the profile's allow list.
  const carol = await asUser("carol");
  r = await call(carol, "whitelist_list", { security_group_id: SG });
  check("carol (not allowed) is refused", r.isError, JSON.stringify(r.content));
  await carol.close();

  // A token the client already holds, sent as a bearer header.
  const tok = await tokenFor("cli-alice", CLIENT_SECRETS.alice);
  const held = await connect({ requestInit: { headers: { Authorization: `Bearer ${tok}` } } });
  r = await call(held, "whitelist_check", { security_group_id: SG, ip_address: "203.0.113.9", port: 443 });
  check("a held bearer token works", !r.isError && r.structuredContent?.allowed === true, JSON.stringify(r.content));
  await held.close();

  await refused("no token: refused", {});
  await refused("garbage token: refused", { requestInit: { headers: { Authorization: "Bearer not-a-token" } } });
  await refused("expired token: refused", { requestInit: { headers: { Authorization: `Bearer ${await tokenFor("cli-expired", CLIENT_SECRETS.alice)}` } } });
  await refused("token for another audience: refused", { requestInit: { headers: { Authorization: `Bearer ${await tokenFor("cli-elsewhere", CLIENT_SECRETS.alice)}` } } });
  const [h, p] = tok.split(".");
  const claims = JSON.parse(Buffer.from(p, "base64url"));
  claims.sub = "bob";
  const forged = `${h}.${Buffer.from(JSON.stringify(claims)).toString("base64url")}.${tok.split(".")[2]}`;
  await refused("forged claims: refused", { requestInit: { headers: { Authorization: `Bearer ${forged}` } } });
  const none = `${Buffer.from(JSON.stringify({ alg: "none", typ: "JWT" })).toString("base64url")}.${Buffer.from(JSON.stringify(claims)).toString("base64url")}.`;
  await refused("alg none: refused", { requestInit: { headers: { Authorization: `Bearer ${none}` } } });

  check("the audit log names alice's resolutions", /log=audit.*subject=alice.*outcome=ok/.test(serverLog), serverLog.split("\n").filter((l) => l.includes("audit")).slice(0, 3).join("\n"));
  check("the audit log records carol's refusal", /log=audit.*subject=carol.*outcome=(refused|failed)/.test(serverLog));
} catch (e) {
  check("no unexpected error", false, e?.stack ?? String(e));
} finally {
  for (const p of children) p.kill("SIGTERM");
  await new Promise((r) => setTimeout(r, 200));
  seen.push(serverLog);
  const all = seen.join("\n");
  for (const [name, v] of Object.entries({ "alice's secret key": ALICE.secret, "the operator's secret key": OPERATOR.secret, "a client secret": CLIENT_SECRETS.alice, "canary": "c4n4ry" })) {
    check(`${name} appears in no result, error or log`, !all.includes(v));
  }
  rmSync(home, { recursive: true, force: true });
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
