/** Small helpers shared by the benchmark's parts: settings, clean-up, ports, CSRs and printing. */
import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { createServer } from "node:net";
import { join } from "node:path";
import { promisify } from "node:util";

export const run = promisify(execFile);

/** A duration in seconds from the environment, or the default; the smoke run sets BENCH_SECONDS=2. */
export function envSeconds(name: string, fallback: number): number {
  const text = process.env[name];
  if (text === undefined || text === "") return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0)
    throw new RangeError(`${name} must be a positive number of seconds`);
  return value;
}

export function envCount(name: string, fallback: number): number {
  const text = process.env[name];
  if (text === undefined || text === "") return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0) throw new RangeError(`${name} must be a whole number`);
  return value;
}

/** Clean-up steps, run newest first; each one runs even when an earlier one fails. */
export class Cleanup {
  private readonly steps: { what: string; step: () => Promise<void> | void }[] = [];

  /** Registers a step; the returned function takes it back off (once the caller has done it itself). */
  add(what: string, step: () => Promise<void> | void): () => void {
    const entry = { what, step };
    this.steps.push(entry);
    return () => {
      const at = this.steps.indexOf(entry);
      if (at >= 0) this.steps.splice(at, 1);
    };
  }

  async run(): Promise<void> {
    for (let next = this.steps.pop(); next; next = this.steps.pop()) {
      try {
        await next.step();
      } catch (err) {
        process.stderr.write(`clean-up "${next.what}" failed: ${describe(err)}\n`);
      }
    }
  }
}

/** A port that was free a moment ago on 127.0.0.1 (the kernel picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => {
        if (typeof address === "object" && address) resolve(address.port);
        else reject(new Error("could not find a free port"));
      });
    });
  });
}

export function pemToDer(pem: string): Buffer {
  const body = /-----BEGIN [^-]+-----([\s\S]*?)-----END [^-]+-----/.exec(pem)?.[1];
  if (body === undefined) throw new Error("no PEM block found");
  return Buffer.from(body.replace(/\s+/g, ""), "base64");
}

export interface BenchCsr {
  pem: string;
  der: Buffer;
  keyPem: string;
}

/** The one CSR every request sends: P-256, SANs DNS:registry.lan and IP:10.0.0.5, made by openssl. */
export async function makeCsr(dir: string): Promise<BenchCsr> {
  const keyPath = join(dir, "bench.key");
  const csrPath = join(dir, "bench.csr");
  await run("openssl", [
    "req",
    "-new",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
    "-keyout",
    keyPath,
    "-subj",
    "/CN=registry.lan",
    "-addext",
    "subjectAltName=DNS:registry.lan,IP:10.0.0.5",
    "-out",
    csrPath,
  ]);
  const pem = await readFile(csrPath, "utf8");
  return { pem, der: pemToDer(pem), keyPem: await readFile(keyPath, "utf8") };
}

export function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  return err.stack ?? err.message;
}

/** Figures for the final JSON line, by section. */
export type Figures = Record<string, Record<string, number | string | null>>;

export function heading(title: string): void {
  process.stdout.write(`\n== ${title}\n`);
}

export function line(label: string, value: number | string, unit = ""): void {
  const shown = typeof value === "number" ? formatNumber(value) : value;
  process.stdout.write(`  ${label.padEnd(44)} ${shown.padStart(12)}${unit ? ` ${unit}` : ""}\n`);
}

function formatNumber(value: number): string {
  if (!Number.isFinite(value) || Number.isInteger(value)) return value.toLocaleString("en-US");
  if (Math.abs(value) >= 100) return Math.round(value).toLocaleString("en-US");
  if (Math.abs(value) >= 1) return value.toFixed(2);
  return value.toFixed(3);
}

export const round = (value: number, digits = 2): number => {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
};

/** The middle value; for an even count, the mean of the two middle ones (0 for none). */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

export const sum = (values: number[]): number => values.reduce((a, b) => a + b, 0);
