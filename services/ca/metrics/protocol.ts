/**
 * The cluster's metrics messages: a worker asked for GET /metrics asks the primary, which
 * gathers every worker's series (prom-client's AggregatorRegistry) and answers with the whole
 * process tree's exposition. Apart from the code that loads prom-client, so the primary only
 * loads it when a scrape comes.
 */
export const METRICS_ASK = "certyard:metrics-ask";
export const METRICS_ANSWER = "certyard:metrics-answer";

export interface MetricsAsk {
  type: typeof METRICS_ASK;
  id: number;
}
export interface MetricsAnswer {
  type: typeof METRICS_ANSWER;
  id: number;
  text?: string;
  error?: string;
}

export const isMetricsAsk = (m: unknown): m is MetricsAsk =>
  typeof m === "object" && m !== null && (m as { type?: unknown }).type === METRICS_ASK;
export const isMetricsAnswer = (m: unknown): m is MetricsAnswer =>
  typeof m === "object" && m !== null && (m as { type?: unknown }).type === METRICS_ANSWER;
