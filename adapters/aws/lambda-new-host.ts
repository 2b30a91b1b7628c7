/**
 * A Lambda group's new host: one invocation of the new function version (the AppSpec's
 * TargetVersion) by its version qualifier, before or beside the alias's traffic, with the log tail
 * read back to tell a cold start (the REPORT line has an `Init Duration`) from a warm one. Lambda
 * has no call that forces a new execution environment: a version already warmed by traffic
 * answers from a warm one, and the launch says so (`cold: no` in its handle). Its answer is the
 * sample; there is nothing to tear down (Lambda reaps idle environments). Invoke is one signed
 * POST (adapters/aws/lambda-invoke.ts), through the target's role when it names one.
 */
import type { NewHostLaunch, NewHostLauncher, NewHostRequest } from '../../ports/new-host.ts';
import { lambdaTargetVersion } from './appspec.ts';
import { errorMessage } from './errors.ts';
import type { InvokeAnswer, InvokeCall } from './lambda-invoke.ts';
import { stagedMade } from './stage-id.ts';

/** Invoke in the target's region, through its role when it names one. */
export type InvokeAs = (call: InvokeCall & { roleArn?: string }) => Promise<InvokeAnswer>;

/** The event the function gets: a check it can tell from real traffic, should it want to. */
export const NEW_HOST_EVENT = { source: 'flotilla', 'detail-type': 'new-host-check' } as const;

export class LambdaColdInvoke implements NewHostLauncher {
  readonly #invoke: InvokeAs;

  constructor(invoke: InvokeAs) {
    this.#invoke = invoke;
  }

  async launch(request: NewHostRequest): Promise<NewHostLaunch> {
    const { target } = request;
    if (target.kind !== 'codedeploy' || target.platform !== 'Lambda') {
      return { kind: 'unsupported', why: 'not a Lambda deployment group' };
    }
    let fn: { functionName: string; version: string };
    try {
      // A version staging published in the region (the AppSpec names a code zip): that one.
      const made = stagedMade(request.stageId);
      fn =
        made?.kind === 'LambdaVersion'
          ? { functionName: made.functionArn, version: made.version }
          : lambdaTargetVersion(request.revision.artifact);
      if (fn.version.startsWith('s3://')) {
        return {
          kind: 'failed',
          message: `${request.region}: the AppSpec names code to publish, and staging published no version there (${request.stageId ?? 'no staging'})`,
        };
      }
    } catch (error) {
      return { kind: 'failed', message: errorMessage(error) };
    }
    let answer: InvokeAnswer;
    try {
      answer = await this.#invoke({
        awsRegion: target.awsRegion,
        ...(target.roleArn ? { roleArn: target.roleArn } : {}),
        functionName: fn.functionName,
        qualifier: fn.version,
        payload: JSON.stringify({
          ...NEW_HOST_EVENT,
          detail: { releaseId: request.releaseId, version: request.revision.version },
        }),
      });
    } catch (error) {
      return { kind: 'failed', message: `invoking ${fn.functionName}:${fn.version} failed: ${errorMessage(error)}` };
    }
    const log = answer.logResult ? Buffer.from(answer.logResult, 'base64').toString('utf8') : '';
    const cold = /^REPORT .*Init Duration:/m.test(log);
    if (answer.functionError) {
      const payload = answer.payload;
      let detail = payload;
      try {
        const parsed = JSON.parse(payload) as { errorType?: string; errorMessage?: string };
        detail = [parsed.errorType, parsed.errorMessage].filter(Boolean).join(': ') || payload;
      } catch {
        // Not JSON: the raw payload says it.
      }
      return {
        kind: 'failed',
        message: `${cold ? 'a cold' : 'an'} invocation of ${fn.functionName}:${fn.version} failed (${answer.functionError}): ${detail}`,
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
      samples: [{ kind: 'ok', status: answer.statusCode }],
    };
  }

  /** Nothing to stop: the environment is Lambda's, reaped when idle. */
  async stop(): Promise<void> {}
}
