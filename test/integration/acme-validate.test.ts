import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { Server } from "node:net";
import { after, before, describe, test } from "node:test";
import { createServer as createTlsServer } from "node:tls";
import { challengeValidator } from "../../services/ca/acme/validate/index.js";
import type { Identifier } from "../../shared/acme/types.js";
import type { Logger } from "../../shared/log.js";
import { Problem } from "../../shared/problem.js";
import { type DnsServer, startDnsServer } from "../helpers/dns.js";
import { selfSignedCert } from "../helpers/openssl.js";

const TOKEN = "tok3n-abc";
const KEY_AUTH = `${TOKEN}.thumbprint`;
const DIGEST = createHash("sha256").update(KEY_AUTH).digest();
const LOCAL: Identifier = { type: "ip", value: "127.0.0.1" };
/** what these validators must be allowed to reach: they validate on this machine's loopback */
const LOOPBACK = ["127.0.0.0/8", "::1"];

async function listen(server: Server, host = "127.0.0.1"): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const address = server.address();
  return typeof address === "object" && address ? address.port : 0;
}

function close(server: Server & { closeAllConnections?: () => void }) {
  server.closeAllConnections?.();
  server.close();
}

/** Rejects with an ACME problem of this type whose detail matches. */
async function rejectsWith(p: Promise<unknown>, type: string, detail: RegExp) {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof Problem, `an ACME problem, got ${String(e)}`);
    assert.equal(e.acmeType, type, e.message);
    assert.match(e.message, detail);
    return true;
  });
}

