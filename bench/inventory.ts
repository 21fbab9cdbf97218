/**
 * The inventory at size: `certs list` (streamed, its wall time and peak memory) and GET /v1/certs
 * pages under each filter (median and slowest of several tries), against a CA whose inventory
 * fill.ts filled. Targets (issues 16, 17), at 1,000,000 certificates: `certs list --expiring 7d`
 * (issue 16: with --json) under 1 s, every page under 100 ms.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { createReadStream } from "node:fs";
import { open, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { CaProcess } from "./ca-process.js";
import { httpsRequest } from "./ca-process.js";
import { heading, line, median, round } from "./util.js";

const CA_MAIN = fileURLToPath(new URL("../services/ca/main.js", import.meta.url));
const TRIES = 15;
/** `certs list --expiring 7d --json` runs: the first after the fill, then the ones measured */
const LIST_RUNS = 5;
export const LIST_TARGET_S = 1;
export const PAGE_TARGET_MS = 100;

/**
 * Prints the child's peak resident memory as its last stderr line, from inside it: VmHWM, its
 * own address space's high-water mark. Not getrusage's maxRSS, which Linux carries over from the
 * parent through fork and exec: after the fill (a 1 GiB page cache in this process) every child
 * reported 1,160 MiB whatever it used.
 */
const PEAK_RSS_HOOK = `data:text/javascript,${encodeURIComponent(
  'import { readFileSync } from "node:fs";' +
    'const peak = () => /VmHWM:\\s*(\\d+)/.exec(readFileSync("/proc/self/status", "utf8"))?.[1];' +
    'process.on("exit", () => process.stderr.write("\\nmaxrss_kib=" + peak() + "\\n"));',
)}`;

export interface ListFigures {
  seconds: number;
  rows: number;
  bytes: number;
  peakRssMiB: number;
}

/**
 * `certyard-ca certs list ARGS --data DATA` with its output to a file, as `> out.json` would
 * (then counted and removed). Through a pipe to this process, which read and counted it on the
 * same 2 cores, the 1,000,000-row listing took about 0.1-0.2 s longer (1.04-1.15 s against
 * 0.80-0.98 s into `cat`).
 */
export async function timeCertsList(data: string, args: string[]): Promise<ListFigures> {
  const outPath = join(data, `certs-list-${process.pid}.out`);
  const out = await open(outPath, "w");
  try {
    const started = process.hrtime.bigint();
    const child = spawn(
      process.execPath,
      ["--import", PEAK_RSS_HOOK, CA_MAIN, "certs", "list", "--data", data, ...args],
      {
        stdio: ["ignore", out.fd, "pipe"],
      },
    );
    let stderr = "";
    child.stderr?.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    const [code] = (await once(child, "close")) as [number | null];
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const rss = /maxrss_kib=(\d+)/.exec(stderr);
    if (code !== 0 || !rss?.[1]) throw new Error(`certs list ${args.join(" ")} exited ${code}: ${stderr}`);
    const bytes = (await out.stat()).size;
    // --json: one row is 20-odd lines; the table: one line per row and a header
    const rows = args.includes("--json") ? Number.NaN : (await newlinesIn(outPath)) - 1;
    return { seconds, rows, bytes, peakRssMiB: Number(rss[1]) / 1024 };
  } finally {
    await out.close();
    await rm(outPath, { force: true });
  }
}

async function newlinesIn(path: string): Promise<number> {
  let newlines = 0;
  for await (const d of createReadStream(path) as AsyncIterable<Buffer>) {
    for (let i = d.indexOf(10); i !== -1; i = d.indexOf(10, i + 1)) newlines++;
  }
  return newlines;
}

export interface PageFigures {
  query: string;
  rows: number;
  medianMs: number;
  maxMs: number;
}

/** GET /v1/certs?QUERY, TRIES times: the rows of a page and how long a page took. */
export async function timePage(ca: CaProcess, adminToken: string, query: string): Promise<PageFigures> {
  const times: number[] = [];
  let rows = 0;
  for (let i = 0; i < TRIES; i++) {
    const started = process.hrtime.bigint();
    const res = await httpsRequest(`${ca.baseUrl}/v1/certs?${query}`, {
      method: "GET",
      ca: ca.rootPem,
      headers: { authorization: `Bearer ${adminToken}` },
    });
    times.push(Number(process.hrtime.bigint() - started) / 1e6);
    if (res.status !== 200) throw new Error(`GET /v1/certs?${query}: ${res.status} ${res.body.toString()}`);
    rows = (JSON.parse(res.body.toString()) as { certificates: unknown[] }).certificates.length;
  }
  times.sort((a, b) => a - b);
  return { query, rows, medianMs: times[Math.floor(times.length / 2)] ?? 0, maxMs: times.at(-1) ?? 0 };
}

/**
 * The cursor after following up to `pages` pages of `query` (fewer when the inventory ends first,
 * then the last page's start), and how many rows lie before it.
 */
