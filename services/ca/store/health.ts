import { closeSync, fsyncSync, openSync, unlinkSync, writeSync } from "node:fs";
import { join } from "node:path";
import { storageFault } from "../../../shared/storage-fault.js";

/** After a write failed for want of storage, /healthz reports it at least this long. */
const FAULT_HOLD_MS = 5_000;
/** /healthz probes the data directory at most this often (it is open to anyone). */
const PROBE_EVERY_MS = 1_000;

/**
 * Whether the data directory takes writes. A request that fails for want of storage says so
 * (noted); /healthz asks (problem): the last such failure while it is recent, else a probe,
 * which writes, syncs and removes a small file there, so a full disk or a read-only mount shows
 * before any request fails, and the answer turns healthy again by itself once space is back.
 * SQLite's own reads keep working on a full disk, which is why a read (ping) does not tell.
 */
export function storageHealth(dataDir: string, clock: () => number = Date.now) {
  let lastFault: { reason: string; at: number } | null = null;
  let probed: { reason: string | null; at: number } = { reason: null, at: Number.NEGATIVE_INFINITY };
  const probePath = join(dataDir, `.write-probe-${process.pid}`);

  function probe(): string | null {
    let fd: number | null = null;
    try {
      fd = openSync(probePath, "w", 0o600);
      writeSync(fd, Buffer.alloc(4096));
      fsyncSync(fd);
      return null;
    } catch (err) {
      return storageFault(err) ?? `the data directory cannot be written (${(err as Error).message})`;
    } finally {
      if (fd !== null) closeSync(fd);
      try {
        unlinkSync(probePath);
      } catch {
        // not there (open failed), or the directory is read-only: nothing to clean up
      }
    }
  }

  return {
    /** A request failed: when for want of storage, remembered, and the reason returned. */
    noted(err: unknown): string | null {
      const reason = storageFault(err);
      if (reason) lastFault = { reason, at: clock() };
      return reason;
    },
    /** Why the data directory does not take writes now, or null when it does. */
    problem(): string | null {
      const now = clock();
      if (lastFault && now - lastFault.at < FAULT_HOLD_MS) return lastFault.reason;
      if (now - probed.at >= PROBE_EVERY_MS) probed = { reason: probe(), at: now };
      return probed.reason;
    },
  };
}
export type StorageHealth = ReturnType<typeof storageHealth>;
