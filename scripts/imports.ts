/**
 * The import graph of services/ and shared/, checked: `node scripts/imports.ts` exits 1 naming
 * each cycle and each import that runs against the layers; `--graph DIR` prints the imports
 * between the entries (files and folders) directly under DIR, one line each, for notes.
 *
 * - No cycle between files, and none between the entries of any folder (a folder counts as all
 *   the files below it): what a folder's files import from a sibling never imports back.
 * - The layers of STYLE.md: shared -> core -> keys/store -> domain -> http -> composition root
 *   -> cli -> main in the CA; shared -> basics -> state/actions -> issuers/deploy/doctor ->
 *   commands -> cli -> main in the agent. An import may go to its own layer or a lower one, never up.
 * - shared imports nothing from services; the CA and the agent import nothing from each other.
 *
 * Type-only and dynamic imports count: they are dependencies a reader follows all the same.
 * Runs on node's type stripping (no build, no dependencies), so `npm run lint` can afford it.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";

const ROOT = resolve(dirname(new URL(import.meta.url).pathname), "..");
const TREES = ["services", "shared"];

/** The CA's layers by the first path segment under services/ca (a file at the top by its name). */
const CA_LAYERS: Record<string, number> = {
  core: 1,
  keys: 2,
  store: 2,
  authority: 3,
  tokens: 3,
  audit: 3,
  acme: 3,
  backup: 3,
  metrics: 3,
  alerts: 3,
  leases: 3,
  http: 4,
  "server.ts": 5,
  "parts.ts": 5,
  "ui-parts.ts": 5,
  "housekeeping.ts": 5,
  cli: 6,
  "main.ts": 7,
};
const LAYER_NAMES = ["shared", "core", "keys/store", "domain", "http", "composition root", "cli", "main"];

/** The agent's layers, likewise: what the commands do the same for every issuer sits above the issuers. */
const AGENT_LAYERS: Record<string, number> = {
  "config.ts": 1,
  "names.ts": 1,
  "keygen.ts": 1,
  "schedule.ts": 1,
  "state.ts": 2,
  actions: 2,
  issuers: 3,
  "deploy.ts": 3,
  doctor: 3,
  commands: 4,
  cli: 5,
  "main.ts": 6,
};
const AGENT_LAYER_NAMES = [
  "shared",
  "basics",
  "state/actions",
  "issuers/deploy/doctor",
  "commands",
  "cli",
  "main",
];

const SERVICES: Record<string, { layers: Record<string, number>; names: string[] }> = {
  ca: { layers: CA_LAYERS, names: LAYER_NAMES },
  agent: { layers: AGENT_LAYERS, names: AGENT_LAYER_NAMES },
};

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...sourceFiles(path));
    else if (/\.[cm]?ts$/.test(name) && !/\.d\.[cm]?ts$/.test(name)) out.push(path);
  }
  return out;
}

const IMPORT =
  /(?:^|[\s;])(?:import|export)\s[^"'`;]*?from\s*["']([^"']+)["']|import\s*\(\s*["']([^"']+)["']\s*\)|^import\s*["']([^"']+)["']/gm;

/** file (relative to the repository) -> the files it imports (relative), in services/ and shared/. */
export function importGraph(root = ROOT): Map<string, Set<string>> {
  const graph = new Map<string, Set<string>>();
  const files = TREES.flatMap((t) => sourceFiles(join(root, t)));
  for (const file of files) {
    const text = readFileSync(file, "utf8").replace(/\/\*[\s\S]*?\*\/|^\s*\/\/.*$/gm, "");
    const deps = new Set<string>();
    for (const m of text.matchAll(IMPORT)) {
      const spec = m[1] ?? m[2] ?? m[3] ?? "";
      if (!spec.startsWith(".")) continue;
      const target = resolve(dirname(file), spec.replace(/\.([cm]?)js$/, ".$1ts"));
      if (TREES.some((t) => target.startsWith(join(root, t) + sep))) deps.add(relative(root, target));
    }
    graph.set(relative(root, file), deps);
  }
  return graph;
}

/** Strongly connected components with more than one member, or a member that imports itself. */
function cycles(nodes: Iterable<string>, edges: (n: string) => Iterable<string>): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    onStack.add(v);
    for (const w of edges(v)) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v) ?? 0, low.get(w) ?? 0));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v) ?? 0, idx.get(w) ?? 0));
    }
    if (low.get(v) === idx.get(v)) {
      const scc: string[] = [];
      let w: string | undefined;
      do {
        w = stack.pop();
        if (w === undefined) break;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || [...edges(v)].includes(v)) out.push(scc.sort());
    }
  };
  for (const n of nodes) if (!idx.has(n)) visit(n);
  return out;
}

