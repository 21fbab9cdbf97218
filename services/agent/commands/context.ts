import { existsSync } from "node:fs";
import { parseDuration } from "../../../shared/duration.js";
import { createLogger, type Logger } from "../../../shared/log.js";
import type { LogFormat } from "../../../shared/log-format.js";
import { type DockerClient, dockerClient, dockerEndpoint } from "../actions/docker.js";
import { caClient } from "../issuers/ca-client.js";
import { AgentHome } from "../state.js";

/** What every agent command is built from, read once from flags and the environment. */
export interface AgentContext {
  home: AgentHome;
  docker: DockerClient;
  log: Logger;
  now: () => number;
  random: () => number;
  /** how long --verify waits for the new certificate to be served */
  verifyTimeoutMs: number;
}

export function agentContext(o: {
  home: string;
  logLevel?: string;
  logFormat?: LogFormat;
  verifyTimeout?: string;
}): AgentContext {
  return {
    verifyTimeoutMs: parseDuration(o.verifyTimeout ?? "60s"),
    home: new AgentHome(o.home),
    docker: dockerClient(dockerEndpoint(process.env.DOCKER_HOST)),
    log: createLogger("certyard-agent", o.logLevel ?? "info", o.logFormat),
    now: Date.now,
    random: Math.random,
  };
}

export function clientFor(ctx: AgentContext) {
  const ca = ctx.home.ca();
  return { ca, client: caClient({ url: ca.url, rootPem: ca.rootPem }) };
}

/** A home that is not there is a wrong --home (or CERTYARD_AGENT_HOME), not "nothing to do". */
export function requireHome(ctx: AgentContext): void {
  if (!existsSync(ctx.home.dir)) {
    throw new Error(`${ctx.home.dir} does not exist: give the --home that certyard-agent cert used`);
  }
}
