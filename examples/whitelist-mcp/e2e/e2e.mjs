// End-to-end test: drives the whitelist-mcp binary over stdio with the
// official TypeScript MCP SDK, against the fakeec2 endpoint (which verifies
// every request's SigV4 signature). Run by .ci/whitelist-e2e.sh:
//
//   WHITELIST_BIN=/path/whitelist-mcp FAKEEC2_BIN=/path/fakeec2 node e2e.mjs
//
// Prints one line per check and a final "N passed, N failed"; exits 1 on
// any failure.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync, chmodSync, mkdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";

const CANARY = "d3adb33f";
const SG = "sg-0123456789abcdef0";
const ENV_ID = { key: "AKIAE2EENVXXXXXXXXXX", secret: `CANARY-SECRET-${CANARY}-env` };
const FILE_ID = { key: "AKIAE2EFILEXXXXXXXXX", secret: `CANARY-SECRET-${CANARY}-file` };
const REQ_ID = { key: "AKIAE2EREQUESTXXXXXX", secret: `CANARY-SECRET-${CANARY}-request` };
const CI_ID = { key: "AKIAE2ECIXXXXXXXXXXX", secret: `CANARY-SECRET-${CANARY}-ci` };
// Text a model may paste into any argument; none of it may come back.
const SECRET_LOOKING = [
  "AKIAIOSFODNN7EXAMPLE",
  "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
  "ghp_Zq3T9xWm2LkP8vRb5NcY7hJd4GsF6aQe1Ut0",
  "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b",
  "kqzjxwvmtnbplrhgfdyscoae",
];

const bin = process.env.WHITELIST_BIN;
const fakeBin = process.env.FAKEEC2_BIN;
if (!bin || !fakeBin) {
  console.error("set WHITELIST_BIN and FAKEEC2_BIN");
  process.exit(2);
}

let passed = 0, failed = 0;
const seen = []; // every result and every stderr chunk, for the leak check
function check(name, ok, detail = "") {
  if (ok) { passed++; console.log(`ok   ${name}`); }
  else { failed++; console.log(`FAIL ${name}${detail ? ": " + detail : ""}`); }
}

// The local EC2 endpoint: prints its URL on its first line.
const fake = spawn(fakeBin, ["-groups", SG], {
  env: { ...process.env, FAKEEC2_IDENTITIES: [ENV_ID, FILE_ID, REQ_ID, CI_ID].map((i) => `${i.key}:${i.secret}`).join(",") },
  stdio: ["pipe", "pipe", "pipe"],
});
fake.stderr.on("data", (d) => seen.push(String(d)));
const endpoint = await new Promise((resolve, reject) => {
  createInterface({ input: fake.stdout }).once("line", resolve);
  fake.once("exit", (code) => reject(new Error(`fakeec2 exited with ${code}`)));
});

// A home with ~/.mcp/credentials holding a "staging" profile.
const home = mkdtempSync(join(tmpdir(), "whitelist-e2e-"));
chmodSync(home, 0o700);
mkdirSync(join(home, ".mcp"), { mode: 0o700 });
const credsPath = join(home, ".mcp", "credentials");
writeFileSync(credsPath,
  `[staging]\naws_access_key_id = ${FILE_ID.key}\naws_secret_access_key = ${FILE_ID.secret}\n`, { mode: 0o600 });

// The profiles file the operator offers profiles in (MCP_PROFILES_PATH): it
// holds references, no secret. "staging" reads [staging] of the credentials
// file, "staging-eu" too, in another region (checked in dry run: fakeec2
// accepts one region); "ci" reads the E2E_CI_* variables.
const profilesDir = mkdtempSync(join(tmpdir(), "whitelist-e2e-profiles-"));
chmodSync(profilesDir, 0o700);
const profilesPath = join(profilesDir, "profiles.json");
writeFileSync(profilesPath, JSON.stringify({
  profiles: {
    staging: { source: "file:staging", description: "the staging account" },
    "staging-eu": { source: "file:staging", region: "eu-west-1" },
    ci: { source: "env:E2E_CI_*" },
  },
}, null, 2), { mode: 0o600 });

