import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { TLSSocket } from "node:tls";
import { createEab, startCaProcessWith, startFakeDns, stopChild } from "./acme-support.js";
import { type CaProcess, freePort, until } from "./support.js";

interface Caddy {
  child: ChildProcess;
  httpsPort: number;
  log(): string;
  stop(): Promise<void>;
}

/**
 * Caddy 2.6 (Debian's) with `acme_ca` pointed at `certyard-ca serve` and its EAB settings gets a
 * certificate for caddy.test and serves the site with it; an EAB whose policy lacks the name
 * gets nothing (rejectedIdentifier). The CA's --acme-http-port / --acme-tls-port are the first
 * Caddy's http_port / https_port, so http-01 and tls-alpn-01 both reach it; DNS names resolve
 * to 127.0.0.1 through pebble-challtestsrv.
 */
describe("ACME interop: Caddy", () => {
  let dir: string;
  let ca: CaProcess;
  let dns: Awaited<ReturnType<typeof startFakeDns>>;
  let httpPort: number;
  let httpsPort: number;
  let root: string;
  const caddies: Caddy[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "certyard-e2e-caddy-"));
    dns = await startFakeDns();
    httpPort = await freePort();
    httpsPort = await freePort();
    const data = join(dir, "data");
    ca = await startCaProcessWith(data, [
      ...["--acme-http-port", String(httpPort), "--acme-tls-port", String(httpsPort)],
      ...["--acme-dns-resolver", dns.address],
      // Caddy answers on loopback, which validation refuses unless allowed
      ...["--acme-validation-allow", "127.0.0.0/8"],
    ]);
    root = join(data, "root.crt");
  });
  after(async () => {
    for (const c of caddies) await c.stop();
    await ca?.stop();
    await dns?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const eab = (name: string, ...policy: string[]) => createEab(ca.data, name, ...policy);

  async function startCaddy(
    name: string,
    kid: string,
    hmac: string,
    http: number,
    https: number,
  ): Promise<Caddy> {
    const home = join(dir, name);
    mkdirSync(home, { recursive: true });
    const caddyfile = join(home, "Caddyfile");
    writeFileSync(
      caddyfile,
      `{
	acme_ca ${ca.url}/acme/directory
	acme_ca_root ${root}
	acme_eab {
		key_id ${kid}
		mac_key ${hmac}
	}
	email caddy@x.test
	http_port ${http}
	https_port ${https}
	default_bind 127.0.0.1
	admin off
	storage file_system ${join(home, "storage")}
	skip_install_trust
	ocsp_stapling off
}

caddy.test {
	respond "hello"
}
`,
    );
    const child = spawn("caddy", ["run", "--config", caddyfile, "--adapter", "caddyfile"], {
      stdio: ["ignore", "pipe", "pipe"],
      env: {
        ...process.env,
        HOME: home,
        XDG_CONFIG_HOME: join(home, "config"),
        XDG_DATA_HOME: join(home, "xdg"),
      },
    });
    let out = "";
    const collect = (d: Buffer) => {
      out += d.toString();
    };
    child.stdout?.on("data", collect);
    child.stderr?.on("data", collect);
    const caddy: Caddy = { child, httpsPort: https, log: () => out, stop: () => stopChild(child) };
    caddies.push(caddy);
    return caddy;
  }

  /** Polls the log until `pattern` shows up; fails at once if Caddy exits. */
  async function waitForLog(caddy: Caddy, pattern: RegExp, what: string, ms = 60_000): Promise<void> {
    try {
      await until(
        what,
        async () => {
          if (caddy.child.exitCode !== null) throw new Error("caddy exited");
          return pattern.test(caddy.log());
        },
        ms,
      );
    } catch (e) {
      throw new Error(
        `${(e as Error).message}; caddy exit ${caddy.child.exitCode}; its log:\n${caddy.log().slice(-4000)}`,
      );
    }
  }

  function get(port: number): Promise<{ body: string; socket: TLSSocket }> {
    return new Promise((resolve, reject) => {
      const req = request(
        {
          host: "127.0.0.1",
          port,
          path: "/",
          servername: "caddy.test",
          headers: { host: "caddy.test" },
          ca: readFileSync(root),
          agent: false,
        },
        (res) => {
          const socket = res.socket as TLSSocket;
          let body = "";
          res.setEncoding("utf8");
          res.on("data", (d: string) => {
            body += d;
          });
          res.on("end", () => resolve({ body, socket }));
        },
      );
      req.on("error", reject);
      req.end();
    });
  }

  test("Caddy 2.6 with acme_ca and acme_eab serves caddy.test with a certificate from our CA", async () => {
    const [kid, hmac] = await eab("caddy", "--dns", "caddy.test");
    const caddy = await startCaddy("caddy", kid, hmac, httpPort, httpsPort);
    await waitForLog(caddy, /certificate obtained successfully/, "Caddy to obtain its certificate");

    const { body, socket } = await get(caddy.httpsPort);
    assert.equal(body, "hello");
    // Only our root is trusted (ca replaces the system store), so authorized means it chains to it.
    assert.equal(socket.authorized, true, String(socket.authorizationError));
    const leaf = socket.getPeerCertificate(true);
    assert.match(leaf.subjectaltname ?? "", /DNS:caddy\.test/);
    const ourRoot = new X509Certificate(readFileSync(root));
    const intermediate = new X509Certificate(readFileSync(join(ca.data, "intermediate.crt")));
    const served = new X509Certificate(leaf.raw);
    assert.ok(served.checkIssued(intermediate), "the leaf is issued by our intermediate");
    assert.ok(served.verify(intermediate.publicKey), "the leaf's signature is our intermediate's");
    assert.ok(intermediate.verify(ourRoot.publicKey), "the intermediate is signed by our root");
  });

  test("Caddy with an EAB whose policy lacks caddy.test gets rejectedIdentifier", async () => {
    const [kid, hmac] = await eab("caddy-narrow", "--dns", "other.test");
    const caddy = await startCaddy("caddy-narrow", kid, hmac, await freePort(), await freePort());
    await waitForLog(caddy, /rejectedIdentifier/, "Caddy to log rejectedIdentifier");
    assert.doesNotMatch(caddy.log(), /certificate obtained successfully/);
    await caddy.stop();
  });
});
