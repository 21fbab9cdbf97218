import { join } from "node:path";

/**
 * The agent's defaults and the layout of its home. main.ts reads these before it knows which
 * command runs, and the daemon reads the home with them, so this module imports nothing that
 * costs memory (no schemas, no HTTP client, no X.509 library).
 */
export const DEFAULT_HOME = "/var/lib/certyard-agent";
export const DEFAULT_DOCKER_CERTS_DIR = "/etc/docker/certs.d";
export const DEFAULT_CONTAINERS_CERTS_DIR = "/etc/containers/certs.d";
export const DEFAULT_HOSTS_FILE = "/etc/hosts";

export function homeLayout(dir: string) {
  return {
    /** the pinned CA: URL and fingerprint */
    caJson: join(dir, "ca.json"),
    rootPem: join(dir, "root.pem"),
    /** one NAME.json record per managed certificate */
    certs: join(dir, "certs"),
  };
}
