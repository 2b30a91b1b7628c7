/**
 * Lambda Invoke as one SigV4-signed HTTPS POST (the signer every SDK client already carries, with
 * the credentials of the region's other clients: the same role), not with the Lambda client: that
 * client's ~70 KiB would take StartBake, which starts Lambda groups' new hosts, to the brink of its
 * 600 KiB (test/infra/package.test.ts). Needs lambda:InvokeFunction on the function's versions.
 * https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html
 */
import type { AwsCredentials } from './clients.ts';
import { signedRequest } from './signed-request.ts';

export interface InvokeCall {
  awsRegion: string;
  functionName: string;
  /** The version (or alias) invoked. */
  qualifier: string;
  payload: string;
}

/** What Invoke answered: its StatusCode, FunctionError and LogResult headers, and the function's payload. */
export interface InvokeAnswer {
  statusCode: number;
  functionError?: string;
  /** Base64 of the last 4 KB of the invocation's log (LogType Tail). */
  logResult?: string;
  payload: string;
}

export type Invoke = (call: InvokeCall) => Promise<InvokeAnswer>;

export interface SignedInvokeOptions {
  /** The credentials to sign with in a region (its role's, when it has one). */
  credentials: (awsRegion: string) => Promise<AwsCredentials>;
  /** Lambda's endpoint in a region; tests point it at a local server. */
  endpoint?: (awsRegion: string) => string;
  fetch?: typeof fetch;
}

export const lambdaEndpoint = (awsRegion: string): string =>
  `https://lambda.${awsRegion}.amazonaws.com${awsRegion.startsWith('cn-') ? '.cn' : ''}`;

/** Invoke (RequestResponse, LogType Tail), signed; an HTTP error is thrown with Lambda's error type as its name. */
export function signedInvoke(options: SignedInvokeOptions): Invoke {
  const endpointOf = options.endpoint ?? lambdaEndpoint;
  const send = options.fetch ?? fetch;
  return async ({ awsRegion, functionName, qualifier, payload }) => {
    const where = `Lambda Invoke ${functionName}:${qualifier} in ${awsRegion}`;
    const response = await signedRequest({
      service: 'lambda',
      awsRegion,
      credentials: await options.credentials(awsRegion),
      endpoint: endpointOf(awsRegion),
      method: 'POST',
      path: `/2015-03-31/functions/${encodeURIComponent(functionName)}/invocations`,
      query: { Qualifier: qualifier },
      headers: {
        'content-type': 'application/json',
        'x-amz-invocation-type': 'RequestResponse',
        'x-amz-log-type': 'Tail',
      },
      body: payload,
      where,
      fetch: send,
    });
    const body = await response.text();
    if (!response.ok) {
      // Lambda's errors: the type in x-amzn-ErrorType (`ResourceNotFoundException:http://…`), the text in the body.
      const type = (response.headers.get('x-amzn-errortype') ?? `LambdaHttp${response.status}`).split(':')[0] as string;
      let message = body.slice(0, 300);
      try {
        const parsed = JSON.parse(body) as { message?: string; Message?: string };
        message = parsed.message ?? parsed.Message ?? message;
      } catch {
        // Not JSON: the raw body says it.
      }
      const error = new Error(`${where}: HTTP ${response.status} ${type}: ${message}`);
      error.name = type;
      throw error;
    }
    const functionError = response.headers.get('x-amz-function-error');
    const logResult = response.headers.get('x-amz-log-result');
    return {
      statusCode: response.status,
      ...(functionError ? { functionError } : {}),
      ...(logResult ? { logResult } : {}),
      payload: body,
    };
  };
}