async function connect(args, extraEnv = {}) {
  const transport = new StdioClientTransport({
    command: bin,
    args,
    env: {
      HOME: home,
      AWS_ENDPOINT_URL: endpoint,
      AWS_ACCESS_KEY_ID: ENV_ID.key,
      AWS_SECRET_ACCESS_KEY: ENV_ID.secret,
      MCP_PROFILES_PATH: profilesPath,
      E2E_CI_ACCESS_KEY_ID: CI_ID.key,
      E2E_CI_SECRET_ACCESS_KEY: CI_ID.secret,
      WHITELIST_LOG_LEVEL: "debug",
      ...extraEnv,
    },
    stderr: "pipe",
  });
  transport.stderr.on("data", (d) => seen.push(String(d)));
  const client = new Client({ name: "whitelist-e2e", version: "1.0.0" });
  await client.connect(transport);
  return client;
}

// startFails starts the server with extraEnv, expecting it to exit at
// once, and returns its exit code and stderr.
function startFails(extraEnv) {
  return new Promise((resolve) => {
    const p = spawn(bin, [], { env: { HOME: home, MCP_PROFILES_PATH: profilesPath, ...extraEnv }, stdio: ["pipe", "pipe", "pipe"] });
    let stderr = "";
    p.stderr.on("data", (d) => { stderr += d; seen.push(String(d)); });
    p.once("exit", (code) => resolve({ code, stderr }));
  });
}

async function call(client, name, args) {
  const res = await client.callTool({ name, arguments: args });
  seen.push(JSON.stringify(res));
  return res;
}

const rule = { security_group_id: SG, ip_address: "203.0.113.7", port: 443, protocol: "tcp" };

