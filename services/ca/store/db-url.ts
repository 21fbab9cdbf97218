import { isAbsolute, join, resolve } from "node:path";
import { InputError } from "../../../shared/errors.js";
import { portNumber } from "../../../shared/port.js";

/**
 * Where the CA's database is (--db, CERTYARD_DB): `sqlite:PATH`, or a PostgreSQL URL as libpq
 * writes it, `postgres://USER:PASS@HOST:PORT/DB` (also `postgresql://`, and `?host=/socket/dir`
 * for a Unix socket). Parsed and checked here, once; the password never appears in a message.
 */
export type DbLocation =
  | { dialect: "sqlite"; path: string }
  | {
      dialect: "postgres";
      /** the URL as given, for the driver */
      url: string;
      /** the URL with its password replaced by ***, for messages and logs */
      redacted: string;
      /** a host name or address, or the directory of a Unix socket (starts with /) */
      host: string;
      port: number;
      database: string;
      /** empty: libpq's default, the operating system user */
      user: string;
    };

export const DB_EXAMPLES =
  "sqlite:/var/lib/certyard/certyard.db or postgres://certyard:PASS@db.lan:5432/certyard";

/** The default: `certyard.db` in the data directory. */
export const defaultDb = (dataDir: string): DbLocation => ({
  dialect: "sqlite",
  path: join(dataDir, "certyard.db"),
});

/** --db as given (undefined: the default); a one-line InputError for anything else. */
export function parseDbUrl(text: string | undefined, dataDir: string): DbLocation {
  if (text === undefined) return defaultDb(dataDir);
  const t = text.trim();
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(t)?.[1]?.toLowerCase();
  if (scheme === "sqlite") return sqliteLocation(t.slice("sqlite:".length), text);
  if (scheme === "postgres" || scheme === "postgresql") return postgresLocation(t);
  throw new InputError(
    `--db "${redact(text)}": ${scheme ? `unknown scheme ${scheme}:` : "no scheme"}; give ${DB_EXAMPLES}`,
  );
}

function sqliteLocation(path: string, text: string): DbLocation {
  const bad = (why: string) =>
    new InputError(`--db "${text}": ${why}; give sqlite:PATH, e.g. sqlite:/var/lib/certyard/certyard.db`);
  if (path.length === 0) throw bad("no path");
  // sqlite://host/... would be read as a path "//host/..."; SQLAlchemy's sqlite:////abs also
  // means something else than it looks: refuse both rather than guess.
  if (path.startsWith("//")) throw bad("not a URL with a host");
  if (path === ":memory:" || path.startsWith("file:"))
    throw bad("a file path, not an in-memory or URI database");
  if (path.includes("\0")) throw bad("a path without NUL");
  return { dialect: "sqlite", path: isAbsolute(path) ? path : resolve(path) };
}

/** Query parameters of a PostgreSQL URL that certyard passes on; anything else is refused. */
const SSL_MODES = ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"];
const PARAMETERS = ["host", "port", "sslmode", "application_name", "connect_timeout"];

function postgresLocation(text: string): DbLocation {
  const redacted = redact(text);
  const bad = (why: string) =>
    new InputError(
      `--db "${redacted}": ${why}; give postgres://USER:PASS@HOST:PORT/DB or postgres://USER@/DB?host=/socket/dir`,
    );
  // libpq's postgres://USER@/DB?host=... has an empty host, which node's URL parser refuses for
  // a scheme it does not know: parse it with a placeholder host, then take the host as empty.
  const emptyHost = /^[a-z]+:\/\/[^/?#@]*@(?=[/?#]|$)/i.test(text);
  const written = /^[a-z]+:\/\/(?:[^@/?#]*@)?(?:\[[^\]]*\]|[^:/?#@[\]]*):([^/?#@]*)(?:[/?#]|$)/i.exec(
    text,
  )?.[1];
  if (written !== undefined && written !== "") portNumber(`--db "${redacted}"`, written);
  let url: URL;
  try {
    url = new URL(emptyHost ? text.replace(/@(?=[/?#]|$)/, "@placeholder.invalid") : text);
  } catch {
    throw bad("not a URL");
  }
  if (url.hash) throw bad("a URL without a fragment (#)");
  const hostname = emptyHost ? "" : decodeURIComponent(url.hostname);
  if (hostname.includes(",")) throw bad("one host only");
  for (const name of new Set(url.searchParams.keys())) {
    if (!PARAMETERS.includes(name)) throw bad(`unknown parameter ${name} (known: ${PARAMETERS.join(", ")})`);
    if (url.searchParams.getAll(name).length > 1) throw bad(`parameter ${name} given twice`);
  }
  const socket = url.searchParams.get("host");
  if (socket !== null && !socket.startsWith("/")) throw bad("?host= takes the directory of a Unix socket");
  if (socket !== null && hostname !== "") throw bad("a host and ?host= both given");
  const host = socket ?? hostname;
  if (host === "") throw bad("no host");
  // ?port= names the socket file (.s.PGSQL.PORT) when the host is a socket directory
  const portParam = url.searchParams.get("port");
  if (portParam !== null && url.port !== "") throw bad("a port and ?port= both given");
  const port = portParam === null ? url.port : String(portNumber(`--db "${redacted}"`, portParam));
  const sslmode = url.searchParams.get("sslmode");
  if (sslmode !== null && !SSL_MODES.includes(sslmode)) throw bad(`sslmode takes ${SSL_MODES.join(", ")}`);
  const timeout = url.searchParams.get("connect_timeout");
  if (timeout !== null && !/^\d{1,6}$/.test(timeout)) throw bad("connect_timeout takes whole seconds");
  const segments = url.pathname.replace(/^\//, "");
  if (segments === "" || segments.includes("/")) throw bad("name one database, as the URL's path");
  let database: string;
  let user: string;
  try {
    database = decodeURIComponent(segments);
    user = decodeURIComponent(url.username);
    decodeURIComponent(url.password);
  } catch {
    throw bad("a bad %-escape");
  }
  return {
    dialect: "postgres",
    url: text,
    redacted,
    host,
    port: port === "" ? 5432 : Number(port),
    database,
    user,
  };
}

/** The text with the password of a URL's user information replaced by ***. */
export function redact(text: string): string {
  return text.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:@/?#]*):[^@/?#]*@/i, "$1:***@");
}

/**
 * The SQLite file of a --db location, for what works on SQLite's file alone (`backup` archives
 * it): PostgreSQL is refused in one line saying what to do instead.
 */
export function sqliteFile(db: DbLocation, what: string): string {
  if (db.dialect === "postgres") {
    throw new InputError(
      `${what} archives a SQLite database; --db ${db.redacted} is PostgreSQL: back it up with pg_dump, or make a SQLite copy with db copy --to sqlite:FILE`,
    );
  }
  return db.path;
}
