/**
 * NotifySlack: the AWS notifier, subscribed to the alerts topic. Each SNS record's Message is one
 * stamped release event (adapters/aws/sns-events.ts publishes only the notable ones: a gate that
 * failed or was inconclusive, a blocked wave, a rollback starting, a release ending); each goes
 * through SlackNotifier in bot token mode, which posts the release's one message and then edits it.
 *
 * A container keeps no memory between invocations reliably, so the message's channel and ts, the
 * view it shows and the replies already posted live in the ledger table (DynamoMessageStore). The
 * bot token is an SSM SecureString, fetched once per container.
 *
 * Environment (serverless.yml): FLOTILLA_SLACK_TOKEN_PARAM (the parameter's name),
 * FLOTILLA_SLACK_CHANNEL (a channel id), FLOTILLA_TABLE (the ledger table), and optionally
 * FLOTILLA_RELEASE_STATE_MACHINE_ARN (for the execution link in the message).
 *
 * Slack failing never fails the invocation (SNS would retry it and post twice); a bad record is
 * logged and skipped. Only a missing setting or SSM failing throws, so that it shows as an error.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { SNSEvent } from 'aws-lambda';
import type { ReleaseLinks } from '../adapters/slack/blocks.ts';
import { DynamoMessageStore } from '../adapters/slack/dynamo-message-store.ts';
import type { MessageStore } from '../adapters/slack/message-store.ts';
import { SlackNotifier } from '../adapters/slack/notifier.ts';
import type { ReleaseView } from '../adapters/slack/view.ts';
import type { Stamped } from '../ports/events.ts';
import type { ProgressWriter } from '../ports/writer.ts';
import { namedError } from './deps.ts';
import { lambda } from './runtime/lambda.ts';

export interface NotifySlackDeps {
  notifier: Pick<SlackNotifier, 'emit' | 'flush'>;
  log: ProgressWriter;
}

export interface NotifyResult {
  delivered: number;
  skipped: number;
}

/** A stamped event from an SNS Message, or null when it is not one (logged by the caller). */
export function parseStamped(message: unknown): Stamped | null {
  if (typeof message !== 'string') return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(message);
  } catch {
    return null;
  }
  if (typeof parsed !== 'object' || parsed === null) return null;
  const e = parsed as Record<string, unknown>;
  const text = (v: unknown) => typeof v === 'string' && v !== '';
  if (!text(e.kind) || !text(e.service) || !text(e.releaseId) || !text(e.at)) return null;
  // An unknown kind (a newer publisher) passes: the view ignores what it does not know.
  return parsed as Stamped;
}

export const createNotifySlack =
  (deps: NotifySlackDeps) =>
  async (event: SNSEvent): Promise<NotifyResult> => {
    const result: NotifyResult = { delivered: 0, skipped: 0 };
    for (const record of event.Records ?? []) {
      const stamped = parseStamped(record.Sns?.Message);
      if (stamped === null) {
        result.skipped += 1;
        deps.log.write(
          `flotilla: notify-slack: skipped SNS message ${record.Sns?.MessageId ?? '?'}: not a release event\n`,
        );
        continue;
      }
      await deps.notifier.emit(stamped);
      result.delivered += 1;
    }
    // Every edit and reply is sent before the invocation ends: a frozen container sends nothing.
    await deps.notifier.flush();
    return result;
  };

function need(env: Readonly<Record<string, string | undefined>>, name: string): string {
  const value = env[name];
  if (!value)
    throw namedError('MisconfiguredFunction', `environment variable ${name} is not set (serverless.yml sets it)`);
  return value;
}

/** The Step Functions console page of a release's execution (as backends/aws/cli.ts links it). */
export function executionLinks(releaseStateMachineArn: string | undefined): (view: ReleaseView) => ReleaseLinks {
  if (!releaseStateMachineArn) return () => ({});
  return (view) => {
    const executionArn = `${releaseStateMachineArn.replace(':stateMachine:', ':execution:')}:${view.releaseId}`;
    const region = executionArn.split(':')[3] ?? 'us-east-1';
    return {
      executionUrl: `https://${region}.console.aws.amazon.com/states/home?region=${region}#/v2/executions/details/${executionArn}`,
    };
  };
}

/** What a test (or another wiring) puts in place of the defaults. */
export interface NotifySlackOverrides {
  ssm?: Pick<SSMClient, 'send'>;
  messages?: MessageStore;
  log?: ProgressWriter;
}

/**
 * The handler from the environment. The token is read from SSM on the first event and kept for
 * the container's life (a failed read is retried by the next invocation).
 */
export function createNotifySlackFromEnv(
  env: Readonly<Record<string, string | undefined>>,
  overrides: NotifySlackOverrides = {},
): (event: SNSEvent) => Promise<NotifyResult> {
  const log: ProgressWriter = overrides.log ?? { write: (text) => console.log(text.trimEnd()) };
  let ready: Promise<NotifySlackDeps> | undefined;
  const build = async (): Promise<NotifySlackDeps> => {
    const parameter = need(env, 'FLOTILLA_SLACK_TOKEN_PARAM');
    const channel = need(env, 'FLOTILLA_SLACK_CHANNEL');
    const messages =
      overrides.messages ??
      new DynamoMessageStore({
        client: DynamoDBDocumentClient.from(new DynamoDBClient({}), {
          marshallOptions: { removeUndefinedValues: true },
        }),
        tableName: need(env, 'FLOTILLA_TABLE'),
      });
    const ssm = overrides.ssm ?? new SSMClient({});
    const out = await ssm.send(new GetParameterCommand({ Name: parameter, WithDecryption: true }));
    const botToken = out.Parameter?.Value?.trim();
    if (!botToken) throw namedError('MisconfiguredFunction', `SSM parameter ${parameter} has no value`);
    const apiUrl = env.FLOTILLA_SLACK_API_URL;
    const notifier = new SlackNotifier(
      { botToken, channel, ...(apiUrl ? { apiUrl } : {}) },
      {
        writer: log,
        messages,
        links: executionLinks(env.FLOTILLA_RELEASE_STATE_MACHINE_ARN),
        // Within the function's 30 s timeout: a longer Retry-After is given up (and logged), not waited out.
        timeoutMs: 5000,
        maxRetryAfterMs: 15_000,
      },
    );
    return { notifier, log };
  };
  return async (event) => {
    ready ??= build().catch((error: unknown) => {
      ready = undefined;
      throw error;
    });
    return createNotifySlack(await ready)(event);
  };
}

/** The Lambda entry point on AWS: subscribed to the alerts topic. */
export const handler = lambda(() => createNotifySlackFromEnv(process.env));
