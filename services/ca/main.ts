#!/usr/bin/env node
import "../../shared/node-version.js"; // first: before anything that needs a newer node
import { certyardProgram, endQuietlyWhenReaderGoes, LOG_LEVELS, runProgram } from "../../shared/cli.js";
import { baseUrl, dataFlag, dataPaths, dbFlag, flag, listFlag, switchFlag } from "./cli/options.js";

/**
 * certyard-ca: the CLI. Each command loads only what it needs, so quick commands such as
 * `fingerprint` start fast. Errors are one line on stderr and a non-zero exit.
 */
const program = certyardProgram("certyard-ca", "A small private CA for Docker registries", flag);

const keyTypeHelp = "key type: ec-p256, ec-p384, rsa-2048, rsa-3072, rsa-4096";

program
  .command("init")
  .description("create the root and intermediate CA and the admin token")
  .addOption(dataFlag())
  .addOption(dbFlag())
  .addOption(flag("--name <name>", "the root's common name").default("certyard Root CA"))
  .addOption(flag("--key-type <type>", keyTypeHelp).default("ec-p256"))
  .addOption(listFlag("--permit-dns <suffix>", "name constraint on the intermediate (repeatable)"))
  .addOption(listFlag("--permit-ip <cidr>", "name constraint on the intermediate (repeatable)"))
  .addOption(flag("--passphrase-file <file>", "encrypt the CA keys with the passphrase in this file"))
  .action(async (o) => {
    const { init } = await import("./cli/init.js");
    const tokenPath = await init(o);
    const { caPaths, loadCa } = await import("./keys/ca.js");
    const { readPassphrase } = await import("./cli/options.js");
    const ca = loadCa(caPaths(o.data), readPassphrase(o.passphraseFile));
    process.stdout.write(
      `initialised ${o.data}\nroot fingerprint: ${ca.rootFingerprint}\nadmin token: ${tokenPath}\n`,
    );
  });

program
  .command("serve")
  .description("serve the CA over HTTPS (runs init first on an empty data directory)")
  .addOption(dataFlag())
  .addOption(dbFlag())
  .addOption(flag("--listen <host:port>", "address to listen on").default("0.0.0.0:8443"))
  .addOption(listFlag("--tls-dns <name>", "DNS name of the serving certificate (repeatable)"))
  .addOption(listFlag("--tls-ip <ip>", "IP address of the serving certificate (repeatable)"))
  .addOption(
    flag("--url <url>", "public base URL of the CA (CRL distribution point of leaves)").argParser(baseUrl),
  )
  .addOption(
    flag("--name <name>", "the root's common name, when serve initialises").default("certyard Root CA"),
  )
  .addOption(flag("--key-type <type>", `${keyTypeHelp}, when serve initialises`).default("ec-p256"))
  .addOption(listFlag("--permit-dns <suffix>", "name constraint, when serve initialises"))
  .addOption(listFlag("--permit-ip <cidr>", "name constraint, when serve initialises"))
  .addOption(flag("--passphrase-file <file>", "passphrase of the CA keys"))
  .addOption(
    flag(
      "--workers <n>",
      "worker processes (default: one per two cores, 1 to 4; each keeps about two cores busy)",
    ),
  )
  .addOption(flag("--log-level <level>", "pino log level").choices(LOG_LEVELS).default("info"))
  .addOption(
    switchFlag(
      "--without-audit",
      "write no audit events (for benchmarks that compare; the trail then misses what this server does)",
    ),
  )
  .addOption(flag("--acme-http-port <port>", "port http-01 validation connects to").default("80"))
  .addOption(flag("--acme-tls-port <port>", "port tls-alpn-01 validation connects to").default("443"))
  .addOption(flag("--acme-dns-resolver <host:port>", "DNS server dns-01 validation asks"))
  .addOption(
    listFlag(
      "--acme-validation-allow <cidr>",
      "let ACME validation connect to this address or CIDR, though loopback, link-local, multicast or the CA's own (repeatable)",
    ),
  )
  .addOption(
    listFlag(
      "--proxy-protocol-from <cidr>",
      "connections from this address or CIDR (a TCP load balancer) begin with a PROXY protocol header giving the client's address (repeatable)",
    ),
  )
  .addOption(
    flag(
      "--metrics-listen <host:port>",
      "also serve GET /metrics over plain HTTP here, without authentication",
    ),
  )
  // issue 16: CSR verification and certificate signing run in one worker thread of their own; the
  // bench's comparison puts them back on the event loop and libuv's threadpool
  .addOption(flag("--no-crypto-thread", "verify CSRs and sign on libuv's threadpool").hideHelp())
  // the bench's "metrics off": nothing is counted (GET /metrics still answers)
  .addOption(flag("--no-metrics", "count nothing").hideHelp())
  .addOption(
    listFlag(
      "--alert-webhook <url>",
      "POST alerts (expiring or drifting hosts, silent hosts, the CA's own expiry) as JSON to this http(s) URL (repeatable)",
    ),
  )
  .action(async (o) => {
    const [{ serveCommand }, { workerRoleFrom }, cluster] = await Promise.all([
      import("./cli/serve.js"),
      import("./cli/cluster.js"),
      import("node:cluster"),
    ]);
    // The process environment is read here, once: the role a cluster primary forked this
    // worker with, and NODE_OPTIONS, which the primary hands on to its workers.
    const role = cluster.default.isWorker ? workerRoleFrom(process.env) : null;
    // process.execve (node 23.11+, POSIX) keeps the pid, so a supervisor or a test that started
    // serve still holds the serving process; where it is missing, serve runs without the flags.
    const execve = typeof process.execve === "function" ? process.execve : undefined;
    const restartWith = execve
      ? (flags: string[]) =>
          execve(
            process.execPath,
            [process.execPath, ...flags, ...process.execArgv, ...process.argv.slice(1)],
            process.env,
          )
      : undefined;
    await serveCommand(o, {
      role,
      nodeOptions: process.env.NODE_OPTIONS,
      execArgv: process.execArgv,
      restartWith,
    });
  });

