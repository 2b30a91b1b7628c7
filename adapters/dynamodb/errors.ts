/**
 * Names of the errors the DynamoDB ledger throws on purpose. Callers match on `error.name`
 * (not instanceof), so errors survive crossing Lambda/Step Functions boundaries as plain names.
 * Any other DynamoDB failure is rethrown as the SDK raised it, keeping its SDK name
 * (ValidationException, ResourceNotFoundException, ...).
 */

/** createRelease: a release with that id already exists for the service. Permanent: pick another id. */
export const ReleaseExists = 'ReleaseExists';

/** putReleaseRegion / updateRelease: no such release for the service. Permanent: a caller bug or a lost record. */
export const ReleaseNotFound = 'ReleaseNotFound';

/**
 * DynamoDB throttled us (ProvisionedThroughputExceededException, ThrottlingException,
 * RequestLimitExceeded, …: whatever adapters/aws/errors.ts `isThrottling` recognises) even after
 * the SDK's own retries. Transient: safe to retry later with backoff. The SDK error is kept as `cause`.
 */
export const StoreThrottled = 'StoreThrottled';

/** An Error whose `name` is one of the names above. */
export { namedError } from '../../core/errors.ts';
