import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { isIP, isIPv4, isIPv6 } from "node:net";
import { delimiter, dirname, join } from "node:path";
import { writeFileAtomic } from "../../../shared/fs.js";
import { certificatesFromPem, encodePem, fingerprint } from "../../../shared/x509/pem.js";
import { DEFAULT_CONTAINERS_CERTS_DIR, DEFAULT_DOCKER_CERTS_DIR, DEFAULT_HOSTS_FILE } from "../config.js";
import { type HostsEntry, mergeHosts, parseHostsEntry } from "./hosts.js";

/**
 * Installs the root where clients look for it: Docker's per-registry directory
 * (`/etc/docker/certs.d/HOST:PORT/ca.crt`), podman's (`/etc/containers/certs.d`, when present),
 * the OS store, and a managed /etc/hosts line. plan() is pure: it takes a snapshot of the files
 * it may touch and returns what each should contain; apply() writes only what differs, so a
 * second run leaves every file (and its mtime) alone.
 */

export interface Registry {
  host: string;
  port: number;
  /** the directory name Docker looks up under certs.d */
  dirName: string;
}

const DNS_NAME =
  /^(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*$/;

export function isDnsName(name: string): boolean {
  return DNS_NAME.test(name) && !isIP(name);
}

/**
 * `HOST:PORT`, `HOST` (port 443) or `[IPv6]:PORT`. Docker names the certs.d directory after the
 * registry part of the image reference as typed: `registry.lan:5000`, `[fd00::1]:5000`, and
 * `registry.lan` alone when the registry is on 443 (the reference then carries no port).
 */
export function parseRegistry(input: string): Registry {
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(input);
  const plain = /^([^:[\]]+)(?::(\d+))?$/.exec(input);
  const m = v6 ?? plain;
  const host = m?.[1];
  if (!m || host === undefined || (v6 ? !isIPv6(host) : !(isIPv4(host) || isDnsName(host)))) {
    throw new RangeError(`invalid registry "${input}": expected HOST:PORT, HOST or [IPv6]:PORT`);
  }
  const port = m[2] === undefined ? 443 : Number(m[2]);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new RangeError(`invalid port in "${input}"`);
  const hostPart = v6 ? `[${host}]` : host;
  return { host, port, dirName: port === 443 ? hostPart : `${hostPart}:${port}` };
}

export type SystemStore =
  | { kind: "debian"; dir: string; update: string[] }
  | { kind: "rhel"; dir: string; update: string[] };

export interface SystemStorePaths {
  /** Debian/Ubuntu: local roots, picked up by update-ca-certificates */
  debianDir: string;
  /** RHEL/CentOS/Fedora: anchors, picked up by update-ca-trust extract */
  rhelDir: string;
}

export const DEFAULT_SYSTEM_STORES: SystemStorePaths = {
  debianDir: "/usr/local/share/ca-certificates",
  rhelDir: "/etc/pki/ca-trust/source/anchors",
};

export interface TrustRequest {
  rootPem: string;
  registries: string[];
  system?: boolean;
  /** NAME=IP */
  hosts?: string[];
  dockerCertsDir?: string;
  containersCertsDir?: string;
  hostsFile?: string;
}

/** What plan() needs to know about the host: read by inspectTrust(), or made up in a test. */
export interface TrustState {
  containersCertsDirExists: boolean;
  systemStore: SystemStore | null;
  /** current content of every file the plan may write; null (or missing) when it does not exist */
  files: Record<string, string | null>;
}

export interface FileChange {
  path: string;
  content: string;
  changed: boolean;
  /** mode of a new file; an existing file keeps its own */
  mode: number;
  /** a file of the OS trust store: a change runs the store's update command */
  system?: boolean;
}

export interface TrustPlan {
  changes: FileChange[];
  /** run after writing, only when a file of the OS store changed */
  updateCommand: string[] | null;
  warnings: string[];
}

/** The root certificate(s) in a canonical PEM form, the same bytes on every run. */
export function canonicalRoot(rootPem: string): { pem: string; fingerprint: string } {
  const ders = certificatesFromPem(rootPem);
  const first = ders[0];
  if (!first) throw new Error("no certificate in the agent's root PEM");
  return { pem: ders.map((d) => encodePem("CERTIFICATE", d)).join(""), fingerprint: fingerprint(first) };
}

interface Targets {
  registryFiles: string[];
  systemFile: string | null;
  hostsFile: string | null;
  entries: HostsEntry[];
}

function targets(req: TrustRequest, state: Omit<TrustState, "files">, fp: string): Targets {
  const dockerDir = req.dockerCertsDir ?? DEFAULT_DOCKER_CERTS_DIR;
  const containersDir = req.containersCertsDir ?? DEFAULT_CONTAINERS_CERTS_DIR;
  const registryFiles: string[] = [];
  for (const r of req.registries) {
    const { dirName } = parseRegistry(r);
    registryFiles.push(join(dockerDir, dirName, "ca.crt"));
    if (state.containersCertsDirExists) registryFiles.push(join(containersDir, dirName, "ca.crt"));
  }
  let systemFile: string | null = null;
  if (req.system) {
    if (!state.systemStore) {
      throw new Error(
        `--system: no supported trust store here (looked for ${DEFAULT_SYSTEM_STORES.debianDir} or update-ca-certificates, and ${DEFAULT_SYSTEM_STORES.rhelDir})`,
      );
    }
    systemFile = join(state.systemStore.dir, `certyard-${fp.slice(0, 16)}.crt`);
  }
  const entries = (req.hosts ?? []).map(parseHostsEntry);
  const seen = new Set<string>();
  for (const e of entries) {
    if (seen.has(e.name)) throw new RangeError(`--hosts gives ${e.name} more than once`);
    seen.add(e.name);
  }
  const hostsFile = entries.length ? (req.hostsFile ?? DEFAULT_HOSTS_FILE) : null;
  return { registryFiles: [...new Set(registryFiles)], systemFile, hostsFile, entries };
}

/** Every path plan() may write, so that inspectTrust() can read them first. */
export function trustPaths(req: TrustRequest, state: Omit<TrustState, "files">): string[] {
  const t = targets(req, state, canonicalRoot(req.rootPem).fingerprint);
  return [...t.registryFiles, ...(t.systemFile ? [t.systemFile] : []), ...(t.hostsFile ? [t.hostsFile] : [])];
}

export function planTrust(req: TrustRequest, state: TrustState): TrustPlan {
  const root = canonicalRoot(req.rootPem);
  const t = targets(req, state, root.fingerprint);
  if (!t.registryFiles.length && !t.systemFile && !t.hostsFile) {
    throw new Error("nothing to do: give --registry HOST:PORT, --system or --hosts NAME=IP");
  }
  const current = (path: string) => state.files[path] ?? null;
  const changes: FileChange[] = t.registryFiles.map((path) => ({
    path,
    content: root.pem,
    changed: current(path) !== root.pem,
    mode: 0o644,
  }));
  let updateCommand: string[] | null = null;
  if (t.systemFile && state.systemStore) {
    const changed = current(t.systemFile) !== root.pem;
    changes.push({ path: t.systemFile, content: root.pem, changed, mode: 0o644, system: true });
    if (changed) updateCommand = state.systemStore.update;
  }
  const warnings: string[] = [];
  if (t.hostsFile) {
    const before = current(t.hostsFile);
    const merged = mergeHosts(before ?? "", t.entries);
    warnings.push(...merged.warnings.map((w) => `${t.hostsFile}: ${w}`));
    changes.push({
      path: t.hostsFile,
      content: merged.content,
      changed: merged.content !== before,
      mode: 0o644,
    });
  }
  return { changes, updateCommand, warnings };
}

export interface TrustEnv {
  stores?: SystemStorePaths;
  /** PATH to look for update-ca-certificates on */
  pathEnv?: string;
  /** runs the store's update command; the default execs it and fails with its output */
  run?: (command: string[]) => void;
}

function onPath(command: string, pathEnv: string | undefined): boolean {
  return (pathEnv ?? "").split(delimiter).some((dir) => dir !== "" && existsSync(join(dir, command)));
}

/** Debian/Ubuntu first (its directory, or its update command on PATH), then RHEL/CentOS. */
export function detectSystemStore(stores: SystemStorePaths, pathEnv: string | undefined): SystemStore | null {
  if (existsSync(stores.debianDir) || onPath("update-ca-certificates", pathEnv)) {
    return { kind: "debian", dir: stores.debianDir, update: ["update-ca-certificates"] };
  }
  if (existsSync(stores.rhelDir))
    return { kind: "rhel", dir: stores.rhelDir, update: ["update-ca-trust", "extract"] };
  return null;
}

/** Reads what plan() needs: which directories exist and the current content of its files. */
export function inspectTrust(req: TrustRequest, env: TrustEnv = {}): TrustState {
  const partial = {
    containersCertsDirExists: existsSync(req.containersCertsDir ?? DEFAULT_CONTAINERS_CERTS_DIR),
    systemStore: req.system
      ? detectSystemStore(env.stores ?? DEFAULT_SYSTEM_STORES, env.pathEnv ?? process.env.PATH)
      : null,
  };
  const files: Record<string, string | null> = {};
  for (const path of trustPaths(req, partial))
    files[path] = existsSync(path) ? readFileSync(path, "utf8") : null;
  return { ...partial, files };
}

/** Writes the changed files, runs the store's update command if needed; one line per file. */
export function applyTrust(plan: TrustPlan, env: TrustEnv = {}): string[] {
  const lines: string[] = [];
  for (const c of plan.changes) {
    if (!c.changed) {
      lines.push(`unchanged ${c.path}`);
      continue;
    }
    writeKeepingMode(c.path, c.content, c.mode);
    lines.push(`wrote ${c.path}`);
  }
  if (plan.updateCommand && plan.changes.some((c) => c.system && c.changed)) {
    (env.run ?? runCommand)(plan.updateCommand);
    lines.push(`ran ${plan.updateCommand.join(" ")}`);
  }
  return lines;
}

/** inspect, plan, apply. */
export function trust(req: TrustRequest, env: TrustEnv = {}): { lines: string[]; warnings: string[] } {
  const plan = planTrust(req, inspectTrust(req, env));
  return { lines: applyTrust(plan, env), warnings: plan.warnings };
}

function writeKeepingMode(path: string, content: string, newMode: number): void {
  const existing = existsSync(path) ? statSync(path).mode & 0o777 : null;
  const mode = existing ?? newMode;
  mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
  try {
    writeFileAtomic(path, content, mode);
  } catch (e) {
    // /etc/hosts inside a container is a bind mount: it can be rewritten but not renamed over
    if ((e as NodeJS.ErrnoException).code !== "EBUSY") throw e;
    writeFileSync(path, content);
  }
  if ((statSync(path).mode & 0o777) !== mode) chmodSync(path, mode);
}

function runCommand(command: string[]): void {
  const [cmd = "", ...args] = command;
  try {
    execFileSync(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
  } catch (e) {
    const err = e as { stderr?: Buffer; stdout?: Buffer; message: string };
    const out = `${err.stderr?.toString() ?? ""}${err.stdout?.toString() ?? ""}`.trim().split("\n")[0];
    throw new Error(`${command.join(" ")} failed: ${out || err.message}`);
  }
}
