/**
 * Is a request really from Slack? Slack signs every request it sends to an app (interactivity,
 * slash commands, events) with the app's signing secret:
 *
 *   X-Slack-Request-Timestamp: <unix seconds>
 *   X-Slack-Signature:         v0=<hex HMAC-SHA256(signing secret, "v0:<timestamp>:<raw body>")>
 *
 * (https://api.slack.com/authentication/verifying-requests-from-slack). The signature covers the
 * raw body bytes exactly as they arrived, before any form or JSON parsing. The timestamp is part
 * of what is signed, and a request more than 5 minutes from our clock (either way) is refused, so
 * a captured request cannot be replayed later.
 *
 * Pure: node:crypto only, the clock is passed in. Never says anything about the secret.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/** Slack's header names, as API Gateway hands them over (lower case). */
export const SLACK_TIMESTAMP_HEADER = 'x-slack-request-timestamp';
export const SLACK_SIGNATURE_HEADER = 'x-slack-signature';

/** Slack: "verify that the request timestamp is within five minutes of the current time". */
export const MAX_CLOCK_SKEW_SECONDS = 5 * 60;

const SIGNATURE = /^v0=([0-9a-f]{64})$/;
/** Unix seconds: digits only (no sign, no fraction, no exponent), of a sane length. */
const TIMESTAMP = /^\d{1,12}$/;

export interface SlackRequestToVerify {
  signingSecret: string;
  /** The X-Slack-Request-Timestamp header (unix seconds), or undefined when absent. */
  timestamp: string | undefined;
  /** The X-Slack-Signature header, or undefined when absent. */
  signature: string | undefined;
  /** The body exactly as received (decoded from base64 if API Gateway encoded it). */
  rawBody: Buffer | string;
  /** Milliseconds since the epoch: our clock. */
  now: number;
}

export type SlackVerification = { ok: true } | { ok: false; why: string };

const bytesOf = (body: Buffer | string): Buffer => (typeof body === 'string' ? Buffer.from(body, 'utf8') : body);

/** `v0=<hex>`: the X-Slack-Signature Slack sends for this timestamp and body. */
export function slackSignatureOf(signingSecret: string, timestamp: string, rawBody: Buffer | string): string {
  return `v0=${hmac(signingSecret, timestamp, rawBody).toString('hex')}`;
}

function hmac(signingSecret: string, timestamp: string, rawBody: Buffer | string): Buffer {
  return createHmac('sha256', signingSecret).update(`v0:${timestamp}:`, 'utf8').update(bytesOf(rawBody)).digest();
}

/**
 * Whether the request is Slack's, signed for exactly these bytes within the last 5 minutes.
 * Refused, with the reason (for the log): an empty secret (anyone can sign with the empty key),
 * a missing or malformed header, a timestamp more than 5 minutes old or ahead, a wrong signature.
 * The signature is compared in constant time.
 */
export function verifySlackRequest(request: SlackRequestToVerify): SlackVerification {
  const { signingSecret, timestamp, signature, rawBody, now } = request;
  if (signingSecret === '') return { ok: false, why: 'no signing secret is configured' };
  if (timestamp === undefined || timestamp === '') return { ok: false, why: 'X-Slack-Request-Timestamp is missing' };
  if (!TIMESTAMP.test(timestamp)) return { ok: false, why: 'X-Slack-Request-Timestamp is not unix seconds' };
  if (signature === undefined || signature === '') return { ok: false, why: 'X-Slack-Signature is missing' };
  const hex = SIGNATURE.exec(signature)?.[1];
  if (hex === undefined) return { ok: false, why: 'X-Slack-Signature is not v0=<64 hex digits>' };

  const skew = Math.floor(now / 1000) - Number(timestamp);
  if (skew > MAX_CLOCK_SKEW_SECONDS) {
    return { ok: false, why: `the request timestamp is ${skew} s old (more than ${MAX_CLOCK_SKEW_SECONDS} s)` };
  }
  if (-skew > MAX_CLOCK_SKEW_SECONDS) {
    return {
      ok: false,
      why: `the request timestamp is ${-skew} s in the future (more than ${MAX_CLOCK_SKEW_SECONDS} s)`,
    };
  }

  const given = Buffer.from(hex, 'hex');
  const expected = hmac(signingSecret, timestamp, rawBody);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    return { ok: false, why: 'the signature does not match the body' };
  }
  return { ok: true };
}

/** How long past the end of the replay window a claim is kept: room for our clock and the store's. */
const CLAIM_MARGIN_SECONDS = 60;

/**
 * The one-time key of a verified request, and until when it must be kept. A signature covers its
 * timestamp and body, so it names exactly one request; the same request sent again inside the
 * window (which `verifySlackRequest` accepts) has the same key, and is refused as a replay by the
 * ledger's conditional write. The window closes 5 minutes after the request's own timestamp (our
 * clock may be up to 5 minutes behind it), after which the request no longer verifies at all: the
 * key need not outlive that. The key is a hash, so the signature is never stored.
 */
export function slackReplayClaim(timestamp: string, signature: string): { key: string; expiresAt: number } {
  return {
    key: `slack:${createHash('sha256').update(`${timestamp}:${signature}`, 'utf8').digest('hex')}`,
    expiresAt: (Number(timestamp) + MAX_CLOCK_SKEW_SECONDS + CLAIM_MARGIN_SECONDS) * 1000,
  };
}
