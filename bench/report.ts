/** Printing the figures: table lines for people, values for the final JSON line. */
import type { ServeMemory } from "./ca-process.js";
import type { LoadFigures } from "./load.js";
import { heading, line, round } from "./util.js";

export function report(title: string, f: LoadFigures, ratioToRaw: number): void {
  heading(title);
  line("req/s (2xx)", f.reqPerSec);
  line("latency p50", f.p50Ms, "ms");
  line("latency p99", f.p99Ms, "ms");
  line("non-2xx responses", f.non2xx);
  line("errors (timeouts)", `${f.errors} (${f.timeouts})`);
  line("req/s / (raw signs/s x cores)", ratioToRaw, "x");
  line("server CPU per request", f.serverCpuMicrosPerReq ?? "n/a", "µs");
  line("load client CPU per request", f.clientCpuMicrosPerReq, "µs");
}

export function reportMemory(title: string, m: ServeMemory): void {
  heading(title);
  const pss = (v: number | null) => (v === null ? "" : `(PSS ${v.toFixed(1)} MiB)`);
  line(`primary, pid ${m.primary.pid}`, m.primary.rssMiB, `MiB ${pss(m.primary.pssMiB)}`);
  for (const w of m.workers) line(`worker, pid ${w.pid}`, w.rssMiB, `MiB ${pss(w.pssMiB)}`);
  line("total", m.totalRssMiB, `MiB ${pss(m.totalPssMiB)}`);
}

export function loadFigures(f: LoadFigures, ratioToRaw: number): Record<string, number | null> {
  const { serverCpuMicrosPerReq, ...rest } = f;
  return {
    ...roundAll({ ...rest, ratioToRawTimesCores: ratioToRaw }),
    serverCpuMicrosPerReq: serverCpuMicrosPerReq === null ? null : round(serverCpuMicrosPerReq),
  };
}

export function memoryFigures(m: ServeMemory): Record<string, number | null> {
  const out: Record<string, number | null> = {
    primaryRssMiB: round(m.primary.rssMiB, 1),
    totalRssMiB: round(m.totalRssMiB, 1),
    totalPssMiB: m.totalPssMiB === null ? null : round(m.totalPssMiB, 1),
    workers: m.workers.length,
  };
  m.workers.forEach((w, i) => {
    out[`worker${i}RssMiB`] = round(w.rssMiB, 1);
  });
  return out;
}

export function roundAll(values: Record<string, number>): Record<string, number> {
  return Object.fromEntries(
    Object.entries(values).map(([k, v]) => [k, round(v, k === "ratioToRawTimesCores" ? 4 : 2)]),
  );
}