/** RFC 8555 8.3 http-01: redirects followed within Let's Encrypt's limits. */
describe("http-01 validation with redirects", () => {
  /** path -> [status, Location] on every server; a 200 and /answer carry the key authorization */
  const routes = new Map<string, [number, string?]>();
  const hosts: string[] = [];
  let httpPort: number;
  let tlsPort: number;
  let otherPort: number;
  let main: Server;
  let tls: Server;
  let other: Server;
  let dns: DnsServer;
  let validate: ReturnType<typeof challengeValidator>;

  const handler = (req: IncomingMessage, res: ServerResponse) => {
    hosts.push(`${req.headers.host}${req.url}`);
    const [status, location] = req.url === "/answer" ? [200] : (routes.get(req.url ?? "") ?? [404]);
    if (status === 200) return void res.writeHead(200).end(`${KEY_AUTH}\n`);
    res.writeHead(status, location === undefined ? {} : { location }).end();
  };
  const check = (identifier: Identifier = LOCAL) =>
    validate({ identifier, type: "http-01", token: TOKEN, keyAuthorization: KEY_AUTH });
  const start = `/.well-known/acme-challenge/${TOKEN}`;

  before(async () => {
    main = createHttpServer(handler);
    other = createHttpServer(handler);
    const { certPem, keyPem } = selfSignedCert("/CN=not checked");
    tls = createHttpsServer({ cert: certPem, key: keyPem }, handler);
    [httpPort, tlsPort, otherPort] = await Promise.all([listen(main), listen(tls), listen(other)]);
    dns = await startDnsServer({ "va.test": "127.0.0.1", "moved.test": "127.0.0.1" });
    validate = challengeValidator({ httpPort, tlsPort, dnsResolver: dns.address, allow: LOOPBACK });
  });
  after(() => {
    for (const s of [main, tls, other]) close(s);
    dns.close();
  });

  test("without a redirect the token path answers; a 404 fails as before", async () => {
    routes.clear();
    routes.set(start, [200]);
    await check();
    routes.clear();
    await rejectsWith(check(), "incorrectResponse", /^unexpected status$/);
  });

  test("a chain of 302s (relative, to a name the resolver knows, to https) reaches the key authorization", async () => {
    routes.clear();
    hosts.length = 0;
    routes.set(start, [302, "/step-1"]);
    routes.set("/step-1", [302, `http://moved.test:${httpPort}/step-2?x=1#fragment`]);
    routes.set("/step-2?x=1", [302, `https://127.0.0.1:${tlsPort}/step-3`]);
    routes.set("/step-3", [302, `http://127.0.0.1:${httpPort}/answer`]);
    await check({ type: "dns", value: "va.test" });
    assert.deepEqual(hosts, [
      `va.test:${httpPort}${start}`,
      `va.test:${httpPort}/step-1`,
      `moved.test:${httpPort}/step-2?x=1`,
      `127.0.0.1:${tlsPort}/step-3`,
      `127.0.0.1:${httpPort}/answer`,
    ]);
  });

  test("every redirect status is followed; other 3xx are answers", async () => {
    for (const status of [301, 302, 303, 307, 308]) {
      routes.clear();
      routes.set(start, [status, "/answer"]);
      await check();
    }
    routes.clear();
    routes.set(start, [300, "/answer"]);
    await rejectsWith(check(), "incorrectResponse", /^unexpected status$/);
  });

  test("ten redirects are followed, an eleventh is not", async () => {
    routes.clear();
    routes.set(start, [302, "/hop-1"]);
    for (let i = 1; i < 10; i++) routes.set(`/hop-${i}`, [302, `/hop-${i + 1}`]);
    routes.set("/hop-10", [302, "/answer"]);
    await rejectsWith(check(), "connection", /^too many redirects$/);
    routes.set("/hop-9", [302, "/answer"]);
    await check();
  });

  test("a redirect loop fails as a loop", async () => {
    routes.clear();
    routes.set(start, [302, "/a"]);
    routes.set("/a", [302, "/b"]);
    routes.set("/b", [307, `http://127.0.0.1:${httpPort}/a`]);
    await rejectsWith(check(), "connection", /^redirect loop$/);
  });

  test("a redirect to a port validation does not use fails, though that port would answer", async () => {
    routes.clear();
    routes.set(start, [302, `http://127.0.0.1:${otherPort}/answer`]);
    await rejectsWith(check(), "connection", /^redirect to a disallowed URL$/);
    routes.set(start, [302, `https://127.0.0.1:${httpPort}/answer`]);
    await rejectsWith(check(), "connection", /^redirect to a disallowed URL$/);
  });

  test("a redirect to another scheme fails", async () => {
    routes.clear();
    routes.set(start, [302, `ftp://127.0.0.1:${httpPort}/answer`]);
    await rejectsWith(check(), "connection", /^redirect to a disallowed URL$/);
  });

  test("a redirect without a Location fails", async () => {
    routes.clear();
    routes.set(start, [302]);
    await rejectsWith(check(), "incorrectResponse", /^redirect without a Location$/);
  });

  test("a redirect to a name the resolver does not know fails as DNS", async () => {
    routes.clear();
    routes.set(start, [302, `http://unknown.test:${httpPort}/answer`]);
    await rejectsWith(check(), "dns", /cannot resolve unknown\.test/);
  });
});

