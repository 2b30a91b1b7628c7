import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CreateTableCommand, DescribeTableCommand, DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLedgerTable, DynamoDbLedger } from '../../adapters/dynamodb/ledger.ts';
import { type EmbeddedDynamo, StateDirLocked, startEmbeddedDynamo } from '../../backends/local/dynalite-server.ts';

const SERVER_MODULE = fileURLToPath(new URL('../../backends/local/dynalite-server.ts', import.meta.url));
const BACKEND_MODULE = fileURLToPath(new URL('../../backends/local/index.ts', import.meta.url));
const FIXTURES_MODULE = fileURLToPath(new URL('../helpers/fixtures.ts', import.meta.url));

let tmp: string;
const open: EmbeddedDynamo[] = [];
const children: ChildProcess[] = [];

async function start(dir?: string): Promise<EmbeddedDynamo> {
  const dynamo = await startEmbeddedDynamo(dir === undefined ? {} : { dir });
  open.push(dynamo);
  return dynamo;
}

beforeEach(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'flotilla-store-'));
});

afterEach(async () => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
  for (const dynamo of open.splice(0)) await dynamo.close();
  await rm(tmp, { recursive: true, force: true });
});

describe('embedded DynamoDB', () => {
  it('listens on 127.0.0.1 on a free port and answers DynamoDB calls', async () => {
    const a = await start();
    const b = await start();
    expect(a.port).toBeGreaterThan(0);
    expect(a.endpoint).toBe(`http://127.0.0.1:${a.port}`);
    expect(b.port).not.toBe(a.port);
    expect((await a.client.send(new ListTablesCommand({}))).TableNames).toEqual([]);
  });

  it('keeps in-memory servers apart', async () => {
    const a = await start();
    const b = await start();
    await createLedgerTable(a.client, 'ledger');
    expect((await a.client.send(new ListTablesCommand({}))).TableNames).toEqual(['ledger']);
    expect((await b.client.send(new ListTablesCommand({}))).TableNames).toEqual([]);
  });

  it('makes new tables ACTIVE at once', async () => {
    const dynamo = await start();
    await dynamo.client.send(
      new CreateTableCommand({
        TableName: 'instant',
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      }),
    );
    // dynalite's default keeps tables CREATING for 500 ms.
    await new Promise((resolve) => setTimeout(resolve, 50));
    const { Table } = await dynamo.client.send(new DescribeTableCommand({ TableName: 'instant' }));
    expect(Table?.TableStatus).toBe('ACTIVE');
  });

  it('keeps its data in the state dir across close and reopen', async () => {
    const dir = join(tmp, 'state');
    const first = await start(dir);
    await createLedgerTable(first.client, 'ledger');
    const ledger = new DynamoDbLedger({ client: first.doc, tableName: 'ledger' });
    await ledger.putRegion({
      service: 'shop',
      region: 'us-east-1',
      current: { version: '1.0.0', artifact: '/b/1' },
      releaseId: 'r1',
      updatedAt: 't',
    });
    await ledger.acquireLock('shop', { releaseId: 'r1', owner: 'local:h:1', acquiredAt: 't' });
    await first.close();

    const second = await start(dir);
    await createLedgerTable(second.client, 'ledger'); // idempotent on the reopened table
    const reopened = new DynamoDbLedger({ client: second.doc, tableName: 'ledger' });
    expect(await reopened.getRegion('shop', 'us-east-1')).toMatchObject({ current: { version: '1.0.0' } });
    expect(await reopened.getLock('shop')).toMatchObject({ releaseId: 'r1' });
    await second.close();

    // And once more, to be sure closing the reopened server released the dir too.
    const third = await start(dir);
    const out = await third.doc.send(
      new GetCommand({ TableName: 'ledger', Key: { pk: 'SERVICE#shop', sk: 'LOCK' }, ConsistentRead: true }),
    );
    expect(out.Item?.releaseId).toBe('r1');
  });

  it('closes idempotently', async () => {
    const dynamo = await start(join(tmp, 'state'));
    await Promise.all([dynamo.close(), dynamo.close()]);
    await dynamo.close();
  });
});

