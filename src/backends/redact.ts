/** The URL without user, password or parameters (which may hold a password too), for logs. */
export function withoutSecrets(url: URL): string {
  return `${url.protocol}//${url.host}${url.pathname}`;
}
