/**
 * DynamoDB's JSON 1.0 protocol spoken directly, for the embedded server of the local backend
 * (dynalite): one POST per action, the body as DynamoDB takes it (attribute values marshalled),
 * the answer parsed as it comes. No AWS SDK: a ledger request through the SDK's document client
 * costs ~2.5–2.9 ms of CPU (middleware, schema serde, a SigV4 signature), this ~1 ms over HTTP, and
 * a local release makes dozens of them while its regions start. The request goes over HTTP to
 * 127.0.0.1 (`httpWire`, one keep-alive agent) or, for the local backend's own requests, over the
 * embedded server's message channel (`wire`): the same headers and body reach dynalite's own
 * request handler and its answer comes back as sent, without loopback TCP on either side.
 *
 * It signs nothing, so it only talks to a server that checks no signature. dynalite checks the
 * Authorization header's shape (an `AWS4-` scheme with Credential, SignedHeaders and Signature) and
 * that a date header exists; it never verifies the signature. Real DynamoDB stays on the SDK.
 *
 * Errors are the SDK's: an answer of 4xx/5xx with a JSON `__type` of
 * `com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException` becomes an Error named
 * `ConditionalCheckFailedException` with DynamoDB's message, `$fault` and `$metadata.httpStatusCode`,
 * which is all the callers read (adapters/dynamodb/ledger.ts `isConditionFailed`,
 * adapters/aws/errors.ts `isThrottling`).
 *
 * Retries follow the SDK's standard mode as it is configured for the embedded server
 * (backends/local/dynalite-server.ts: maxAttempts 3): a network failure (ECONNRESET, ECONNREFUSED,
 * EPIPE, ETIMEDOUT: a keep-alive socket the server closed just as a request went out, or a server
 * restarting), a 500/502/503/504 or a throttling error is sent again up to twice, after a full-jitter
 * back-off of up to 100 ms × 2^attempt (500 ms × 2^attempt for throttling), as the SDK waits.
 * Anything else is thrown at once. A write retried after a lost answer may find its own first
 * attempt's effect (a conditional put then fails its condition), exactly as with the SDK.
 */
import { Agent, request as httpRequest } from 'node:http';

/** The actions of DynamoDB this module is used for. */
export type DynamoAction =
  | 'GetItem'
  | 'Query'
  | 'PutItem'
  | 'UpdateItem'
  | 'DeleteItem'
  | 'BatchWriteItem'
  | 'Scan'
  | 'CreateTable'
  | 'DescribeTable';

/** DynamoDB over its JSON protocol: an action and its wire body, answered by its wire output. */
export interface DynamoJson {
  call(action: DynamoAction, body: object): Promise<Record<string, unknown>>;
  /** Drops the keep-alive sockets. Idempotent; a call after it opens new ones. */
  close(): void;
}

/** Where the requests go, and how often one is tried. */
export type DynamoJsonOptions = (
  | {
      /** `http://127.0.0.1:<port>`: the requests go to it over HTTP. */
      endpoint: string;
    }
  | {
      /**
       * Carries each request to the server another way than HTTP: the embedded server's message
       * channel (backends/local/dynalite-server.ts). Same headers, same body, same answer.
       */
      wire: DynamoWire;
    }
) & {
  /** Attempts per call, the first included (default 3, as the SDK's standard mode). */
  maxAttempts?: number;
  /** Back-off base in ms (default 100, as the SDK's; tests make it small). */
  retryBaseMs?: number;
};

/** One request as the server takes it over HTTP: its headers (lower-case names) and its body. */
export interface DynamoWire {
  post(headers: Readonly<Record<string, string>>, payload: string): Promise<DynamoAnswer>;
  /** Drops what the wire keeps open (HTTP's keep-alive sockets). Idempotent. */
  close(): void;
}

/** A server's answer to one request: its HTTP status, headers and body. */
export interface DynamoAnswer {
  status: number;
  headers: Readonly<Record<string, string | string[] | number | undefined>>;
  body: string;
}

/** A DynamoDB error as the SDK raises it: the callers read `name`, `$fault` and `$metadata` only. */
export interface DynamoError extends Error {
  $fault: 'client' | 'server';
  $metadata: { httpStatusCode?: number; requestId?: string; attempts: number; totalRetryDelay: number };
}

const TARGET_PREFIX = 'DynamoDB_20120810.';
/**
 * What dynalite requires of a request it will answer (index.js): an `AWS4-` Authorization header
 * naming Credential, SignedHeaders and Signature, and an X-Amz-Date (or Date) header. It verifies
 * neither the signature nor the date, so these are fixed.
 */
const AUTHORIZATION =
  'AWS4-HMAC-SHA256 Credential=local/20000101/local/dynamodb/aws4_request, SignedHeaders=host;x-amz-date;x-amz-target, Signature=0';
const AMZ_DATE = '20000101T000000Z';

