/**
 * BENCH_ONLY=renew: POST /v1/renew beside what it should be compared with (issue 16). A renewal
 * pays a full TLS handshake with a client certificate (an agent renews one certificate per
 * connection), while the main run's cfssl sign reuses 50 keep-alive connections. So four loads
 * take turns in each of BENCH_ROUNDS rounds, the order turning every round: our renew, cfssl's
 * sign over keep-alive (the target's comparison), cfssl's sign and our sign each on a new TLS
 * connection per request (no client certificate), as 50 loops like the renew client's. Prints
 * each round, then the medians' req/s, server and client CPU per request, and the ratios.
 */
import { request } from "node:https";
import { join } from "node:path";
import { CA_MAIN, createToken, issueOnce, ownChildNamed, startCa, treeCpuSeconds } from "./ca-process.js";
import { cfsslSignBody, startCfssl } from "./cfssl.js";
import { CONNECTIONS, type LoadFigures, load } from "./load.js";
import { renewLoad } from "./renew-load.js";
import { type Cleanup, type Figures, freePort, heading, line, makeCsr, round, run } from "./util.js";

const REQUEST_TIMEOUT_MS = 10_000;

function postOnce(url: string, body: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: "POST",
        // as the renew client: the server's chain is not checked per connection
        rejectUnauthorized: false,
        agent: false,
        timeout: REQUEST_TIMEOUT_MS,
        headers: {
          "content-type": "application/json",
          "content-length": Buffer.byteLength(body),
          ...headers,
        },
      },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error("timed out")));
    req.on("error", reject);
    req.end(body);
  });
}

