import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { writeFileAtomic } from "../../shared/fs.js";
import { homeLayout } from "./config.js";

/**
 * The agent's home: which CA it trusts (URL and root, pinned at bootstrap) and which
 * certificates it manages. Every file is replaced atomically.
 */
const caSchema = z.object({ url: z.string().url(), fingerprint: z.string() });
export type CaRef = z.infer<typeof caSchema>;

const reloadSchema = z.union([
  z.object({ kind: z.literal("docker"), container: z.string().min(1) }),
  // cwd: where `cert` ran, so that a relative command still runs when cron renews from elsewhere
  z.object({ kind: z.literal("exec"), command: z.string().min(1), cwd: z.string().optional() }),
]);
export type ReloadAction = z.infer<typeof reloadSchema>;

const resultSchema = z.object({ at: z.string(), ok: z.boolean(), message: z.string() });

export const managedSchema = z.object({
  name: z.string(),
  issuer: z.union([
    z.object({ kind: z.literal("ca") }),
    z.object({
      kind: z.literal("acme"),
      directory: z.string(),
      email: z.string().optional(),
      challenge: z.record(z.string(), z.string()).optional(),
      caCertFile: z.string().optional(),
      /** the key id of the External Account Binding its account was made with */
      eabKid: z.string().optional(),
      /** the root --verify trusts for this certificate; the system store when absent */
      verifyCaFile: z.string().optional(),
    }),
  ]),
  dns: z.array(z.string()),
  ips: z.array(z.string()),
  keyType: z.string(),
  certFile: z.string(),
  keyFile: z.string(),
  reload: z.array(reloadSchema),
  verify: z.string().optional(),
  serial: z.string(),
  notBefore: z.string(),
  notAfter: z.string(),
  /** when the next renewal is due; fixed at issue time, with jitter */
  renewAt: z.string(),
  /** the ACME server's renewal window, when it gave one */
  renewalInfo: z.object({ start: z.string(), end: z.string() }).optional(),
  lastResult: resultSchema.optional(),
});
export type Managed = z.infer<typeof managedSchema>;
/** Which issuer a certificate came from, and what it needs to renew it (issuers/issuer.ts). */
export type IssuerRecord = Managed["issuer"];
export type AcmeIssuerRecord = Extract<IssuerRecord, { kind: "acme" }>;

/**
 * What one `trust` run installed: enough to run it again with other roots (check-root, after a
 * root rotation). /etc/hosts lines are not about roots and are left out.
 */
export const trustRecordSchema = z.object({
  registries: z.array(z.string()),
  system: z.boolean().optional(),
  buildkit: z.string().optional(),
  nss: z.boolean().optional(),
  java: z.boolean().optional(),
  dockerCertsDir: z.string().optional(),
  containersCertsDir: z.string().optional(),
  containerdCertsDir: z.string().optional(),
  buildxDir: z.string().optional(),
  javaKeystore: z.string().nullable().optional(),
  /** the user whose browsers --nss wrote to (under sudo, not root's) */
  userHome: z.string().optional(),
});
export type TrustRecord = z.infer<typeof trustRecordSchema>;

/**
 * The records after one `trust` run: an install adds its registries to the record of the same
 * places and flags (or adds one); a removal takes them out, and the record goes with its last.
 */
export function recordTrust(records: TrustRecord[], run: TrustRecord, remove: boolean): TrustRecord[] {
  const places = (r: TrustRecord) => JSON.stringify({ ...r, registries: [] });
  const same = records.find((r) => places(r) === places(run));
  const others = records.filter((r) => r !== same);
  if (!remove) {
    const registries = [...new Set([...(same?.registries ?? []), ...run.registries])];
    return [...others, { ...run, registries }];
  }
  if (!same) return records;
  const registries = same.registries.filter((r) => !run.registries.includes(r));
  return registries.length ? [...others, { ...same, registries }] : others;
}

export class AgentHome {
  private readonly layout: ReturnType<typeof homeLayout>;

  constructor(readonly dir: string) {
    this.layout = homeLayout(dir);
  }

