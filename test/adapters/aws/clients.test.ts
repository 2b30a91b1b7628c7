/**
 * The client cache and its AssumeRole credentials, with STS mocked at the SDK boundary
 * (aws-sdk-client-mock): no real peer can run here, since STS needs an AWS account.
 */
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { CodeDeployClient } from '@aws-sdk/client-codedeploy';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  AwsClients,
  type ClientSettings,
  REFRESH_BEFORE_EXPIRY_MS,
  SDK_MAX_ATTEMPTS,
  sessionNameFor,
} from '../../../adapters/aws/clients.ts';
import { rejection } from './helpers.ts';

const sts = mockClient(STSClient);
const ROLE = 'arn:aws:iam::123456789012:role/flotilla-deployer';
const HOUR = 3600_000;

/** Notes the settings a factory was given and returns the client it made. */
function recorded<C>(seen: ClientSettings[], config: ClientSettings, client: C): C {
  seen.push(config);
  return client;
}

let clock: number;
let issued: number;

function stsAnswersWithFreshCredentials(): void {
  sts.on(AssumeRoleCommand).callsFake(async () => {
    issued++;
    return {
      Credentials: {
        AccessKeyId: `AKIA${issued}`,
        SecretAccessKey: `secret-${issued}`,
        SessionToken: `token-${issued}`,
        Expiration: new Date(clock + HOUR),
      },
    };
  });
}

beforeEach(() => {
  sts.reset();
  clock = Date.parse('2026-03-01T12:00:00Z');
  issued = 0;
  stsAnswersWithFreshCredentials();
});
afterEach(() => sts.reset());

describe('AwsClients', () => {
  it('keeps one client per (service, AWS region, role)', () => {
    const clients = new AwsClients();
    expect(clients.codedeploy('eu-west-1')).toBe(clients.codedeploy('eu-west-1'));
    expect(clients.codedeploy('eu-west-1')).not.toBe(clients.codedeploy('us-east-1'));
    expect(clients.codedeploy('eu-west-1', ROLE)).not.toBe(clients.codedeploy('eu-west-1'));
    expect(clients.codedeploy('eu-west-1')).toBeInstanceOf(CodeDeployClient);
    expect(clients.cloudwatch('eu-west-1')).toBeInstanceOf(CloudWatchClient);
  });

  it('builds clients in the target’s region with a single SDK retry (the state machine owns back-off)', async () => {
    const seen: ClientSettings[] = [];
    const clients = new AwsClients({
      factories: {
        codedeploy: (config) => {
          seen.push(config);
          return new CodeDeployClient(config);
        },
      },
    });
    const client = clients.codedeploy('ap-southeast-2');
    expect(seen).toEqual([{ region: 'ap-southeast-2', maxAttempts: SDK_MAX_ATTEMPTS }]);
    expect(SDK_MAX_ATTEMPTS).toBe(2);
    expect(await client.config.region()).toBe('ap-southeast-2');
    expect(await client.config.maxAttempts()).toBe(2);
  });

  it('without a role, uses the function’s own credentials and never calls STS', () => {
    const seen: ClientSettings[] = [];
    const clients = new AwsClients({
      factories: { codedeploy: (config) => recorded(seen, config, new CodeDeployClient(config)) },
    });
    clients.codedeploy('eu-west-1');
    expect(seen[0]?.credentials).toBeUndefined();
    expect(sts.commandCalls(AssumeRoleCommand)).toHaveLength(0);
  });

  it('with a role, assumes it once (session flotilla-<region>) for every service in that region', async () => {
    const seen: ClientSettings[] = [];
    const clients = new AwsClients({
      now: () => clock,
      factories: {
        codedeploy: (config) => recorded(seen, config, new CodeDeployClient(config)),
        cloudwatch: (config) => recorded(seen, config, new CloudWatchClient(config)),
      },
    });
    clients.codedeploy('eu-west-1', ROLE);
    clients.cloudwatch('eu-west-1', ROLE);
    const [a, b] = seen;
    expect(a?.credentials).toBeDefined();
    expect(a?.credentials).toBe(b?.credentials);

    const first = await a?.credentials?.();
    const again = await b?.credentials?.();
    expect(first).toEqual({
      accessKeyId: 'AKIA1',
      secretAccessKey: 'secret-1',
      sessionToken: 'token-1',
      expiration: new Date(clock + HOUR),
    });
    expect(again).toEqual(first);
    const calls = sts.commandCalls(AssumeRoleCommand);
    expect(calls).toHaveLength(1);
    expect(calls[0]?.args[0].input).toEqual({ RoleArn: ROLE, RoleSessionName: 'flotilla-eu-west-1' });
    // STS itself is called in the target's region.
    expect(await clients.client('sts', 'eu-west-1').config.region()).toBe('eu-west-1');
  });

  it('refreshes the credentials once they are within 5 minutes of expiring', async () => {
    const clients = new AwsClients({ now: () => clock });
    const credentials = clients.credentials('eu-west-1', ROLE);
    const start = clock;
    expect((await credentials()).accessKeyId).toBe('AKIA1');

    clock = start + HOUR - REFRESH_BEFORE_EXPIRY_MS - 1;
    expect((await credentials()).accessKeyId).toBe('AKIA1');
    expect(sts.commandCalls(AssumeRoleCommand)).toHaveLength(1);

    clock = start + HOUR - REFRESH_BEFORE_EXPIRY_MS;
    expect((await credentials()).accessKeyId).toBe('AKIA2');
    expect(sts.commandCalls(AssumeRoleCommand)).toHaveLength(2);
  });

  it('shares one in-flight AssumeRole between concurrent callers', async () => {
    const clients = new AwsClients({ now: () => clock });
    const credentials = clients.credentials('eu-west-1', ROLE);
    const all = await Promise.all([credentials(), credentials(), credentials()]);
    expect(new Set(all.map((c) => c.accessKeyId))).toEqual(new Set(['AKIA1']));
    expect(sts.commandCalls(AssumeRoleCommand)).toHaveLength(1);
  });

  it('assumes the role separately per AWS region (one session name each)', async () => {
    const clients = new AwsClients({ now: () => clock });
    await clients.credentials('eu-west-1', ROLE)();
    await clients.credentials('us-east-1', ROLE)();
    expect(sts.commandCalls(AssumeRoleCommand).map((c) => c.args[0].input.RoleSessionName)).toEqual([
      'flotilla-eu-west-1',
      'flotilla-us-east-1',
    ]);
  });

  it('does not cache a failed AssumeRole; STS throttling (query-protocol name Throttling) is AwsThrottled', async () => {
    sts.reset();
    sts
      .on(AssumeRoleCommand)
      .rejectsOnce(Object.assign(new Error('Rate exceeded'), { name: 'Throttling' }))
      .callsFake(async () => ({
        Credentials: {
          AccessKeyId: 'AKIA9',
          SecretAccessKey: 's',
          SessionToken: 't',
          Expiration: new Date(clock + HOUR),
        },
      }));
    const credentials = new AwsClients({ now: () => clock }).credentials('eu-west-1', ROLE);
    expect((await rejection(credentials())).name).toBe('AwsThrottled');
    expect((await credentials()).accessKeyId).toBe('AKIA9');
  });

  it('keeps session names within STS rules', () => {
    expect(sessionNameFor('eu-west-1')).toBe('flotilla-eu-west-1');
    expect(sessionNameFor('eu west/1')).toBe('flotilla-eu-west-1');
    expect(sessionNameFor('x'.repeat(100))).toHaveLength(64);
  });
});
