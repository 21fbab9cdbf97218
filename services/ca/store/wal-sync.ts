import { closeSync, fdatasync, openSync } from "node:fs";
import type Database from "better-sqlite3";

/**
 * Group commit's sync, off the event loop. A batch of issuances commits with `synchronous =
 * NORMAL`, which in WAL mode writes the commit's frames to the WAL without syncing it, and this
 * then fdatasyncs the WAL on libuv's threadpool; the batch's promises settle only once that sync
 * is done. So, as with FULL, a certificate is in the inventory on disk, power loss included,
 * before its client gets it; but the event loop goes on with other requests' TLS, HTTP and
 * checks meanwhile instead of waiting out the disk in the commit (fdatasync took 1-5 ms here,
 * one per batch, with the event loop stopped: issue 16). NORMAL still syncs the WAL before a
 * checkpoint copies it into the database and the database after, so a checkpoint cannot lose
 * a commit either. Every other write of the connection keeps FULL.
 *
 * One sync at a time: batches that commit while one runs share the next, so the threadpool's
 * four threads, which also verify CSRs and sign certificates, never all wait on the disk. Group
 * commit does not even commit while a sync runs (`afterSync`): what arrives meanwhile could not
 * settle before the next sync anyway, so it waits for the running one to end and commits as one
 * batch, and the pages every commit writes (the b-trees' last leaves, page 1, the token's row)
 * are written once for all of it.
 * Linux syncs the file (its inode), whichever descriptor wrote it: the descriptor here is read-
 * only. The WAL cannot be deleted under it: SQLite removes a WAL only when its last connection
 * closes, and this connection stays open until `close`.
 */
export function walSync(sqlite: Database.Database, walPath: string) {
  let fd: number | null = null;
  let syncing = false;
  let waiting: ((err: Error | null) => void)[] = [];
  const idle: (() => void)[] = [];
  const next: (() => void)[] = [];

  function start(): void {
    const group = waiting;
    waiting = [];
    syncing = true;
    let walFd: number;
    try {
      fd ??= openSync(walPath, "r");
      walFd = fd;
    } catch (e) {
      syncing = false;
      for (const settle of group) settle(e as Error);
      return;
    }
    fdatasync(walFd, (err) => {
      syncing = false;
      for (const settle of group) settle(err);
      // a batch held back by afterSync commits now, and its durable() starts the next sync
      for (const run of next.splice(0)) run();
      if (syncing) return;
      if (waiting.length > 0) start();
      else for (const done of idle.splice(0)) done();
    });
  }

  return {
    /** Runs `commit` (one or more transactions) without syncing them in the commit. */
    unsynced<R>(commit: () => R): R {
      // exec, not a prepared statement run again: SQLite applies this pragma when it compiles it
      sqlite.exec("pragma synchronous = NORMAL");
      try {
        return commit();
      } finally {
        sqlite.exec("pragma synchronous = FULL");
      }
    },
    /** Calls `settle` once everything committed so far is on disk (or with the sync's error). */
    durable(settle: (err: Error | null) => void): void {
      waiting.push(settle);
      if (!syncing) start();
    },
    /** Runs `run` once no sync is running: now, or when the running one has settled its batches. */
    afterSync(run: () => void): void {
      if (syncing) next.push(run);
      else run();
    },
    /** Closes the WAL's descriptor once no sync uses it. */
    async close(): Promise<void> {
      if (syncing) await new Promise<void>((done) => idle.push(done));
      if (fd !== null) closeSync(fd);
      fd = null;
    },
  };
}
