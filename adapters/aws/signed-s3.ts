/**
 * S3 object calls made with one SigV4-signed request each (the signer every SDK client already
 * carries) instead of the S3 client: that client adds ~125 KiB to a bundle, which takes StageAhead
 * and UnstageRelease (S3, ECS and Lambda clients) past the project's 600 KiB per function, and
 * StartRegionDeploy (a Lambda rollback's AppSpec file) too. Four calls, the few headers they need:
 * HeadObject, GetObject, CopyObject (PUT with x-amz-copy-source), DeleteObject. Path-style URLs
 * against S3's regional endpoint; errors carry S3's own error code as their name.
 */
import type { AwsCredentials } from './clients.ts';
import { namedError } from './errors.ts';
import { signedRequest } from './signed-request.ts';

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
    return signedRequest({
      service: 's3',
      awsRegion: at.awsRegion,
      credentials: await this.#credentials(at.awsRegion, at.roleArn),
      endpoint: this.#endpoint(at.awsRegion),
      method,
      path: `/${encodeURIComponent(at.bucket)}/${at.key.split('/').map(encodeURIComponent).join('/')}`,
      ...(at.versionId ? { query: { versionId: at.versionId } } : {}),
      headers: extra,
      where: `S3 ${method} ${url(at)} in ${at.awsRegion}`,
      fetch: this.#fetch,
    });
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
