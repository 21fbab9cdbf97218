import type { X509Certificate } from "node:crypto";
import { parseRegistry } from "../actions/trust.js";
import { DEFAULT_CONTAINERD_CERTS_DIR } from "../config.js";
import { type ContainerdOptions, containerdLines, inspectContainerd } from "./containerd.js";
import {
  buildChain,
  diagnose,
  dockerTrustFinding,
  type Finding,
  named,
  notAfter,
  rfc3339,
} from "./diagnose.js";
import { fetchChain } from "./fetch.js";
import { dockerRoots, loadRoots, type RootOptions } from "./roots.js";

/**
 * `certyard-agent doctor HOST:PORT`: the roots to judge by (roots.ts), the chain the registry
 * serves (fetch.ts), what Go's crypto/x509 makes of it (diagnose.ts), and the report in words.
 */
export interface DoctorOptions extends RootOptions, Omit<ContainerdOptions, "target"> {
  /** connect here instead of resolving HOST (tests; like curl --resolve) */
  connectHost?: string;
  now?: Date;
  timeoutMs?: number;
}

export interface DoctorReport {
  ok: boolean;
  findings: Finding[];
  lines: string[];
}

/** Connects, diagnoses and words the report; connection failures throw a one-line Error. */
export async function doctor(o: DoctorOptions): Promise<DoctorReport> {
  const { host, port } = parseRegistry(o.target);
  const { roots, from, label } = loadRoots(o);
  const chainDers = await fetchChain(o.target, o);
  const now = o.now ?? new Date();
  const findings = diagnose(chainDers, roots, o.target, now, { rootsFrom: from });
  // Docker's own roots matter once the chain is sound for the CA's root, whatever else is wrong
  if ((from === "home" || from === "ca-file") && buildChain(chainDers, roots, now).anchored) {
    const docker = dockerRoots(o);
    const f = dockerTrustFinding(chainDers, docker.roots, o.target, now, docker.where);
    if (f) findings.push(f);
  }
  const lines = [`${o.target}: the server sent ${chainDers.length} certificate(s); checked against ${label}`];
  if (findings.length === 0) {
    const chain = buildChain(chainDers, roots, now);
    const leaf = chain.path[0] as X509Certificate;
    const end = notAfter(leaf);
    const days = Math.floor((end.getTime() - now.getTime()) / 86_400_000);
    const root = chain.path[chain.path.length - 1] as X509Certificate;
    lines.push(
      `ok: ${o.target} serves a valid chain for ${host} (${chain.path.length} certificates up to the root ${named(root)}), expiring ${rfc3339(end)} (in ${days} days)`,
    );
  } else {
    findings.forEach((f, i) => {
      lines.push(`problem ${i + 1}: ${f.dockerMessage}`, `  why: ${f.explanation}`, `  fix: ${f.fix}`);
    });
    const url = `https://${port === 443 ? parseRegistry(o.target).dirName : o.target}/v2/`;
    const first = findings[0] as Finding;
    lines.push(
      `docker login/pull would fail with: Get "${url}": tls: failed to verify certificate: ${first.dockerMessage}`,
    );
  }
  if (/^127\./.test(host) || host === "::1" || host === "localhost") {
    lines.push(
      "note: Docker treats 127.0.0.0/8 as an insecure registry and does not verify TLS there; the above is what it says for any other address",
    );
  }
  const containerd = inspectContainerd(o);
  if (containerd)
    lines.push(
      ...containerdLines(containerd, o.target, o.containerdCertsDir ?? DEFAULT_CONTAINERD_CERTS_DIR),
    );
  return { ok: findings.length === 0, findings, lines };
}
