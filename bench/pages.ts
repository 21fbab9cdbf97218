/**
 * BENCH_ONLY=pages (issue 16): the pages SQLite writes per issuance, and which table or index each
 * belongs to. In process: a fresh CA, one token, `Authority.sign` in waves of WAVE at once (each
 * wave's records reach the store in a few event-loop turns, so a commit holds several, as under
 * the HTTP load), on an empty inventory and after `fillInventory` of `fillRows` rows. Every
 * page a commit changes is one WAL frame; a reader holding a snapshot from before the measured
 * waves keeps the WAL from being checkpointed and reset meanwhile, so the frames are all there to
 * read at the end, and `dbstat` names the b-tree (table or index) each page number belongs to.
 */
import { readFileSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import Database from "better-sqlite3";
import { Authority } from "../services/ca/authority/authority.js";
import { init } from "../services/ca/cli/init.js";
import { caPaths, loadCa } from "../services/ca/keys/ca.js";
import { loadTokenKey } from "../services/ca/keys/token-key.js";
import { openStore } from "../services/ca/store/index.js";
import { buildToken } from "../services/ca/tokens/requests.js";
import { fillInventory } from "./fill.js";
import type { BenchCsr } from "./util.js";

/** Signs in flight at once: about what a commit holds under the bench's HTTP sign load. */
const WAVE = 16;
const TOKEN = "bench-pages";

export interface PageFigures {
  fillRows: number;
  issuances: number;
  commits: number;
  pageSize: number;
  /** WAL frames (pages written) per issuance, in all and by b-tree, most first */
  perIssuance: number;
  byTree: { tree: string; perIssuance: number }[];
}

/** Page counts of `waves` waves of WAVE signs, on a fresh CA in `dir` filled with `fillRows` rows. */
export async function pagesPerIssuance(
  dir: string,
  csr: BenchCsr,
  fillRows: number,
  waves: number,
): Promise<PageFigures> {
  await mkdir(dir, { recursive: true });
  await init({ data: dir, name: "certyard bench pages", keyType: "ec-p256" });
  const paths = caPaths(dir);
  const { record } = buildToken(
    { name: TOKEN, dns: ["registry.lan"], ip: ["10.0.0.0/24"], rate: "100000000/1s" },
    Date.now(),
    loadTokenKey(paths.tokenKey).key,
  );
  let store = openStore(paths.database);
  await store.tokens.create(record);
  if (fillRows > 0) {
    await store.close();
    fillInventory(paths.database, TOKEN, fillRows);
    store = openStore(paths.database);
  }
  const authority = new Authority(loadCa(paths), store, "https://127.0.0.1/crl");
  const wave = () =>
    Promise.all(Array.from({ length: WAVE }, () => authority.sign(record, csr.der, undefined)));
  const reader = new Database(paths.database);
  try {
    for (let i = 0; i < 4; i++) await wave(); // warm-up: JIT, the page cache
    // An empty WAL, then a read snapshot held until the end: nothing is checkpointed meanwhile.
    reader.pragma("wal_checkpoint(TRUNCATE)");
    reader.exec("BEGIN");
    reader.prepare("select count(*) from tokens").get();
    for (let i = 0; i < waves; i++) await wave();
    const wal = readFileSync(`${paths.database}-wal`);
    reader.exec("COMMIT");
    const frames = walFrames(wal);
    const trees = treeOfPage(paths.database);
    const issuances = waves * WAVE;
    const counts = new Map<string, number>();
    for (const f of frames.pages) {
      const tree = trees.get(f) ?? (f === 1 ? "page 1 (header)" : "(free list)");
      counts.set(tree, (counts.get(tree) ?? 0) + 1);
    }
    return {
      fillRows,
      issuances,
      commits: frames.commits,
      pageSize: frames.pageSize,
      perIssuance: frames.pages.length / issuances,
      byTree: [...counts]
        .map(([tree, n]) => ({ tree, perIssuance: n / issuances }))
        .sort((a, b) => b.perIssuance - a.perIssuance),
    };
  } finally {
    reader.close();
    await store.close();
  }
}

/** The page number of every frame of a WAL file of one generation (its header's salts), and its commits. */
function walFrames(wal: Buffer): { pageSize: number; pages: number[]; commits: number } {
  if (wal.length < 32) return { pageSize: 0, pages: [], commits: 0 };
  const pageSize = wal.readUInt32BE(8);
  const salt1 = wal.readUInt32BE(16);
  const salt2 = wal.readUInt32BE(20);
  const pages: number[] = [];
  let commits = 0;
  for (let at = 32; at + 24 + pageSize <= wal.length; at += 24 + pageSize) {
    if (wal.readUInt32BE(at + 8) !== salt1 || wal.readUInt32BE(at + 12) !== salt2) break;
    pages.push(wal.readUInt32BE(at));
    if (wal.readUInt32BE(at + 4) !== 0) commits++;
  }
  return { pageSize, pages, commits };
}

/** Each page's b-tree (table or index name), from dbstat on the database as it now stands. */
function treeOfPage(path: string): Map<number, string> {
  const db = new Database(path, { readonly: true });
  try {
    const rows = db.prepare("select name, pageno from dbstat").raw(true).all() as [string, number][];
    return new Map(rows.map(([name, page]) => [page, name]));
  } finally {
    db.close();
  }
}

/** The figures as lines for the bench's output. */
export function pageLines(f: PageFigures): string[] {
  return [
    `inventory ${f.fillRows.toLocaleString("en")} rows: ${f.issuances} issuances in ${f.commits} commits ` +
      `(${(f.issuances / Math.max(1, f.commits)).toFixed(1)} per commit), ` +
      `${f.perIssuance.toFixed(2)} pages of ${f.pageSize} B written per issuance`,
    ...f.byTree.map((t) => `  ${t.perIssuance.toFixed(2).padStart(6)}  ${t.tree}`),
  ];
}

export const pagesDir = (root: string, fillRows: number) => join(root, `pages-${fillRows}`);
