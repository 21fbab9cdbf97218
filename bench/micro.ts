/**
 * In-process figures: node's raw ECDSA P-256 sign rate on one core, and the CA's issuance path
 * (Authority.sign and .renew on a real store) with its parts timed separately.
 */
import { createPublicKey, randomBytes, sign, verify } from "node:crypto";
import { mkdir } from "node:fs/promises";
import { Authority } from "../services/ca/authority/authority.js";
import { init } from "../services/ca/cli/init.js";
import { parseCsr } from "../services/ca/core/csr.js";
import { INVENTORY_STATES } from "../services/ca/core/inventory.js";
import type { CertificateRecord } from "../services/ca/core/types.js";
import { caPaths, loadCa } from "../services/ca/keys/ca.js";
import { loadTokenKey } from "../services/ca/keys/token-key.js";
import { openStore } from "../services/ca/store/index.js";
import { buildToken } from "../services/ca/tokens/requests.js";
import { generateKey } from "../shared/keys.js";
import { type BenchCsr, pemToDer } from "./util.js";

/** How many requests are in flight at once in the in-process loops, so group commit has company. */
export const BATCH = 64;

interface Timed {
  ops: number;
  seconds: number;
}

const perSecond = (t: Timed): number => t.ops / t.seconds;
const microsEach = (t: Timed): number => (t.seconds * 1e6) / t.ops;

/** Runs `fn` in chunks until `seconds` have passed; the clock is read once per chunk. */
function timeSync(seconds: number, fn: () => void, chunk = 50): Timed {
  const start = process.hrtime.bigint();
  const until = start + BigInt(Math.round(seconds * 1e9));
  let ops = 0;
  let now = start;
  while (now < until) {
    for (let i = 0; i < chunk; i++) fn();
    ops += chunk;
    now = process.hrtime.bigint();
  }
  return { ops, seconds: Number(now - start) / 1e9 };
}

/**
 * Runs `batch` calls of `fn` at once, waits for all, and repeats until `seconds` have passed;
 * `fn` gets its slot (0 to batch - 1), for state that one slot carries from call to call.
 */
async function timeBatches(
  seconds: number,
  batch: number,
  fn: (slot: number) => Promise<unknown>,
): Promise<Timed> {
  const start = process.hrtime.bigint();
  const until = start + BigInt(Math.round(seconds * 1e9));
  let ops = 0;
  let now = start;
  while (now < until) {
    await Promise.all(Array.from({ length: batch }, (_, slot) => fn(slot)));
    ops += batch;
    now = process.hrtime.bigint();
  }
  return { ops, seconds: Number(now - start) / 1e9 };
}

export interface RawSign {
  signPerSecond: number;
  microsPerSign: number;
  /** for reference, what a CSR costs at least: verifying its signature and importing its key */
  microsPerVerify: number;
  microsPerImportJwk: number;
  microsPerImportSpki: number;
}

/**
 * node:crypto ECDSA P-256 with SHA-256 over a ~400-byte buffer (the size of a leaf's TBS), one core;
 * then, in a tenth of that time each, a verify and the two ways of importing a public key.
 */
export function rawSignRate(seconds: number): RawSign {
  const privateKey = generateKey("ec-p256");
  const publicKey = createPublicKey(privateKey);
  const tbs = randomBytes(400);
  const once = () => sign("sha256", tbs, { key: privateKey, dsaEncoding: "der" });
  timeSync(Math.min(0.2, seconds / 5), once); // warm-up
  const t = timeSync(seconds, once);

  const signature = once();
  const jwk = publicKey.export({ format: "jwk" });
  const spki = publicKey.export({ format: "der", type: "spki" });
  const slice = seconds / 10;
  const verified = timeSync(slice, () =>
    verify("sha256", tbs, { key: publicKey, dsaEncoding: "der" }, signature),
  );
  const jwkImport = timeSync(slice, () => createPublicKey({ key: jwk, format: "jwk" }));
  const spkiImport = timeSync(slice, () => createPublicKey({ key: spki, format: "der", type: "spki" }));
  return {
    signPerSecond: perSecond(t),
    microsPerSign: microsEach(t),
    microsPerVerify: microsEach(verified),
    microsPerImportJwk: microsEach(jwkImport),
    microsPerImportSpki: microsEach(spkiImport),
  };
}

