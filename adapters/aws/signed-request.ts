/**
 * One SigV4-signed HTTPS request with the signer every SDK client already carries, for the few AWS
 * calls Flotilla makes without the service's client (S3 objects: adapters/aws/signed-s3.ts; Lambda
 * Invoke: adapters/aws/lambda-invoke.ts): each such client would add 70–125 KiB to a bundle, and
 * the project keeps every Lambda bundle under 600 KiB (test/infra/package.test.ts).
 */
import { createHash, createHmac } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentials } from './clients.ts';
import { awsCall } from './errors.ts';

export interface SignedRequest {
  /** The signing name: `s3`, `lambda`. */
  service: string;
  awsRegion: string;
  credentials: AwsCredentials;
  /** The service's endpoint (a test's local server, path-style); its path, if any, prefixes `path`. */
  endpoint: string;
  method: string;
  /** The request path below the endpoint's, already URI-encoded. */
  path: string;
  query?: Record<string, string>;
  headers?: Record<string, string>;
  body?: string;
  /** Where, for errors: `S3 GET s3://b/k in eu-west-1`. */
  where: string;
  fetch?: typeof fetch;
}

/** Signs and sends the request; the response is the caller's to read (errors are per service). */
export async function signedRequest(request: SignedRequest): Promise<Response> {
  const base = new URL(request.endpoint);
  const path = `${base.pathname.replace(/\/$/, '')}${request.path}`;
  const query = request.query ?? {};
  const s3 = request.service === 's3';
  const signer = new SignatureV4({
    service: request.service,
    region: request.awsRegion,
    credentials: request.credentials,
    sha256: Sha256,
    // S3 signs the path as sent, not encoded twice, and takes an unsigned payload.
    ...(s3 ? { uriEscapePath: false, applyChecksum: false } : {}),
  });
  const signed = await signer.sign({
    method: request.method,
    protocol: base.protocol,
    hostname: base.hostname,
    ...(base.port ? { port: Number(base.port) } : {}),
    path,
    query,
    headers: {
      host: base.host,
      ...(s3 ? { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } : {}),
      ...request.headers,
    },
    ...(request.body === undefined ? {} : { body: request.body }),
  });
  const url = new URL(`${base.protocol}//${base.host}${path}`);
  for (const [name, value] of Object.entries(query)) url.searchParams.set(name, value);
  const send = request.fetch ?? fetch;
  return awsCall(request.where, () =>
    send(url, {
      method: request.method,
      headers: signed.headers as Record<string, string>,
      ...(request.body === undefined ? {} : { body: request.body }),
    }),
  );
}

/** What the signer hashes: a string or bytes (SourceData in @smithy/types). */
type Source = string | ArrayBuffer | ArrayBufferView;
const bytes = (data: Source): Buffer =>
  typeof data === 'string'
    ? Buffer.from(data, 'utf8')
    : data instanceof ArrayBuffer
      ? Buffer.from(data)
      : Buffer.from(data.buffer, data.byteOffset, data.byteLength);

/** SHA-256 (and HMAC-SHA-256, given a secret) for the signer, from node:crypto. */
class Sha256 {
  readonly #secret: Buffer | undefined;
  #hash: ReturnType<typeof createHash> | ReturnType<typeof createHmac>;

  constructor(secret?: Source) {
    this.#secret = secret === undefined ? undefined : bytes(secret);
    this.#hash = this.#fresh();
  }

  #fresh() {
    return this.#secret === undefined ? createHash('sha256') : createHmac('sha256', this.#secret);
  }

  update(data: Source): void {
    this.#hash.update(bytes(data));
  }

  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.#hash.digest());
  }

  reset(): void {
    this.#hash = this.#fresh();
  }
}
