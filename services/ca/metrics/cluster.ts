import type { Worker } from "node:cluster";
import { AggregatorRegistry, type PrometheusContentType, type Registry } from "prom-client";
import { isMetricsAnswer, METRICS_ANSWER, METRICS_ASK, type MetricsAsk } from "./protocol.js";

/** How long a worker waits for the primary's answer (prom-client's own wait for workers is 5 s). */
const ANSWER_TIMEOUT_MS = 10_000;

/**
 * In a cluster worker: answers the primary's requests for this worker's series (prom-client's
 * listener, set up by constructing an AggregatorRegistry), and gives GET /metrics the whole
 * tree's exposition, which only the primary can gather.
 */
export function workerExposition(registry: Registry): () => Promise<string> {
  AggregatorRegistry.setRegistries([registry]);
  new AggregatorRegistry();
  let next = 0;
  const pending = new Map<number, { resolve(text: string): void; reject(err: Error): void }>();
  process.on("message", (msg: unknown) => {
    if (!isMetricsAnswer(msg)) return;
    const p = pending.get(msg.id);
    if (!p) return;
    pending.delete(msg.id);
    if (msg.text !== undefined) p.resolve(msg.text);
    else p.reject(new Error(`gathering the workers' metrics failed: ${msg.error ?? "no answer"}`));
  });
  return () =>
    new Promise<string>((resolve, reject) => {
      const id = next++;
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new Error("the cluster primary did not answer for the metrics"));
      }, ANSWER_TIMEOUT_MS);
      pending.set(id, {
        resolve: (text) => {
          clearTimeout(timer);
          resolve(text);
        },
        reject: (err) => {
          clearTimeout(timer);
          reject(err);
        },
      });
      const ask: MetricsAsk = { type: METRICS_ASK, id };
      process.send?.(ask);
    });
}

let aggregator: AggregatorRegistry<PrometheusContentType> | null = null;

/** In the primary: every worker's series, summed (counters, histograms) or taken once (gauges). */
export function clusterExposition(): Promise<string> {
  aggregator ??= new AggregatorRegistry();
  return aggregator.clusterMetrics();
}

/** In the primary: answers a worker's GET /metrics with the whole tree's exposition. */
export function answerWorker(worker: Worker, ask: MetricsAsk): void {
  clusterExposition().then(
    (text) => worker.isConnected() && worker.send({ type: METRICS_ANSWER, id: ask.id, text }),
    (err: Error) =>
      worker.isConnected() && worker.send({ type: METRICS_ANSWER, id: ask.id, error: err.message }),
  );
}