async function deepCursor(
  ca: CaProcess,
  adminToken: string,
  query: string,
  pages: number,
): Promise<{ cursor: string; skipped: number }> {
  let cursor = "";
  let skipped = 0;
  for (let i = 0; i < pages; i++) {
    const res = await httpsRequest(`${ca.baseUrl}/v1/certs?${query}${cursor ? `&cursor=${cursor}` : ""}`, {
      method: "GET",
      ca: ca.rootPem,
      headers: { authorization: `Bearer ${adminToken}` },
    });
    const page = JSON.parse(res.body.toString()) as { certificates: unknown[]; next: string | null };
    if (page.next === null) break;
    cursor = page.next;
    skipped += page.certificates.length;
  }
  return { cursor, skipped };
}

/** Every figure of the inventory at its size, printed as it goes. */
export async function inventoryBench(
  ca: CaProcess,
  data: string,
  tokenName: string,
  rows: number,
  sample: { name: string; ip: string },
  dbArgs: readonly string[] = [],
) {
  heading(`the inventory with ${rows.toLocaleString("en-US")} certificates`);
  const adminToken = (await readFile(join(data, "admin-token"), "utf8")).trim();
  // the first listing after the fill reads pages no one has read yet (PostgreSQL at 1,000,000:
  // 1.11-1.41 s, the next ones 0.95-1.21 s); the figure is the median of the runs after it
  const runs: ListFigures[] = [];
  for (let i = 0; i < LIST_RUNS; i++)
    runs.push(await timeCertsList(data, [...dbArgs, "--expiring", "7d", "--json"]));
  const [first, ...later] = runs as [ListFigures, ...ListFigures[]];
  const laterSeconds = later.map((r) => r.seconds).sort((a, b) => a - b);
  const expiring = { ...first, seconds: median(laterSeconds) };
  line(
    `certs list --expiring 7d --json: seconds, median of ${later.length} (target < ${LIST_TARGET_S})`,
    round(expiring.seconds, 2),
  );
  line("  the runs after the first, s", laterSeconds.map((x) => round(x, 2)).join(", "));
  line("  the first, right after the fill, s", round(first.seconds, 2));
  line("  its output, MiB", round(expiring.bytes / 2 ** 20, 1));
  line("  its peak RSS, MiB (largest run)", round(Math.max(...runs.map((r) => r.peakRssMiB)), 0));
  // the table (issue 17 names the listing without --json), after the runs above: none is the first
  const tableRuns: ListFigures[] = [];
  for (let i = 1; i < LIST_RUNS; i++)
    tableRuns.push(await timeCertsList(data, [...dbArgs, "--expiring", "7d"]));
  const tableSeconds = tableRuns.map((r) => r.seconds).sort((a, b) => a - b);
  line(
    `certs list --expiring 7d (table): seconds, median of ${tableRuns.length} (target < ${LIST_TARGET_S})`,
    round(median(tableSeconds), 2),
  );
  line("  the runs, s", tableSeconds.map((x) => round(x, 2)).join(", "));
  line("  rows", tableRuns[0]?.rows ?? 0);
  const everything = await timeCertsList(data, [...dbArgs, "--state", "all"]);
  line("certs list --state all (table): seconds", round(everything.seconds, 2));
  line("  rows", everything.rows);
  line("  its peak RSS, MiB", round(everything.peakRssMiB, 0));

  const deep = await deepCursor(ca, adminToken, "limit=1000", 50);
  const queries = [
    "",
    "limit=1000",
    "expiring=7d",
    "expiring=7d&limit=1000",
    `name=${sample.name}`,
    `ip=${sample.ip}`,
    `token=${tokenName}`,
    "state=valid",
    "state=superseded",
    "state=expired",
    "state=revoked",
    "state=all",
    `limit=1000${deep.cursor ? `&cursor=${deep.cursor}` : ""}`,
  ];
  const pages: PageFigures[] = [];
  for (const q of queries) {
    const f = await timePage(ca, adminToken, q);
    pages.push(f);
    const shown = q.includes("cursor=")
      ? `limit=1000&cursor=(after ${deep.skipped.toLocaleString("en-US")} rows)`
      : q || "(no filter)";
    line(
      `GET /v1/certs?${shown}: median / slowest ms (${f.rows} rows)`,
      `${round(f.medianMs, 1)} / ${round(f.maxMs, 1)}`,
    );
  }
  const slowest = Math.max(...pages.map((p) => p.maxMs));
  line(`slowest page of all, ms (target < ${PAGE_TARGET_MS})`, round(slowest, 1));
  const figures: Record<string, number> = {
    rows,
    listExpiring7dSeconds: round(expiring.seconds, 2),
    listExpiring7dRatioToTarget: round(expiring.seconds / LIST_TARGET_S, 2),
    listExpiring7dFirstSeconds: round(first.seconds, 2),
    listExpiring7dPeakRssMiB: round(Math.max(...runs.map((r) => r.peakRssMiB)), 0),
    listExpiring7dTableSeconds: round(median(tableSeconds), 2),
    listAllSeconds: round(everything.seconds, 2),
    listAllRows: everything.rows,
    listAllPeakRssMiB: round(everything.peakRssMiB, 0),
    slowestPageMs: round(slowest, 1),
    slowestPageRatioToTarget: round(slowest / PAGE_TARGET_MS, 2),
  };
  for (const p of pages)
    figures[`pageMedianMs ${p.query.replace(/cursor=.*/, "cursor=deep") || "default"}`] = round(
      p.medianMs,
      1,
    );
  return figures;
}
