import { getLogger } from "@logtape/logtape";
import postgres from "postgres";
import type { ScanLock } from "../../store/store.ts";

const logger = getLogger(["herald", "store"]);

/**
 * Takes the session advisory lock `name` on a connection of its own to `url`, or answers
 * `undefined` when another session holds it. `onRelease` runs once, when the lock is released.
 *
 * A session advisory lock belongs to one connection, and ends with it: a killed holder frees
 * it as soon as PostgreSQL sees the connection close, and short keepalives make that a minute
 * or so when the holder's machine vanishes without closing it. The lock gets a connection of
 * its own, never recycled while held. (Not `sql.reserve()`: a query on a reserved connection
 * that has died crashes the process in postgres 3.4.)
 */
export async function tryAdvisoryLock(
  url: URL,
  name: string,
  onRelease: () => void,
): Promise<ScanLock | undefined> {
  let lost = false;
  let releasing = false;
  const connection = postgres(url.href, {
    max: 1,
    max_lifetime: null,
    idle_timeout: 0, // none, whatever PGIDLE_TIMEOUT says: the lock would go with it
    fetch_types: false,
    onnotice: (notice) => logger.debug("PostgreSQL: {message}", { message: notice.message }),
    onclose: () => {
      if (releasing || lost) return;
      lost = true;
      logger.warn("The scan lock's database connection closed; the lock is lost.");
    },
    connection: {
      application_name: "herald scan lock",
      tcp_keepalives_idle: 30,
      tcp_keepalives_interval: 10,
      tcp_keepalives_count: 3,
    },
  });
  const end = async () => {
    releasing = true;
    await connection.end({ timeout: 5 });
  };
  try {
    const [row] = await connection<{ locked: boolean }[]>`
      SELECT pg_try_advisory_lock(hashtextextended(${name}, 0)) AS locked`;
    if (row?.locked !== true) {
      await end();
      return undefined;
    }
  } catch (error) {
    await end();
    throw error;
  }
  let released = false;
  return {
    release: async () => {
      if (released) return;
      released = true;
      onRelease();
      // Ending the session releases its locks; no unlock statement needed.
      await end().catch((error: unknown) => {
        logger.warn("Closing the scan lock's connection failed: {error}", { error });
      });
    },
  };
}