/** RFC 8737 3 tls-alpn-01 (RFC 8738 6 for IP identifiers). */
describe("tls-alpn-01 validation", () => {
  let server: Server | undefined;
  after(() => server && close(server));

  /** Serves a certificate made with these -addext values, with ALPN acme-tls/1 unless told. */
  async function serve(addext: string[], opts: { alpn?: string[]; host?: string } = {}) {
    if (server) close(server);
    const { certPem, keyPem } = selfSignedCert("/CN=acme", addext);
    server = createTlsServer(
      { cert: certPem, key: keyPem, ALPNProtocols: opts.alpn ?? ["acme-tls/1"] },
      (s) => s.end(),
    );
    const tlsPort = await listen(server, opts.host);
    const validate = challengeValidator({ httpPort: 1, tlsPort, allow: LOOPBACK });
    return (identifier: Identifier = LOCAL) =>
      validate({ identifier, type: "tls-alpn-01", token: TOKEN, keyAuthorization: KEY_AUTH });
  }
  const acmeId = (critical: boolean, digest = DIGEST) =>
    `1.3.6.1.5.5.7.1.31=${critical ? "critical," : ""}DER:04:20:${digest.toString("hex").replace(/(..)(?!$)/g, "$1:")}`;

  test("a critical acmeIdentifier with the digest and the identifier as only SAN passes", async () => {
    const check = await serve(["subjectAltName=IP:127.0.0.1", acmeId(true)]);
    await check();
  });

  test("a non-critical acmeIdentifier fails", async () => {
    const check = await serve(["subjectAltName=IP:127.0.0.1", acmeId(false)]);
    await rejectsWith(check(), "incorrectResponse", /acmeIdentifier extension is not critical$/);
  });

  test("no acmeIdentifier, or one with another digest, fails", async () => {
    let check = await serve(["subjectAltName=IP:127.0.0.1"]);
    await rejectsWith(check(), "incorrectResponse", /has no acmeIdentifier extension$/);
    check = await serve(["subjectAltName=IP:127.0.0.1", acmeId(true, Buffer.alloc(32, 7))]);
    await rejectsWith(check(), "incorrectResponse", /does not hold the key authorization digest$/);
  });

  test("a SAN other than exactly the identifier fails", async () => {
    let check = await serve(["subjectAltName=IP:127.0.0.1,DNS:extra.lan", acmeId(true)]);
    await rejectsWith(check(), "incorrectResponse", /subjectAltName is not exactly IP:127\.0\.0\.1$/);
    check = await serve(["subjectAltName=DNS:other.lan", acmeId(true)]);
    await rejectsWith(check(), "incorrectResponse", /subjectAltName is not exactly IP:127\.0\.0\.1$/);
    check = await serve([acmeId(true)]);
    await rejectsWith(check(), "incorrectResponse", /subjectAltName is not exactly IP:127\.0\.0\.1$/);
  });

  test("without ALPN acme-tls/1 negotiated it fails", async () => {
    let check = await serve(["subjectAltName=IP:127.0.0.1", acmeId(true)], { alpn: [] });
    await rejectsWith(check(), "tls", /did not negotiate acme-tls\/1/);
    // a server that speaks ALPN but not acme-tls/1 ends the handshake itself (RFC 7301 3.2)
    check = await serve(["subjectAltName=IP:127.0.0.1", acmeId(true)], { alpn: ["http/1.1"] });
    await rejectsWith(check(), "connection", /^connection failed$/);
  });

  test("an IPv6 identifier matches its iPAddress SAN (on ::1, which these machines have)", async () => {
    const check = await serve(["subjectAltName=IP:0:0:0:0:0:0:0:1", acmeId(true)], { host: "::1" });
    await check({ type: "ip", value: "::1" });
  });
});

/**
 * Issue 14: validation is not an SSRF tool. By default it connects to no loopback, link-local,
 * multicast or own address, neither first nor after a redirect, and what it tells the client is a
 * fixed phrase, not what the target answered.
 */
