import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Drives the real openssl command: CSRs as users make them, and verification as relying parties do it. */

export type CsrKey = "ec-p256" | "ec-p384" | "ec-p521" | "rsa-1024" | "rsa-2048" | "rsa-3072" | "ed25519";

export interface Csr {
  csrPem: string;
  keyPem: string;
}

function newKeyArgs(key: CsrKey): string[] {
  if (key.startsWith("ec-p")) {
    const curve = { "ec-p256": "P-256", "ec-p384": "P-384", "ec-p521": "P-521" }[key as "ec-p256"];
    return ["-newkey", "ec", "-pkeyopt", `ec_paramgen_curve:${curve}`];
  }
  if (key === "ed25519") return ["-newkey", "ed25519"];
  return ["-newkey", `rsa:${key.slice(4)}`];
}

/** `openssl req -new` with the given subject and SANs (e.g. ["DNS:registry.lan", "IP:10.0.0.5"]). */
export function makeCsr(opts: { key?: CsrKey; subject?: string; san?: string[]; digest?: string } = {}): Csr {
  const dir = mkdtempSync(join(tmpdir(), "certyard-csr-"));
  try {
    const args = ["req", "-new", ...newKeyArgs(opts.key ?? "ec-p256"), "-nodes"];
    args.push("-keyout", join(dir, "key.pem"), "-out", join(dir, "csr.pem"), "-subj", opts.subject ?? "/");
    if (opts.san?.length) args.push("-addext", `subjectAltName=${opts.san.join(",")}`);
    if (opts.digest) args.push(`-${opts.digest}`);
    execFileSync("openssl", args, { stdio: ["ignore", "ignore", "pipe"] });
    return {
      csrPem: readFileSync(join(dir, "csr.pem"), "utf8"),
      keyPem: readFileSync(join(dir, "key.pem"), "utf8"),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function withFiles<T>(files: Record<string, string>, fn: (path: (name: string) => string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), "certyard-ossl-"));
  try {
    for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
    return fn((name) => join(dir, name));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `openssl verify -x509_strict` of a leaf against the root with the chain as untrusted intermediates. */
export function opensslVerify(
  leafPem: string,
  chainPem: string,
  rootPem: string,
  extra: string[] = [],
  crlPem?: string,
) {
  const files: Record<string, string> = { "leaf.pem": leafPem, "chain.pem": chainPem, "root.pem": rootPem };
  if (crlPem) files["crl.pem"] = crlPem;
  return withFiles(files, (p) => {
    const r = spawnSync(
      "openssl",
      [
        "verify",
        "-x509_strict",
        ...extra,
        ...(crlPem ? ["-crl_check", "-CRLfile", p("crl.pem")] : []),
        "-CAfile",
        p("root.pem"),
        "-untrusted",
        p("chain.pem"),
        p("leaf.pem"),
      ],
      { encoding: "utf8" },
    );
    return { ok: r.status === 0, output: `${r.stdout}${r.stderr}` };
  });
}

export function opensslText(
  pem: string,
  kind: "x509" | "crl" = "x509",
  inform: "PEM" | "DER" = "PEM",
): string {
  return withFiles({ in: pem }, (p) =>
    execFileSync("openssl", [kind, "-in", p("in"), "-inform", inform, "-noout", "-text"], {
      encoding: "utf8",
    }),
  );
}

export function opensslCrlText(der: Buffer): string {
  const dir = mkdtempSync(join(tmpdir(), "certyard-crl-"));
  try {
    writeFileSync(join(dir, "crl.der"), der);
    return execFileSync(
      "openssl",
      ["crl", "-in", join(dir, "crl.der"), "-inform", "DER", "-noout", "-text"],
      {
        encoding: "utf8",
      },
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * `openssl req -x509`: a self-signed P-256 certificate for two days, as PEM, with its key;
 * `addext` are -addext values (e.g. "subjectAltName=DNS:a.lan"); `serial` (hex) sets its serial.
 */
export function selfSignedCert(
  subject: string,
  addext: string[] = [],
  serial?: string,
): { certPem: string; keyPem: string } {
  const dir = mkdtempSync(join(tmpdir(), "certyard-selfsigned-"));
  try {
    const [key, cert] = [join(dir, "key.pem"), join(dir, "cert.pem")];
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        ...newKeyArgs("ec-p256"),
        "-nodes",
        "-keyout",
        key,
        "-out",
        cert,
        "-subj",
        subject,
        "-days",
        "2",
        ...addext.flatMap((e) => ["-addext", e]),
        ...(serial === undefined ? [] : ["-set_serial", `0x${serial}`]),
      ],
      { stdio: "ignore" },
    );
    return { certPem: readFileSync(cert, "utf8"), keyPem: readFileSync(key, "utf8") };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
