import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { delimiter, join } from "node:path";
import { parseRegistry } from "../actions/registry-name.js";
import { DEFAULT_CONTAINERD_CERTS_DIR, DEFAULT_CONTAINERD_CONFIG } from "../config.js";

/**
 * doctor's word on containerd (and so Kubernetes nodes): the CRI plugin reads
 * `certs.d/HOST:PORT/hosts.toml` only when its registry `config_path` names the folder. Then it
 * reads it on every pull, no restart needed; without it, `trust`'s hosts.toml is read by ctr
 * --hosts-dir and nerdctl but not by the kubelet's pulls. containerd 1.x leaves config_path
 * empty by default; 2.x defaults it to /etc/containerd/certs.d:/etc/docker/certs.d.
 */

/** The CRI registry tables: containerd 1.x (config version 2) and 2.x (version 3). */
const REGISTRY_TABLES = [
  ["plugins", "io.containerd.grpc.v1.cri", "registry"],
  ["plugins", "io.containerd.cri.v1.images", "registry"],
];

/** A TOML key as its parts: `plugins."io.containerd.grpc.v1.cri".registry` -> 3 parts. */
function keyParts(key: string): string[] {
  const parts: string[] = [];
  const re = /\s*(?:"((?:[^"\\]|\\.)*)"|'([^']*)'|([A-Za-z0-9_-]+))\s*(\.|$)/y;
  for (let m = re.exec(key); m; m = m[4] === "." ? re.exec(key) : null)
    parts.push(m[1] ?? m[2] ?? m[3] ?? "");
  return parts;
}

const sameParts = (a: string[], b: string[]) => a.length === b.length && a.every((x, i) => x === b[i]);

/**
 * The CRI registry config_path a containerd config.toml sets, or null when it sets none. Reads
 * the two ways it is written: under the registry table, or as a dotted key under a parent
 * table. Enough TOML for this one key, not a parser.
 */
export function criConfigPath(toml: string): string | null {
  let table: string[] = [];
  let found: string | null = null;
  for (const line of toml.split("\n")) {
    const header = /^\s*\[\s*([^[\]]+?)\s*\]\s*(?:#.*)?$/.exec(line);
    if (header) {
      table = keyParts(header[1] ?? "");
      continue;
    }
    const kv = /^\s*([^=#[]+?)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|'([^']*)')\s*(?:#.*)?$/.exec(line);
    if (!kv) continue;
    const full = [...table, ...keyParts(kv[1] ?? "")];
    if (REGISTRY_TABLES.some((t) => sameParts(full, [...t, "config_path"]))) {
      found = kv[2] !== undefined ? kv[2].replace(/\\(.)/g, "$1") : (kv[3] ?? "");
    }
  }
  return found === "" ? null : found;
}

export interface ContainerdFacts {
  configFile: string;
  /** null when the file does not exist */
  config: string | null;
  /** the major version `containerd --version` says, when it could be run */
  major: number | null;
  /** the hosts.toml files for the registry that exist, in the config_path folders */
  hostsTomls: string[];
}

export interface ContainerdOptions {
  target: string;
  containerdConfig?: string;
  containerdCertsDir?: string;
  /** PATH to find containerd on; the process's by default */
  pathEnv?: string;
}

const onPath = (cmd: string, pathEnv: string) =>
  pathEnv.split(delimiter).find((d) => d !== "" && existsSync(join(d, cmd))) ?? null;

/** What doctor needs to know about containerd here, or null when it is not installed. */
export function inspectContainerd(o: ContainerdOptions): ContainerdFacts | null {
  const configFile = o.containerdConfig ?? DEFAULT_CONTAINERD_CONFIG;
  const dir = onPath("containerd", o.pathEnv ?? process.env.PATH ?? "");
  const config = existsSync(configFile) ? readFileSync(configFile, "utf8") : null;
  if (!dir && config === null) return null;
  let major: number | null = null;
  if (dir) {
    try {
      const out = execFileSync(join(dir, "containerd"), ["--version"], { encoding: "utf8", timeout: 10_000 });
      major = Number(/\sv?(\d+)\.\d+/.exec(out)?.[1] ?? Number.NaN);
      if (Number.isNaN(major)) major = null;
    } catch {
      major = null;
    }
  }
  const dirName = parseRegistry(o.target).dirName;
  const path = (config && criConfigPath(config)) ?? o.containerdCertsDir ?? DEFAULT_CONTAINERD_CERTS_DIR;
  const hostsTomls = path
    .split(":")
    .filter(Boolean)
    .map((d) => join(d, dirName, "hosts.toml"))
    .filter((f) => existsSync(f));
  return { configFile, config, major, hostsTomls };
}

/** doctor's lines about containerd. Pure. */
export function containerdLines(f: ContainerdFacts, target: string, certsDir: string): string[] {
  const dirName = parseRegistry(target).dirName;
  const set = f.config === null ? null : criConfigPath(f.config);
  const v2 = f.major !== null ? f.major >= 2 : /^\s*version\s*=\s*3\b/m.test(f.config ?? "");
  const fix = `certyard-agent trust --registry ${target}${certsDir === DEFAULT_CONTAINERD_CERTS_DIR ? "" : ` --containerd-certs-dir ${certsDir}`}`;
  const hosts = f.hostsTomls.length
    ? `${f.hostsTomls[0]} is there`
    : `there is no ${dirName}/hosts.toml in it yet; fix: ${fix}`;
  if (set) {
    return [
      `containerd: ${f.configFile} sets the CRI registry config_path to "${set}": containerd reads HOST:PORT/hosts.toml there on every pull, without a restart; ${hosts}`,
    ];
  }
  if (v2) {
    return [
      `containerd: ${f.configFile} does not set the CRI registry config_path; containerd 2 then reads /etc/containerd/certs.d and /etc/docker/certs.d on every pull; ${hosts}`,
    ];
  }
  const table = REGISTRY_TABLES[0] as string[];
  return [
    `containerd: ${f.config === null ? `there is no ${f.configFile}, so nothing sets` : `${f.configFile} does not set`} the CRI registry config_path, so Kubernetes pulls through containerd ignore ${certsDir} (ctr --hosts-dir and nerdctl read it all the same)`,
    `  fix: add config_path = "${certsDir}" under [plugins."${table[1]}".registry] in ${f.configFile} and restart containerd once; from then on it reads hosts.toml without a restart`,
  ];
}
