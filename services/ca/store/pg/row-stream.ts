import type { Connection, PoolClient, Submittable } from "pg";

/** A row as PostgreSQL's text protocol sends it: each field's text, or null. */
export type TextRow = readonly (string | null)[];

/** A query's text and its parameters (drizzle's toSQL()). */
export interface TextQuery {
  text: string;
  values: readonly unknown[];
}

/** What a listing's rows are printed as, and how it goes on from a row. */
export interface TextListing<C> {
  /** the query of at most `rows` rows after `after` (from the first, for undefined), in order */
  query(after: C | undefined, rows: number): TextQuery;
  /** a row's text; `first`: the listing's first row (no separator before it) */
  text(row: TextRow, first: boolean): string;
  /** the cursor after `row`, for the next window */
  cursor(row: TextRow): C;
}

/** Sizes of listingText's text, in bytes. */
export interface TextSizes {
  /** the blocks handed to the reader */
  chunkBytes: number;
  /** text waiting for the reader past which the next window's query waits too */
  heldBytes: number;
}

const SIZES: TextSizes = { chunkBytes: 256 * 1024, heldBytes: 4 * 1024 * 1024 };

/**
 * A listing's text, in blocks of about 256 KiB (`sizes`), from windows of `windowRows` rows, one
 * query each on `client` (a connection of its own, given back at the end): each row's text is
 * made and encoded as it arrives from the socket, not once its query's result is whole, so
 * PostgreSQL sends the next rows while node prints these; a window's query goes out as the one
 * before ends, unless the reader is behind by 4 MiB. A window always reads to its end, so a
 * reader that stops or waits never leaves a query open on the server; memory stays within that
 * and one window's text. At 1,000,000 certificates, `certs list --expiring 7d` (77,500 rows):
 * bench/README.md, "certs list on PostgreSQL: rows printed as they arrive".
 */
export async function* listingText<C>(
  client: PoolClient,
  listing: TextListing<C>,
  windowRows: number,
  from?: C,
  sizes: TextSizes = SIZES,
): AsyncGenerator<Buffer> {
  const text = new WindowedText(client, listing, windowRows, sizes);
  text.start(from);
  try {
    for (;;) {
      if (text.failed) throw text.failed;
      const chunk = text.take();
      if (chunk) yield chunk;
      else if (text.finished) return;
      else await text.changed();
    }
  } finally {
    // a window still running (the reader stopped) ends before its connection goes back
    await text.idle();
    // one that failed is not given to the next user
    client.release(text.failed);
  }
}

/** The state of listingText: the windows' queries, and their text waiting for the reader. */
class WindowedText<C> {
  failed: Error | undefined;
  finished = false;
  private running = false;
  /** the next window's cursor, while the reader is heldBytes behind */
  private held: { after: C } | null = null;
  private chunk: Buffer;
  private at = 0;
  private readonly ready: Buffer[] = [];
  private readyBytes = 0;
  private first = true;
  /** rows of the running window, and its last */
  private rows = 0;
  private last: TextRow | null = null;
  private wake: (() => void) | null = null;

  constructor(
    private readonly client: PoolClient,
    private readonly listing: TextListing<C>,
    private readonly windowRows: number,
    private readonly sizes: TextSizes,
  ) {
    this.chunk = Buffer.allocUnsafe(sizes.chunkBytes * 2);
  }

  start(after: C | undefined): void {
    this.running = true;
    this.rows = 0;
    this.last = null;
    let query: TextQuery;
    try {
      query = this.listing.query(after, this.windowRows);
    } catch (e) {
      this.fail(e);
      return;
    }
    this.client.query(
      new RowsQuery(query, {
        row: (r) => this.row(r),
        end: () => this.end(),
        error: (e) => this.fail(e),
      }),
    );
  }

  /** The next block of text, if one is ready. */
  take(): Buffer | undefined {
    const chunk = this.ready.shift();
    if (chunk) this.readyBytes -= chunk.length;
    if (this.held && this.readyBytes < this.sizes.heldBytes) {
      const { after } = this.held;
      this.held = null;
      this.start(after);
    }
    return chunk;
  }