program
  .command("fingerprint")
  .description("print the root certificate's SHA-256 fingerprint")
  .addOption(dataFlag())
  .addOption(dbFlag())
  .action(async (o: { data: string; db?: string }) => {
    const { readFileSync } = await import("node:fs");
    const { requireInitialised } = await import("./keys/paths.js");
    const { requireStore } = await import("./store/open.js");
    const { certificatesFromPem, fingerprint } = await import("../../shared/x509/pem.js");
    const { finishRotation } = await import("./keys/staged.js");
    const paths = dataPaths(o);
    requireInitialised(paths);
    await requireStore(paths.db);
    // a rotation a crash interrupted after its commit is finished first: the root it made counts
    finishRotation(paths.dataDir);
    const [der] = certificatesFromPem(readFileSync(paths.rootCert, "utf8"));
    if (!der) throw new Error("no root certificate found");
    process.stdout.write(`${fingerprint(der)}\n`);
  });

const token = program.command("token").description("enrolment tokens");
token
  .command("create")
  .description("create a token and print its secret (stored only as a bcrypt hash)")
  .addOption(dataFlag())
  .addOption(dbFlag())
  .addOption(flag("--name <name>", "a unique name for the token").makeOptionMandatory())
  .addOption(listFlag("--dns <pattern>", "allowed DNS names: registry.lan, *.lan, **.lan (repeatable)"))
  .addOption(listFlag("--ip <ip-or-cidr>", "allowed IP addresses or CIDRs (repeatable)"))
  .addOption(flag("--max-validity <dur>", "longest certificate lifetime").default("30d"))
  .addOption(flag("--expires <dur>", "the token expires after this long"))
  .addOption(flag("--uses <n>", "how many certificates it may sign"))
  .addOption(flag("--rate <n/dur>", "rate limit, e.g. 60/1m").default("60/1m"))
  .addOption(switchFlag("--join", "print a join string (CA URL, root fingerprint, token) instead"))
  .addOption(
    flag("--url <url>", "the CA's public URL for --join (default: what serve printed)").argParser(baseUrl),
  )
  .action(async (o) => {
    const { tokenCreate } = await import("./cli/admin-cmds.js");
    process.stdout.write(`${await tokenCreate(o)}\n`);
  });