describe('state dir lock', () => {
  it('refuses a second server on the same dir in this process, leaving the first unharmed', async () => {
    const dir = join(tmp, 'state');
    const first = await start(dir);
    await createLedgerTable(first.client, 'ledger');

    const second = startEmbeddedDynamo({ dir });
    await expect(second).rejects.toMatchObject({
      name: StateDirLocked,
      message: `another flotilla process is using ${dir}`,
    });

    expect((await first.client.send(new ListTablesCommand({}))).TableNames).toEqual(['ledger']);
    await first.close();
    await expect(start(dir)).resolves.toBeDefined();
  });

  it('refuses a dir that another process holds, and frees it when that process dies', async () => {
    const dir = join(tmp, 'state');
    const holder = spawn(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `import { startEmbeddedDynamo } from ${JSON.stringify(SERVER_MODULE)};
         await startEmbeddedDynamo({ dir: ${JSON.stringify(dir)} });
         console.log('ready');`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    children.push(holder);
    const [ready] = (await once(holder.stdout ?? holder, 'data')) as [Buffer];
    expect(ready.toString()).toContain('ready');

    await expect(startEmbeddedDynamo({ dir })).rejects.toMatchObject({ name: StateDirLocked });

    // Killed outright, without closing anything: the OS drops LevelDB's lock with the process.
    holder.kill('SIGKILL');
    await once(holder, 'exit');
    await expect(start(dir)).resolves.toBeDefined();
  });
});

describe('the local backend without the AWS SDK', () => {
  it('opens its ledger, writes it, copies it and closes without loading the SDK clients', async () => {
    // A process of its own: this one has loaded the SDK for the tests above.
    const child = spawn(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `import { createRequire } from 'node:module';
         import { openLocalBackend } from ${JSON.stringify(BACKEND_MODULE)};
         import { configWith } from ${JSON.stringify(FIXTURES_MODULE)};
         const backend = await openLocalBackend({
           stateDir: ${JSON.stringify(join(tmp, 'state'))},
           config: configWith([['eu-west-1']], { service: 'lean' }),
           regions: 'read',
         });
         const state = { service: 'lean', region: 'eu-west-1', current: null, releaseId: null, updatedAt: 't' };
         await backend.ledger.putRegion(state);
         const back = await backend.ledger.getRegion('lean', 'eu-west-1');
         await backend.close();
         const loaded = Object.keys(createRequire(import.meta.url).cache)
           .map((file) => file.split('node_modules/').pop()?.split('/').slice(0, 2).join('/'))
           .filter((name) => name?.startsWith('@aws-sdk/'));
         console.log(JSON.stringify({ back, sdk: [...new Set(loaded)] }));`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    children.push(child);
    let out = '';
    child.stdout?.on('data', (c: Buffer) => {
      out += c;
    });
    const [code] = (await once(child, 'exit')) as [number];
    expect(code).toBe(0);
    const report = JSON.parse(out) as { back: unknown; sdk: string[] };
    expect(report.back).toEqual({
      service: 'lean',
      region: 'eu-west-1',
      current: null,
      releaseId: null,
      updatedAt: 't',
    });
    // util-dynamodb (marshall/unmarshall, no client) is all it takes.
    expect(report.sdk).toEqual(['@aws-sdk/util-dynamodb']);
    expect(existsSync(join(tmp, 'state', 'ledger-copy.json'))).toBe(true);
  });
});

describe('AWS configuration isolation', () => {
  const saved = { ...process.env };

  afterEach(() => {
    for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
    Object.assign(process.env, saved);
  });

  it('uses its own dummy credentials and region, not those in the environment', async () => {
    process.env.AWS_ACCESS_KEY_ID = 'AKIA-FROM-ENV';
    process.env.AWS_SECRET_ACCESS_KEY = 'secret-from-env';
    process.env.AWS_REGION = 'eu-central-1';
    process.env.AWS_MAX_ATTEMPTS = '9';
    const dynamo = await start();
    await dynamo.client.send(new ListTablesCommand({}));
    expect(await dynamo.client.config.credentials()).toMatchObject({ accessKeyId: 'local' });
    expect(await dynamo.client.config.region()).toBe('local');
    expect(await dynamo.client.config.maxAttempts()).toBe(3);
  });

  it('never runs the credential chain of the AWS profile', async () => {
    const marker = join(tmp, 'credential-process-ran');
    const config = join(tmp, 'aws-config');
    await writeFile(
      config,
      [
        '[profile flotilla-test]',
        `credential_process = /bin/sh -c "touch '${marker}'; echo '{\\"Version\\":1,\\"AccessKeyId\\":\\"x\\",\\"SecretAccessKey\\":\\"y\\"}'"`,
        'region = eu-central-1',
        '',
      ].join('\n'),
    );
    delete process.env.AWS_ACCESS_KEY_ID;
    delete process.env.AWS_SECRET_ACCESS_KEY;
    process.env.AWS_CONFIG_FILE = config;
    process.env.AWS_SHARED_CREDENTIALS_FILE = join(tmp, 'no-credentials');
    process.env.AWS_PROFILE = 'flotilla-test';

    const dynamo = await start();
    await dynamo.client.send(new ListTablesCommand({}));
    expect(await dynamo.client.config.credentials()).toMatchObject({ accessKeyId: 'local' });
    expect(existsSync(marker)).toBe(false);

    // Control: a client left to the SDK's defaults does run it, so the check above means something.
    const defaults = new DynamoDBClient({ region: 'local', endpoint: dynamo.endpoint });
    await defaults.config.credentials();
    defaults.destroy();
    expect(existsSync(marker)).toBe(true);
  });
});
