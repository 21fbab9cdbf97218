/**
 * When PostgreSQL cannot take a request now: the server is down or restarting, unreachable, a
 * standby that is read-only (a failover under way), or out of connections. These pass: the
 * client is told to come back (503 with Retry-After, shared/storage-fault.ts knows the code),
 * and the pool replaces the connections it lost on its next query, so the replica reconnects by
 * itself. Anything else (a constraint, a bug) is not this and stays as it is.
 */
export class DatabaseUnavailable extends Error {
  readonly code = "EDBUNAVAILABLE";
}

/** PostgreSQL's SQLSTATE classes and codes (Appendix A of its manual) that mean "not now". */
const SQLSTATE: [RegExp, string][] = [
  [/^08/, "the connection to PostgreSQL failed"],
  [/^57P0[123]$/, "PostgreSQL is shutting down or starting"],
  [/^25006$/, "PostgreSQL is read-only (a standby, or a failover under way)"],
  [/^53300$/, "PostgreSQL has no connection free"],
  [/^53100$/, "PostgreSQL's disk is full"],
  [/^58030$/, "PostgreSQL had an I/O error"],
];
const ERRNO = ["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "EPIPE", "ENOENT"];
/** node-postgres's own words when a connection ends or cannot be made (it gives them no code) */
const DRIVER =
  /^(Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error)/;

/** The reason `err` means the database is unavailable now, or null. */
export function unavailability(err: unknown): string | null {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 4; e = e.cause, depth++) {
    if (e instanceof DatabaseUnavailable) return e.message;
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code === "string") {
      for (const [pattern, reason] of SQLSTATE) if (pattern.test(code)) return `${reason} (${code})`;
      // ENOENT: a Unix socket that is not there while the server is down
      if (ERRNO.includes(code)) return `PostgreSQL cannot be reached (${code})`;
    }
    if (DRIVER.test(e.message)) return `the connection to PostgreSQL was lost (${e.message})`;
  }
  return null;
}

/**
 * `err` as a DatabaseUnavailable when it is one of those, else as it is, but without drizzle's
 * wrapper: its message carries the query's parameters (an EAB's HMAC key, a token's hash), which
 * must not reach a log; PostgreSQL's own error under it says what failed, with its SQLSTATE.
 */
export function classified(err: unknown): unknown {
  if (err instanceof DatabaseUnavailable) return err;
  const reason = unavailability(err);
  if (reason !== null) return new DatabaseUnavailable(reason, { cause: unwrapped(err) });
  return unwrapped(err);
}

const unwrapped = (err: unknown) =>
  err instanceof Error && err.message.startsWith("Failed query:") && err.cause instanceof Error
    ? err.cause
    : err;

/** The constructor of every `async function*`, which node does not name as a global. */
const AsyncGeneratorFunction = Object.getPrototypeOf(async function* () {}).constructor as new () => (
  ...args: unknown[]
) => AsyncGenerator;

/**
 * Every method of `ports`, nested objects too, with its rejection classified (an async
 * generator's, each step's): one place, so no store function has to remember it.
 */
export function guarded<T extends object>(ports: T): T {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(ports)) {
    if (value instanceof AsyncGeneratorFunction) {
      // a stream of text (certificates.listText): each step's rejection, not a promise of it
      out[key] = async function* (...args: unknown[]) {
        try {
          return yield* value(...args);
        } catch (e) {
          throw classified(e);
        }
      };
    } else if (typeof value === "function") {
      out[key] = async (...args: unknown[]) => {
        try {
          return await value(...args);
        } catch (e) {
          throw classified(e);
        }
      };
    } else if (value !== null && typeof value === "object") {
      out[key] = guarded(value);
    } else {
      out[key] = value;
    }
  }
  return out as T;
}
