import { envFlags, LOG_LEVELS } from "../../../shared/cli.js";
import { DEFAULT_HOME } from "../config.js";

/** The agent's flags: each also read from CERTYARD_AGENT_<FLAG>. */
export const { flag, listFlag, switchFlag } = envFlags("CERTYARD_AGENT");

export const homeFlag = () => flag("--home <dir>", "the agent's state directory").default(DEFAULT_HOME);

export const logFlag = () =>
  flag("--log-level <level>", "pino log level").choices(LOG_LEVELS).default("info");

export const verifyTimeoutFlag = () =>
  flag("--verify-timeout <dur>", "how long --verify waits for the new certificate").default("60s");
