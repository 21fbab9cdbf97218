import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { certificatesFromPem } from "../../../shared/x509/pem.js";
import { parseRegistry } from "../actions/trust.js";
import { DEFAULT_DOCKER_CERTS_DIR } from "../config.js";
import { AgentHome } from "../state.js";
import type { RootSource } from "./diagnose.js";

/** Where doctor finds the roots it judges a chain by, and the roots Docker on this host has. */

/** Go's system bundle candidates on Linux; the first that exists is read. */
export const SYSTEM_BUNDLES = [
  "/etc/ssl/certs/ca-certificates.crt",
  "/etc/pki/tls/certs/ca-bundle.crt",
  "/etc/ssl/ca-bundle.pem",
  "/etc/pki/tls/cacert.pem",
  "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
  "/etc/ssl/cert.pem",
];

export interface RootOptions {
  /** HOST:PORT of the registry */
  target: string;
  caFile?: string;
  home?: string;
  dockerCertsDir?: string;
  systemBundles?: string[];
}

function readCerts(file: string): Buffer[] {
  return certificatesFromPem(readFileSync(file, "utf8"));
}

function dockerCertsFiles(o: RootOptions): { dir: string; files: string[] } {
  const dir = join(o.dockerCertsDir ?? DEFAULT_DOCKER_CERTS_DIR, parseRegistry(o.target).dirName);
  const files = existsSync(dir)
    ? readdirSync(dir)
        .filter((f) => f.endsWith(".crt"))
        .sort()
    : [];
  return { dir, files: files.map((f) => join(dir, f)) };
}

function systemBundle(o: RootOptions): string | null {
  return (o.systemBundles ?? SYSTEM_BUNDLES).find((f) => existsSync(f)) ?? null;
}

/** The roots to judge the chain by: --ca-file, else the agent's root, else what Docker has. */
export function loadRoots(o: RootOptions): { roots: Buffer[]; from: RootSource; label: string } {
  if (o.caFile) {
    const roots = readCerts(o.caFile);
    if (!roots.length) throw new Error(`no certificate in ${o.caFile}`);
    return { roots, from: "ca-file", label: `--ca-file ${o.caFile}` };
  }
  const home = o.home ? new AgentHome(o.home) : null;
  if (home?.isBootstrapped()) {
    return {
      roots: certificatesFromPem(home.rootPem()),
      from: "home",
      label: `the agent's root (${home.dir})`,
    };
  }
  const certs = dockerCertsFiles(o);
  if (certs.files.length) {
    return { roots: certs.files.flatMap(readCerts), from: "docker-certs", label: `Docker's ${certs.dir}` };
  }
  const bundle = systemBundle(o);
  if (bundle) return { roots: readCerts(bundle), from: "system", label: `the system store (${bundle})` };
  return { roots: [], from: "none", label: "no root at all" };
}

/** What Docker on this host trusts for the registry: certs.d/HOST:PORT/*.crt and the system bundle. */
export function dockerRoots(o: RootOptions): { roots: Buffer[]; where: string } {
  const certs = dockerCertsFiles(o);
  const bundle = systemBundle(o);
  return {
    roots: [...certs.files.flatMap(readCerts), ...(bundle ? readCerts(bundle) : [])],
    where: `${certs.dir}/*.crt`,
  };
}
