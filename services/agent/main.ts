#!/usr/bin/env node
import "../../shared/node-version.js"; // first: before anything that needs a newer node
import { fileURLToPath } from "node:url";
import { certyardProgram, runProgram } from "../../shared/cli.js";
import type { LogFormat } from "../../shared/log-format.js";
import { registerClientCommands } from "./cli/client-cmds.js";
import { flag, homeFlag, listFlag, logFlag, switchFlag, verifyTimeoutFlag } from "./cli/options.js";

/**
 * certyard-agent: the CLI. Only commander and the defaults load before a command is chosen;
 * each command imports what it needs when it runs, so `run`, the long-lived daemon, never
 * loads the schemas, the HTTP client or the X.509 code its children use. Errors are one line
 * on stderr and a non-zero exit.
 */
interface RunOpts {
  home: string;
  logLevel: string;
  logFormat: LogFormat;
  verifyTimeout: string;
  metricsListen?: string;
}

const program = certyardProgram(
  "certyard-agent",
  "Gets and renews certificates from certyard, restarts registry:2, installs trust",
  flag,
);

program
  .command("bootstrap")
  .description("pin the CA: fetch its root and check it against the fingerprint")
  .addOption(flag("--ca <url>", "the CA's URL"))
  .addOption(flag("--fingerprint <sha256>", "the root's SHA-256 fingerprint, as certyard-ca prints it"))
  .addOption(flag("--join <string>", "a join string from certyard-ca token create --join"))
  .addOption(flag("--join-file <file>", "read the join string from this file (- for standard input)"))
  .addOption(homeFlag())
  .action(
    async (o: { ca?: string; fingerprint?: string; join?: string; joinFile?: string; home: string }) => {
      const { AgentHome } = await import("./state.js");
      const { bootstrap, bootstrapFromJoin } = await import("./commands/bootstrap.js");
      const { secretOption } = await import("./cli/secrets.js");
      const join = secretOption("join", o.join, o.joinFile);
      const home = new AgentHome(o.home);
      if (join) await bootstrapFromJoin(home, join);
      else if (o.ca && o.fingerprint) await bootstrap(home, o.ca, o.fingerprint);
      else throw new Error("give --ca URL --fingerprint FP, or --join STRING");
      const ca = home.ca();
      process.stdout.write(`bootstrapped ${o.home}: CA ${ca.url}, root ${ca.fingerprint}\n`);
    },
  );

program
  .command("cert")
  .description("make a key here, get a certificate, write it, reload and verify")
  .addOption(flag("--name <id>", "the name this certificate is managed under").makeOptionMandatory())
  .addOption(flag("--token <token>", "an enrolment token"))
  .addOption(flag("--token-file <file>", "read the token from this file (- for standard input)"))
  .addOption(flag("--join <string>", "a join string (bootstraps this host first)"))
  .addOption(flag("--join-file <file>", "read the join string from this file (- for standard input)"))
  .addOption(listFlag("--dns <name>", "DNS name (repeatable)"))
  .addOption(listFlag("--ip <ip>", "IP address (repeatable)"))
  .addOption(flag("--out <dir>", "where the files go").makeOptionMandatory())
  .addOption(flag("--cert-file <file>", "certificate file name (full chain), in --out"))
  .addOption(flag("--key-file <file>", "key file name, in --out"))
  .addOption(flag("--key-type <type>", "ec-p256, ec-p384, rsa-2048, rsa-3072, rsa-4096").default("ec-p256"))
  .addOption(listFlag("--reload <action>", "docker:CONTAINER or exec:COMMAND (repeatable)"))
  .addOption(flag("--verify <host:port>", "check that this endpoint serves the new certificate"))
  .addOption(flag("--validity <dur>", "requested lifetime, e.g. 720h"))
  .addOption(verifyTimeoutFlag())
  .addOption(flag("--acme <url>", "an ACME directory URL instead of certyard's token API"))
  .addOption(flag("--email <email>", "ACME account contact"))
  .addOption(flag("--eab-kid <kid>", "ACME External Account Binding key id"))
  .addOption(flag("--eab-hmac-key <key>", "ACME External Account Binding MAC key, base64url"))
  .addOption(flag("--http-01-port <port>", "answer http-01 with a listener on this port (default 80)"))
  .addOption(flag("--webroot <dir>", "answer http-01 by writing into DIR/.well-known/acme-challenge"))
  .addOption(
    flag("--dns-01-hook <command>", "answer dns-01 with this command (see CERTYARD_ACME_* in its env)"),
  )
  .addOption(flag("--acme-ca-cert <file>", "trust this CA for the ACME server's own TLS"))
  .addOption(flag("--verify-ca <file>", "with --acme: the root --verify trusts (default: the system store)"))
  .addOption(homeFlag())
  .addOption(logFlag())
  .action(async (o) => {
    const { agentContext } = await import("./commands/context.js");
    const { secretOption } = await import("./cli/secrets.js");
    o.token = secretOption("token", o.token, o.tokenFile);
    o.join = secretOption("join", o.join, o.joinFile);
    const { cert } = await import("./commands/cert.js");
    const m = await cert(agentContext(o), o);
    process.stdout.write(`${m.name}: serial ${m.serial}, expires ${m.notAfter}, renews after ${m.renewAt}\n`);
    process.stdout.write(`wrote ${m.certFile} and ${m.keyFile}\n`);
  });

