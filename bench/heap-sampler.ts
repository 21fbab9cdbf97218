/**
 * Loaded into `serve` by BENCH_ONLY=garbage (NODE_OPTIONS=--import): on the first SIGUSR2, V8's
 * sampling heap profiler starts, keeping the samples of objects that garbage collection has
 * already freed (so it counts what was allocated, not what is still alive); on the second, it
 * stops and the profile is written to CERTYARD_BENCH_HEAP_DIR/heap-PID.json.
 */
import { renameSync, writeFileSync } from "node:fs";
import { Session } from "node:inspector";
import { join } from "node:path";

const dir = process.env.CERTYARD_BENCH_HEAP_DIR;
let session: Session | null = null;
if (dir)
  process.on("SIGUSR2", () => {
    if (!session) {
      session = new Session();
      session.connect();
      session.post("HeapProfiler.startSampling", {
        samplingInterval: 1024,
        includeObjectsCollectedByMajorGC: true,
        includeObjectsCollectedByMinorGC: true,
      });
      return;
    }
    session.post("HeapProfiler.stopSampling", (err, result) => {
      const out = join(dir, `heap-${process.pid}.json`);
      writeFileSync(`${out}.part`, JSON.stringify(err ? { error: String(err) } : result.profile));
      // renamed once complete: the bench waits for this name
      renameSync(`${out}.part`, out);
    });
  });
