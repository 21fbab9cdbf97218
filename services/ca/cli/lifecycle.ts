/** What a serving process reports once it listens: the primary announces the first worker's. */
export interface Ready {
  host: string;
  port: number;
  url: string;
  /** serve guessed the public URL (no --url): say so, and how to set it */
  urlGuessed: boolean;
  fingerprint: string;
  tokenPath: string;
  /** where --metrics-listen serves GET /metrics over plain HTTP: http://HOST:PORT/metrics */
  metricsUrl?: string;
}

export function announce(r: Ready): void {
  const listen = r.host.includes(":") ? `[${r.host}]` : r.host;
  if (r.urlGuessed) {
    process.stderr.write(
      `certyard-ca: warning: the public URL ${r.url} is a guess; join strings and certificates carry it to other hosts, so if they reach this one by another name or address, restart with --url https://HOST:PORT (or CERTYARD_URL)\n`,
    );
  }
  process.stdout.write(
    `certyard-ca listening on https://${listen}:${r.port}\n` +
      `public URL: ${r.url}\n` +
      `root fingerprint: ${r.fingerprint}\n` +
      `admin token: ${r.tokenPath}\n` +
      (r.metricsUrl === undefined ? "" : `metrics: ${r.metricsUrl}\n`),
  );
}

/** Stops on SIGTERM or SIGINT, then exits 0. */
export function onSignal(stop: () => Promise<void>): void {
  const handler = () => {
    void stop().then(() => process.exit(0));
  };
  process.once("SIGTERM", handler);
  process.once("SIGINT", handler);
}
