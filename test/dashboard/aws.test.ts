/**
 * `flotilla dashboard --backend aws`: the dashboard on a server of its own, reading the DynamoDB
 * ledger (real DynamoDB code on a real dynalite) and steering through the AWS CLI's services, whose
 * Step Functions calls are mocked at the SDK boundary (no AWS account here).
 */
import { request } from 'node:http';
import { SendTaskSuccessCommand, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLedgerTable, DynamoDbLedger } from '../../adapters/dynamodb/ledger.ts';
import { AwsCliBackend } from '../../backends/aws/cli.ts';
import { type EmbeddedDynamo, startEmbeddedDynamo } from '../../backends/local/dynalite-server.ts';
import { contextOf } from '../../cli/context.ts';
import { awsDashboard } from '../../cli/dashboard.ts';
import type { FlotillaConfig } from '../../config/types.ts';
import type { DashboardState } from '../../dashboard/view.ts';
import { configWith, recordWith } from '../helpers/fixtures.ts';

const sfn = mockClient(SFNClient);
const settings = {
  region: 'eu-west-1',
  stateMachineArn: 'arn:aws:states:eu-west-1:123456789012:stateMachine:flotilla-prod-release',
  table: 'dashboard-aws',
};
let dynamo: EmbeddedDynamo;

beforeAll(async () => {
  dynamo = await startEmbeddedDynamo({});
});
afterAll(async () => {
  await dynamo.close();
  sfn.restore();
});

function awsConfig(): FlotillaConfig {
  const config = configWith([['us-east-1'], ['eu-west-1']]);
  config.regions = config.regions.map((r) => ({
    name: r.name,
    target: {
      kind: 'codedeploy',
      awsRegion: r.name,
      application: 'shop',
      deploymentGroup: `shop-${r.name}`,
      platform: 'Server',
      alarms: { names: [`shop-${r.name}-errors`] },
    },
  }));
  config.aws = settings;
  return config;
}

function call(
  url: string,
  method: 'GET' | 'POST',
  headers: Record<string, string>,
  body?: string,
): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((ok, bad) => {
    const req = request(url, { method, headers, agent: false }, (res) => {
      let text = '';
      res.on('data', (c) => {
        text += c;
      });
      res.on('end', () => ok({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on('error', bad);
    req.end(body);
  });
}

describe('the dashboard on the AWS backend', () => {
  it('shows what the ledger says and steers through the same service, waking the held execution', async () => {
    const config = awsConfig();
    await createLedgerTable(dynamo.client, settings.table);
    const ledger = new DynamoDbLedger({ client: dynamo.doc, tableName: settings.table });
    const record = {
      ...recordWith([
        { region: 'us-east-1', wave: 0, phase: 'deployed', before: '1.0.0' },
        { region: 'eu-west-1', wave: 1, phase: 'pending', before: '1.0.0' },
      ]),
      waveCount: 2,
    };
    await ledger.createRelease(record);
    await ledger.acquireLock('shop', { releaseId: record.releaseId, owner: 'arn:exec', acquiredAt: record.startedAt });
    await ledger.putRegions([
      {
        service: 'shop',
        region: 'us-east-1',
        current: { version: '2.0.0', artifact: 's3://b/2' },
        releaseId: record.releaseId,
        updatedAt: '2026-01-01T00:01:00.000Z',
      },
      {
        service: 'shop',
        region: 'eu-west-1',
        current: { version: '1.0.0', artifact: 's3://b/1' },
        releaseId: 'shop-1.0.0',
        updatedAt: '2025-12-01T00:00:00.000Z',
      },
    ]);
    await ledger.putHoldToken('shop', record.releaseId, {
      token: 'task-token-1',
      reason: 'approval',
      at: record.startedAt,
    });
    sfn.on(SendTaskSuccessCommand).resolves({});

    const aws = new AwsCliBackend({ config, settings, sfn: new SFNClient({ region: 'eu-west-1' }), ledger });
    const server = await awsDashboard(contextOf({ actor: 'ops@aws', backend: 'aws' }), config, aws);
    try {
      const host = `127.0.0.1:${server.port}`;
      const login = await call(server.dashboard.loginUrl(), 'GET', {});
      expect(login.status).toBe(303);
      const cookie = String(login.headers['set-cookie']).split(';')[0] as string;
      expect((await call(`${server.url}/api/state`, 'GET', {})).status).toBe(401);

      const state = JSON.parse((await call(`${server.url}/api/state`, 'GET', { cookie })).body) as DashboardState;
      expect(state.backend).toBe('aws');
      expect(state.regions.map((r) => [r.region, r.version, r.releaseId])).toEqual([
        ['us-east-1', '2.0.0', 'shop-2.0.0'],
        ['eu-west-1', '1.0.0', 'shop-1.0.0'],
      ]);
      expect(state.release?.releaseId).toBe('shop-2.0.0');

      const pause = JSON.stringify({ verb: 'pause', releaseId: 'shop-2.0.0', reason: 'graphs' });
      const json = { 'content-type': 'application/json', cookie };
      const foreign = await call(
        `${server.url}/api/intents`,
        'POST',
        { ...json, origin: 'https://evil.example' },
        pause,
      );
      expect(foreign.status).toBe(403);
      expect(sfn.commandCalls(SendTaskSuccessCommand)).toHaveLength(0);
      const paused = await call(`${server.url}/api/intents`, 'POST', { ...json, origin: `http://${host}` }, pause);
      expect(paused.status, paused.body).toBe(201);
      expect(await ledger.listIntents('shop', 'shop-2.0.0')).toEqual([
        expect.objectContaining({ verb: 'pause', actor: 'ops@aws', reason: 'graphs' }),
      ]);
      expect(sfn.commandCalls(SendTaskSuccessCommand).map((c) => c.args[0].input.taskToken)).toEqual(['task-token-1']);

      const again = await call(`${server.url}/api/intents`, 'POST', { ...json, origin: `http://${host}` }, pause);
      expect(again.status).toBe(409);
      expect(JSON.parse(again.body)).toMatchObject({ name: 'NoChange' });

      const own = { ...json, origin: `http://${host}` };
      const skip = JSON.stringify({
        verb: 'skip-region',
        releaseId: 'shop-2.0.0',
        region: 'eu-west-1',
        reason: 'quiet',
      });
      expect((await call(`${server.url}/api/intents`, 'POST', own, skip)).status).toBe(201);
      // The rollback verb's rules are the service's: a running release is aborted, not rolled back.
      const rollback = JSON.stringify({ releaseId: 'shop-2.0.0', reason: 'bad' });
      const refused = await call(`${server.url}/api/rollbacks`, 'POST', own, rollback);
      expect(refused.status).toBe(409);
      expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(0);
      expect((await ledger.listIntents('shop', 'shop-2.0.0')).map((i) => [i.verb, i.region ?? null])).toEqual([
        ['pause', null],
        ['skip-region', 'eu-west-1'],
      ]);
    } finally {
      await server.close();
    }
  });
});