describe("addresses validation may connect to", () => {
  /** local address -> paths asked there */
  const seen: string[] = [];
  let server: Server;
  let port: number;
  let dns: DnsServer;
  let answer: [number, string?] = [200];
  const logged: Record<string, unknown>[] = [];

  before(async () => {
    // on every loopback address: 127.0.0.2 stands for a LAN host the tests allow
    server = createHttpServer((req, res) => {
      seen.push(`${req.socket.localAddress}${req.url}`);
      const [status, location] = req.url === "/answer" ? [200] : answer;
      if (status === 200) return void res.writeHead(200).end(KEY_AUTH);
      res.writeHead(status, location === undefined ? {} : { location }).end("secret-banner");
    });
    port = await listen(server, "0.0.0.0");
    dns = await startDnsServer({
      "lan.test": "127.0.0.2",
      "loop.test": "127.0.0.1",
      "metadata.test": "169.254.169.254",
    });
  });
  after(() => {
    close(server);
    dns.close();
  });

  const validator = (allow: string[]) =>
    challengeValidator({
      httpPort: port,
      tlsPort: port,
      dnsResolver: dns.address,
      allow,
      log: { info: (o: Record<string, unknown>) => logged.push(o) } as unknown as Logger,
    });
  const http01 = (allow: string[], identifier: Identifier) =>
    validator(allow)({ identifier, type: "http-01", token: TOKEN, keyAuthorization: KEY_AUTH });

  test("an IP identifier or a name on loopback or link-local is refused before anything connects", async () => {
    seen.length = 0;
    for (const [identifier, address] of [
      [LOCAL, "127.0.0.1"],
      [{ type: "ip", value: "::ffff:127.0.0.1" }, "::ffff:127.0.0.1"],
      [{ type: "dns", value: "loop.test" }, "127.0.0.1"],
      [{ type: "dns", value: "metadata.test" }, "169.254.169.254"],
    ] as const) {
      await rejectsWith(
        http01([], identifier),
        "connection",
        new RegExp(`^address ${address.replace(/\./g, "\\.")} is not allowed for validation$`),
      );
      const tlsAlpn = validator([])({
        identifier,
        type: "tls-alpn-01",
        token: TOKEN,
        keyAuthorization: KEY_AUTH,
      });
      await rejectsWith(tlsAlpn, "connection", /is not allowed for validation$/);
    }
    assert.deepEqual(seen, [], "no request reached the server");
    // the same target, allowed, validates: only the address stood in the way
    answer = [302, "/answer"];
    await http01(["127.0.0.0/8"], { type: "dns", value: "loop.test" });
  });

  test("a redirect from an allowed host to loopback is refused, by IP or by name", async () => {
    for (const location of [
      `http://127.0.0.1:${port}/answer`,
      `http://loop.test:${port}/answer`,
      `http://[::1]:${port}/`,
    ]) {
      seen.length = 0;
      answer = [302, location];
      await rejectsWith(
        http01(["127.0.0.2"], { type: "dns", value: "lan.test" }),
        "connection",
        /^redirect to a disallowed address$/,
      );
      assert.deepEqual(seen, [`127.0.0.2/.well-known/acme-challenge/${TOKEN}`], location);
    }
    // to an allowed address the same redirect is followed
    seen.length = 0;
    answer = [302, `http://lan.test:${port}/answer`];
    await http01(["127.0.0.2"], { type: "dns", value: "lan.test" });
    assert.deepEqual(seen, [`127.0.0.2/.well-known/acme-challenge/${TOKEN}`, "127.0.0.2/answer"]);
  });

  test("the client is told a fixed phrase, not the target's status, body or socket error; the log has them", async () => {
    logged.length = 0;
    answer = [418];
    const lan: Identifier = { type: "dns", value: "lan.test" };
    await rejectsWith(http01(["127.0.0.2"], lan), "incorrectResponse", /^unexpected status$/);
    answer = [302, "http://lan.test:1/answer"];
    await rejectsWith(http01(["127.0.0.2"], lan), "connection", /^redirect to a disallowed URL$/);
    const gone = createHttpServer();
    const closedPort = await listen(gone, "127.0.0.2");
    await new Promise((r) => gone.close(r));
    const refused = challengeValidator({ httpPort: closedPort, tlsPort: closedPort, allow: ["127.0.0.2"] });
    const ip: Identifier = { type: "ip", value: "127.0.0.2" };
    for (const type of ["http-01", "tls-alpn-01"] as const) {
      const p = refused({ identifier: ip, type, token: TOKEN, keyAuthorization: KEY_AUTH });
      await rejectsWith(p, "connection", /^connection failed$/);
    }
    assert.match(String(logged[0]?.cause), /answered 418$/);
    assert.match(String(logged[1]?.cause), /port 1 is not followed/);
  });
});
