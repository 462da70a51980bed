const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/** Checks a table name before it is spliced into SQL. */
export function tableName(name: string): string {
  if (!IDENTIFIER.test(name)) {
    throw new TypeError(
      `A table name may hold only letters, digits and underscores (got "${name}").`,
    );
  }
  return name;
}
