import { dirname, join } from "node:path";
import {
  DEFAULT_CONTAINERD_CERTS_DIR,
  DEFAULT_CONTAINERS_CERTS_DIR,
  DEFAULT_DOCKER_CERTS_DIR,
  DEFAULT_HOSTS_FILE,
} from "../config.js";
import { mergeHosts, parseHostsEntry, removeHosts } from "./hosts.js";
import { parseRegistry, type Registry } from "./registry-name.js";
import { canonicalRoot, rootCertificates } from "./root-certs.js";
import { builderFile, editBuilder } from "./trust-buildkit.js";
import {
  containerdFiles,
  foreignHostsTomlError,
  hostsToml,
  isCertyardHostsToml,
} from "./trust-containerd.js";
import { javaAlias, planJava } from "./trust-java.js";
import { NSS_LOCATIONS, type NssDb, planNss } from "./trust-nss.js";
import type { ToolStep } from "./trust-tool.js";

/**
 * What `trust` is to do, decided from a snapshot of the host (TrustState) without touching it.
 * Installing, every place gets the root: Docker's certs.d, the containers tools' certs.d
 * (podman, CRI-O, skopeo, buildah), containerd's hosts.toml with a ca.crt beside it, and on
 * request the OS store, /etc/hosts lines, a buildx builder, the browsers' NSS databases and the
 * JDK's cacerts. Removing (`--remove`), each of them loses only what certyard put there: a file
 * whose content is not the root, or a hosts.toml without certyard's first line, stays.
 */

export type SystemStore =
  | { kind: "debian"; dir: string; update: string[] }
  | { kind: "rhel"; dir: string; update: string[] };

export interface TrustRequest {
  rootPem: string;
  registries: string[];
  system?: boolean;
  /** NAME=IP */
  hosts?: string[];
  /** a buildx builder's name */
  buildkit?: string;
  nss?: boolean;
  java?: boolean;
  /** take out what certyard put in, instead of putting it in */
  remove?: boolean;
  dockerCertsDir?: string;
  containersCertsDir?: string;
  containerdCertsDir?: string;
  hostsFile?: string;
  /** buildx's configuration folder (where `instances/NAME` is) */
  buildxDir?: string;
  /** a Java keystore to use instead of the default JDK's cacerts */
  javaKeystore?: string | null;
}

/** What plan() needs to know about the host: read by inspectTrust(), or made up in a test. */
export interface TrustState {
  systemStore: SystemStore | null;
  /** current content of every file the plan may write; null (or missing) when it does not exist */
  files: Record<string, string | null>;
  /** --nss: the databases found and what they hold; `home` is where they were looked for */
  nss?: { home: string; dbs: NssDb[] };
  /** --java: which of the root's aliases the keystore holds */
  javaAliases?: string[];
  /** the commands found on PATH, null when missing */
  tools?: { certutil: string | null; keytool: string | null };
}

export interface FileChange {
  path: string;
  /** null: the file is to be removed */
  content: string | null;
  changed: boolean;
  /** mode of a new file; an existing file keeps its own (and its owner) */
  mode: number;
  /** a file of the OS trust store: a change runs the store's update command */
  system?: boolean;
  /** after removing the file, remove its folder too if that leaves it empty */
  pruneDir?: boolean;
}

export interface TrustPlan {
  changes: FileChange[];
  /** run after writing, only when a file of the OS store changed */
  updateCommand: string[] | null;
  /** certutil and keytool runs, after the files */
  tools: ToolStep[];
  warnings: string[];
}

/** The files of one registry: the ca.crt of Docker, the containers tools and containerd, and containerd's hosts.toml. */
export interface RegistryTargets {
  registry: Registry;
  caFiles: string[];
  hostsToml: string;
  containerdCa: string;
}

/** The files plan() reads, by what they are for. */
export interface Targets {
  registries: RegistryTargets[];
  systemFile: string | null;
  hostsFile: string | null;
  builderFile: string | null;
}

export function targets(req: TrustRequest, systemStore: SystemStore | null): Targets {
  const registries: RegistryTargets[] = [];
  for (const r of req.registries.map(parseRegistry)) {
    if (registries.some((o) => o.registry.dirName === r.dirName)) continue;
    const c = containerdFiles(req.containerdCertsDir ?? DEFAULT_CONTAINERD_CERTS_DIR, r);
    const caFiles = [
      join(req.dockerCertsDir ?? DEFAULT_DOCKER_CERTS_DIR, r.dirName, "ca.crt"),
      join(req.containersCertsDir ?? DEFAULT_CONTAINERS_CERTS_DIR, r.dirName, "ca.crt"),
      c.caFile,
    ];
    registries.push({
      registry: r,
      caFiles: [...new Set(caFiles)],
      hostsToml: c.hostsToml,
      containerdCa: c.caFile,
    });
  }
  let systemFile: string | null = null;
  if (req.system && systemStore) {
    systemFile = join(systemStore.dir, `certyard-${canonicalRoot(req.rootPem).fingerprint.slice(0, 16)}.crt`);
  }
  const hostsFile = req.hosts?.length ? (req.hostsFile ?? DEFAULT_HOSTS_FILE) : null;
  const builder = req.buildkit === undefined ? null : builderFile(req.buildxDir ?? "", req.buildkit);
  if (builder && !registries.length) throw new Error("--buildkit needs --registry HOST:PORT");
  return { registries, systemFile, hostsFile, builderFile: builder };
}