  /** Resolves when a block is ready, the listing ends or fails. */
  changed(): Promise<void> {
    return new Promise((resolve) => {
      this.wake = resolve;
    });
  }

  /** Resolves when no window's query is running. */
  async idle(): Promise<void> {
    while (this.running) await this.changed();
  }

  /** A row's text into the block; a row the listing cannot print fails it (the rest are let go). */
  private row(r: TextRow): void {
    if (this.failed) return;
    try {
      const text = this.listing.text(r, this.first);
      this.first = false;
      // a UTF-16 unit takes at most 3 bytes of UTF-8
      if (this.at + text.length * 3 > this.chunk.length) {
        this.flush();
        if (text.length * 3 > this.chunk.length) this.chunk = Buffer.allocUnsafe(text.length * 3);
      }
      this.at += this.chunk.write(text, this.at, "utf8");
      this.rows++;
      this.last = r;
      if (this.at >= this.sizes.chunkBytes) this.flush();
    } catch (e) {
      // thrown here, it would be thrown in the driver's socket handler
      this.failed = e instanceof Error ? e : new Error(String(e));
      this.signal();
    }
  }

  /** A window's query has ended: the next one goes out, waits for the reader, or the listing ends. */
  private end(): void {
    this.running = false;
    // after a row the listing could not print, nothing more is asked
    if (!this.failed) this.next();
    this.signal();
  }

  private next(): void {
    if (this.rows < this.windowRows || this.last === null) {
      this.flush();
      this.finished = true;
      return;
    }
    let after: C;
    try {
      after = this.listing.cursor(this.last);
    } catch (e) {
      this.fail(e);
      return;
    }
    if (this.readyBytes < this.sizes.heldBytes) this.start(after);
    else this.held = { after };
  }

  private fail(e: unknown): void {
    this.running = false;
    this.failed = e instanceof Error ? e : new Error(String(e));
    this.signal();
  }

  /** The text made so far to the reader, and a new block for what follows. */
  private flush(): void {
    if (this.at === 0) return;
    const done = this.chunk.subarray(0, this.at);
    this.ready.push(done);
    this.readyBytes += done.length;
    this.chunk = Buffer.allocUnsafe(this.sizes.chunkBytes * 2);
    this.at = 0;
    this.signal();
  }

  private signal(): void {
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }
}

/** The calls node-postgres makes on the query it runs (its Submittable), as RowsQuery uses them. */
interface RowsHandler {
  row(r: TextRow): void;
  end(): void;
  error(e: Error): void;
}

/**
 * One query in node-postgres's extended protocol, as its own Query sends one (parse, bind,
 * describe, execute, sync), whose rows go to `to.row` as their messages come, as the driver
 * parsed them (text), with no result kept. The Submittable interface is node-postgres's way for
 * a query object to take over a query (pg-cursor and pg-query-stream are built on it).
 */
class RowsQuery implements Submittable {
  constructor(
    private readonly query: TextQuery,
    private readonly to: RowsHandler,
  ) {}

  submit(connection: Connection): void {
    connection.parse({ name: "", text: this.query.text, types: [] }, true);
    connection.bind({ values: this.query.values.map(parameterText) }, true);
    connection.describe({ type: "P" }, true);
    connection.execute({}, true);
    connection.sync();
  }

  handleRowDescription(): void {}

  handleDataRow(message: { fields: TextRow }): void {
    this.to.row(message.fields);
  }

  handleCommandComplete(): void {}

  handleEmptyQuery(): void {}

  /** the query's end (after its rows, or after an error the server sent, which came first) */
  handleReadyForQuery(): void {
    this.to.end();
  }

  /** an error from the server (the client then calls nothing more here), or the connection's */
  handleError(e: Error): void {
    this.to.error(e);
  }
}

/** A parameter as PostgreSQL's text protocol takes it: the listings' are strings and numbers. */
function parameterText(v: unknown): string | null {
  if (v === null) return null;
  if (typeof v === "string") return v;
  if (typeof v === "number" && Number.isFinite(v)) return String(v);
  throw new TypeError(`a listing's query parameter of type ${typeof v}`);
}
