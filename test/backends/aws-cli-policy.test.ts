/**
 * The IAM policy docs/aws.md gives `flotilla --backend aws` users, checked against the calls the
 * CLI really makes: the real CLI, as a user runs it, against a moto server (Step Functions and the
 * DynamoDB ledger, at AWS_ENDPOINT_URL), with moto recording every request. Each recorded call
 * (action and resource, an index being its own resource) must be allowed by the documented policy,
 * and the policy must grant nothing the CLI never calls.
 *
 * Needs moto_server (see test/helpers/aws-tools.ts): skipped with a SKIPPED line off CI.
 */
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateStateMachineCommand, SFNClient } from '@aws-sdk/client-sfn';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLedgerTable, DynamoDbLedger } from '../../adapters/dynamodb/ledger.ts';
import type { FlotillaConfig } from '../../config/types.ts';
import { type MotoServer, skipWithout, startMoto } from '../helpers/aws-tools.ts';
import { runCli } from '../helpers/cli.ts';
import { recordWith } from '../helpers/fixtures.ts';
import { tempDir } from '../helpers/local.ts';

const SKIP = skipWithout(
  'moto_server',
  'the CLI IAM policy checked against the CLI on moto (test/backends/aws-cli-policy.test.ts)',
);
const REGION = 'us-east-1';
const ACCOUNT = '123456789012';
const STAGE = 'prod';
const MACHINE = `flotilla-${STAGE}-release`;
const TABLE = `flotilla-${STAGE}-ledger`;
const stateMachineArn = `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:${MACHINE}`;

interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: string | string[];
}

/** The policy in docs/aws.md: the ```json block after `<!-- cli-policy -->`, placeholders filled in. */
function documentedPolicy(): Statement[] {
  const doc = readFileSync(new URL('../../docs/aws.md', import.meta.url), 'utf8');
  const match = /<!-- cli-policy -->\s*```json\n([\s\S]*?)\n```/.exec(doc);
  if (!match?.[1]) throw new Error('docs/aws.md has no ```json block after <!-- cli-policy -->');
  const text = match[1]
    .replaceAll('<home-region>', REGION)
    .replaceAll('<account>', ACCOUNT)
    .replaceAll('<stage>', STAGE);
  const policy = JSON.parse(text) as { Version: string; Statement: Statement[] };
  expect(policy.Version).toBe('2012-10-17');
  return policy.Statement;
}