/** Every file plan() may read and write, so that inspectTrust() can read them first. */
export function trustPaths(t: Targets): string[] {
  return [
    ...t.registries.flatMap((r) => [...r.caFiles, r.hostsToml]),
    ...[t.systemFile, t.hostsFile, t.builderFile].filter((p): p is string => p !== null),
  ];
}

function hostsEntries(req: TrustRequest) {
  const entries = (req.hosts ?? []).map(parseHostsEntry);
  const seen = new Set<string>();
  for (const e of entries) {
    if (seen.has(e.name)) throw new RangeError(`--hosts gives ${e.name} more than once`);
    seen.add(e.name);
  }
  return entries;
}

const missingTool = (flag: string, tool: string, pkg: string) =>
  new Error(`${flag}: ${tool} not found on PATH (Debian: apt-get install ${pkg})`);

export function planTrust(req: TrustRequest, state: TrustState): TrustPlan {
  if (req.system && !state.systemStore) {
    throw new Error(
      "--system: no supported trust store here (looked for /usr/local/share/ca-certificates or update-ca-certificates, and /etc/pki/ca-trust/source/anchors)",
    );
  }
  const t = targets(req, state.systemStore);
  if (!t.registries.length && !t.systemFile && !t.hostsFile && !req.nss && !req.java) {
    throw new Error("nothing to do: give --registry HOST:PORT, --system, --hosts NAME=IP, --nss or --java");
  }
  const root = canonicalRoot(req.rootPem);
  const remove = req.remove === true;
  const current = (path: string) => state.files[path] ?? null;
  const changes: FileChange[] = [];
  const warnings: string[] = [];
  /** a file that holds the root (the ca.crt files, the OS store's file) */
  const rootFile = (path: string, extra: Partial<FileChange> = {}) => {
    const now = current(path);
    if (!remove) changes.push({ path, content: root.pem, changed: now !== root.pem, mode: 0o644, ...extra });
    else if (now === root.pem) changes.push({ path, content: null, changed: true, mode: 0o644, ...extra });
    else if (now !== null)
      warnings.push(`${path} holds another certificate than this agent's root: left as it is`);
  };

  for (const r of t.registries) {
    for (const path of r.caFiles) rootFile(path, { pruneDir: true });
    const now = current(r.hostsToml);
    if (now !== null && !isCertyardHostsToml(now)) {
      if (!remove)
        throw foreignHostsTomlError(r.registry, { hostsToml: r.hostsToml, caFile: r.containerdCa });
      continue;
    }
    const want = hostsToml(r.registry, r.containerdCa);
    if (!remove) changes.push({ path: r.hostsToml, content: want, changed: now !== want, mode: 0o644 });
    else if (now !== null) {
      changes.push({ path: r.hostsToml, content: null, changed: true, mode: 0o644, pruneDir: true });
    }
  }

  let updateCommand: string[] | null = null;
  if (t.systemFile && state.systemStore) {
    rootFile(t.systemFile, { system: true });
    if (changes.some((c) => c.system && c.changed)) updateCommand = state.systemStore.update;
  }
  if (t.hostsFile) {
    const before = current(t.hostsFile);
    const entries = hostsEntries(req);
    let content: string;
    if (remove)
      content = removeHosts(
        before ?? "",
        entries.map((e) => e.name),
      );
    else {
      const merged = mergeHosts(before ?? "", entries);
      warnings.push(...merged.warnings.map((w) => `${t.hostsFile}: ${w}`));
      content = merged.content;
    }
    if (before !== null || !remove) {
      changes.push({ path: t.hostsFile, content, changed: content !== before, mode: 0o644 });
    }
  }
  if (t.builderFile && req.buildkit !== undefined) {
    const text = current(t.builderFile);
    if (text === null && !remove) {
      throw new Error(
        `--buildkit ${req.buildkit}: no buildx builder of that name (no ${t.builderFile}); create it first: docker buildx create --name ${req.buildkit} --driver docker-container`,
      );
    }
    if (text !== null) {
      const registries = req.registries.map(parseRegistry);
      const edit = editBuilder(text, t.builderFile, registries, root.pem, remove);
      changes.push({ path: t.builderFile, content: edit.content, changed: edit.changed, mode: 0o600 });
    } else warnings.push(`--buildkit ${req.buildkit}: no builder of that name, nothing to remove`);
  }

  const tools: ToolStep[] = [];
  const roots = rootCertificates(req.rootPem);
  if (req.nss) {
    const certutil = state.tools?.certutil ?? null;
    if (!certutil) throw missingTool("--nss", "certutil", "libnss3-tools");
    const nss = state.nss ?? { home: "", dbs: [] };
    if (!nss.dbs.length && !remove) {
      throw new Error(
        `--nss: no NSS database under ${nss.home} (looked for cert9.db in ${NSS_LOCATIONS.join(", ")}); start Firefox or Chromium once to create one`,
      );
    }
    tools.push(...planNss(certutil, nss.dbs, roots, remove));
  }
  if (req.java) {
    const keytool = state.tools?.keytool ?? null;
    if (!keytool) throw missingTool("--java", "keytool", "default-jre-headless");
    tools.push(...planJava(keytool, req.javaKeystore ?? null, state.javaAliases ?? [], roots, remove));
  }
  return { changes, updateCommand, tools, warnings };
}

/** The aliases --java looks for: one per root certificate. */
export const javaAliases = (rootPem: string) => rootCertificates(rootPem).map(javaAlias);

/** The folder a removed file leaves, if plan() asked for it to go when empty. */
export const prunable = (c: FileChange) => (c.content === null && c.pruneDir ? dirname(c.path) : null);
