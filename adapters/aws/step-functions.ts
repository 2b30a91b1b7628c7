/**
 * Step Functions as the AWS side of two ports: waking a release at a hold (HoldWaker) and starting
 * a release execution (ReleaseStarter). The CLI, the Slack buttons and the webhook all use these.
 * Needs states:SendTaskSuccess/SendTaskFailure and states:StartExecution.
 */
import {
  SendTaskFailureCommand,
  SendTaskSuccessCommand,
  type SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import type { Intent } from '../../core/control.ts';
import type { HoldToken } from '../../core/model.ts';
import type { StartReleaseInput } from '../../core/types.ts';
import type { HoldWaker } from '../../ports/hold-waker.ts';
import type { ReleaseStarter, StartedRun } from '../../ports/release-starter.ts';
import type { TaskCallbacks } from '../../ports/task-callbacks.ts';

/** A token whose task has already moved on: nothing to wake. */
const GONE_TOKEN_ERRORS: ReadonlySet<string> = new Set(['TaskTimedOut', 'InvalidToken', 'TaskDoesNotExist']);

export class StepFunctionsHoldWaker implements HoldWaker {
  readonly #sfn: Pick<SFNClient, 'send'>;
  constructor(sfn: Pick<SFNClient, 'send'>) {
    this.#sfn = sfn;
  }

  async wake(token: HoldToken, intent: Intent): Promise<'woken' | 'gone'> {
    try {
      if (intent.verb === 'abort') {
        await this.#sfn.send(
          new SendTaskFailureCommand({
            taskToken: token.token,
            error: 'ReleaseAborted',
            cause: `aborted by ${intent.actor}: ${intent.reason}`.slice(0, 32_000),
          }),
        );
      } else {
        await this.#sfn.send(
          new SendTaskSuccessCommand({
            taskToken: token.token,
            output: JSON.stringify({
              verb: intent.verb,
              actor: intent.actor,
              reason: intent.reason,
              ...(intent.region ? { region: intent.region } : {}),
            }),
          }),
        );
      }
      return 'woken';
    } catch (error) {
      if (error instanceof Error && GONE_TOKEN_ERRORS.has(error.name)) return 'gone';
      throw error;
    }
  }
}

/** Ends a waiting task (a bake, a queued release) from a watcher: SendTaskSuccess / SendTaskFailure. */
export class StepFunctionsTaskCallbacks implements TaskCallbacks {
  readonly #sfn: Pick<SFNClient, 'send'>;
  constructor(sfn: Pick<SFNClient, 'send'>) {
    this.#sfn = sfn;
  }

  async succeed(token: string, output: Record<string, unknown>): Promise<'woken' | 'gone'> {
    return this.#gone(() =>
      this.#sfn.send(new SendTaskSuccessCommand({ taskToken: token, output: JSON.stringify(output) })),
    );
  }

  async fail(token: string, error: string, cause: string): Promise<'woken' | 'gone'> {
    return this.#gone(() =>
      this.#sfn.send(new SendTaskFailureCommand({ taskToken: token, error, cause: cause.slice(0, 32_000) })),
    );
  }

  async #gone(call: () => Promise<unknown>): Promise<'woken' | 'gone'> {
    try {
      await call();
      return 'woken';
    } catch (error) {
      if (error instanceof Error && GONE_TOKEN_ERRORS.has(error.name)) return 'gone';
      throw error;
    }
  }
}

export function consoleUrl(executionArn: string): string {
  const region = executionArn.split(':')[3] ?? 'us-east-1';
  return `https://${region}.console.aws.amazon.com/states/home?region=${region}#/v2/executions/details/${executionArn}`;
}

/** The execution ARN of a release: same account, region and state machine, named after the release. */
export const executionArnOf = (stateMachineArn: string, releaseId: string): string =>
  `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${releaseId}`;

export class StepFunctionsReleaseStarter implements ReleaseStarter {
  readonly #sfn: Pick<SFNClient, 'send'>;
  readonly #stateMachineArn: string;
  constructor(sfn: Pick<SFNClient, 'send'>, stateMachineArn: string) {
    this.#sfn = sfn;
    this.#stateMachineArn = stateMachineArn;
  }

  async start(input: StartReleaseInput): Promise<StartedRun> {
    const started = await this.#sfn.send(
      new StartExecutionCommand({
        stateMachineArn: this.#stateMachineArn,
        name: input.releaseId,
        input: JSON.stringify(input),
      }),
    );
    const executionArn = started.executionArn ?? executionArnOf(this.#stateMachineArn, input.releaseId);
    return { releaseId: input.releaseId, executionArn, consoleUrl: consoleUrl(executionArn) };
  }
}