const list = (x: string | string[]) => (Array.isArray(x) ? x : [x]);
/** IAM's wildcards: `*` any run of characters, `?` one (actions case-insensitively). */
const glob = (pattern: string, flags = '') =>
  new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replaceAll('*', '.*')
      .replaceAll('?', '.')}$`,
    flags,
  );
const allows = (statements: Statement[], action: string, resource: string) =>
  statements.some(
    (s) =>
      s.Effect === 'Allow' &&
      list(s.Action).some((a) => glob(a, 'i').test(action)) &&
      list(s.Resource).some((r) => glob(r).test(resource)),
  );

interface Call {
  action: string;
  resource: string;
}

/** A recorded request as IAM sees it: `dynamodb:Query` on `.../table/T/index/I`, and so on. */
function callsOf(entry: { headers: Record<string, string>; body: string; body_encoded: boolean }): Call[] {
  const header = Object.entries(entry.headers).find(([k]) => k.toLowerCase() === 'x-amz-target')?.[1];
  if (!header) return [];
  const [prefix, operation] = header.split('.') as [string, string];
  const body = JSON.parse(entry.body_encoded ? Buffer.from(entry.body, 'base64').toString('utf8') : entry.body || '{}');
  if (prefix.startsWith('DynamoDB')) {
    const tables: string[] = body.TableName ? [body.TableName] : Object.keys(body.RequestItems ?? {});
    const items = (body.TransactItems ?? []) as Record<string, { TableName: string }>[];
    for (const item of items) for (const part of Object.values(item)) tables.push(part.TableName);
    return tables.map((table) => ({
      action: `dynamodb:${operation}`,
      resource: `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/${table}${body.IndexName ? `/index/${body.IndexName}` : ''}`,
    }));
  }
  if (prefix === 'AWSStepFunctions') {
    // SendTask* carry only a token: Step Functions authorizes them against the token's state machine.
    const resource = body.executionArn ?? body.stateMachineArn ?? stateMachineArn;
    return [{ action: `states:${operation}`, resource }];
  }
  return [{ action: `${prefix}:${operation}`, resource: '(unknown service)' }];
}

let moto: MotoServer;
let dir: string;
let cleanup: () => Promise<void>;
let recording: string;
let releaseId: string;
let finishedId: string;
const calls: Call[] = [];
const runs: { args: string[]; code: number; stderr: string }[] = [];

beforeAll(async () => {
  if (SKIP) return;
  ({ dir, cleanup } = await tempDir('flotilla-cli-policy-'));
  recording = join(dir, 'moto-recording.jsonl');
  moto = await startMoto({ MOTO_RECORDER_FILEPATH: recording });
  const client = moto.client(REGION);
  const dynamo = new DynamoDBClient(client);
  await createLedgerTable(dynamo, TABLE);
  await new SFNClient(client).send(
    new CreateStateMachineCommand({
      name: MACHINE,
      definition: JSON.stringify({ StartAt: 'Done', States: { Done: { Type: 'Succeed' } } }),
      roleArn: `arn:aws:iam::${ACCOUNT}:role/flotilla-${STAGE}-release`,
    }),
  );

  // The ledger as the stack leaves it: a finished release (to roll back) and one waiting at a hold.
  const ledger = new DynamoDbLedger({ client: DynamoDBDocumentClient.from(dynamo), tableName: TABLE });
  const finished = {
    ...recordWith([{ region: 'us-east-1', wave: 0, phase: 'deployed', before: '1.0.0' }]),
    releaseId: 'shop-1.1.0',
    version: '1.1.0',
    status: 'SUCCEEDED' as const,
  };
  finishedId = finished.releaseId;
  await ledger.createRelease(finished);
  await ledger.putRegion({
    service: 'shop',
    region: 'us-east-1',
    current: { version: '1.1.0', artifact: 's3://builds/shop/1.1.0.zip' },
    releaseId: finished.releaseId,
    updatedAt: finished.startedAt,
  });
  const running = {
    ...recordWith([
      { region: 'us-east-1', wave: 0, phase: 'deployed', before: '1.1.0' },
      { region: 'eu-west-1', wave: 1, phase: 'pending', before: '1.1.0' },
    ]),
    releaseId: 'shop-1.2.0',
    version: '1.2.0',
  };
  releaseId = running.releaseId;
  await ledger.createRelease(running);
  await ledger.acquireLock('shop', { releaseId, owner: `arn:exec:${releaseId}`, acquiredAt: running.startedAt });
  await ledger.putHoldToken('shop', releaseId, {
    token: 'token-1'.padEnd(64, 'x'),
    reason: 'bake',
    at: running.startedAt,
  });

  const config: FlotillaConfig = JSON.parse(
    JSON.stringify({
      service: 'shop',
      regions: [
        {
          name: 'us-east-1',
          target: {
            kind: 'codedeploy',
            awsRegion: 'us-east-1',
            application: 'shop',
            deploymentGroup: 'shop-us-east-1',
            platform: 'Server',
            alarms: { names: ['shop-us-east-1-5xx'] },
          },
        },
        {
          name: 'eu-west-1',
          target: {
            kind: 'codedeploy',
            awsRegion: 'eu-west-1',
            application: 'shop',
            deploymentGroup: 'shop-eu-west-1',
            platform: 'Server',
            alarms: { names: ['shop-eu-west-1-5xx'] },
          },
        },
      ],
      waves: [
        { name: 'canary', regions: ['us-east-1'] },
        { name: 'rest', regions: ['eu-west-1'] },
      ],
      aws: { region: REGION, stateMachineArn, table: TABLE },
    }),
  );
  await writeFile(join(dir, 'flotilla.yml'), JSON.stringify(config, null, 2));

  await moto.motoApi('/moto-api/recorder/start-recording');
  const env = {
    AWS_ENDPOINT_URL: moto.endpoint,
    AWS_ACCESS_KEY_ID: 'moto',
    AWS_SECRET_ACCESS_KEY: 'moto',
    AWS_REGION: REGION,
    AWS_PROFILE: '',
    USER: 'ana',
  };
  // A command for each kind of call the CLI's AWS target makes (where, skip-region and freeze make
  // none these do not), side by side, then abort once promote has used the hold's token up.
  const run = async (args: string[]) => {
    const result = await runCli([...args, '--backend', 'aws'], dir, env);
    runs.push({ args, code: result.code, stderr: result.stderr });
  };
  await Promise.all(
    [
      ['release', 's3://builds-{awsRegion}/shop/1.3.0.zip', '--version', '1.3.0', '--no-wait'],
      ['status', releaseId],
      ['history'],
      ['promote', releaseId, '--reason', 'graphs fine'],
    ].map(run),
  );
  await ledger.putHoldToken('shop', releaseId, {
    token: 'token-2'.padEnd(64, 'x'),
    reason: 'bake',
    at: running.startedAt,
  });
  await run(['abort', releaseId, '--reason', 'p99 up']);
  // A rollback starts only once no release holds the lock (core/rollback.ts planRollbackOf): free it
  // as the aborted release's FinishRelease would, then roll back the finished one.
  await ledger.releaseLock('shop', releaseId);
  await run(['rollback', finishedId, '--reason', 'revenue dipped', '--no-wait']);
  await moto.motoApi('/moto-api/recorder/stop-recording');
  for (const line of readFileSync(recording, 'utf8').split('\n')) {
    if (line.trim() !== '') calls.push(...callsOf(JSON.parse(line)));
  }
}, 240_000);

afterAll(async () => {
  await moto?.close();
  await cleanup?.();
});

describe.skipIf(SKIP)('the CLI policy in docs/aws.md', () => {
  it('lets every CLI command run to its end on the AWS backend', () => {
    expect(runs.filter((r) => r.code !== 0)).toEqual([]);
    expect(calls.length).toBeGreaterThan(runs.length);
  });

  it('allows every call the CLI made (the ledger index included)', () => {
    const statements = documentedPolicy();
    const denied = [
      ...new Set(
        calls.filter((c) => !allows(statements, c.action, c.resource)).map((c) => `${c.action} ${c.resource}`),
      ),
    ];
    expect(denied, JSON.stringify([...new Set(calls.map((c) => `${c.action} ${c.resource}`))], null, 1)).toEqual([]);
    expect(calls.map((c) => c.resource)).toContain(
      `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/${TABLE}/index/byReleaseStart`,
    );
  });

  it('grants no action the CLI never calls', () => {
    const used = new Set(calls.map((c) => c.action.toLowerCase()));
    const unused = documentedPolicy()
      .flatMap((s) => list(s.Action))
      .filter((a) => ![...used].some((u) => glob(a, 'i').test(u)));
    expect(unused).toEqual([]);
  });
});
