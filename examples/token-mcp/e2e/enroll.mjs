// End-to-end test of per-user credential enrollment: two token-mcp
// replicas (--http) behind a load balancer share a real Vault; callers are
// verified by a real OpenID provider; the official TypeScript MCP SDK is the
// client and answers URL elicitations by following the URL with Browser, an
// HTTP client that plays the user's browser (real HTTP, cookies, redirects,
// HTML forms). Run by internal/vaulttest's TestEnrollEndToEnd, which starts
// everything and passes it in the environment:
//
//   MCP_URL        the resource URL (the balancer's /mcp)
//   ENROLL_BASE    the enrollment pages (the balancer's /enroll)
//   TOKENS         {"alice": "<MCP access token>", ...}
//   IDP_USERS      {"alice": {"username", "password"}, ...}  sign-in at the MCP server's issuer
//   TP_USERS       {"alice": {"username", "password"}}       sign-in at the third party (OAuth connect)
//   PASTED         {"alice": "<API key>", ...}               what each user pastes
//   STATS_URL      the harness's counters: {"tp_refreshes": n}
//   TTL_MS         the replicas' credential TTL
//   MARGIN_MS      the OAuth refresh margin; TP_LIFETIME_MS the third party's access token lifetime
//
// Prints one line per check and a final "N passed, N failed"; exits 1 on
// any failure.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { ElicitationCompleteNotificationSchema, UrlElicitationRequiredError } from "@modelcontextprotocol/sdk/types.js";

const env = process.env;
const mcpURL = env.MCP_URL, base = env.ENROLL_BASE;
const TOKENS = JSON.parse(env.TOKENS), IDP = JSON.parse(env.IDP_USERS), TP = JSON.parse(env.TP_USERS), PASTED = JSON.parse(env.PASTED);
const TTL = Number(env.TTL_MS), MARGIN = Number(env.MARGIN_MS), LIFETIME = Number(env.TP_LIFETIME_MS);
const baseOrigin = new URL(base).origin;

