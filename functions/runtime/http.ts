/**
 * The HTTP edge the API Gateway (HTTP API, payload 2.0) Lambdas share, the GitHub webhook and
 * Slack's interactivity endpoint: reading a request (headers in any case, the body base64-decoded
 * and size-limited) and writing the answer (JSON, text, or nothing). Nothing here knows GitHub
 * or Slack.
 */
import type { APIGatewayProxyEventV2 } from 'aws-lambda';

/** The answer an HTTP API Lambda returns. */
export interface HttpResponse {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
}

/** A header's value by name, in any case (HTTP API sends names lower-cased; a test or another proxy may not). */
export type HeaderLookup = (name: string) => string | undefined;

/** A request as a handler reads it: headers by name, and the raw body bytes or `undefined` when over the limit. */
export interface HttpRequest {
  header: HeaderLookup;
  /** Exactly the bytes sent (signatures are over these); `undefined`: over the limit, not decoded. */
  body: Buffer | undefined;
}

/** The event's headers with lower-case names, as a lookup that takes any case. */
export function headerLookup(headers: APIGatewayProxyEventV2['headers'] | undefined): HeaderLookup {
  const lower = new Map<string, string>();
  for (const [name, value] of Object.entries(headers ?? {}))
    if (value !== undefined) lower.set(name.toLowerCase(), value);
  return (name) => lower.get(name.toLowerCase());
}

/**
 * The request's raw body bytes (signatures are over these), or undefined when it is over `limit`:
 * checked on the declared length, then on the text before decoding (a base64 text of n characters
 * decodes to at least 3n/4 - 2 bytes), then on the bytes, so a huge body is refused undecoded.
 */
export function rawBody(
  event: Pick<APIGatewayProxyEventV2, 'body' | 'isBase64Encoded'>,
  contentLength: string | undefined,
  limit: number,
): Buffer | undefined {
  if (Number(contentLength) > limit) return undefined;
  const body = event.body ?? '';
  if (event.isBase64Encoded ? (body.length * 3) / 4 - 2 > limit : Buffer.byteLength(body, 'utf8') > limit) {
    return undefined;
  }
  const raw = Buffer.from(body, event.isBase64Encoded ? 'base64' : 'utf8');
  return raw.length > limit ? undefined : raw;
}

/** The event as a handler reads it: case-insensitive headers, the body decoded unless it is over `limit` bytes. */
export function readRequest(
  event: Pick<APIGatewayProxyEventV2, 'headers' | 'body' | 'isBase64Encoded'>,
  limit: number,
): HttpRequest {
  const header = headerLookup(event.headers);
  return { header, body: rawBody(event, header('content-length'), limit) };
}

/** A JSON answer. */
export function jsonResponse(statusCode: number, body: unknown): HttpResponse {
  return { statusCode, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
}

/** A plain-text answer. */
export function textResponse(statusCode: number, body: string): HttpResponse {
  return { statusCode, headers: { 'content-type': 'text/plain; charset=utf-8' }, body };
}

/** An answer with no body (Slack's acknowledgement: an empty body changes nothing in its message). */
export function emptyResponse(statusCode: number): HttpResponse {
  return { statusCode, headers: {}, body: '' };
}

/** The 413 both webhooks give a body over their limit. */
export function tooLargeResponse(limit: number): HttpResponse {
  return jsonResponse(413, { error: `body over ${limit} bytes` });
}