  private path(...parts: string[]): string {
    return join(this.dir, ...parts);
  }

  ensure(): void {
    mkdirSync(this.layout.certs, { recursive: true, mode: 0o700 });
  }

  isBootstrapped(): boolean {
    return existsSync(this.layout.caJson) && existsSync(this.layout.rootPem);
  }

  ca(): CaRef & { rootPem: string } {
    if (!this.isBootstrapped()) {
      throw new Error(
        `${this.dir} is not bootstrapped: run certyard-agent bootstrap --ca URL --fingerprint FP (or --join)`,
      );
    }
    const ref = caSchema.parse(JSON.parse(readFileSync(this.layout.caJson, "utf8")));
    return { ...ref, rootPem: readFileSync(this.layout.rootPem, "utf8") };
  }

  /** The root certificate the agent trusts, PEM. */
  rootPem(): string {
    return this.ca().rootPem;
  }

  saveCa(ref: CaRef, rootPem: string): void {
    this.ensure();
    writeFileAtomic(this.layout.rootPem, rootPem);
    writeFileAtomic(this.layout.caJson, `${JSON.stringify(ref, null, 2)}\n`);
  }

  /** Where `trust` installed the root (none recorded: an empty list). */
  trustRecords(): TrustRecord[] {
    if (!existsSync(this.layout.trustJson)) return [];
    return z.array(trustRecordSchema).parse(JSON.parse(readFileSync(this.layout.trustJson, "utf8")));
  }

  saveTrustRecords(records: TrustRecord[]): void {
    this.ensure();
    writeFileAtomic(this.layout.trustJson, `${JSON.stringify(records, null, 2)}\n`, 0o600);
  }

  list(): Managed[] {
    const dir = this.layout.certs;
    let files: string[];
    try {
      files = readdirSync(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
      // Not "nothing managed": a user without access to the home would see an empty table.
      if ((err as NodeJS.ErrnoException).code === "EACCES")
        throw new Error(
          `cannot read ${dir}: permission denied (run as the user that runs renew, usually root)`,
        );
      throw err;
    }
    return files
      .filter((f) => f.endsWith(".json"))
      .sort()
      .map((f) => managedSchema.parse(JSON.parse(readFileSync(join(dir, f), "utf8"))));
  }

  get(name: string): Managed | null {
    const p = join(this.layout.certs, `${safeName(name)}.json`);
    return existsSync(p) ? managedSchema.parse(JSON.parse(readFileSync(p, "utf8"))) : null;
  }

  save(m: Managed): void {
    this.ensure();
    writeFileAtomic(
      join(this.layout.certs, `${safeName(m.name)}.json`),
      `${JSON.stringify(m, null, 2)}\n`,
      0o600,
    );
  }

  remove(name: string): void {
    rmSync(join(this.layout.certs, `${safeName(name)}.json`), { force: true });
  }

  /** Where the previous files of a certificate are kept while a deployment is checked. */
  backupDir(name: string): string {
    const d = this.path("backup", safeName(name));
    mkdirSync(d, { recursive: true, mode: 0o700 });
    return d;
  }

  /**
   * Where a certificate that was issued but could not be deployed (the previous files went back)
   * is kept, with its key, until a renewal deploys it or a newer one: a renewal presents it, as
   * the CA renews only the newest certificate of a line.
   */
  pendingFiles(name: string): { certFile: string; keyFile: string } {
    const d = this.path("pending", safeName(name));
    mkdirSync(d, { recursive: true, mode: 0o700 });
    return { certFile: join(d, "cert.pem"), keyFile: join(d, "key.pem") };
  }

  /** The ACME account key and URL for a directory, kept 0600. */
  accountDir(): string {
    const d = this.path("acme");
    mkdirSync(d, { recursive: true, mode: 0o700 });
    return d;
  }
}

export function safeName(name: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/.test(name)) {
    throw new RangeError(`invalid --name "${name}": letters, digits, dot, dash and underscore`);
  }
  return name;
}