/** The SDK's retryable network errors (@smithy/service-error-classification NODEJS_TIMEOUT_ERROR_CODES). */
const NETWORK_ERRORS: ReadonlySet<string> = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT']);
/** The SDK's transient HTTP statuses (TRANSIENT_ERROR_STATUS_CODES). */
const TRANSIENT_STATUSES: ReadonlySet<number> = new Set([500, 502, 503, 504]);
/** Throttling names DynamoDB answers with (the SDK's THROTTLING_ERROR_CODES that DynamoDB uses). */
const THROTTLING: ReadonlySet<string> = new Set([
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
  'ThrottlingException',
  'Throttling',
  'TooManyRequestsException',
]);
/** The SDK's ceiling on one back-off (MAXIMUM_RETRY_DELAY). */
const MAX_DELAY_MS = 20_000;

/** The headers of one request of `action` with `payload` as its body. */
function requestHeaders(action: DynamoAction, payload: string): Record<string, string> {
  return {
    'content-type': 'application/x-amz-json-1.0',
    'content-length': String(Buffer.byteLength(payload)),
    'x-amz-target': TARGET_PREFIX + action,
    'x-amz-date': AMZ_DATE,
    authorization: AUTHORIZATION,
  };
}

/** HTTP to `endpoint` over one keep-alive agent. */
export function httpWire(endpoint: string): DynamoWire {
  const url = new URL(endpoint);
  // As many sockets as the SDK's node handler allows (50): parallel writers of a wave each get one.
  let agent = new Agent({ keepAlive: true, maxSockets: 50 });
  return {
    post: (headers, payload) =>
      new Promise((resolve, reject) => {
        const req = httpRequest(
          { agent, hostname: url.hostname, port: url.port, path: '/', method: 'POST', headers },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (chunk: Buffer) => chunks.push(chunk));
            res.on('error', reject);
            res.on('end', () =>
              resolve({
                status: res.statusCode ?? 0,
                headers: res.headers,
                body: Buffer.concat(chunks).toString('utf8'),
              }),
            );
          },
        );
        req.on('error', reject);
        req.end(payload);
      }),
    close() {
      agent.destroy();
      agent = new Agent({ keepAlive: true, maxSockets: 50 });
    },
  };
}

export function openDynamoJson(options: DynamoJsonOptions): DynamoJson {
  const wire = 'wire' in options ? options.wire : httpWire(options.endpoint);
  const maxAttempts = options.maxAttempts ?? 3;
  const baseMs = options.retryBaseMs ?? 100;
  const post = (action: DynamoAction, payload: string): Promise<DynamoAnswer> =>
    wire.post(requestHeaders(action, payload), payload);

  return {
    async call(action, body) {
      const payload = JSON.stringify(body);
      let totalRetryDelay = 0;
      const backOff = async (attempt: number, throttled: boolean) => {
        const ceiling = Math.min(MAX_DELAY_MS, (throttled ? 5 : 1) * baseMs * 2 ** attempt);
        const delay = Math.floor(Math.random() * ceiling);
        totalRetryDelay += delay;
        await new Promise((resolve) => setTimeout(resolve, delay));
      };
      for (let attempt = 1; ; attempt++) {
        let answer: DynamoAnswer;
        try {
          answer = await post(action, payload);
        } catch (error) {
          if (attempt >= maxAttempts || !NETWORK_ERRORS.has((error as NodeJS.ErrnoException).code ?? '')) throw error;
          await backOff(attempt, false);
          continue;
        }
        if (answer.status === 200) return (answer.body ? JSON.parse(answer.body) : {}) as Record<string, unknown>;
        const error = dynamoError(answer, attempt, totalRetryDelay);
        const throttled = THROTTLING.has(error.name);
        if (attempt >= maxAttempts || !(throttled || TRANSIENT_STATUSES.has(answer.status))) throw error;
        await backOff(attempt, throttled);
      }
    },
    close() {
      wire.close();
    },
  };
}

/**
 * The error an answer that is not a 200 stands for, named as the SDK names it: the part of the
 * `__type` (or of the `x-amzn-errortype` header) after `#` and before any `:`.
 */
function dynamoError(answer: DynamoAnswer, attempts: number, totalRetryDelay: number): DynamoError {
  let data: { __type?: unknown; message?: unknown; Message?: unknown } = {};
  try {
    const parsed: unknown = answer.body ? JSON.parse(answer.body) : {};
    if (parsed !== null && typeof parsed === 'object') data = parsed as typeof data;
  } catch {
    // Not JSON (dynalite's 404 for an unknown path is XML): named by the header, if any, or as the SDK does.
  }
  const header = answer.headers['x-amzn-errortype'];
  const code = typeof data.__type === 'string' ? data.__type : typeof header === 'string' ? header : 'UnknownError';
  const name = (code.split('#').pop() ?? code).split(':')[0] ?? code;
  const message =
    typeof data.message === 'string' ? data.message : typeof data.Message === 'string' ? data.Message : 'UnknownError';
  const requestId = answer.headers['x-amzn-requestid'];
  const error = new Error(message) as DynamoError;
  error.name = name;
  error.$fault = answer.status >= 500 ? 'server' : 'client';
  error.$metadata = {
    httpStatusCode: answer.status,
    ...(typeof requestId === 'string' ? { requestId } : {}),
    attempts,
    totalRetryDelay,
  };
  return error;
}