/** The entry directly under `dir` that holds `file` (a file's own name, or a folder's), else null. */
function entryUnder(dir: string, file: string): string | null {
  const prefix = dir === "" ? "" : `${dir}/`;
  if (!file.startsWith(prefix)) return null;
  const [first] = file.slice(prefix.length).split("/");
  return first ? prefix + first : null;
}

/** Imports between the entries directly under `dir`: entry -> entries it imports from. */
export function entryGraph(graph: Map<string, Set<string>>, dir: string): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const [file, deps] of graph) {
    const from = entryUnder(dir, file);
    if (!from) continue;
    if (!out.has(from)) out.set(from, new Set());
    for (const dep of deps) {
      const to = entryUnder(dir, dep);
      if (to && to !== from) out.get(from)?.add(to);
    }
  }
  return out;
}

/** A file's service ("shared" for shared/) and its layer there; null outside both. */
function layerOf(file: string): { service: string; layer: number | null } | null {
  if (file.startsWith("shared/")) return { service: "shared", layer: 0 };
  const [top, service = "", first = ""] = file.split("/");
  const known = top === "services" ? SERVICES[service] : undefined;
  return known ? { service, layer: known.layers[first] ?? null } : null;
}

export function problems(graph: Map<string, Set<string>>): string[] {
  const found: string[] = [];
  for (const scc of cycles(graph.keys(), (n) => graph.get(n) ?? []))
    found.push(`file cycle: ${scc.join(" <-> ")}`);
  const dirs = new Set([""]);
  for (const file of graph.keys()) {
    const parts = file.split("/");
    for (let i = 1; i < parts.length; i++) dirs.add(parts.slice(0, i).join("/"));
  }
  for (const dir of [...dirs].sort()) {
    const entries = entryGraph(graph, dir);
    for (const scc of cycles(entries.keys(), (n) => entries.get(n) ?? [])) {
      // a cycle of files alone is reported as a file cycle above
      if (scc.some((e) => !graph.has(e))) found.push(`folder cycle in ${dir || "."}/: ${scc.join(" <-> ")}`);
    }
  }
  for (const [file, deps] of graph) {
    const from = layerOf(file);
    if (from && from.layer === null)
      found.push(`no layer for ${file}: add it to ${from.service.toUpperCase()}_LAYERS`);
    const names = from ? SERVICES[from.service]?.names : undefined;
    for (const dep of deps) {
      if (file.startsWith("shared/") && dep.startsWith("services/"))
        found.push(`shared imports a service: ${file} -> ${dep}`);
      const [, service] = file.split("/");
      const [, depService] = dep.split("/");
      if (file.startsWith("services/") && dep.startsWith("services/") && service !== depService)
        found.push(`one service imports another: ${file} -> ${dep}`);
      const to = layerOf(dep);
      const sameOrShared = to?.service === from?.service || to?.service === "shared";
      if (names && sameOrShared && from?.layer != null && to?.layer != null && to.layer > from.layer)
        found.push(`import up the layers (${names[from.layer]} -> ${names[to.layer]}): ${file} -> ${dep}`);
    }
  }
  return [...new Set(found)];
}

function main(argv: string[]): number {
  const graph = importGraph();
  const at = argv.indexOf("--graph");
  if (at >= 0) {
    const dir = (argv[at + 1] ?? "services/ca").replace(/\/$/, "");
    for (const [from, to] of [...entryGraph(graph, dir)].sort(([a], [b]) => a.localeCompare(b))) {
      const name = (p: string) => p.slice(dir.length + 1) + (graph.has(p) ? "" : "/");
      process.stdout.write(`${name(from)} -> ${[...to].map(name).sort().join(", ") || "(nothing)"}\n`);
    }
    return 0;
  }
  const found = problems(graph);
  for (const p of found) process.stderr.write(`imports: ${p}\n`);
  return found.length > 0 ? 1 : 0;
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(new URL(import.meta.url).pathname)) {
  process.exitCode = main(process.argv.slice(2));
}
