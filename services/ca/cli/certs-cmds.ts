import { once } from "node:events";
import type { Writable } from "node:stream";
import { type InventorySearch, inventorySearch } from "../authority/certificates.js";
import { TABLE_HEADER } from "../core/views.js";
import { requireInitialised } from "../keys/paths.js";
import { openInventoryAt } from "../store/inventory-open.js";
import { type DataOpts, dataPaths } from "./options.js";

/*
 * `certs list`, apart from the other admin commands: it opens only the inventory (on SQLite its
 * two store modules, store/inventory-open.ts), not the token, EAB, host and audit services (jose,
 * zod and the rest of parts.ts), which took a sixth of a second of its start. A million-row
 * inventory must list in under a second.
 */

export type CertsListOpts = DataOpts & { json?: boolean } & InventorySearch;

/**
 * The inventory to `out`, streamed: rows are read a page (on PostgreSQL a window) at a time and
 * written as they come, waiting for `out` to drain, so a million rows need no more memory than a
 * few pages.
 */
export async function certsList(o: CertsListOpts, out: Writable = process.stdout): Promise<void> {
  const { data, db, json, ...search } = o;
  const paths = dataPaths({ data, db });
  requireInitialised(paths);
  const store = await openInventoryAt(paths.db);
  try {
    const certificates = inventorySearch(
      store.certificates,
      Date.now,
      (t) => store.tokens.idOf(t),
      store.streamRows,
    );
    const rows = certificates.searchText(search, json === true);
    const text = json ? jsonArray(rows) : table(rows);
    await writeAll(out, text);
  } finally {
    await store.close();
  }
}

/** JSON.stringify(rows, null, 2) and a newline, around the text of its elements. */
async function* jsonArray(elements: AsyncIterable<Buffer | string>): AsyncGenerator<string | Buffer> {
  let first = true;
  for await (const chunk of elements) {
    if (chunk.length === 0) continue;
    if (first) yield "[\n";
    yield chunk;
    first = false;
  }
  yield first ? "[]\n" : "\n]\n";
}

async function* table(lines: AsyncIterable<Buffer | string>): AsyncGenerator<string | Buffer> {
  yield TABLE_HEADER;
  yield* lines;
}

/**
 * Writes the chunks in blocks of about 64 KiB, waiting for `out` to drain when it asks to; a
 * Buffer (a page of --json, some 470 KiB, or a block of PostgreSQL's text) goes as it is, after
 * the text before it.
 */
async function writeAll(out: Writable, chunks: AsyncIterable<string | Buffer>): Promise<void> {
  let block = "";
  const write = async (chunk: string | Buffer) => {
    if (!out.write(chunk)) await once(out, "drain");
  };
  for await (const chunk of chunks) {
    if (typeof chunk !== "string") {
      if (block) await write(block);
      block = "";
      await write(chunk);
      continue;
    }
    block += chunk;
    if (block.length >= 65_536) {
      await write(block);
      block = "";
    }
  }
  if (block) await write(block);
}
