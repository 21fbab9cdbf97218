/**
 * Part of BENCH_ONLY=metrics (issue 18): the audit event's cost in the store alone, in process,
 * where the machine's load moves the figure far less than serve's req/s. `store.recordIssued`
 * (a token's use consumed, the certificate and its names written) in waves of WAVE at once (one
 * group commit each, as under the HTTP load), on a store opened with the audit trail and on one
 * opened without it, on the same database, alternating, `rounds` times each; CPU per issuance
 * from process.cpuUsage (user and system: a page written is a system call), medians compared.
 * And the wall time per issuance, which is what the commits take of serve's event loop: they
 * run on it, and their sync of the WAL (and a checkpoint's writes and syncs) waits for the disk
 * without using CPU, so it lowers req/s more than it raises CPU per request.
 */
import { randomBytes } from "node:crypto";
import { mkdir, readFile } from "node:fs/promises";
import { init } from "../services/ca/cli/init.js";
import type { AuditEntry } from "../services/ca/core/audit.js";
import type { CertificateRecord } from "../services/ca/core/types.js";
import { caPaths } from "../services/ca/keys/ca.js";
import { loadTokenKey } from "../services/ca/keys/token-key.js";
import { openStore } from "../services/ca/store/index.js";
import { buildToken } from "../services/ca/tokens/requests.js";
import { median } from "./util.js";

const WAVE = 16;
const WAVES = 40;

export interface AuditStoreFigures {
  /** median CPU per issuance, µs, without and with the audit event */
  offMicros: number;
  onMicros: number;
  /** each round's figure, in the order run */
  offRounds: number[];
  onRounds: number[];
  /** median wall time per issuance, µs, without and with the audit event */
  offWallMicros: number;
  onWallMicros: number;
  /** each round's wall time per issuance with the event over the one without, and their median */
  wallRatios: number[];
  wallRatio: number;
}

export async function auditStoreCost(dir: string, rounds: number): Promise<AuditStoreFigures> {
  await mkdir(dir, { recursive: true });
  await init({ data: dir, name: "certyard bench audit store", keyType: "ec-p256" });
  const paths = caPaths(dir);
  const tokenKey = loadTokenKey(paths.tokenKey).key;
  // a certificate of about a leaf's size stands in for the issued one
  const pem = await readFile(paths.intermediateCert, "utf8");
  const run = async (audit: boolean, n: number): Promise<{ cpu: number; wall: number }> => {
    const store = openStore(paths.database, { audit });
    try {
      const { record } = buildToken(
        { name: `audit-store-${n}`, dns: ["registry.lan"], ip: ["10.0.0.0/24"], rate: "100000000/1s" },
        Date.now(),
        tokenKey,
      );
      await store.tokens.create(record);
      const one = () => {
        const now = Date.now();
        const serial = randomBytes(16).toString("hex");
        const notAfter = now + 30 * 86_400_000;
        const rec: CertificateRecord = {
          serial,
          tokenId: record.id,
          renewedFrom: null,
          commonName: "registry.lan",
          dnsNames: ["registry.lan"],
          ipAddresses: ["10.0.0.5"],
          notBefore: now,
          notAfter,
          keyFingerprint: randomBytes(32).toString("hex"),
          pem,
          createdAt: now,
          revokedAt: null,
          revocationReason: null,
        };
        // the event Authority.issue writes for a sign
        const event: AuditEntry = {
          at: now,
          type: "certificate.issued",
          actor: { kind: "token", id: record.name },
          subject: serial,
          details: {
            method: "sign",
            names: ["registry.lan", "10.0.0.5"],
            notAfter: new Date(notAfter).toISOString(),
          },
        };
        return store.recordIssued(rec, record.id, now, event);
      };
      const wave = () => Promise.all(Array.from({ length: WAVE }, one));
      for (let i = 0; i < 5; i++) await wave(); // warm-up: JIT, the page cache
      const before = process.cpuUsage();
      const started = performance.now();
      for (let i = 0; i < WAVES; i++) await wave();
      const wall = (performance.now() - started) * 1000;
      const used = process.cpuUsage(before);
      return { cpu: (used.user + used.system) / (WAVES * WAVE), wall: wall / (WAVES * WAVE) };
    } finally {
      await store.close();
    }
  };
  const off: { cpu: number; wall: number }[] = [];
  const on: { cpu: number; wall: number }[] = [];
  for (let i = 0; i < rounds; i++) {
    // the order turns every round
    if (i % 2 === 0) {
      off.push(await run(false, 2 * i));
      on.push(await run(true, 2 * i + 1));
    } else {
      on.push(await run(true, 2 * i));
      off.push(await run(false, 2 * i + 1));
    }
  }
  const offRounds = off.map((r) => r.cpu);
  const onRounds = on.map((r) => r.cpu);
  const wallRatios = on.map((r, i) => r.wall / (off[i]?.wall ?? Number.NaN));
  return {
    offMicros: median(offRounds),
    onMicros: median(onRounds),
    offRounds,
    onRounds,
    offWallMicros: median(off.map((r) => r.wall)),
    onWallMicros: median(on.map((r) => r.wall)),
    wallRatios,
    wallRatio: median(wallRatios),
  };
}
