/**
 * Work repeated every `ms`, one run at a time: a turn that comes while the last run goes on is
 * skipped. A plain `setInterval(async () => ...)` starts a second run beside a slow first one,
 * and two runs of "renew the serving certificate when it is due" both find it due and issue two
 * certificates (what a loaded CI machine once did). An error ends that run only: `onError` gets
 * it and the next turn runs as usual. The timer does not keep the process alive.
 */
export interface Periodic {
  /** Runs the work now unless a run is going on; resolves when the run it started, or found, ends. */
  runNow(): Promise<void>;
  /** No more turns; resolves once a run going on has ended (so what it uses may then be closed). */
  stop(): Promise<void>;
}

export function every(
  ms: number,
  work: () => Promise<void> | void,
  onError: (err: unknown) => void,
): Periodic {
  let running: Promise<void> | null = null;
  let stopped = false;
  const run = async () => {
    try {
      await work();
    } catch (err) {
      onError(err);
    }
  };
  const runNow = (): Promise<void> => {
    if (stopped) return running ?? Promise.resolve();
    // .finally's callback runs later than this assignment, even when `work` returns at once
    running ??= run().finally(() => {
      running = null;
    });
    return running;
  };
  const timer = setInterval(() => void runNow(), ms);
  timer.unref();
  return {
    runNow,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}
