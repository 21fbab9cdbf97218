/**
 * A minimal DER encoder and reader: just the TLV handling the hot issuance path needs, so that
 * a leaf certificate is assembled from bytes that are mostly precomputed. Structures follow
 * X.690 (DER) and RFC 5280.
 */

export const Tag = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  PRINTABLE_STRING: 0x13,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

function lengthBytes(len: number): number[] {
  if (len < 0x80) return [len];
  const out: number[] = [];
  for (let n = len; n > 0; n = Math.floor(n / 256)) out.unshift(n & 0xff);
  return [0x80 | out.length, ...out];
}

/** Encodes one TLV whose content is the concatenation of `parts`. */
export function tlv(tag: number, ...parts: Uint8Array[]): Buffer {
  let len = 0;
  for (const p of parts) len += p.length;
  return Buffer.concat(
    [Buffer.from([tag, ...lengthBytes(len)]), ...parts],
    1 + lengthBytes(len).length + len,
  );
}

export const seq = (...parts: Uint8Array[]) => tlv(Tag.SEQUENCE, ...parts);
export const set = (...parts: Uint8Array[]) => tlv(Tag.SET, ...parts);
export const octets = (content: Uint8Array) => tlv(Tag.OCTET_STRING, content);
export const bitString = (content: Uint8Array, unusedBits = 0) =>
  tlv(Tag.BIT_STRING, Buffer.from([unusedBits]), content);
export const explicit = (n: number, ...parts: Uint8Array[]) => tlv(0xa0 | n, ...parts);
export const BOOLEAN_TRUE = Buffer.from([Tag.BOOLEAN, 1, 0xff]);

/** An unsigned big-endian integer, given as bytes, as a DER INTEGER (minimal, positive). */
export function unsignedInteger(bytes: Uint8Array): Buffer {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  const pad = (bytes[i] ?? 0) & 0x80 ? 1 : 0;
  const len = pad + bytes.length - i;
  // one buffer: an issuance's serial goes through here
  const out = Buffer.allocUnsafe(headerSize(len) + len);
  let at = putHeader(out, 0, Tag.INTEGER, len);
  if (pad) out[at++] = 0;
  for (; i < bytes.length; i++) out[at++] = bytes[i] ?? 0;
  return out;
}

export function smallInteger(n: number): Buffer {
  const bytes: number[] = [];
  let v = n;
  do {
    bytes.unshift(v & 0xff);
    v = Math.floor(v / 256);
  } while (v > 0);
  return unsignedInteger(Buffer.from(bytes));
}

export function oid(dotted: string): Buffer {
  const arcs = dotted.split(".").map((s) => Number(s));
  const [a = 0, b = 0, ...rest] = arcs;
  // X.690 8.19: the first two arcs share one subidentifier; every subidentifier is base-128.
  return tlv(Tag.OID, Buffer.from([40 * a + b, ...rest].flatMap(base128)));
}

function base128(arc: number): number[] {
  const chunk: number[] = [arc & 0x7f];
  for (let v = Math.floor(arc / 128); v > 0; v = Math.floor(v / 128)) chunk.unshift(0x80 | (v & 0x7f));
  return chunk;
}

const pad2 = (n: number) => (n < 10 ? `0${n}` : String(n));

/** RFC 5280 4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050, always in Z, no fractions. */
export function time(date: Date): Buffer {
  const y = date.getUTCFullYear();
  const rest =
    pad2(date.getUTCMonth() + 1) +
    pad2(date.getUTCDate()) +
    pad2(date.getUTCHours()) +
    pad2(date.getUTCMinutes()) +
    pad2(date.getUTCSeconds()) +
    "Z";
  if (y >= 1950 && y < 2050) return tlv(Tag.UTC_TIME, Buffer.from(pad2(y % 100) + rest, "latin1"));
  return tlv(Tag.GENERALIZED_TIME, Buffer.from(String(y) + rest, "latin1"));
}

/**
 * Writing DER in place, for the hot path: the caller adds up the sizes (headerSize + content),
 * allocates once and writes each header and part at its offset, instead of tlv's buffer per
 * element and a copy per nesting level. The bytes are the same as tlv's.
 */

/** Bytes of the tag and length of an element with `len` content bytes. */
export function headerSize(len: number): number {
  return len < 0x80 ? 2 : len < 0x100 ? 3 : len < 0x10000 ? 4 : len < 0x1000000 ? 5 : 6;
}

/** Writes an element's tag and length at `at`; returns where its content starts. */
export function putHeader(buf: Uint8Array, at: number, tag: number, len: number): number {
  buf[at++] = tag;
  if (len < 0x80) {
    buf[at++] = len;
    return at;
  }
  const n = headerSize(len) - 2;
  buf[at++] = 0x80 | n;
  for (let i = n - 1; i >= 0; i--) buf[at++] = Math.floor(len / 256 ** i) & 0xff;
  return at;
}

