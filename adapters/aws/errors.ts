/**
 * Names of the errors the AWS adapters throw on purpose. The state machines route on `error.name`
 * (Retry for the transient ones, Catch for the rest), so these strings are API: never rename one.
 * Every other AWS failure is rethrown as the SDK raised it, with its SDK name.
 */
import { namedError } from '../../core/errors.ts';

/** The target is not one this adapter drives (e.g. a local-process target handed to CodeDeploy). Terminal. */
export const UnsupportedTarget = 'UnsupportedTarget';

/** The artifact cannot become a CodeDeploy revision for this platform (bad URI, S3 for Lambda...). Terminal. */
export const InvalidRevision = 'InvalidRevision';

/** A rollback to "nothing" (the region had no earlier revision): CodeDeploy cannot remove a revision. Terminal. */
export const UnsupportedRollback = 'UnsupportedRollback';

/** The deployment group runs another deployment (one per group, not adjustable). Transient: retried by the state machine. */
export const DeploymentGroupBusy = 'DeploymentGroupBusy';

/** AWS throttled us even after the SDK's single retry; the SDK error is the `cause`. Transient: retried by the state machine. */
export const AwsThrottled = 'AwsThrottled';

/** CodeDeploy does not know the deployment id (wrong region, or never created). Terminal. */
export const DeploymentNotFound = 'DeploymentNotFound';

/** The names the state machines should retry with back-off. */
export const TRANSIENT_ERROR_NAMES: readonly string[] = [DeploymentGroupBusy, AwsThrottled];

/** Every name above, transient or terminal. */
export const AWS_ADAPTER_ERROR_NAMES: readonly string[] = [
  UnsupportedTarget,
  InvalidRevision,
  UnsupportedRollback,
  DeploymentGroupBusy,
  AwsThrottled,
  DeploymentNotFound,
];

/** SDK error names that mean "slow down" (the SDK's own list, minus ones that mean a hard limit here). */
const THROTTLING_ERROR_NAMES: ReadonlySet<string> = new Set([
  'BandwidthLimitExceeded',
  'PriorRequestNotComplete',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
  'RequestThrottled',
  'RequestThrottledException',
  'SlowDown',
  'ThrottledException',
  'Throttling',
  'ThrottlingException',
  'TooManyRequests',
  'TooManyRequestsException',
]);

/** An Error whose `name` is one of the names above. */
export { namedError };

/**
 * True for an SDK error that means we were throttled: by name, HTTP 429, or the SDK's own throttling
 * trait. The one throttling rule for every AWS caller (CodeDeploy, CloudWatch, the DynamoDB ledger).
 */
export function isThrottling(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const e = error as { name?: unknown; $metadata?: { httpStatusCode?: number }; $retryable?: { throttling?: boolean } };
  return (
    (typeof e.name === 'string' && THROTTLING_ERROR_NAMES.has(e.name)) ||
    e.$metadata?.httpStatusCode === 429 ||
    e.$retryable?.throttling === true
  );
}

export function errorName(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && typeof (error as { name?: unknown }).name === 'string'
    ? (error as { name: string }).name
    : undefined;
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Runs one AWS call; throttling becomes AwsThrottled (cause kept), anything else passes through unchanged.
 * `what` names the call in the message, e.g. "CodeDeploy CreateDeployment in eu-west-1".
 */
export async function awsCall<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (isThrottling(error)) {
      throw namedError(
        AwsThrottled,
        `${what} was throttled (${errorName(error) ?? 'throttled'}): ${errorMessage(error)}`,
        error,
      );
    }
    throw error;
  }
}
