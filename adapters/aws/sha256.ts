/** SHA-256 for SigV4 signing without an SDK client (a signed S3 GET, a signed Lambda Invoke). */
import { createHash, createHmac } from 'node:crypto';

/** What the signer hashes: a string or bytes (SourceData in @smithy/types). */
type Source = string | ArrayBuffer | ArrayBufferView;
const bytes = (data: Source): Buffer =>
  typeof data === 'string'
    ? Buffer.from(data, 'utf8')
    : data instanceof ArrayBuffer
      ? Buffer.from(data)
      : Buffer.from(data.buffer, data.byteOffset, data.byteLength);

/** SHA-256 (and HMAC-SHA-256, given a secret) for the signer, from node:crypto. */
export class Sha256 {
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