/** CONNECTIONS loops, each POSTing `body` on a new TLS connection per request, for `seconds`. */
async function newConnectionLoad(
  spec: { url: string; body: string; headers: Record<string, string>; serverCpu: () => Promise<number> },
  seconds: number,
): Promise<LoadFigures> {
  const latencies: number[] = [];
  let non2xx = 0;
  let errors = 0;
  const serverBefore = await spec.serverCpu();
  const clientBefore = process.cpuUsage();
  const started = performance.now();
  const until = started + seconds * 1000;
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      while (performance.now() < until) {
        const start = performance.now();
        try {
          const status = await postOnce(spec.url, spec.body, spec.headers);
          if (status >= 200 && status < 300) latencies.push(performance.now() - start);
          else non2xx++;
        } catch {
          errors++;
        }
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  const client = process.cpuUsage(clientBefore);
  const serverAfter = await spec.serverCpu();
  const ok = latencies.length;
  const sorted = latencies.sort((a, b) => a - b);
  const at = (p: number) => Math.round(sorted[Math.min(ok - 1, Math.floor(p * ok))] ?? 0);
  return {
    reqPerSec: ok / elapsed,
    p50Ms: at(0.5),
    p99Ms: at(0.99),
    ok,
    non2xx,
    errors,
    timeouts: 0,
    seconds: elapsed,
    serverCpuMicrosPerReq: ((serverAfter - serverBefore) * 1e6) / Math.max(1, ok),
    clientCpuMicrosPerReq: (client.user + client.system) / Math.max(1, ok),
  };
}

const KINDS = ["renew", "cfsslKeepAlive", "cfsslNewConnection", "signNewConnection"] as const;
type Kind = (typeof KINDS)[number];

export async function renewRoads(
  cleanup: Cleanup,
  root: string,
  s: { load: number; warmup: number; rounds: number },
): Promise<Figures> {
  const data = join(root, "ca");
  await run(process.execPath, [CA_MAIN, "init", "--data", data, "--name", "bench renew roads"]);
  const csr = await makeCsr(root);
  const ca = await startCa(data, await freePort());
  const releaseCa = cleanup.add("stop serve", () => ca.stop());
  const cfssl = await startCfssl(join(root, "cfssl"), await freePort());
  const releaseCfssl = cleanup.add("stop cfssl", () => cfssl.stop());
  try {
    const cfsslPid = await ownChildNamed("cfssl");
    if (cfsslPid === null) throw new Error("cfssl serve's process not found");
    const auth = { authorization: `Bearer ${await createToken(data, "bench")}` };
    const body = JSON.stringify({ csr: csr.pem });
    const signUrl = `${ca.baseUrl}/v1/sign`;
    const headers = { "content-type": "application/json", ...auth };
    const chains = (
      await Promise.all(
        Array.from({ length: CONNECTIONS }, () =>
          issueOnce(signUrl, { method: "POST", ca: ca.rootPem, headers, body }),
        ),
      )
    ).map((i) => i.fullchain);
    const serveCpu = () => treeCpuSeconds(ca.pid);
    const cfsslCpu = () => treeCpuSeconds(cfsslPid);
    const cfsslBody = cfsslSignBody(csr.pem);
    const newConnection = async (spec: Parameters<typeof newConnectionLoad>[0]) => {
      await newConnectionLoad(spec, s.warmup);
      return newConnectionLoad(spec, s.load);
    };
    const loads: Record<Kind, () => Promise<LoadFigures>> = {
      renew: () =>
        renewLoad(
          {
            url: `${ca.baseUrl}/v1/renew`,
            ca: ca.rootPem,
            key: csr.keyPem,
            fullchains: chains,
            seconds: s.load,
            serverCpu: serveCpu,
          },
          s.warmup,
        ),
      cfsslKeepAlive: () =>
        load({ url: cfssl.url, body: cfsslBody, seconds: s.load, serverCpu: cfsslCpu }, s.warmup),
      cfsslNewConnection: () =>
        newConnection({ url: cfssl.url, body: cfsslBody, headers: {}, serverCpu: cfsslCpu }),
      signNewConnection: () => newConnection({ url: signUrl, body, headers: auth, serverCpu: serveCpu }),
    };
    const got: Record<Kind, LoadFigures[]> = {
      renew: [],
      cfsslKeepAlive: [],
      cfsslNewConnection: [],
      signNewConnection: [],
    };
    for (let r = 0; r < s.rounds; r++) {
      const order = [...KINDS.slice(r % KINDS.length), ...KINDS.slice(0, r % KINDS.length)];
      heading(`round ${r + 1}, ${s.load} s each`);
      for (const kind of order) {
        const f = await loads[kind]();
        got[kind].push(f);
        line(
          kind,
          `${round(f.reqPerSec)} req/s, server ${round(f.serverCpuMicrosPerReq ?? 0, 0)} µs, client ${round(f.clientCpuMicrosPerReq, 0)} µs per request, non-2xx + errors ${f.non2xx + f.errors}`,
        );
      }
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)] ?? 0;
    const m = (kind: Kind, f: (x: LoadFigures) => number) => median(got[kind].map(f));
    const figures: Figures = {};
    heading(`medians of ${s.rounds} rounds`);
    for (const kind of KINDS) {
      figures[kind] = {
        reqPerSec: round(m(kind, (x) => x.reqPerSec)),
        serverCpuMicrosPerReq: round(
          m(kind, (x) => x.serverCpuMicrosPerReq ?? 0),
          0,
        ),
        clientCpuMicrosPerReq: round(
          m(kind, (x) => x.clientCpuMicrosPerReq),
          0,
        ),
      };
      line(
        kind,
        `${figures[kind].reqPerSec} req/s, server ${figures[kind].serverCpuMicrosPerReq} µs, client ${figures[kind].clientCpuMicrosPerReq} µs`,
      );
    }
    const byRound = (a: Kind, b: Kind) =>
      got[a].map((x, i) => round(x.reqPerSec / (got[b][i]?.reqPerSec ?? Number.NaN))).join(", ");
    const ratios = {
      renewVsCfsslKeepAlive: round(m("renew", (x) => x.reqPerSec) / m("cfsslKeepAlive", (x) => x.reqPerSec)),
      renewVsCfsslNewConnection: round(
        m("renew", (x) => x.reqPerSec) / m("cfsslNewConnection", (x) => x.reqPerSec),
      ),
      signNewConnectionVsCfsslNewConnection: round(
        m("signNewConnection", (x) => x.reqPerSec) / m("cfsslNewConnection", (x) => x.reqPerSec),
      ),
    };
    line(
      "renew / cfssl sign keep-alive, req/s",
      ratios.renewVsCfsslKeepAlive,
      `x (rounds ${byRound("renew", "cfsslKeepAlive")})`,
    );
    line(
      "renew / cfssl sign new connection, req/s",
      ratios.renewVsCfsslNewConnection,
      `x (rounds ${byRound("renew", "cfsslNewConnection")})`,
    );
    line(
      "sign new connection / cfssl's, req/s",
      ratios.signNewConnectionVsCfsslNewConnection,
      `x (rounds ${byRound("signNewConnection", "cfsslNewConnection")})`,
    );
    figures.ratios = ratios;
    return figures;
  } finally {
    releaseCa();
    releaseCfssl();
    await ca.stop();
    await cfssl.stop();
  }
}
