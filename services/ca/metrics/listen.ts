import { createServer } from "node:http";

/** Prometheus text exposition format 0.0.4, what prom-client writes. */
export const EXPOSITION_TYPE = "text/plain; version=0.0.4; charset=utf-8";

export interface MetricsListener {
  port: number;
  close(): Promise<void>;
}

/**
 * `serve --metrics-listen HOST:PORT`: GET /metrics over plain HTTP without authentication, for a
 * Prometheus on a trusted network; nothing else is served there. Uses node:http only, so the
 * cluster primary can run it without loading the CA.
 */
export function listenForMetrics(
  host: string,
  port: number,
  exposition: () => Promise<string>,
  onError: (err: unknown) => void,
): Promise<MetricsListener> {
  const server = createServer((req, res) => {
    const path = (req.url ?? "").split("?")[0];
    const problem = (status: number, title: string, detail: string, headers: Record<string, string> = {}) => {
      res.writeHead(status, { "content-type": "application/problem+json", ...headers });
      res.end(JSON.stringify({ type: "about:blank", title, status, detail }));
    };
    if (path !== "/metrics") return problem(404, "Not Found", "only GET /metrics is served here");
    if (req.method !== "GET" && req.method !== "HEAD")
      return problem(405, "Method Not Allowed", "GET /metrics", { allow: "GET, HEAD" });
    exposition().then(
      (text) => {
        res.writeHead(200, { "content-type": EXPOSITION_TYPE, "content-length": Buffer.byteLength(text) });
        res.end(req.method === "HEAD" ? undefined : text);
      },
      (err: unknown) => {
        onError(err);
        problem(503, "Service Unavailable", "the metrics could not be gathered; see the CA's log");
      },
    );
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      const address = server.address();
      resolve({
        port: typeof address === "object" && address ? address.port : port,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}
