import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { listenOptions } from "../../services/ca/http/connections.js";
import { httpsRequest } from "../helpers/ca.js";
import { type ServeProcess, serveProcess } from "../helpers/ca-process.js";

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      s.close(() => (typeof a === "object" && a ? resolve(a.port) : reject(new Error("no port"))));
    });
  });
}

/** The socket inodes of the IPv4 TCP sockets listening on `port` (/proc/net/tcp, state 0A). */
function listeningInodes(port: number): Set<string> {
  const hex = port.toString(16).toUpperCase().padStart(4, "0");
  const out = new Set<string>();
  for (const row of readFileSync("/proc/net/tcp", "utf8").split("\n").slice(1)) {
    const f = row.trim().split(/\s+/);
    if (f[1]?.endsWith(`:${hex}`) && f[3] === "0A" && f[9]) out.add(f[9]);
  }
  return out;
}

/** How many of `inodes` the process holds open. */
function holds(pid: number, inodes: Set<string>): number {
  let n = 0;
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m?.[1] && inodes.has(m[1])) n++;
    } catch {
      // closed meanwhile
    }
  }
  return n;
}

function childrenOf(pid: number): number[] {
  return readdirSync(`/proc/${pid}/task`).flatMap((t) =>
    readFileSync(`/proc/${pid}/task/${t}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number),
  );
}

describe("listenOptions: SO_REUSEPORT in cluster workers on a fixed port (issue 16)", () => {
  test("a worker on a fixed port on Linux binds with reusePort; port 0, one process or another OS do not", () => {
    assert.equal(listenOptions(8443, "127.0.0.1", true, "linux").reusePort, true);
    assert.equal(listenOptions(0, "127.0.0.1", true, "linux").reusePort, false);
    assert.equal(listenOptions(8443, "127.0.0.1", false, "linux").reusePort, false);
    assert.equal(listenOptions(8443, "127.0.0.1", true, "darwin").reusePort, false);
    assert.deepEqual(listenOptions(8443, "", false, "linux"), { port: 8443, host: "", reusePort: false });
  });
});

describe("serve --workers 2 on a fixed port (issue 16)", () => {
  let data: string;
  let serve: ServeProcess;
  let port: number;
  before(async () => {
    data = mkdtempSync(join(tmpdir(), "certyard-cluster-listen-"));
    port = await freePort();
    serve = await serveProcess(data, ["--workers", "2", "--listen", `127.0.0.1:${port}`]);
  });
  after(async () => {
    await serve.stop();
    rmSync(data, { recursive: true, force: true });
  });

  test("each worker holds a listening socket of its own and the primary none; new connections are all answered", async () => {
    assert.equal(serve.url, `https://127.0.0.1:${port}`);
    const primary = serve.child.pid;
    assert.ok(primary !== undefined);
    const inodes = listeningInodes(port);
    const workers = childrenOf(primary);
    assert.equal(workers.length, 2, `workers: ${workers.join(" ")}`);
    // round-robin (node's default) has one socket, the primary's; SO_REUSEPORT one per worker
    assert.equal(inodes.size, 2, `listening sockets on ${port}: ${[...inodes].join(" ")}`);
    assert.equal(holds(primary, inodes), 0);
    for (const w of workers) assert.equal(holds(w, inodes), 1, `worker ${w}`);
    const rootPem = readFileSync(join(data, "root.crt"), "utf8");
    // httpsRequest opens a new connection each time, as a renewal does
    for (let i = 0; i < 12; i++) {
      const r = await httpsRequest(`${serve.url}/healthz`, rootPem);
      assert.equal(r.status, 200, `request ${i}: ${r.status}`);
    }
  });
});