token
  .command("list")
  .description("list tokens")
  .addOption(dataFlag())
  .addOption(dbFlag())
  .addOption(switchFlag("--json", "JSON output"))
  .action(async (o) => {
    const { tokenList } = await import("./cli/admin-cmds.js");
    process.stdout.write(`${await tokenList(o)}\n`);
  });
token
  .command("revoke <name>")
  .description("revoke a token")
  .addOption(dataFlag())
  .addOption(dbFlag())
  .action(async (name: string, o: { data: string; db?: string }) => {
    const { tokenRevoke } = await import("./cli/admin-cmds.js");
    await tokenRevoke({ ...o, name });
    process.stdout.write(`revoked token ${name}\n`);
  });

program
  .command("admin-token")
  .description("the admin token")
  .command("new")
  .description(
    "make a new admin token and write it to DATA/admin-token; the old one stops working on every replica",
  )
  .addOption(dataFlag())
  .addOption(dbFlag())
  .action(async (o) => {
    const { adminTokenNew } = await import("./cli/admin-cmds.js");
    process.stdout.write(`admin token: ${await adminTokenNew(o)}\n`);
  });

const eab = program.command("eab").description("ACME External Account Bindings");
eab
  .command("create")
  .description("create an External Account Binding and print `KID HMAC` (HMAC key base64url)")
  .addOption(dataFlag())
  .addOption(dbFlag())
  .addOption(flag("--name <name>", "a unique name for the binding").makeOptionMandatory())
  .addOption(listFlag("--dns <pattern>", "allowed DNS names: registry.lan, *.lan, **.lan (repeatable)"))
  .addOption(listFlag("--ip <ip-or-cidr>", "allowed IP addresses or CIDRs (repeatable)"))
  .addOption(flag("--max-validity <dur>", "longest certificate lifetime").default("30d"))
  .addOption(flag("--accounts <n>", "how many ACME accounts may bind it").default("1"))
  .action(async (o) => {
    const { eabCreate } = await import("./cli/eab-cmds.js");
    process.stdout.write(`${await eabCreate(o)}\n`);
  });
eab
  .command("list")
  .description("list External Account Bindings (never their HMAC keys)")
  .addOption(dataFlag())
  .addOption(dbFlag())
  .addOption(switchFlag("--json", "JSON output"))
  .action(async (o) => {
    const { eabList } = await import("./cli/eab-cmds.js");
    process.stdout.write(`${await eabList(o)}\n`);
  });
eab
  .command("revoke <name>")
  .description("revoke an External Account Binding: its accounts can order no more")
  .addOption(dataFlag())
  .addOption(dbFlag())
  .action(async (name: string, o: { data: string; db?: string }) => {
    const { eabRevoke } = await import("./cli/eab-cmds.js");
    await eabRevoke({ ...o, name });
    process.stdout.write(`revoked EAB ${name}\n`);
  });

program
  .command("certs")
  .description("the inventory of issued certificates")
  .command("list")
  .addOption(dataFlag())
  .addOption(dbFlag())
  .description("the inventory, soonest expiry first (without --state: all but the revoked)")
  .addOption(flag("--expiring <dur>", "only those expiring within this duration"))
  .addOption(flag("--state <states>", "valid, superseded, expired, revoked (comma-separated) or all"))
  .addOption(flag("--name <name>", "only those carrying this DNS name or IP address"))
  .addOption(flag("--token <name>", "only those issued through this token"))
  .addOption(switchFlag("--json", "JSON output"))
  .action(async (o) => {
    endQuietlyWhenReaderGoes("certyard-ca");
    const { certsList } = await import("./cli/certs-cmds.js");
    await certsList(o);
  });

program
  .command("hosts")
  .description("what the hosts' agents report they serve")
  .command("list")
  .description(
    "each host: last report, the certificate it serves against the newest issued (drift), next renewal, last error",
  )
  .addOption(dataFlag())
  .addOption(dbFlag())
  .addOption(switchFlag("--json", "JSON output (the array GET /v1/hosts answers)"))
  .action(async (o: { data: string; db?: string; json?: boolean }) => {
    const { hostsList } = await import("./cli/hosts-cmds.js");
    process.stdout.write(`${await hostsList(o)}\n`);
  });

