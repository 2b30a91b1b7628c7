/**
 * S3 object calls made with one SigV4-signed request each (the signer every SDK client already
 * carries) instead of the S3 client: that client adds ~125 KiB to a bundle, which takes StageAhead
 * and UnstageRelease (S3, ECS and Lambda clients) past the project's 600 KiB per function, and
 * StartRegionDeploy (a Lambda rollback's AppSpec file) too. Four calls, the few headers they need:
 * HeadObject, GetObject, CopyObject (PUT with x-amz-copy-source), DeleteObject. Path-style URLs
 * against S3's regional endpoint; errors carry S3's own error code as their name.
 */
import { createHash, createHmac } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentials } from './clients.ts';
import { awsCall, namedError } from './errors.ts';

/** The credentials for S3 in an AWS region, through a role when one is named. */
export type S3Credentials = (awsRegion: string, roleArn?: string) => Promise<AwsCredentials>;

export interface SignedS3Options {
  credentials: S3Credentials;
  /** S3's endpoint for an AWS region (tests: a local server, path-style). Default: the regional endpoint. */
  endpoint?: (awsRegion: string) => string;
  fetch?: typeof fetch;
}

/** Where an object is, and through which region and role it is reached. */
export interface S3Object {
  awsRegion: string;
  roleArn?: string;
  bucket: string;
  key: string;
  /** An object version (GetObject of a recorded S3 revision). */
  versionId?: string;
  /** An ETag the object must still have (If-Match). */
  eTag?: string;
}

export class SignedS3 {
  readonly #credentials: S3Credentials;
  readonly #endpoint: (awsRegion: string) => string;
  readonly #fetch: typeof fetch;

  constructor(options: SignedS3Options) {
    this.#credentials = options.credentials;
    this.#endpoint = options.endpoint ?? ((awsRegion) => `https://s3.${awsRegion}.amazonaws.com`);
    this.#fetch = options.fetch ?? fetch;
  }

  /** The object's user metadata (`x-amz-meta-*`, lower-case keys), or undefined when there is none (404). */
  async head(at: S3Object): Promise<Record<string, string> | undefined> {
    const response = await this.#send('HEAD', at, {});
    if (response.status === 404) return undefined;
    await failUnlessOk(response, `S3 HeadObject ${url(at)} in ${at.awsRegion}`);
    const metadata: Record<string, string> = {};
    response.headers.forEach((value, name) => {
      if (name.startsWith('x-amz-meta-')) metadata[name.slice('x-amz-meta-'.length)] = value;
    });
    return metadata;
  }

  /** The object's body as text. */
  async getText(at: S3Object): Promise<string> {
    const response = await this.#send('GET', at, at.eTag ? { 'if-match': at.eTag } : {});
    const body = await response.text();
    if (!response.ok) throw s3Error(`S3 GetObject ${url(at)} in ${at.awsRegion}`, response.status, body);
    return body;
  }

  /** Copies `from` (any region: S3 copies server-side) to `to`, replacing its metadata with `metadata`. */
  async copy(from: { bucket: string; key: string }, to: S3Object, metadata: Record<string, string>): Promise<void> {
    const headers: Record<string, string> = {
      'x-amz-copy-source': `/${from.bucket}/${from.key.split('/').map(encodeURIComponent).join('/')}`,
      'x-amz-metadata-directive': 'REPLACE',
    };
    for (const [name, value] of Object.entries(metadata)) headers[`x-amz-meta-${name}`] = value;
    const response = await this.#send('PUT', to, headers);
    const body = await response.text();
    // CopyObject may answer 200 and still fail: the error is then in the body.
    if (!response.ok || body.includes('<Error>')) {
      throw s3Error(`S3 CopyObject into ${url(to)} in ${to.awsRegion}`, response.status, body);
    }
  }

  /** Deletes the object; one already gone is no error (S3 answers 204 either way). */
  async delete(at: S3Object): Promise<void> {
    const response = await this.#send('DELETE', at, {});
    await failUnlessOk(response, `S3 DeleteObject ${url(at)} in ${at.awsRegion}`);
  }

  async #send(method: string, at: S3Object, extra: Record<string, string>): Promise<Response> {
    const credentials = await this.#credentials(at.awsRegion, at.roleArn);
    const base = new URL(this.#endpoint(at.awsRegion));
    const path = `${base.pathname.replace(/\/$/, '')}/${encodeURIComponent(at.bucket)}/${at.key
      .split('/')
      .map(encodeURIComponent)
      .join('/')}`;
    const query: Record<string, string> = at.versionId ? { versionId: at.versionId } : {};
    const signer = new SignatureV4({
      service: 's3',
      region: at.awsRegion,
      credentials,
      sha256: Sha256,
      uriEscapePath: false, // S3 signs the path as sent, not encoded twice
      applyChecksum: false,
    });
    const signed = await signer.sign({
      method,
      protocol: base.protocol,
      hostname: base.hostname,
      ...(base.port ? { port: Number(base.port) } : {}),
      path,
      query,
      headers: { host: base.host, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', ...extra },
    });
    const target = new URL(`${base.protocol}//${base.host}${path}`);
    for (const [name, value] of Object.entries(query)) target.searchParams.set(name, value);
    return awsCall(`S3 ${method} ${url(at)} in ${at.awsRegion}`, () =>
      this.#fetch(target, { method, headers: signed.headers as Record<string, string> }),
    );
  }
}

function url(at: { bucket: string; key: string }): string {
  return `s3://${at.bucket}/${at.key}`;
}

async function failUnlessOk(response: Response, where: string): Promise<void> {
  if (response.ok) return;
  throw s3Error(where, response.status, await response.text());
}

/** S3's errors are XML: <Error><Code>NoSuchKey</Code><Message>…</Message></Error> (a HEAD has no body). */
function s3Error(where: string, status: number, body: string): Error {
  const code =
    /<Code>([^<]+)<\/Code>/.exec(body)?.[1] ??
    (status === 403 ? 'AccessDenied' : status === 404 ? 'NotFound' : `S3Http${status}`);
  const message = /<Message>([^<]*)<\/Message>/.exec(body)?.[1] ?? body.slice(0, 200);
  const reason = `HTTP ${status} ${code}${message ? `: ${message}` : ''}`;
  return Object.assign(namedError(code, `${where}: ${reason}`), { reason });
}

/** What S3 said, without where (for a message that names the call itself). */
export function s3Reason(error: unknown): string {
  const reason = (error as { reason?: unknown } | null)?.reason;
  return typeof reason === 'string' ? reason : error instanceof Error ? error.message : String(error);
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