/** Copies `part` to `at`; returns the offset after it. */
export function putBytes(buf: Uint8Array, at: number, part: Uint8Array): number {
  buf.set(part, at);
  return at + part.length;
}

/** The whole element time(date) encodes, in bytes. */
export function timeSize(date: Date): number {
  const y = date.getUTCFullYear();
  if (y >= 1950 && y < 2050) return 15;
  return 2 + String(y).length + 11;
}

const put2 = (buf: Uint8Array, at: number, n: number) => {
  buf[at] = 0x30 + Math.floor(n / 10);
  buf[at + 1] = 0x30 + (n % 10);
};

/** Writes time(date) at `at`, byte for byte; returns the offset after it. */
export function putTime(buf: Uint8Array, at: number, date: Date): number {
  const y = date.getUTCFullYear();
  let pos: number;
  if (y >= 1950 && y < 2050) {
    pos = putHeader(buf, at, Tag.UTC_TIME, 13);
    put2(buf, pos, y % 100);
    pos += 2;
  } else {
    const year = String(y);
    pos = putHeader(buf, at, Tag.GENERALIZED_TIME, year.length + 11);
    for (let i = 0; i < year.length; i++) buf[pos++] = year.charCodeAt(i);
  }
  put2(buf, pos, date.getUTCMonth() + 1);
  put2(buf, pos + 2, date.getUTCDate());
  put2(buf, pos + 4, date.getUTCHours());
  put2(buf, pos + 6, date.getUTCMinutes());
  put2(buf, pos + 8, date.getUTCSeconds());
  pos += 10;
  buf[pos] = 0x5a; // "Z"
  return pos + 1;
}

/** One TLV as found in a buffer: where its content starts and where the whole element ends. */
export interface Element {
  tag: number;
  /** offset of the tag byte */
  start: number;
  /** offset of the first content byte */
  contentStart: number;
  /** offset just past the element */
  end: number;
}

export class DerError extends Error {}

export function readElement(buf: Uint8Array, offset: number, limit = buf.length): Element {
  if (offset + 2 > limit) throw new DerError("truncated DER element");
  const tag = buf[offset] ?? 0;
  if ((tag & 0x1f) === 0x1f) throw new DerError("multi-byte DER tags are not supported");
  let first = buf[offset + 1] ?? 0;
  let pos = offset + 2;
  let len = first;
  if (first & 0x80) {
    first &= 0x7f;
    if (first === 0 || first > 4) throw new DerError("unsupported DER length");
    len = 0;
    for (let i = 0; i < first; i++) {
      if (pos >= limit) throw new DerError("truncated DER length");
      len = len * 256 + (buf[pos++] ?? 0);
    }
    if (len < 0x80 || (first > 1 && len < 256 ** (first - 1))) throw new DerError("non-minimal DER length");
  }
  const end = pos + len;
  if (end > limit) throw new DerError("DER element runs past its container");
  return { tag, start: offset, contentStart: pos, end };
}

/** The elements directly inside a constructed element. */
export function children(buf: Uint8Array, parent: Element): Element[] {
  const out: Element[] = [];
  let pos = parent.contentStart;
  while (pos < parent.end) {
    const el = readElement(buf, pos, parent.end);
    out.push(el);
    pos = el.end;
  }
  return out;
}

export function expectTag(el: Element | undefined, tag: number, what: string): Element {
  if (!el || el.tag !== tag) throw new DerError(`expected ${what}`);
  return el;
}

export const contentOf = (buf: Uint8Array, el: Element) => buf.subarray(el.contentStart, el.end);
export const bytesOf = (buf: Uint8Array, el: Element) => buf.subarray(el.start, el.end);

const oidContents = new Map<string, Buffer>();

/**
 * Whether `el` is the OBJECT IDENTIFIER `dotted`, compared as bytes: nothing is decoded, so a
 * parser on the hot path allocates no strings to learn which OID it holds.
 */
export function isOid(buf: Uint8Array, el: Element, dotted: string): boolean {
  let content = oidContents.get(dotted);
  if (!content) {
    const der = oid(dotted);
    content = der.subarray(readElement(der, 0).contentStart);
    oidContents.set(dotted, content);
  }
  if (el.tag !== Tag.OID || el.end - el.contentStart !== content.length) return false;
  for (let i = 0; i < content.length; i++) if (buf[el.contentStart + i] !== content[i]) return false;
  return true;
}

export function decodeOid(content: Uint8Array): string {
  const arcs: number[] = [];
  let v = 0;
  for (const byte of content) {
    v = v * 128 + (byte & 0x7f);
    if (!(byte & 0x80)) {
      if (arcs.length === 0) {
        const first = v < 80 ? Math.floor(v / 40) : 2;
        arcs.push(first, v - 40 * first);
      } else arcs.push(v);
      v = 0;
    }
  }
  return arcs.join(".");
}