let passed = 0, failed = 0;
const seen = []; // every MCP result and error, for the leak check
function check(name, ok, detail = "") {
  if (ok) { passed++; console.log(`ok   ${name}`); }
  else { failed++; console.log(`FAIL ${name}${detail ? ": " + String(detail).slice(0, 400) : ""}`); }
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const stats = async () => (await fetch(env.STATS_URL)).json();

// Browser is a user's browser: a cookie jar (host, path, expiry), manual
// redirects (each Location recorded, so a test sees where it was sent),
// and HTML forms.
class Browser {
  constructor(name) { this.name = name; this.jar = new Map(); this.trail = []; }
  cookieHeader(u) {
    const out = [];
    for (const [k, c] of this.jar) {
      if (c.host === u.host && u.pathname.startsWith(c.path) && (!c.expires || c.expires > Date.now())) out.push(`${c.name}=${c.value}`);
    }
    return out.join("; ");
  }
  store(u, res) {
    for (const sc of res.headers.getSetCookie()) {
      const [nv, ...attrs] = sc.split(";").map((s) => s.trim());
      const i = nv.indexOf("=");
      const c = { name: nv.slice(0, i), value: nv.slice(i + 1), host: u.host, path: "/", expires: 0 };
      for (const a of attrs) {
        const [k, v = ""] = a.split("=");
        const key = k.toLowerCase();
        if (key === "path") c.path = v;
        if (key === "max-age") c.expires = Date.now() + Number(v) * 1000;
        if (key === "expires") c.expires = Date.parse(v);
      }
      const id = `${c.host}|${c.path}|${c.name}`;
      if (c.expires && c.expires <= Date.now()) this.jar.delete(id); else this.jar.set(id, c);
    }
  }
  // request sends one request and follows redirects (GET after 302/303),
  // returning the last response with its text.
  async request(url, { method = "GET", form, headers = {}, follow = true } = {}) {
    let u = new URL(url);
    for (let hop = 0; hop < 12; hop++) {
      const h = { ...headers };
      const ck = this.cookieHeader(u);
      if (ck) h.cookie = ck;
      let body;
      if (form) {
        body = new URLSearchParams(form).toString();
        h["content-type"] ??= "application/x-www-form-urlencoded";
      }
      const res = await fetch(u, { method, headers: h, body, redirect: "manual" });
      this.store(u, res);
      const loc = res.headers.get("location");
      if (follow && res.status >= 300 && res.status < 400 && loc) {
        const next = new URL(loc, u);
        this.trail.push(next.href);
        u = next; method = "GET"; form = undefined; headers = {};
        continue;
      }
      return { status: res.status, url: u.href, text: await res.text(), headers: res.headers };
    }
    throw new Error("too many redirects");
  }
  // submit posts the first form of page (or the one whose action matches),
  // with its hidden inputs and the given fields.
  async submit(page, fields, { action, query = "", headers } = {}) {
    const form = formOf(page.text, action);
    if (!form) throw new Error(`${this.name}: no form on ${page.url} (status ${page.status})`);
    const target = new URL(form.action || page.url, page.url);
    return this.request(target.href + query, { method: "POST", form: { ...form.hidden, ...fields }, headers });
  }
}

function formOf(html, actionPart) {
  for (const m of html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/gi)) {
    const action = decode((/action="([^"]*)"/i.exec(m[1]) || [])[1] || "");
    if (actionPart && !action.includes(actionPart)) continue;
    const hidden = {};
    for (const i of m[2].matchAll(/<input\b[^>]*>/gi)) {
      const tag = i[0];
      if (!/type="?hidden/i.test(tag)) continue;
      const name = (/name="([^"]*)"/i.exec(tag) || [])[1];
      const value = (/value="([^"]*)"/i.exec(tag) || [])[1] || "";
      if (name) hidden[decode(name)] = decode(value);
    }
    return { action, hidden, html: m[0] };
  }
  return null;
}
const decode = (s) => s.replace(/&amp;/g, "&").replace(/&#34;|&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, "<").replace(/&gt;/g, ">");

// signIn completes an OpenID provider's login form if the page is one.
async function signIn(browser, page, user) {
  if (page.status === 200 && /name="password"/i.test(page.text)) {
    return browser.submit(page, { username: user.username, password: user.password });
  }
  return page;
}

// MCP sessions, one per (user, replica): the balancer sends /mcp to the
// replica X-Replica names, as a sticky load balancer would.
const completed = new Map(); // elicitationId -> resolve
const done = new Set();
async function session(who, replica) {
  const client = new Client({ name: `enroll-e2e-${who}-${replica}`, version: "1.0.0" }, { capabilities: { elicitation: { url: {} } } });
  client.setNotificationHandler(ElicitationCompleteNotificationSchema, (n) => {
    const id = n.params.elicitationId;
    done.add(id);
    completed.get(id)?.();
  });
  await client.connect(new StreamableHTTPClientTransport(new URL(mcpURL), {
    requestInit: { headers: { authorization: `Bearer ${TOKENS[who]}`, "x-replica": replica } },
  }));
  return client;
}
const waitComplete = (id, ms = 30000) => done.has(id) ? Promise.resolve(true) : new Promise((resolve) => {
  const t = setTimeout(() => resolve(false), ms);
  completed.set(id, () => { clearTimeout(t); resolve(true); });
});

// call returns {result} or {elicitation} or {error}.
async function call(client, args) {
  try {
    const res = await client.callTool({ name: "api_get", arguments: args });
    seen.push(JSON.stringify(res));
    return { result: res, out: res.structuredContent };
  } catch (e) {
    seen.push(String(e?.message) + JSON.stringify(e?.data ?? null));
    if (e instanceof UrlElicitationRequiredError) return { elicitation: e.elicitations[0] };
    return { error: e };
  }
}

const trailOK = (b) => b.trail.every((h) => {
  const o = new URL(h).origin;
  return o === baseOrigin || o === env.IDP_ORIGIN || o === env.TP_ORIGIN;
});

// enroll runs a whole paste enrollment in browser b as user who: the
// ticket URL, sign-in at the issuer, the form, the POST.
async function openForm(b, url, who) {
  let page = await b.request(url);
  page = await signIn(b, page, IDP[who]);
  return page;
}

try {
  // ---- 1. A user with nothing stored is sent to enroll (URL elicitation).
  const aliceA = await session("alice", "a");
  const tools = (await aliceA.listTools()).tools.map((t) => t.name).sort();
  check("tools/list offers api_get and forget_credential", tools.includes("api_get") && tools.includes("forget_credential"), tools.join(","));
  let r = await call(aliceA, { path: "/v1/me" });
  check("a caller with no stored credential gets URLElicitationRequired (-32042)", !!r.elicitation, JSON.stringify(r.error?.message ?? r.result));
  const el = r.elicitation ?? {};
  const ticketURL = el.url ?? "";
  check("the elicitation is URL mode, with an id, a message and a URL on the enrollment pages",
    el.mode === "url" && !!el.elicitationId && !!el.message && ticketURL.startsWith(base + "/start?"), JSON.stringify(el));
  check("the URL carries no credential", !Object.values(PASTED).some((v) => ticketURL.includes(v)) && !Object.values(TOKENS).some((v) => ticketURL.includes(v)));

  // ---- 2. Attacks on the link before alice uses it.
  const tampered = ticketURL.replace(/t=(.)/, (m, c) => `t=${c === "A" ? "B" : "A"}`);
  let page = await new Browser("mallory").request(tampered);
  check("a forged or tampered ticket is refused (400) before any sign-in", page.status === 400, page.status);
  for (const extra of ["&next=https://evil.example/", "&return=https://evil.example/", "&redirect_uri=https://evil.example/cb", "&return_to=//evil.example"]) {
    const b = new Browser("mallory");
    page = await b.request(ticketURL + extra);
    check(`a redirect parameter (${extra.slice(1, extra.indexOf("="))}) is refused, never followed`, page.status === 400 && trailOK(b), `${page.status} ${b.trail.join(" ")}`);
  }
  page = await new Browser("mallory").request(`${base}/callback?code=x&state=y&redirect_uri=https://evil.example/`);
  check("a callback with a redirect parameter is refused", page.status === 400, page.status);
  page = await new Browser("mallory").request(`${base}/callback?code=x&state=y`);
  check("a callback without the sign-in cookie (forged state) is refused", page.status >= 400 && page.status < 500, page.status);
  page = await new Browser("mallory").request(`${base}/start`);
  check("the start page without a ticket is refused", page.status >= 400 && page.status < 500, page.status);

  // Bob signs in with alice's link: the flow is bound to alice.
  const bobB = new Browser("bob");
  page = await openForm(bobB, ticketURL, "bob");
  check("a different user who finishes the sign-in is refused (403) and gets no form", page.status === 403 && !formOf(page.text, ""), `${page.status}`);
  r = await call(aliceA, { path: "/v1/me" });
  check("nothing was stored for alice by bob's attempt", !!r.elicitation);
  const ticket2 = r.elicitation?.url ?? ticketURL;
  const id2 = r.elicitation?.elicitationId;

  // ---- 3. Alice enrolls: sign-in at the issuer, then the form.
  const alice = new Browser("alice");
  page = await openForm(alice, ticket2, "alice");
  const form = formOf(page.text, "");
  check("after signing in as herself alice gets the form: a password input, no echo of anything secret",
    page.status === 200 && !!form && /type="password"/i.test(page.text) && !page.text.includes(TOKENS.alice), `${page.status}`);
  check("every redirect stayed on the enrollment pages and the issuer", trailOK(alice), alice.trail.join(" "));
  check("the page forbids framing and caching", /deny/i.test(page.headers.get("x-frame-options") ?? "") && /no-store/i.test(page.headers.get("cache-control") ?? ""),
    `${page.headers.get("x-frame-options")} ${page.headers.get("cache-control")}`);

  let res = await alice.submit(page, { token: PASTED.alice }, { query: `?token=${encodeURIComponent(PASTED.alice)}` });
  check("a secret in a query string is refused (400) and not echoed", res.status === 400 && !res.text.includes(PASTED.alice), res.status);
  res = await alice.submit(page, { token: PASTED.alice, csrf: "forged" });
  check("a POST with a forged CSRF token is refused", res.status === 403 || res.status === 400, res.status);
  res = await alice.submit(page, { token: PASTED.alice }, { headers: { origin: "https://evil.example" } });
  check("a cross-site POST (foreign Origin) is refused", res.status === 403, res.status);
  r = await call(aliceA, { path: "/v1/me" });
  check("the refused POSTs stored nothing", !!r.elicitation);

  const bound = new Promise((resolve) => resolve(waitComplete(id2)));
  res = await alice.submit(page, { token: PASTED.alice });
  check("the form stores alice's key: 200 and a page that does not echo it", res.status === 200 && !res.text.includes(PASTED.alice), `${res.status} ${res.text.slice(0, 200)}`);
  check("the replica holding alice's session sends notifications/elicitation/complete", await bound, id2);
  r = await call(aliceA, { path: "/v1/me" });
  check("the retried call succeeds with alice's key", r.out?.status === 200 && JSON.parse(r.out?.body || "{}").user === "alice", JSON.stringify(r.out ?? r.error?.message ?? r.elicitation));

  // ---- 4. Replays.
  res = await alice.submit(page, { token: "another-value-0123456789" });
  check("the same form posted again is refused (the ticket is single use)", res.status === 409 || res.status === 400 || res.status === 403, res.status);
  const again = new Browser("alice-again");
  page = await openForm(again, ticket2, "alice");
  if (page.status === 200 && formOf(page.text, "")) {
    res = await again.submit(page, { token: "replayed-value-0123456789" });
    check("a used ticket replayed through a new sign-in is refused (409)", res.status === 409, res.status);
  } else {
    check("a used ticket replayed through a new sign-in is refused", page.status === 409 || page.status === 410, page.status);
  }
  r = await call(aliceA, { path: "/v1/me" });
  check("the replays changed nothing: alice still gets her own key", r.out?.status === 200 && JSON.parse(r.out?.body || "{}").user === "alice");

  // ---- 5. Bob enrolls on the other replica; each user gets their own.
  const bobOnB = await session("bob", "b");
  r = await call(bobOnB, { path: "/v1/me" });
  check("bob (replica b) is sent to enroll too", !!r.elicitation);
  const bob = new Browser("bob");
  page = await openForm(bob, r.elicitation.url, "bob");
  const bobDone = waitComplete(r.elicitation.elicitationId);
  res = await bob.submit(page, { token: PASTED.bob });
  check("bob stores his key", res.status === 200, res.status);
  check("replica b notifies bob's session", await bobDone);
  r = await call(bobOnB, { path: "/v1/me" });
  check("bob gets his own key", r.out?.status === 200 && JSON.parse(r.out?.body || "{}").user === "bob", JSON.stringify(r.out));
  const aliceB = await session("alice", "b");
  r = await call(aliceB, { path: "/v1/me" });
  check("alice's key, enrolled through the balancer, is served by replica b too", r.out?.status === 200 && JSON.parse(r.out?.body || "{}").user === "alice", JSON.stringify(r.out ?? r.elicitation));

  // ---- 6. OAuth connect with the third party (authorization code + PKCE).
  r = await call(aliceA, { credential_profile: "tp", path: "/userinfo" });
  check("the OAuth profile sends alice to enroll", !!r.elicitation, JSON.stringify(r.error?.message ?? r.out));
  const tpDone = waitComplete(r.elicitation?.elicitationId);
  const tpb = new Browser("alice-tp");
  page = await openForm(tpb, r.elicitation.url, "alice");
  check("the OAuth profile's page offers Connect", page.status === 200 && !!formOf(page.text, "connect"), page.status);
  page = await tpb.submit(page, {}, { action: "connect" });
  page = await signIn(tpb, page, TP.alice);
  check("connecting ends on a done page after the third party's consent", page.status === 200 && !/<form/i.test(page.text), `${page.status} ${page.url}`);
  check("the connect flow's redirects stayed on the pages, the issuer and the third party", trailOK(tpb), tpb.trail.join(" "));
  check("the third party's completion is notified", await tpDone);
  const t0 = Date.now();
  r = await call(aliceA, { credential_profile: "tp", path: "/userinfo" });
  check("the retried call reaches the third party's API with alice's access token", r.out?.status === 200, JSON.stringify(r.out ?? r.error?.message));
  const s0 = (await stats()).tp_refreshes;

  // ---- 7. Refresh on one replica, used by the other.
  await sleep(Math.max(0, LIFETIME - MARGIN + 500 - (Date.now() - t0)));
  r = await call(aliceB, { credential_profile: "tp", path: "/userinfo" });
  const s1 = (await stats()).tp_refreshes;
  check("replica b refreshes the expiring token once and the call succeeds", r.out?.status === 200 && s1 === s0 + 1, `status ${r.out?.status} refreshes ${s0}->${s1}`);
  r = await call(aliceA, { credential_profile: "tp", path: "/userinfo" });
  const s2 = (await stats()).tp_refreshes;
  check("replica a uses the token replica b refreshed (no second refresh)", r.out?.status === 200 && s2 === s1, `status ${r.out?.status} refreshes ${s1}->${s2}`);

  // Both replicas refresh at once: one rotation wins, nothing is lost.
  await sleep(LIFETIME - MARGIN + 500);
  const both = await Promise.all([call(aliceA, { credential_profile: "tp", path: "/userinfo" }), call(aliceB, { credential_profile: "tp", path: "/userinfo" })]);
  const s3 = (await stats()).tp_refreshes;
  check("two replicas refreshing at once both succeed", both.every((x) => x.out?.status === 200), JSON.stringify(both.map((x) => x.out?.status ?? x.error?.message)));
  await sleep(LIFETIME - MARGIN + 500);
  r = await call(aliceB, { credential_profile: "tp", path: "/userinfo" });
  const s4 = (await stats()).tp_refreshes;
  check("the stored refresh token is the live one: the next refresh works", r.out?.status === 200 && s4 > s3, `status ${r.out?.status} refreshes ${s3}->${s4}`);

  // ---- 8. Revocation.
  r = await call(aliceB, { path: "/v1/me" });
  check("before removal replica b serves alice's key (now cached there)", r.out?.status === 200, JSON.stringify(r.out ?? r.elicitation));
  const forgot = await aliceA.callTool({ name: "forget_credential", arguments: { credential_profile: "default" } });
  seen.push(JSON.stringify(forgot));
  check("alice removes her stored key", !forgot.isError, JSON.stringify(forgot));
  r = await call(aliceA, { path: "/v1/me" });
  check("the replica that removed it stops serving it at once", !!r.elicitation, JSON.stringify(r.out));
  const t1 = Date.now();
  let stopped = false;
  while (Date.now() - t1 < TTL + 30000) {
    r = await call(aliceB, { path: "/v1/me" });
    if (r.elicitation) { stopped = true; break; }
    await sleep(250);
  }
  console.log(`     (replica b stopped serving the removed key after ${Date.now() - t1} ms; TTL ${TTL} ms)`);
  check("the other replica stops serving it (after its TTL)", stopped);
  r = await call(bobOnB, { path: "/v1/me" });
  check("bob's key is untouched", r.out?.status === 200 && JSON.parse(r.out?.body || "{}").user === "bob");

  // ---- 9. Nothing secret reached the client.
  const secrets = [...Object.values(PASTED), ...Object.values(IDP).map((u) => u.password), ...Object.values(TP).map((u) => u.password)];
  const leaked = secrets.filter((s) => seen.some((x) => x.includes(s)));
  check("no pasted key or password appears in any MCP result or error", leaked.length === 0, leaked.length);
  for (const c of [aliceA, aliceB, bobOnB]) await c.close();
} catch (e) {
  check("the run finished", false, e?.stack ?? e);
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