program
  .command("renew")
  .description("renew the managed certificates that are due (for cron or a systemd timer)")
  .addOption(flag("--name <id>", "only this one"))
  .addOption(switchFlag("--force", "renew even if not due"))
  .addOption(switchFlag("--keep-key", "keep the current key instead of making a new one"))
  .addOption(verifyTimeoutFlag())
  .addOption(homeFlag())
  .addOption(logFlag())
  .action(async (o) => {
    const { agentContext } = await import("./commands/context.js");
    const { renewAll } = await import("./commands/renew.js");
    const outcomes = await renewAll(agentContext(o), o);
    if (outcomes.length === 0) process.stdout.write(`no managed certificates in ${o.home}\n`);
    for (const r of outcomes)
      process.stdout.write(`${r.name}: ${r.status === "failed" ? "FAILED: " : ""}${r.message}\n`);
    if (outcomes.some((r) => r.status === "failed")) process.exitCode = 1;
  });

program
  .command("report")
  .description(
    "tell the CA what each managed certificate's host serves (cert, renew and run do it themselves)",
  )
  .addOption(flag("--name <id>", "only this one"))
  .addOption(homeFlag())
  .addOption(logFlag())
  .action(async (o: { home: string; name?: string; logLevel: string }) => {
    const { agentContext, requireHome } = await import("./commands/context.js");
    const { reportAll } = await import("./commands/report.js");
    const ctx = agentContext(o);
    requireHome(ctx);
    const m = o.name ? ctx.home.get(o.name) : null;
    if (o.name && !m) throw new Error(`no managed certificate named "${o.name}"`);
    const outcomes = await reportAll(ctx, m ? [m] : ctx.home.list());
    if (outcomes.length === 0) process.stdout.write(`no managed certificates in ${o.home}\n`);
    for (const r of outcomes)
      process.stdout.write(`${r.name}: ${r.status === "failed" ? "FAILED: " : ""}${r.message}\n`);
    if (outcomes.some((r) => r.status === "failed")) process.exitCode = 1;
  });

program
  .command("run")
  .description(
    "the daemon: renew on time, retry with backoff, check the root and report to the CA daily, stop on SIGTERM",
  )
  .addOption(verifyTimeoutFlag())
  .addOption(homeFlag())
  .addOption(logFlag())
  .addOption(
    flag("--metrics-listen <host:port>", "serve GET /metrics over plain HTTP here, without authentication"),
  )
  .action(async (o: RunOpts) => {
    const [{ parseDuration }, { hostPort }] = await Promise.all([
      import("../../shared/duration.js"),
      import("../../shared/port.js"),
    ]);
    const verifyTimeoutMs = parseDuration(o.verifyTimeout);
    const metricsListen =
      o.metricsListen === undefined
        ? undefined
        : hostPort("--metrics-listen", o.metricsListen, "127.0.0.1:9465", true);
    const args = ["--home", o.home, "--log-level", o.logLevel, "--log-format", o.logFormat];
    if (o.metricsListen !== undefined) args.push("--metrics-listen", o.metricsListen);
    // The long-lived process becomes cli/daemon.js (same pid), without commander and pino;
    // where process.execve is missing (not POSIX), the daemon runs here.
    if (typeof process.execve === "function") {
      const entry = fileURLToPath(new URL("./cli/daemon.js", import.meta.url));
      process.execve(
        process.execPath,
        [process.execPath, ...process.execArgv, entry, ...args, "--verify-timeout", o.verifyTimeout],
        process.env,
      );
    }
    const { lineLogger } = await import("../../shared/line-log.js");
    const { runDaemon } = await import("./commands/run.js");
    await runDaemon({
      home: o.home,
      logLevel: o.logLevel,
      logFormat: o.logFormat,
      verifyTimeout: o.verifyTimeout,
      verifyTimeoutMs,
      metricsListen,
      log: lineLogger("certyard-agent", o.logLevel, o.logFormat),
    });
  });

program
  .command("check-root")
  .description("check that the CA still serves the pinned root; exit 1 if it cannot be fetched or differs")
  .addOption(homeFlag())
  .addOption(logFlag())
  .action(async (o: { home: string; logLevel: string }) => {
    const { agentContext } = await import("./commands/context.js");
    const { checkRoot } = await import("./commands/check-root.js");
    const r = await checkRoot(agentContext(o));
    if (r.ok) process.stdout.write(`${r.message}\n`);
    else process.exitCode = 1;
  });

program
  .command("status")
  .description("the managed certificates, their expiry, next renewal and last result")
  .addOption(switchFlag("--json", "JSON output"))
  .addOption(homeFlag())
  .action(async (o: { home: string; json?: boolean }) => {
    const { agentContext, requireHome } = await import("./commands/context.js");
    const { status } = await import("./commands/status.js");
    const ctx = agentContext(o);
    requireHome(ctx);
    process.stdout.write(`${status(ctx, o.json ?? false)}\n`);
  });

registerClientCommands(program);
runProgram(program);