program
  .command("revoke <serial>")
  .description("revoke a certificate by serial (hex)")
  .addOption(dataFlag())
  .addOption(dbFlag())
  .addOption(flag("--reason <reason>", "keyCompromise, superseded, cessationOfOperation, ..."))
  .action(async (serial: string, o: { data: string; db?: string; reason?: string }) => {
    const { revokeSerial } = await import("./cli/admin-cmds.js");
    await revokeSerial({ ...o, serial });
    process.stdout.write(`revoked ${serial}\n`);
  });

const audit = program.command("audit").description("the audit trail: who changed what, hash-chained");
audit
  .command("list")
  .description("the audit events, oldest first")
  .addOption(dataFlag())
  .addOption(dbFlag())
  .addOption(flag("--since <dur>", "only events from this long ago on (e.g. 24h, 7d)"))
  .addOption(listFlag("--type <type>", "only events of this type, e.g. certificate.revoked (repeatable)"))
  .addOption(switchFlag("--json", "JSON output"))
  .action(async (o: { data: string; db?: string; since?: string; type?: string[]; json?: boolean }) => {
    endQuietlyWhenReaderGoes("certyard-ca");
    const { auditList } = await import("./cli/audit-cmds.js");
    await auditList({ ...o, types: o.type });
  });
audit
  .command("verify")
  .description(
    "check the audit trail's hash chain: exit 1 naming the first edited, deleted or reordered event",
  )
  .addOption(dataFlag())
  .addOption(dbFlag())
  .action(async (o: { data: string; db?: string }) => {
    const { auditVerify } = await import("./cli/audit-cmds.js");
    const { line, code } = await auditVerify(o);
    (code === 0 ? process.stdout : process.stderr).write(`${line}\n`);
    process.exitCode = code;
  });

program
  .command("backup")
  .description("an online, consistent copy of the database and the CA's files in one file (0600)")
  .addOption(dataFlag())
  .addOption(dbFlag())
  .addOption(flag("--out <file>", "the backup file to write (replaced atomically)").makeOptionMandatory())
  .action(async (o: { data: string; db?: string; out: string }) => {
    const { backupCommand } = await import("./cli/backup-cmds.js");
    await backupCommand(o);
  });

program
  .command("restore")
  .description("restore a backup into a new or empty data directory")
  .addOption(flag("--from <file>", "the backup file").makeOptionMandatory())
  .addOption(flag("--data <dir>", "the data directory to create (new or empty)").makeOptionMandatory())
  .action(async (o: { from: string; data: string }) => {
    const { restoreCommand } = await import("./cli/backup-cmds.js");
    await restoreCommand(o);
  });

program
  .command("db")
  .description("the CA's database")
  .command("copy")
  .description(
    "copy every table into an empty database (SQLite or PostgreSQL, either way), checked: row counts and every certificate's SHA-256",
  )
  .addOption(
    flag("--from <url>", "the database to copy: sqlite:PATH or postgres://...").makeOptionMandatory(),
  )
  .addOption(flag("--to <url>", "an empty database: sqlite:PATH or postgres://...").makeOptionMandatory())
  .action(async (o: { from: string; to: string }) => {
    const { dbCopyCommand } = await import("./cli/db-cmds.js");
    await dbCopyCommand(o);
  });

const rotate = program
  .command("rotate")
  .description("a new intermediate, or a new root; what was issued before keeps working");
for (const what of ["intermediate", "root"] as const) {
  rotate
    .command(what)
    .description(
      what === "root"
        ? "a new root, cross-signed by the current one (both served in /roots.pem), and a new intermediate under it"
        : "a new intermediate under the same root; the current one is kept for its certificates",
    )
    .addOption(dataFlag())
    .addOption(dbFlag())
    .addOption(flag("--passphrase-file <file>", "passphrase of the CA keys"))
    .action(async (o: { data: string; db?: string; passphraseFile?: string }) => {
      const { rotateCommand } = await import("./cli/rotate-cmds.js");
      process.stdout.write(`${await rotateCommand(what, o)}\n`);
    });
}

runProgram(program);
