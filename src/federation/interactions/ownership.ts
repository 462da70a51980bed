/**
 * Ids are owned by the server that made them: an activity (or the note it carries) whose
 * id is not on its actor's origin is refused before it touches the interaction store or
 * Fedify's idempotency records. Otherwise one server could name its `Like` with another
 * server's note id, or send a `Delete` under the id the note's author will use, and so
 * squat or swallow what is not its own.
 */
import { Activity, type Object as ObjectType } from "@fedify/vocab";
import { getLogger } from "@logtape/logtape";

const logger = getLogger(["herald", "federation", "inbox"]);

/**
 * Whether `object`'s id, if it has one, is on the origin of `actorId` (an activity's own
 * actor by default); logs a refusal when not.
 */
export function ownsIds(object: Activity | ObjectType, by?: URL): boolean {
  if (object.id == null) return true;
  const actorId = by ?? (object instanceof Activity ? object.actorId : null);
  if (actorId != null && object.id.origin === actorId.origin) return true;
  logger.warn("Refused {type} {id}: its id is not on its actor's server ({actor}).", {
    type: object.constructor.name,
    id: object.id.href,
    actor: actorId?.href ?? "none",
  });
  return false;
}
