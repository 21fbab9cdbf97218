import { request } from "node:http";

/**
 * The Docker Engine API over its unix socket (or tcp://), without the docker CLI.
 * DOCKER_HOST is honoured: unix:///path/docker.sock or tcp://host:port.
 */
export interface DockerEndpoint {
  socketPath?: string;
  host?: string;
  port?: number;
}

export function dockerEndpoint(dockerHost: string | undefined): DockerEndpoint {
  const value = dockerHost?.trim() || "unix:///var/run/docker.sock";
  if (value.startsWith("unix://")) return { socketPath: value.slice("unix://".length) };
  if (value.startsWith("tcp://") || value.startsWith("http://")) {
    const u = new URL(value.replace(/^tcp:/, "http:"));
    return { host: u.hostname, port: Number(u.port || 2375) };
  }
  if (value.startsWith("/")) return { socketPath: value };
  throw new RangeError(`unsupported DOCKER_HOST "${value}": use unix:///path or tcp://host:port`);
}

export class DockerError extends Error {}

interface Reply {
  status: number;
  body: string;
}

function call(ep: DockerEndpoint, method: string, path: string, timeoutMs: number): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ ...ep, method, path, headers: { host: "docker" }, timeout: timeoutMs }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => {
        body += c;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("timeout", () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on("error", (e) => {
      const where = ep.socketPath ?? `${ep.host}:${ep.port}`;
      reject(new DockerError(`cannot reach the Docker engine at ${where}: ${e.message}`));
    });
    req.end();
  });
}

function message(r: Reply): string {
  try {
    return (JSON.parse(r.body) as { message?: string }).message ?? r.body.trim();
  } catch {
    return r.body.trim();
  }
}

export function dockerClient(ep: DockerEndpoint) {
  return {
    /** GET /_ping: whether the engine answers at all. */
    async ping(): Promise<void> {
      const r = await call(ep, "GET", "/_ping", 10_000);
      if (r.status !== 200) throw new DockerError(`the Docker engine answered ${r.status} to /_ping`);
    },

    /** POST /containers/{id}/restart. "missing" when there is no such container. */
    async restart(container: string, stopTimeoutSeconds = 10): Promise<"restarted" | "missing"> {
      const path = `/containers/${encodeURIComponent(container)}/restart?t=${stopTimeoutSeconds}`;
      const r = await call(ep, "POST", path, (stopTimeoutSeconds + 60) * 1000);
      if (r.status === 204) return "restarted";
      if (r.status === 404) return "missing";
      throw new DockerError(`restarting container ${container} failed: ${r.status} ${message(r)}`);
    },
  };
}
export type DockerClient = ReturnType<typeof dockerClient>;
