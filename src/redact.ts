/**
 * Secrets never leave the process (issue 13 point 5; docs/reliability.md "Secrets"). Three layers:
 *
 * 1. At the source: a URL is stripped of credentials (`user:password@`, and the values of query
 *    parameters whose name says they are a credential, such as RunPod's `api_key`) before it is put
 *    in an error message, a log field or a dead letter (`redactUrl`, `redactUrlsIn`), and an HTTP
 *    answer body that echoes the credentials of its request is scrubbed of them (`scrubSecrets`).
 * 2. pino redaction of the fields that hold secrets by name (`SECRET_LOG_PATHS`).
 * 3. A last pass over every log line: URLs in it are redacted, and the values of the secret
 *    environment variables (`secretValuesOf`) are masked wherever they appear.
 *
 * Pure helpers: no I/O; the environment is passed in.
 */
export const REDACTED = '[redacted]';

/** Query parameter and header names that carry a credential (RunPod `api_key`, `token`, `sig`, ...). */
const SECRET_NAME = /(^|[-_.])(api[-_]?key|key|token|access[-_]?token|secret|client[-_]?secret|passw(?:or)?d|pwd|pass|auth|authorization|signature|sig|credentials?|session|x-api-key)$/i;

/** Whether a parameter or header name carries a credential (camelCase split: `authToken` is `auth_Token`). */
export const isSecretName = (name: string): boolean => SECRET_NAME.test(name.replace(/([a-z0-9])([A-Z])/g, '$1_$2'));

/** Environment variable names whose values are secrets (the `apiKeyEnv`/`tokenEnv` defaults match too). */
const SECRET_ENV_NAME = /(KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIALS?)$/;

/** Values shorter than this are not masked in free text (masking "ccm" or "1" everywhere would garble logs). */
export const MIN_MASKED_SECRET_LENGTH = 6;

/**
 * The fields pino removes by name, at the top level and one or two levels down (fast-redact paths;
 * `*` matches one key). What a secret is called in this code base: config keys (`password`,
 * `secret`), source options (`apiKey`, `token`), HTTP headers.
 */
export const SECRET_LOG_PATHS: readonly string[] = (() => {
  const names = ['password', 'secret', 'apiKey', 'api_key', 'token', 'authorization', 'Authorization', 'x-api-key', 'sasl.password', 'headers.authorization', 'headers.Authorization'];
  return names.flatMap((n) => {
    const path = n.includes('-') ? `["${n}"]` : n;
    const sep = n.includes('-') ? '' : '.';
    return [path, `*${sep}${path}`, `*.*${sep}${path}`];
  });
})();

/**
 * A URL without its credentials: `user:password@` becomes `[redacted]@`, the value of every query
 * parameter whose name is a credential becomes `[redacted]`. Text that does not parse as a URL is
 * returned with the same replacements made by pattern, so a malformed URL is not a way around it.
 */
export function redactUrl(url: string): string {
  return redactUrlWithSecrets(url).url;
}

/** `redactUrl`, and the secret values it took out (so a body that echoes them can be scrubbed). */
export function redactUrlWithSecrets(url: string): { url: string; secrets: string[] } {
  const secrets: string[] = [];
  let out = url.replace(/^([a-z][a-z0-9+.-]*:\/\/)([^/?#@\s]*)@/i, (_m, scheme: string, userinfo: string) => {
    const colon = userinfo.indexOf(':');
    if (colon >= 0) secrets.push(decodeSafe(userinfo.slice(colon + 1)));
    else if (userinfo !== '') secrets.push(decodeSafe(userinfo));
    return `${scheme}${REDACTED}@`;
  });
  out = out.replace(/([?&;])([^=&#;\s]+)=([^&#;\s]*)/g, (m, sep: string, name: string, value: string) => {
    if (!isSecretName(decodeSafe(name)) || value === '') return m;
    secrets.push(decodeSafe(value));
    return `${sep}${name}=${REDACTED}`;
  });
  return { url: out, secrets: secrets.filter((s) => s !== '' && s !== REDACTED) };
}

/** Every http(s)/ws(s) URL found in free text (an error message, a log line), redacted. */
export function redactUrlsIn(text: string): string {
  return redactUrlsCollecting(text).text;
}

const URL_IN_TEXT = /\b(?:https?|wss?):\/\/[^\s"'<>`\\]+/gi;

function redactUrlsCollecting(text: string): { text: string; secrets: string[] } {
  const secrets: string[] = [];
  if (!text.includes('://')) return { text, secrets };
  const out = text.replace(URL_IN_TEXT, (match) => {
    // punctuation that ends a sentence or a message ("... ?api_key=K: refused") is not the URL's
    const trail = /[.,;:!?)\]}]+$/.exec(match)?.[0] ?? '';
    const r = redactUrlWithSecrets(match.slice(0, match.length - trail.length));
    secrets.push(...r.secrets);
    return r.url + trail;
  });
  return { text: out, secrets };
}

/** Replaces each secret (as given and percent-encoded) wherever it appears in the text. */
export function scrubSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) {
    if (s.length < MIN_MASKED_SECRET_LENGTH) continue;
    for (const form of new Set([s, encodeURIComponent(s), JSON.stringify(s).slice(1, -1)])) out = out.split(form).join(REDACTED);
  }
  return out;
}

/**
 * Free text made safe to log or dead-letter: URLs redacted, then the known secrets masked, and
 * so are the credentials those URLs carried wherever else the text repeats them.
 */
export function redactText(text: string, secrets: readonly string[] = []): string {
  const r = redactUrlsCollecting(text);
  return scrubSecrets(r.text, r.secrets.length === 0 ? secrets : [...secrets, ...r.secrets]);
}

/**
 * Any JSON-able value made safe the same way (a dead letter's `raw` and `reason`): its JSON text is
 * redacted and parsed back. A value that is not JSON-able is returned as its redacted string.
 */
export function redactValue<T>(value: T, secrets: readonly string[] = []): T | string {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch {
    return redactText(String(value), secrets);
  }
  if (text === undefined) return value;
  const safe = redactText(text, secrets);
  if (safe === text) return value;
  try {
    return JSON.parse(safe) as T;
  } catch {
    return safe;
  }
}

/** The values of the environment variables whose names say they are secrets (long enough to mask). */
export function secretValuesOf(env: Readonly<Record<string, string | undefined>>): string[] {
  const out: string[] = [];
  for (const [name, value] of Object.entries(env)) {
    if (value !== undefined && value.length >= MIN_MASKED_SECRET_LENGTH && SECRET_ENV_NAME.test(name)) out.push(value);
  }
  return out.sort((a, b) => b.length - a.length);
}

function decodeSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
