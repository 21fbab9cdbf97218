import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  readFileSync,
  rmdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { homedir } from "node:os";
import { delimiter, dirname, join } from "node:path";
import { syncDir, writeFileAtomic } from "../../../shared/fs.js";
import { javaAliasesPresent } from "./trust-java.js";
import { findNssDbs, readNssDb } from "./trust-nss.js";
import {
  javaAliases,
  planTrust,
  prunable,
  type SystemStore,
  type TrustPlan,
  type TrustRequest,
  type TrustState,
  targets,
  trustPaths,
} from "./trust-plan.js";
import { runToolOrFail } from "./trust-tool.js";

/**
 * `certyard-agent trust`: installs the root where clients look for it (trust-plan.ts says where
 * and why). inspectTrust() reads the host, planTrust() decides without touching it, applyTrust()
 * writes only what differs and runs certutil/keytool only where the root is missing, so a
 * second run changes nothing (not even an mtime).
 */

export { isDnsName, parseRegistry, type Registry } from "./registry-name.js";
export { canonicalRoot } from "./root-certs.js";
export {
  type FileChange,
  planTrust,
  type SystemStore,
  type TrustPlan,
  type TrustRequest,
  type TrustState,
} from "./trust-plan.js";

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

export interface TrustEnv {
  stores?: SystemStorePaths;
  /** PATH to look for update-ca-certificates, certutil and keytool on */
  pathEnv?: string;
  /** the invoking user's home, where --nss looks for browser profiles */
  userHome?: string;
  /** runs the store's update command; the default execs it and fails with its output */
  run?: (command: string[]) => void;
}

function onPath(command: string, pathEnv: string | undefined): string | null {
  const dir = (pathEnv ?? "").split(delimiter).find((d) => d !== "" && existsSync(join(d, command)));
  return dir === undefined ? null : join(dir, command);
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

/** Reads what plan() needs: the current content of its files, the NSS databases, the keystore. */
export function inspectTrust(req: TrustRequest, env: TrustEnv = {}): TrustState {
  const pathEnv = env.pathEnv ?? process.env.PATH;
  const systemStore = req.system ? detectSystemStore(env.stores ?? DEFAULT_SYSTEM_STORES, pathEnv) : null;
  const files: Record<string, string | null> = {};
  for (const path of trustPaths(targets(req, systemStore)))
    files[path] = existsSync(path) ? readFileSync(path, "utf8") : null;
  const state: TrustState = { systemStore, files };
  if (!req.nss && !req.java) return state;
  const tools = {
    certutil: req.nss ? onPath("certutil", pathEnv) : null,
    keytool: req.java ? onPath("keytool", pathEnv) : null,
  };
  state.tools = tools;
  if (tools.certutil) {
    const home = env.userHome ?? homedir();
    const certutil = tools.certutil;
    state.nss = { home, dbs: findNssDbs(home).map((dir) => readNssDb(certutil, dir)) };
  }
  if (tools.keytool) {
    state.javaAliases = javaAliasesPresent(tools.keytool, req.javaKeystore ?? null, javaAliases(req.rootPem));
  }
  return state;
}

/** Writes and removes the changed files, runs the store's update command and the tools; one line each. */
export function applyTrust(plan: TrustPlan, env: TrustEnv = {}): string[] {
  const lines: string[] = [];
  for (const c of plan.changes) {
    if (!c.changed) {
      lines.push(`unchanged ${c.path}`);
      continue;
    }
    if (c.content === null) {
      rmSync(c.path, { force: true });
      const dir = prunable(c);
      if (dir) removeIfEmpty(dir);
      lines.push(`removed ${c.path}`);
      continue;
    }
    writeKeepingMode(c.path, c.content, c.mode);
    lines.push(`wrote ${c.path}`);
  }
  if (plan.updateCommand && plan.changes.some((c) => c.system && c.changed)) {
    (env.run ?? runToolOrFail)(plan.updateCommand);
    lines.push(`ran ${plan.updateCommand.join(" ")}`);
  }
  for (const step of plan.tools) {
    if (step.changed) runToolOrFail(step.command, step.input);
    lines.push(step.label);
  }
  return lines;
}

/** inspect, plan, apply. */
export function trust(req: TrustRequest, env: TrustEnv = {}): { lines: string[]; warnings: string[] } {
  const plan = planTrust(req, inspectTrust(req, env));
  return { lines: applyTrust(plan, env), warnings: plan.warnings };
}

function removeIfEmpty(dir: string): void {
  try {
    rmdirSync(dir);
    syncDir(dirname(dir));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== "ENOTEMPTY" && code !== "EEXIST" && code !== "ENOENT") throw e;
  }
}

/**
 * Replaces the file atomically; an existing file keeps its mode and its owner (a buildx builder
 * file belongs to the user whose builder it is, even when root runs trust for them).
 */
function writeKeepingMode(path: string, content: string, newMode: number): void {
  const existing = existsSync(path) ? statSync(path) : null;
  const mode = existing ? existing.mode & 0o777 : newMode;
  mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
  try {
    writeFileAtomic(path, content, mode);
  } catch (e) {
    // /etc/hosts inside a container is a bind mount: it can be rewritten but not renamed over
    if ((e as NodeJS.ErrnoException).code !== "EBUSY") throw e;
    writeFileSync(path, content);
  }
  const now = statSync(path);
  if ((now.mode & 0o777) !== mode) chmodSync(path, mode);
  if (existing && (now.uid !== existing.uid || now.gid !== existing.gid)) {
    chownSync(path, existing.uid, existing.gid);
  }
}