export interface InProcess {
  /** Authority.sign with BATCH in flight: the in-process issuance rate on one core */
  signPerSecond: number;
  signMicrosBatched: number;
  /** Authority.sign awaited one at a time (one transaction per certificate) */
  signMicrosSequential: number;
  parseCsrMicros: number;
  /** the store's group-committed INSERT (plus token bookkeeping), per certificate, BATCH at a time */
  recordMicrosBatched: number;
  /** what is left of a batched sign once the CSR parse, the raw signature and the record are taken out */
  restMicros: number;
  /** Authority.renew (certificate as credential, key kept; each renews the one before) with BATCH in flight */
  renewPerSecond: number;
}

/**
 * A fresh CA in `dir`, one token, and the CSR from openssl: the issuance rate with group commit, and
 * the parts timed alone so the table shows where the time goes.
 */
export async function inProcess(
  dir: string,
  csr: BenchCsr,
  seconds: number,
  rawMicrosPerSign: number,
): Promise<InProcess> {
  await mkdir(dir, { recursive: true });
  await init({ data: dir, name: "certyard bench in-process", keyType: "ec-p256" });
  const paths = caPaths(dir);
  const store = openStore(paths.database);
  try {
    const authority = new Authority(loadCa(paths), store, "https://127.0.0.1/crl");
    const { record } = buildToken(
      { name: "bench-inproc", dns: ["registry.lan"], ip: ["10.0.0.0/24"], rate: "100000000/1s" },
      Date.now(),
      loadTokenKey(paths.tokenKey).key,
    );
    await store.tokens.create(record);
    const signOnce = () => authority.sign(record, csr.der, undefined);

    const slice = Math.min(0.5, seconds / 4);
    await timeBatches(slice / 2, BATCH, signOnce); // warm-up
    const parse = timeSync(slice, () => parseCsr(csr.der));
    const sequential = await timeBatches(slice, 1, signOnce);
    const batched = await timeBatches(seconds, BATCH, signOnce);

    const issued = await signOnce();
    const sample = await recordSample(store, record.id, issued.certificate);
    const recorded = await timeBatches(slice, BATCH, () => store.recordIssued(sample(), null, Date.now()));

    // A certificate renews once (its successor renews next): each slot renews a chain, the
    // certificate each renewal returns being the credential of the next.
    const chains = await Promise.all(
      Array.from({ length: BATCH }, async () => pemToDer((await signOnce()).certificate)),
    );
    const renewed = await timeBatches(slice, BATCH, async (slot) => {
      chains[slot] = pemToDer((await authority.renew(chains[slot] ?? null, null)).certificate);
    });

    const signMicrosBatched = microsEach(batched);
    const parseCsrMicros = microsEach(parse);
    const recordMicrosBatched = microsEach(recorded);
    return {
      signPerSecond: perSecond(batched),
      signMicrosBatched,
      signMicrosSequential: microsEach(sequential),
      parseCsrMicros,
      recordMicrosBatched,
      restMicros: signMicrosBatched - parseCsrMicros - rawMicrosPerSign - recordMicrosBatched,
      renewPerSecond: perSecond(renewed),
    };
  } finally {
    await store.close();
  }
}

/** Certificate records like the ones sign writes, each with a fresh serial, to time the store alone. */
async function recordSample(
  store: ReturnType<typeof openStore>,
  tokenId: string,
  pem: string,
): Promise<() => CertificateRecord> {
  const first = (await store.certificates.page({ now: Date.now(), states: INVENTORY_STATES, limit: 1 }))
    .rows[0];
  const fromStore = first ? await store.certificates.bySerial(first.serial) : null;
  const now = Date.now();
  const base: CertificateRecord = fromStore ?? {
    serial: "",
    tokenId,
    renewedFrom: null,
    commonName: "registry.lan",
    dnsNames: ["registry.lan"],
    ipAddresses: ["10.0.0.5"],
    notBefore: now,
    notAfter: now + 30 * 86_400_000,
    keyFingerprint: randomBytes(32).toString("hex"),
    pem,
    createdAt: now,
    revokedAt: null,
    revocationReason: null,
  };
  return () => ({ ...base, serial: randomBytes(16).toString("hex") });
}
