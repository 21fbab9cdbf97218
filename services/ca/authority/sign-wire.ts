import type { KeyObject } from "node:crypto";
import type { ProblemKind } from "../../../shared/problem.js";
import type { ParsedCsr } from "../core/csr.js";
import type { LeafFields, LeafTemplate } from "../core/profile.js";

/**
 * The messages between threadSigner (signer-thread.ts) and its thread (sign-worker.ts). Every
 * byte field crosses as a Uint8Array that owns its whole ArrayBuffer: structured clone copies a
 * view's entire backing buffer, and a small Buffer is a slice of node's 8 KiB pool (or of the
 * request body's), so a slice posted as it is ships kilobytes of other data and garbage with it.
 */
export type ToThread =
  | { op: "parse"; id: number; der: Uint8Array }
  | { op: "use"; key: KeyObject; template: LeafTemplate }
  | { op: "sign"; id: number; fields: LeafFields };

export type FromThread =
  | { id: number; csr: ParsedCsr }
  | { id: number; pem: string }
  | { id: number; problem: { kind: ProblemKind; detail: string; extra: Record<string, unknown> } }
  | { id: number; error: string };

/** `bytes` in a buffer of its own: the same view when it already is, else a copy. */
export function own(bytes: Uint8Array): Uint8Array {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength
    ? bytes
    : new Uint8Array(bytes);
}

/** A received Uint8Array as a Buffer over the same memory (what the profile and callers expect). */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** The fields that a ParsedCsr, LeafTemplate or LeafFields carries as Buffers, posted as own() copies. */
type BytesOf<T> = { [K in keyof T]: T[K] extends Buffer ? Uint8Array : T[K] };

function mapBytes<T extends object>(o: T, f: (b: Uint8Array) => Uint8Array): BytesOf<T> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) out[k] = v instanceof Uint8Array ? f(v) : v;
  // the same keys with each Uint8Array mapped: the shape BytesOf<T> names
  return out as BytesOf<T>;
}

/** For postMessage: every byte field in its own buffer. */
export function posted<T extends object>(o: T): T {
  // Buffer -> Uint8Array is what the receiver gets anyway; received() turns them back
  return mapBytes(o, own) as unknown as T;
}

/** After postMessage: every byte field a Buffer again, over the received memory. */
export function received<T extends object>(o: T): T {
  return mapBytes(o, asBuffer) as unknown as T;
}
