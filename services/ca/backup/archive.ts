import { createHash } from "node:crypto";
import { closeSync, createReadStream, createWriteStream, fsyncSync, openSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import { pipeline } from "node:stream/promises";
import { create, Parser, type ReadEntry } from "tar";
import { z } from "zod";
import { MANIFEST } from "./contents.js";

/**
 * The backup file: a gzip'd tar (POSIX pax) whose first entry, MANIFEST.json, lists every other
 * entry with its size and SHA-256. Why tar.gz: an operator can look into it (`tar tzvf`) and, in
 * need, unpack it by hand with nothing but tar; why the manifest: tar checksums only its
 * headers and gzip's CRC is no defence against an edited archive, so restore checks each
 * file's SHA-256 before anything is moved into place. tar is npm's own tar (node-tar).
 */

export const FORMAT = "certyard-backup/1";

const manifestSchema = z
  .object({
    format: z.literal(FORMAT),
    createdAt: z.iso.datetime(),
    certyard: z.string(),
    rootFingerprint: z.string().regex(/^[0-9a-f]{64}$/),
    files: z
      .array(
        z
          .object({
            path: z.string().min(1).max(200),
            size: z.number().int().nonnegative(),
            sha256: z.string().regex(/^[0-9a-f]{64}$/),
          })
          .strict(),
      )
      .max(10_000),
  })
  .strict();
export type Manifest = z.infer<typeof manifestSchema>;

export function parseManifest(text: string): Manifest {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new Error(`${MANIFEST} is not JSON`);
  }
  const parsed = manifestSchema.safeParse(data);
  if (!parsed.success) {
    throw new Error(`${MANIFEST} is not a ${FORMAT} manifest: ${parsed.error.issues[0]?.message ?? "?"}`);
  }
  return parsed.data;
}

export async function sha256File(path: string): Promise<{ sha256: string; size: number }> {
  const hash = createHash("sha256");
  let size = 0;
  for await (const chunk of createReadStream(path) as AsyncIterable<Buffer>) {
    hash.update(chunk);
    size += chunk.length;
  }
  return { sha256: hash.digest("hex"), size };
}

/** Writes the tar.gz of `names` (relative to `dir`, MANIFEST.json first) to `out`, created 0600. */
export async function writeArchive(dir: string, names: string[], out: string): Promise<void> {
  const pack = create({ cwd: dir, gzip: true, portable: true }, [MANIFEST, ...names]);
  await pipeline(pack, createWriteStream(out, { flags: "wx", mode: 0o600 }));
  const fd = openSync(out, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export interface ReadFile {
  path: string;
  size: number;
  sha256: string;
}

/**
 * Reads an archive into `dir`: each entry passes `accept` (a relative path the backup may hold,
 * which returns the mode to create it with) or the whole read fails. Only regular files; each
 * is created with O_EXCL (a name twice fails) and hashed as it is written. The manifest is
 * returned as text (at most 1 MiB), not written.
 */
export async function readArchive(
  file: string,
  dir: string,
  accept: (path: string) => number,
): Promise<{ manifest: string | null; files: ReadFile[] }> {
  let manifest: string | null = null;
  const files: ReadFile[] = [];
  const pending: Promise<void>[] = [];
  let failure: unknown = null;
  const fail = (e: unknown) => {
    failure ??= e;
  };
  const parser = new Parser({
    strict: true,
    onReadEntry: (entry: ReadEntry) => {
      pending.push(
        readEntry(entry).catch((e) => {
          fail(e);
          entry.resume();
        }),
      );
    },
  });
  parser.on("warn", (_code: string, message: string) => fail(new Error(`not a certyard backup: ${message}`)));
  const readEntry = async (entry: ReadEntry) => {
    if (failure) return void entry.resume();
    const path = entry.path;
    if (entry.type !== "File") throw new Error(`unexpected ${entry.type} "${path}" in the backup`);
    if (path === MANIFEST) {
      if (manifest !== null) throw new Error(`${MANIFEST} appears twice in the backup`);
      if (entry.size > 1 << 20) throw new Error(`${MANIFEST} is too large`);
      const chunks: Buffer[] = [];
      for await (const c of entry as AsyncIterable<Buffer>) chunks.push(c);
      manifest = Buffer.concat(chunks).toString("utf8");
      return;
    }
    const mode = accept(path);
    const target = join(dir, path);
    await mkdir(dirname(target), { recursive: true, mode: 0o700 });
    const hash = createHash("sha256");
    let size = 0;
    const out = createWriteStream(target, { flags: "wx", mode });
    await pipeline(
      entry,
      async function* (source: AsyncIterable<Buffer>) {
        for await (const chunk of source) {
          hash.update(chunk);
          size += chunk.length;
          yield chunk;
        }
      },
      out,
    );
    files.push({ path, size, sha256: hash.digest("hex") });
  };
  try {
    await pipeline(createReadStream(file), parser);
  } catch (e) {
    fail(new Error(`${file} is not a readable backup: ${(e as Error).message}`));
  }
  await Promise.all(pending);
  if (failure) throw failure;
  return { manifest, files };
}
