/**
 * BENCH_ONLY=garbage: what POST /v1/sign allocates on the JS heap per request, and where.
 * `serve --workers 1` runs with heap-sampler.js; after an unmeasured warm-up, V8's sampling heap
 * profiler (1 KiB interval, keeping the samples of objects already collected) covers the sign
 * load. Prints KiB per request in all, by where the allocating function lives (profile.ts's
 * categories) and by certyard function, counting what each allocated itself and what the
 * functions it called did (a function once per stack).
 */
import { access, mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { type CaProcess, createToken, startCa } from "./ca-process.js";
import { CONNECTIONS, load } from "./load.js";
import { category } from "./profile.js";
import { type Cleanup, type Figures, freePort, heading, line, makeCsr, round } from "./util.js";

const SAMPLER = fileURLToPath(new URL("./heap-sampler.js", import.meta.url));

interface HeapNode {
  callFrame: { functionName: string; url: string };
  selfSize: number;
  children: HeapNode[];
}

export async function garbageBench(
  cleanup: Cleanup,
  root: string,
  s: { load: number; warmup: number },
): Promise<Figures> {
  const csr = await makeCsr(root);
  const data = join(root, "ca");
  const heapDir = join(root, "heap");
  await mkdir(data);
  await mkdir(heapDir);
  const saved = process.env.NODE_OPTIONS;
  process.env.NODE_OPTIONS = `${saved ?? ""} --import ${SAMPLER}`.trim();
  process.env.CERTYARD_BENCH_HEAP_DIR = heapDir;
  let ca: CaProcess;
  try {
    ca = await startCa(data, await freePort(), 1);
  } finally {
    if (saved === undefined) delete process.env.NODE_OPTIONS;
    else process.env.NODE_OPTIONS = saved;
    delete process.env.CERTYARD_BENCH_HEAP_DIR;
  }
  const release = cleanup.add("stop serve", () => ca.stop());
  let ok: number;
  let profile: { head: HeapNode };
  try {
    const auth = { authorization: `Bearer ${await createToken(data, "bench")}` };
    const spec = { url: `${ca.baseUrl}/v1/sign`, body: JSON.stringify({ csr: csr.pem }), headers: auth };
    await load({ ...spec, seconds: s.warmup }, 0);
    process.kill(ca.pid, "SIGUSR2");
    const figures = await load({ ...spec, seconds: s.load }, 0);
    ok = Math.max(1, figures.ok);
    process.kill(ca.pid, "SIGUSR2");
    profile = JSON.parse(await readFile(await written(join(heapDir, `heap-${ca.pid}.json`)), "utf8"));
  } finally {
    release();
    await ca.stop();
  }
  const kib = (bytes: number) => round(bytes / ok / 1024, 1);
  const byWhere = new Map<string, number>();
  const byFunction = new Map<string, number>();
  let total = 0;
  const walk = (node: HeapNode, stack: ReadonlySet<string>) => {
    const { functionName, url } = node.callFrame;
    total += node.selfSize;
    const where = category(node.callFrame);
    byWhere.set(where, (byWhere.get(where) ?? 0) + node.selfSize);
    let inner = stack;
    const m = /\/dist\/((?:services|shared)\/.*)\.js$/.exec(url);
    if (m) inner = new Set(stack).add(`${functionName || "(anonymous)"} ${m[1]}`);
    for (const name of inner) byFunction.set(name, (byFunction.get(name) ?? 0) + node.selfSize);
    for (const child of node.children) walk(child, inner);
  };
  walk(profile.head, new Set());

  heading(`POST /v1/sign, serve --workers 1, ${CONNECTIONS} connections, ${s.load} s: JS heap allocated`);
  line("requests (2xx)", ok);
  line("KiB allocated per request", kib(total));
  heading("KiB per request, by where the allocating function lives");
  const wheres = [...byWhere].sort((a, b) => b[1] - a[1]).slice(0, 12);
  for (const [where, bytes] of wheres) line(`  ${where}`, kib(bytes));
  heading("KiB per request under each certyard function (its own and its callees')");
  for (const [name, bytes] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, 25))
    line(`  ${name}`, kib(bytes));
  return {
    garbage: {
      kibPerRequest: kib(total),
      ...Object.fromEntries(wheres.map(([k, v]) => [k, kib(v)])),
    },
  };
}

/** The path, once the sampler has renamed its finished file to it (at most 60 s). */
async function written(path: string): Promise<string> {
  for (let i = 0; i < 600; i++) {
    if (
      await access(path).then(
        () => true,
        () => false,
      )
    )
      return path;
    await delay(100);
  }
  throw new Error(`serve wrote no heap profile at ${path}`);
}
