/**
 * A Lambda group's new host: one invocation of the new function version (the AppSpec's
 * TargetVersion) by its version qualifier, before or beside the alias's traffic, with the log tail
 * read back to tell a cold start (the REPORT line has an `Init Duration`) from a warm one. Lambda
 * has no call that forces a new execution environment: a version already warmed by traffic
 * answers from a warm one, and the launch says so (`cold: no` in its handle). Its answer is the
 * sample; there is nothing to tear down (Lambda reaps idle environments).
 */
import { InvokeCommand, type InvokeCommandOutput, type LambdaClient } from '@aws-sdk/client-lambda';
import type { NewHostLaunch, NewHostLauncher, NewHostRequest } from '../../ports/new-host.ts';
import { lambdaTargetVersion } from './appspec.ts';
import { errorMessage } from './errors.ts';

export type LambdaClientFor = (awsRegion: string, roleArn?: string) => LambdaClient;

/** The event the function gets: a check it can tell from real traffic, should it want to. */
export const NEW_HOST_EVENT = { source: 'flotilla', 'detail-type': 'new-host-check' } as const;

export class LambdaColdInvoke implements NewHostLauncher {
  readonly #clientFor: LambdaClientFor;

  constructor(clientFor: LambdaClientFor) {
    this.#clientFor = clientFor;
  }

  async launch(request: NewHostRequest): Promise<NewHostLaunch> {
    const { target } = request;
    if (target.kind !== 'codedeploy' || target.platform !== 'Lambda') {
      return { kind: 'unsupported', why: 'not a Lambda deployment group' };
    }
    let fn: { functionName: string; version: string };
    try {
      fn = lambdaTargetVersion(request.revision.artifact);
    } catch (error) {
      return { kind: 'failed', message: errorMessage(error) };
    }
    const client = this.#clientFor(target.awsRegion, target.roleArn);
    let answer: InvokeCommandOutput;
    try {
      answer = await client.send(
        new InvokeCommand({
          FunctionName: fn.functionName,
          Qualifier: fn.version,
          InvocationType: 'RequestResponse',
          LogType: 'Tail',
          Payload: new TextEncoder().encode(
            JSON.stringify({
              ...NEW_HOST_EVENT,
              detail: { releaseId: request.releaseId, version: request.revision.version },
            }),
          ),
        }),
      );
    } catch (error) {
      return { kind: 'failed', message: `invoking ${fn.functionName}:${fn.version} failed: ${errorMessage(error)}` };
    }
    const log = answer.LogResult ? Buffer.from(answer.LogResult, 'base64').toString('utf8') : '';
    const cold = /^REPORT .*Init Duration:/m.test(log);
    if (answer.FunctionError) {
      const payload = answer.Payload ? new TextDecoder().decode(answer.Payload) : '';
      let detail = payload;
      try {
        const parsed = JSON.parse(payload) as { errorType?: string; errorMessage?: string };
        detail = [parsed.errorType, parsed.errorMessage].filter(Boolean).join(': ') || payload;
      } catch {
        // Not JSON: the raw payload says it.
      }
      return {
        kind: 'failed',
        message: `${cold ? 'a cold' : 'an'} invocation of ${fn.functionName}:${fn.version} failed (${answer.FunctionError}): ${detail}`,
      };
    }
    return {
      kind: 'started',
      host: {
        name: request.name,
        region: request.region,
        wave: request.wave,
        handle: { platform: 'Lambda', function: fn.functionName, version: fn.version, cold: cold ? 'yes' : 'no' },
      },
      samples: [{ kind: 'ok', ...(answer.StatusCode ? { status: answer.StatusCode } : {}) }],
    };
  }

  /** Nothing to stop: the environment is Lambda's, reaped when idle. */
  async stop(): Promise<void> {}
}
