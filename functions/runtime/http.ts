/** What the HTTP-API Lambdas (webhook, Slack) share about reading a request. */
import type { APIGatewayProxyEventV2 } from 'aws-lambda';

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
