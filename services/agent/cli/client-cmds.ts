import { Argument, type Command } from "commander";
import {
  DEFAULT_CONTAINERD_CERTS_DIR,
  DEFAULT_CONTAINERD_CONFIG,
  DEFAULT_CONTAINERS_CERTS_DIR,
  DEFAULT_DOCKER_CERTS_DIR,
  DEFAULT_HOSTS_FILE,
} from "../config.js";
import type { TrustRecord } from "../state.js";
import { flag, homeFlag, listFlag, switchFlag } from "./options.js";

/**
 * The Docker-client side of the agent: htpasswd, trust, doctor. Each action loads its module
 * when it runs; errors are thrown as one-line Errors for main.ts to print, and a "no" answer
 * (a wrong password, a problem found) sets process.exitCode = 1 after printing.
 */

export function registerClientCommands(program: Command): void {
  program
    .command("htpasswd")
    .description("add, remove or check a bcrypt entry of the registry's htpasswd file (password on stdin)")
    .addArgument(new Argument("<op>", "what to do").choices(["add", "remove", "verify"]))
    .argument("<user>", "user name (no ':' or whitespace)")
    .addOption(flag("--file <path>", "the htpasswd file").makeOptionMandatory())
    .addOption(flag("--cost <n>", "bcrypt cost").default("10"))
    .action(async (op: "add" | "remove" | "verify", user: string, o: { file: string; cost: string }) => {
      const h = await import("../actions/htpasswd.js");
      h.validateUser(user);
      const cost = h.parseCost(o.cost);
      const password = op === "remove" ? undefined : await h.readPasswordLine(process.stdin);
      const result = h.applyHtpasswd(op, { file: o.file, user, password, cost });
      if (result.ok) process.stdout.write(`${result.message}\n`);
      else {
        process.stderr.write(`${result.message}\n`);
        process.exitCode = 1;
      }
    });

  program
    .command("trust")
    .description(
      "install the CA's root for Docker, podman/CRI-O/skopeo, containerd, and on request the OS store, a buildx builder, browsers and Java",
    )
    .addOption(listFlag("--registry <host:port>", "registry clients pull from (repeatable)"))
    .addOption(switchFlag("--system", "also install the root into the OS trust store"))
    .addOption(flag("--buildkit <name>", "also into this buildx builder's buildkitd.toml"))
    .addOption(
      switchFlag("--nss", "also into the invoking user's Firefox and Chromium NSS databases (certutil)"),
    )
    .addOption(switchFlag("--java", "also into the default JDK's cacerts (keytool)"))
    .addOption(switchFlag("--remove", "take out what trust put in, for the same flags"))
    .addOption(listFlag("--hosts <name=ip>", "keep a managed /etc/hosts line (repeatable)"))
    .addOption(
      flag("--docker-certs-dir <dir>", "Docker's certificate directory").default(DEFAULT_DOCKER_CERTS_DIR),
    )
    .addOption(
      flag("--containers-certs-dir <dir>", "podman's, CRI-O's, skopeo's and buildah's").default(
        DEFAULT_CONTAINERS_CERTS_DIR,
      ),
    )
    .addOption(
      flag("--containerd-certs-dir <dir>", "containerd's hosts directory").default(
        DEFAULT_CONTAINERD_CERTS_DIR,
      ),
    )
    .addOption(flag("--hosts-file <file>", "the hosts file").default(DEFAULT_HOSTS_FILE))
    .addOption(homeFlag())
    .action(
      async (o: {
        registry?: string[];
        system?: boolean;
        buildkit?: string;
        nss?: boolean;
        java?: boolean;
        remove?: boolean;
        hosts?: string[];
        dockerCertsDir: string;
        containersCertsDir: string;
        containerdCertsDir: string;
        hostsFile: string;
        home: string;
      }) => {
        const { AgentHome, recordTrust } = await import("../state.js");
        const { parseRegistry, trust } = await import("../actions/trust.js");
        // a mistyped registry is named before a home that is not bootstrapped
        for (const r of o.registry ?? []) parseRegistry(r);
        const { trustEnvironment } = await import("../config.js");
        const env = trustEnvironment();
        const home = new AgentHome(o.home);
        const places: TrustRecord = {
          registries: o.registry ?? [],
          system: o.system === true,
          ...(o.buildkit === undefined ? {} : { buildkit: o.buildkit }),
          nss: o.nss === true,
          java: o.java === true,
          dockerCertsDir: o.dockerCertsDir,
          containersCertsDir: o.containersCertsDir,
          containerdCertsDir: o.containerdCertsDir,
          buildxDir: env.buildxDir,
          javaKeystore: env.javaKeystore,
          userHome: env.userHome,
        };
        const { lines, warnings } = trust(
          {
            ...places,
            rootPem: home.rootPem(),
            hosts: o.hosts ?? [],
            remove: o.remove === true,
            hostsFile: o.hostsFile,
          },
          { pathEnv: env.pathEnv, userHome: env.userHome },
        );
        // check-root installs a root the CA rotates in at the same places
        if (places.registries.length || places.system || places.nss || places.java) {
          try {
            home.saveTrustRecords(recordTrust(home.trustRecords(), places, o.remove === true));
          } catch (err) {
            warnings.push(
              `cannot record where the root went in ${o.home} (${(err as Error).message}): after a root rotation, run trust again`,
            );
          }
        }
        for (const w of warnings) process.stderr.write(`warning: ${w}\n`);
        if (o.remove && lines.length === 0) lines.push("nothing of certyard's to remove");
        process.stdout.write(lines.map((l) => `${l}\n`).join(""));
      },
    );

  program
    .command("doctor")
    .description(
      "connect to a registry and explain what a Docker client would say about its TLS, and the fix",
    )
    .argument("<host:port>", "the registry, as in the image name")
    .addOption(flag("--ca-file <file>", "check against this root instead of the agent's"))
    .addOption(
      flag("--docker-certs-dir <dir>", "Docker's certificate directory").default(DEFAULT_DOCKER_CERTS_DIR),
    )
    .addOption(
      flag("--containerd-certs-dir <dir>", "containerd's hosts directory").default(
        DEFAULT_CONTAINERD_CERTS_DIR,
      ),
    )
    .addOption(flag("--containerd-config <file>", "containerd's config").default(DEFAULT_CONTAINERD_CONFIG))
    .addOption(homeFlag())
    .action(
      async (
        target: string,
        o: {
          caFile?: string;
          dockerCertsDir: string;
          containerdCertsDir: string;
          containerdConfig: string;
          home: string;
        },
      ) => {
        const { doctor } = await import("../doctor/index.js");
        const report = await doctor({
          target,
          caFile: o.caFile,
          home: o.home,
          dockerCertsDir: o.dockerCertsDir,
          containerdCertsDir: o.containerdCertsDir,
          containerdConfig: o.containerdConfig,
        });
        process.stdout.write(report.lines.map((l) => `${l}\n`).join(""));
        if (!report.ok) process.exitCode = 1;
      },
    );
}
