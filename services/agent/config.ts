import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

/**
 * The agent's defaults and the layout of its home. main.ts reads these before it knows which
 * command runs, and the daemon reads the home with them, so this module imports nothing that
 * costs memory (no schemas, no HTTP client, no X.509 library).
 */
export const DEFAULT_HOME = "/var/lib/certyard-agent";
export const DEFAULT_DOCKER_CERTS_DIR = "/etc/docker/certs.d";
export const DEFAULT_CONTAINERS_CERTS_DIR = "/etc/containers/certs.d";
export const DEFAULT_CONTAINERD_CERTS_DIR = "/etc/containerd/certs.d";
export const DEFAULT_CONTAINERD_CONFIG = "/etc/containerd/config.toml";
export const DEFAULT_HOSTS_FILE = "/etc/hosts";

export function homeLayout(dir: string) {
  return {
    /** the pinned CA: URL and fingerprint */
    caJson: join(dir, "ca.json"),
    rootPem: join(dir, "root.pem"),
    /** where `trust` installed the root, so that check-root installs a rotated-in root there too */
    trustJson: join(dir, "trust.json"),
    /** one NAME.json record per managed certificate */
    certs: join(dir, "certs"),
  };
}

/** Where `trust` finds what belongs to the person who ran it, read from the environment once. */
export interface TrustEnvironment {
  /** the invoking user's home: under sudo, SUDO_USER's (from /etc/passwd), else HOME */
  userHome: string;
  /** buildx's configuration folder, as buildx finds it: $BUILDX_CONFIG, $DOCKER_CONFIG/buildx, ~/.docker/buildx */
  buildxDir: string;
  /** CERTYARD_AGENT_JAVA_CACERTS: a keystore for --java instead of the default JDK's cacerts */
  javaKeystore: string | null;
  pathEnv: string;
}

export function trustEnvironment(
  env: NodeJS.ProcessEnv = process.env,
  uid: number | undefined = process.getuid?.(),
  passwd = "/etc/passwd",
): TrustEnvironment {
  let userHome = env.HOME || homedir();
  const sudoUser = env.SUDO_USER;
  if (uid === 0 && sudoUser && sudoUser !== "root") {
    const line = readFileSync(passwd, "utf8")
      .split("\n")
      .find((l) => l.split(":")[0] === sudoUser);
    const home = line?.split(":")[5];
    if (home) userHome = home;
  }
  const buildxDir =
    env.BUILDX_CONFIG ||
    (env.DOCKER_CONFIG ? join(env.DOCKER_CONFIG, "buildx") : join(userHome, ".docker", "buildx"));
  return {
    userHome,
    buildxDir,
    javaKeystore: env.CERTYARD_AGENT_JAVA_CACERTS || null,
    pathEnv: env.PATH ?? "",
  };
}