try {
  const client = await connect([]);

  const { tools } = await client.listTools();
  const names = tools.map((t) => t.name).sort();
  check("tools/list has the four tools", JSON.stringify(names) === JSON.stringify(["whitelist_add", "whitelist_check", "whitelist_list", "whitelist_remove"]), names.join(","));
  const add = tools.find((t) => t.name === "whitelist_add");
  check("whitelist_add schema takes credential_profile and credential_id, and no credentials (refused by default)",
    add && !add.inputSchema.properties.credentials && add.inputSchema.properties.credential_profile && add.inputSchema.properties.credential_id &&
    JSON.stringify(add.inputSchema.required) === JSON.stringify(["security_group_id", "ip_address"]));
  check("port is a plain integer with a documented default", add?.inputSchema.properties.port?.type === "integer" &&
    add?.inputSchema.properties.port?.default === 443, JSON.stringify(add?.inputSchema.properties.port));

  let r = await call(client, "whitelist_add", { ...rule, description: "e2e" });
  check("whitelist_add adds", !r.isError && r.structuredContent?.status === "added", JSON.stringify(r.content));
  check("credentials came from the environment", r.structuredContent?.credential_source?.startsWith("env"), r.structuredContent?.credential_source);
  r = await call(client, "whitelist_add", rule);
  check("whitelist_add again is already present", !r.isError && r.structuredContent?.status === "already_present", JSON.stringify(r.content));
  r = await call(client, "whitelist_list", { security_group_id: SG });
  const rules = r.structuredContent?.rules ?? [];
  check("whitelist_list shows the rule", !r.isError && rules.length === 1 && rules[0].cidr === "203.0.113.7/32" && rules[0].description === "e2e", JSON.stringify(rules));
  r = await call(client, "whitelist_check", rule);
  check("whitelist_check allowed", !r.isError && r.structuredContent?.allowed === true, JSON.stringify(r.content));
  r = await call(client, "whitelist_check", { ...rule, port: 22 });
  check("whitelist_check other port not allowed", !r.isError && r.structuredContent?.allowed === false, JSON.stringify(r.content));
  r = await call(client, "whitelist_remove", rule);
  check("whitelist_remove removes", !r.isError && r.structuredContent?.status === "removed", JSON.stringify(r.content));
  r = await call(client, "whitelist_remove", rule);
  check("whitelist_remove again is not present", !r.isError && r.structuredContent?.status === "not_present", JSON.stringify(r.content));

  r = await call(client, "whitelist_list", { security_group_id: SG, credential_profile: "staging" });
  check("credential_profile staging comes from the profiles file, through the credentials file",
    !r.isError && r.structuredContent?.credential_source?.startsWith(`profile (${profilesPath} [staging] via file (`) &&
    r.structuredContent?.credential_source?.includes("[staging])"), JSON.stringify(r.content));
  r = await call(client, "whitelist_list", { security_group_id: SG, credential_profile: "ci" });
  check("credential_profile ci reads E2E_CI_* variables", !r.isError && /\[ci\] via env/.test(r.structuredContent?.credential_source) &&
    r.structuredContent?.region === "us-east-1", JSON.stringify(r.content));
  r = await call(client, "whitelist_check", { security_group_id: SG, ip_address: "203.0.113.7" });
  check("port and protocol default to tcp/443", !r.isError && /tcp\/443/.test(r.structuredContent?.message), JSON.stringify(r.content));
  r = await call(client, "whitelist_list", { security_group_id: SG, credentials: { access_key_id: REQ_ID.key, secret_access_key: REQ_ID.secret } });
  check("request credentials are refused by default, naming the variable that allows them", r.isError === true &&
    r.content?.[0]?.text?.includes("does not accept credentials") && r.content?.[0]?.text?.includes("MCP_ALLOW_REQUEST_CREDENTIALS=true"), JSON.stringify(r.content));

  r = await call(client, "whitelist_add", { security_group_id: "sg-nothex!", ip_address: "203.0.113.7" });
  check("invalid security group is isError", r.isError === true && /security_group_id/.test(r.content?.[0]?.text), JSON.stringify(r.content));
  r = await call(client, "whitelist_add", { security_group_id: SG, ip_address: "10.0.0.1/24" });
  check("invalid CIDR is isError", r.isError === true && /did you mean 10.0.0.0\/24/.test(r.content?.[0]?.text), JSON.stringify(r.content));
  r = await call(client, "whitelist_add", { security_group_id: SG, ip_address: "0.0.0.0/1" });
  const r2 = await call(client, "whitelist_add", { security_group_id: SG, ip_address: "::ffff:128.0.0.0/97" });
  check("half the address space is refused, in any spelling (WHITELIST_MIN_PREFIX_V4)", r.isError === true && r2.isError === true &&
    /refusing a \/1 block/.test(r.content?.[0]?.text) && /WHITELIST_MIN_PREFIX_V4/.test(r2.content?.[0]?.text), JSON.stringify([r.content, r2.content]));
  r = await call(client, "whitelist_list", { security_group_id: SG, credential_profile: "prod" });
  check("profile not in the profiles file is isError, listing the offered ones",
    r.isError === true && r.content?.[0]?.text?.includes('credential_profile names no profile this server offers') && r.content?.[0]?.text?.includes('(offered: "ci", "default", "staging", "staging-eu")') &&
    r.content?.[0]?.text?.includes("adds profiles to the profiles file (MCP_PROFILES_PATH"), JSON.stringify(r.content));
  r = await call(client, "whitelist_list", { security_group_id: SG, credential_id: "file:staging" });
  check("credential_id is refused unless the operator allows references",
    r.isError === true && /is refused/.test(r.content?.[0]?.text) && /MCP_ALLOWED_REFERENCES/.test(r.content?.[0]?.text), JSON.stringify(r.content));
  r = await call(client, "whitelist_list", { security_group_id: SG, credential_id: `CANARY-SECRET-${CANARY}` });
  check("credential_id that is no reference is isError", r.isError === true && /not a credential reference/.test(r.content?.[0]?.text), JSON.stringify(r.content));
  r = await call(client, "whitelist_list", { security_group_id: SG, credential_id: "file:staging", credential_profile: "staging" });
  check("credential_id and credential_profile together is isError", r.isError === true && /give at most one of/.test(r.content?.[0]?.text), JSON.stringify(r.content));
  r = await call(client, "whitelist_list", { security_group_id: SG, credentials: `CANARY-SECRET-${CANARY}` });
  check("credentials as a string is isError", r.isError === true, JSON.stringify(r.content));

  // awswhitelist-mcp compatibility: the operator accepts credentials in
  // tool calls, and the schemas advertise them.
  const withCreds = await connect([], { MCP_ALLOW_REQUEST_CREDENTIALS: "true" });
  const addAllowed = (await withCreds.listTools()).tools.find((t) => t.name === "whitelist_add");
  check("MCP_ALLOW_REQUEST_CREDENTIALS=true advertises credentials", !!addAllowed?.inputSchema.properties.credentials?.properties?.secret_access_key);
  r = await call(withCreds, "whitelist_list", { security_group_id: SG, credentials: { access_key_id: REQ_ID.key, secret_access_key: REQ_ID.secret } });
  check("request credentials are used", !r.isError && r.structuredContent?.credential_source?.startsWith("request"), JSON.stringify(r.content));
  r = await call(withCreds, "whitelist_list", { security_group_id: SG, credentials: { access_key_id: REQ_ID.key, secret_access_key: "CANARY-SECRET-" + CANARY + "-wrong" } });
  check("wrong secret is an AWS AuthFailure", r.isError === true && /AuthFailure/.test(r.content?.[0]?.text), JSON.stringify(r.content));
  r = await call(withCreds, "whitelist_list", { security_group_id: SG, credential_profile: "staging", credentials: { access_key_id: REQ_ID.key, secret_access_key: REQ_ID.secret } });
  check("credentials and credential_profile together is isError", r.isError === true && /give at most one of/.test(r.content?.[0]?.text), JSON.stringify(r.content));

  // Secret-looking text pasted into every argument comes back nowhere: not
  // in a tool error, a JSON-RPC error, or the server's stderr; whether the
  // server accepts credentials in calls or not.
  const pasted = [];
  for (const [c, cl] of SECRET_LOOKING.flatMap((c) => [[c, client], [c, withCreds]])) {
    const everywhere = { security_group_id: c, ip_address: c, port: c, protocol: c, description: c,
      credentials: { access_key_id: c, secret_access_key: c, region: c }, credential_id: c, credential_profile: c };
    const cases = [
      ["whitelist_add", everywhere],
      ["whitelist_add", { ...rule, ip_address: `${c}/1` }],
      ["whitelist_add", { ...rule, description: `${c}<` }],
      ["whitelist_list", { security_group_id: SG, credential_profile: c }],
      ["whitelist_list", { security_group_id: SG, credential_id: c }],
      ["whitelist_list", { security_group_id: SG, credential_id: `file:${c}` }],
      ["whitelist_list", { security_group_id: SG, credential_id: `file:~/${c}?profile=${c}#${c}` }],
      ["whitelist_list", { security_group_id: SG, credential_id: `env:${c}_*` }],
      ["whitelist_list", { security_group_id: SG, credential_id: `secretfile:/run/secrets/${c}` }],
      ["whitelist_list", { security_group_id: SG, credentials: { region: c } }],
      ["whitelist_list", { security_group_id: SG, [c]: c }],
      ["whitelist_check", { ...rule, port: [c] }],
      ["whitelist_remove", { ...rule, security_group_id: `sg-${c}` }],
      [c, { security_group_id: SG }],
    ];
    for (const [tool, args] of cases) {
      let text;
      try {
        const res = await cl.callTool({ name: tool, arguments: args });
        text = JSON.stringify(res);
        if (!res.isError) text += " (not an error)";
      } catch (e) {
        text = String(e?.message ?? e); // a JSON-RPC error
      }
      pasted.push(text);
      seen.push(text);
    }
  }
  check("secret-looking arguments: every call fails", pasted.every((t) => !t.endsWith("(not an error)")), pasted.filter((t) => t.endsWith("(not an error)")).join("\n").slice(0, 2000));
  await client.close();
  await withCreds.close();

  // MCP_ALLOWED_REFERENCES names what a reference reads: every section of
  // the credentials file by its absolute path, and the E2E_CI_* variables.
  const allowed = `file:${credsPath}/*,env:E2E_CI_*`;
  const refs = await connect([], { MCP_ALLOWED_REFERENCES: allowed });
  r = await call(refs, "whitelist_list", { security_group_id: SG, credential_id: "file:staging" });
  check("credential_id allowed by MCP_ALLOWED_REFERENCES", !r.isError && r.structuredContent?.credential_source?.startsWith("file (") &&
    r.structuredContent?.credential_source?.includes("[staging]"), JSON.stringify(r.content));
  r = await call(refs, "whitelist_list", { security_group_id: SG, credential_id: `file:${credsPath}?profile=staging` });
  check("the same section named by its path is the same resource, allowed", !r.isError && r.structuredContent?.credential_source?.includes("[staging]"), JSON.stringify(r.content));
  r = await call(refs, "whitelist_list", { security_group_id: SG, credential_id: "env:E2E_CI_*" });
  check("credential_id env:E2E_CI_* allowed", !r.isError && r.structuredContent?.credential_source?.startsWith("env"), JSON.stringify(r.content));
  const refused = [
    "env:E2E_CI_ACCESS_KEY_ID,AWS_SECRET_ACCESS_KEY", // a list: one variable is outside the prefix
    "env:E2E_*",                                      // a broader prefix
    "env:",                                           // AWS's variables
    `file:${join(home, ".mcp")}?profile=credentials`, // the parent directory read as a file
    `file:${credsPath}.d/credentials?profile=staging`, // a deeper path
    "keychain:staging",                               // a scheme no pattern names
    "vault:secret/data/mcp/aws",                      // a scheme the server does not serve
  ];
  for (const id of refused) {
    r = await call(refs, "whitelist_list", { security_group_id: SG, credential_id: id });
    const text = r.content?.[0]?.text ?? "";
    check(`credential_id not covered by the patterns is refused: ${id.replace(home, "$HOME")}`, r.isError === true &&
      text.includes("credential_id is refused: the operator's policy does not allow what it reads") &&
      text.includes("MCP_ALLOWED_REFERENCES: ") && (id.length < 10 || !text.includes(id)), text);
  }
  await refs.close();

  // A pattern written against reference text covers nothing: the server
  // refuses to start and says what to write instead.
  const bad = await startFails({ MCP_ALLOWED_REFERENCES: "file:*" });
  check("MCP_ALLOWED_REFERENCES=file:* stops the server at start", bad.code === 2 && bad.stderr.includes('pattern "file:*" is not an absolute path') &&
    bad.stderr.includes("file:/home/u/.mcp/credentials/*"), JSON.stringify(bad));

  const active = await connect([], { MCP_ACTIVE_PROFILE: "ci" });
  r = await call(active, "whitelist_list", { security_group_id: SG });
  check("MCP_ACTIVE_PROFILE picks the profile used by default", !r.isError && /\[ci\] via env/.test(r.structuredContent?.credential_source), JSON.stringify(r.content));
  await active.close();

  const dry = await connect(["--dry-run"]);
  r = await call(dry, "whitelist_add", rule);
  const p = r.structuredContent?.dry_run?.parameters ?? {};
  check("--dry-run reports the call", !r.isError && r.structuredContent?.status === "dry_run" &&
    p.Action === "AuthorizeSecurityGroupIngress" && p["IpPermissions.1.IpRanges.1.CidrIp"] === "203.0.113.7/32", JSON.stringify(r.structuredContent));
  r = await call(dry, "whitelist_list", { security_group_id: SG, credential_profile: "staging-eu" });
  check("a profile's region is used", !r.isError && r.structuredContent?.region === "eu-west-1" && r.structuredContent?.dry_run?.region === "eu-west-1" &&
    r.structuredContent?.dry_run?.endpoint === endpoint, JSON.stringify(r.structuredContent));
  await dry.close();
  const after = await connect([]);
  r = await call(after, "whitelist_list", { security_group_id: SG });
  check("--dry-run changed nothing", !r.isError && r.structuredContent?.rules?.length === 0, JSON.stringify(r.structuredContent));
  await after.close();
} catch (e) {
  check("no exception", false, String(e?.stack ?? e));
} finally {
  fake.stdin.end();
  fake.kill();
  rmSync(home, { recursive: true, force: true });
  rmSync(profilesDir, { recursive: true, force: true });
}

const leaks = seen.filter((s) => s.includes(CANARY));
check("no canary secret in any result or log line", leaks.length === 0, leaks.join("\n").slice(0, 2000));
const echoed = seen.filter((s) => SECRET_LOOKING.some((c) => s.includes(c)));
check("no secret-looking argument repeated in any result, JSON-RPC error or log line", echoed.length === 0, echoed.join("\n").slice(0, 2000));
check("server logged to stderr", seen.some((s) => s.includes("whitelist-mcp starting")));

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
