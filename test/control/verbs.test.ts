/**
 * The steering verbs as a release manager uses them: real `flotilla` processes (with and without a
 * `flotilla up` serving the control API), real regions, the real ledger. On AWS, Step Functions is
 * mocked at the SDK boundary; the ledger is the real DynamoDB code on dynalite.
 */
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import {
  SendTaskFailureCommand,
  SendTaskSuccessCommand,
  SFNClient,
  StartExecutionCommand,
  TaskTimedOut,
} from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { createLedgerTable, DynamoDbLedger } from '../../adapters/dynamodb/ledger.ts';
import { AwsCliBackend } from '../../backends/aws/cli.ts';
import { type EmbeddedDynamo, startEmbeddedDynamo } from '../../backends/local/dynalite-server.ts';
import { TABLE_NAME } from '../../backends/local/index.ts';
import type { FlotillaConfig } from '../../config/types.ts';
import { controlClient, findControlServer } from '../../control/client.ts';
import type { Intent } from '../../core/control.ts';
import { type Background, eventually, runCli, startCli } from '../helpers/cli.ts';
import { asLocal, configWith, recordWith } from '../helpers/fixtures.ts';
import { e2eConfig, GOOD_BUILD, servedVersion, tempDir } from '../helpers/local.ts';

const cleanups: (() => Promise<void>)[] = [];
const running: Background[] = [];
afterEach(async () => {
  for (const b of running.splice(0)) await b.stop();
  for (const c of cleanups.splice(0)) await c();
});

async function workspace(config: FlotillaConfig): Promise<string> {
  const t = await tempDir('flotilla-verbs-');
  cleanups.push(t.cleanup);
  await writeFile(join(t.dir, 'flotilla.yml'), stringify(config));
  return t.dir;
}

function background(args: string[], cwd: string, env: Record<string, string> = {}): Background {
  const b = startCli(args, cwd, env);
  running.push(b);
  return b;
}

/** Reads the ledger of a state dir no process holds any more. */
async function withLedger<T>(stateDir: string, read: (ledger: DynamoDbLedger) => Promise<T>): Promise<T> {
  const dynamo = await startEmbeddedDynamo({ dir: join(stateDir, 'ledger') });
  try {
    return await read(new DynamoDbLedger({ client: dynamo.doc, tableName: TABLE_NAME }));
  } finally {
    await dynamo.close();
  }
}

/** Two waves with long bakes: a release stays RUNNING, baking wave 1, long enough to steer. */
async function slowConfig(): Promise<FlotillaConfig> {
  const config = await e2eConfig([[{ name: 'us-east-1', currency: 'USD' }], [{ name: 'eu-west-1', currency: 'USD' }]]);
  for (const wave of config.waves) wave.bakeSeconds = 30;
  config.gate.bakeSeconds = 30;
  return config;
}

describe('verbs with no control server', () => {
  it('freeze records a global intent with who and why, readable afterwards', async () => {
    const config = await e2eConfig([[{ name: 'us-east-1', currency: 'USD' }]]);
    const dir = await workspace(config);
    const freeze = await runCli(['freeze', '--reason', 'quarter-end close', '--actor', 'ops@test', '--json'], dir);
    expect(freeze.code, freeze.stderr).toBe(0);
    expect(JSON.parse(freeze.stdout)).toMatchObject({ verb: 'freeze', releaseId: null, actor: 'ops@test' });
    const global = await withLedger(join(dir, '.flotilla'), (ledger) => ledger.listIntents('shop', null));
    expect(global).toEqual([
      expect.objectContaining({ service: 'shop', verb: 'freeze', actor: 'ops@test', reason: 'quarter-end close' }),
    ]);
  });

  it('refuses a verb without --reason (exit 2) and one with no release to apply to (exit 4)', async () => {
    const config = await e2eConfig([[{ name: 'us-east-1', currency: 'USD' }]]);
    const dir = await workspace(config);
    const noReason = await runCli(['pause'], dir);
    expect(noReason.code).toBe(2);
    expect(noReason.stderr).toMatch(/--reason/);
    const blank = await runCli(['abort', 'shop-1.0.0', '--reason', '  '], dir);
    expect(blank.code).toBe(2);
    const nothingRunning = await runCli(['pause', '--reason', 'why not'], dir);
    expect(nothingRunning.code).toBe(4); // not found: no release runs to pause
    expect(nothingRunning.stderr).toMatch(/no release running/);
    const noRegion = await runCli(['skip-region', '--reason', 'r'], dir);
    expect(noRegion.code).toBe(2);
    expect(await withLedger(join(dir, '.flotilla'), (ledger) => ledger.listIntents('shop', null))).toEqual([]);
  });
});

describe('flotilla up', () => {
  it('serves the API: pause and abort from another terminal are recorded with their actor, and the abort ends the release', async () => {
    const config = await slowConfig();
    const dir = await workspace(config);
    const stateDir = join(dir, '.flotilla');
    const up = background(['up'], dir);
    await up.waitForOutput(
      /flotilla up: control API on http:\/\/127\.0\.0\.1:\d+ \(token in .*control-token\); Ctrl-C stops/,
    );

    const endpoint = await findControlServer(stateDir);
    if (!endpoint) throw new Error('flotilla up wrote no control.json');
    const client = controlClient(endpoint);
    const { releaseId } = await client.startRelease({ artifact: GOOD_BUILD, version: '1.0.0' });
    expect(releaseId).toBe('shop-1.0.0');
    // Baking wave 1: the canary is deployed, wave 2 has not started.
    await eventually('the canary to be deployed', async () => {
      const r = await client.getRelease(releaseId);
      return r.regions['us-east-1']?.phase === 'deployed' ? r : undefined;
    });

    const pause = await runCli(['pause', releaseId, '--reason', 'looking at the graphs', '--actor', 'alice@test'], dir);
    expect(pause.code, pause.stderr).toBe(0);
    expect(pause.stdout).toMatch(/alice@test pause — looking at the graphs/);
    // `up` holds the state dir: status reads through the API.
    const status = await runCli(['status', releaseId, '--json'], dir);
    expect(status.code, status.stderr).toBe(0);
    const summary = JSON.parse(status.stdout) as { status: string; intents: Intent[] };
    expect(summary.status).toBe('RUNNING');
    expect(summary.intents).toEqual([
      expect.objectContaining({ verb: 'pause', actor: 'alice@test', reason: 'looking at the graphs', releaseId }),
    ]);

    const skip = await runCli(
      ['skip-region', 'eu-west-1', '--reason', 'EU traffic peak', '--actor', 'alice@test'],
      dir,
    );
    expect(skip.code, skip.stderr).toBe(0);
    const late = await runCli(['skip-region', 'us-east-1', '--reason', 'too late', '--actor', 'alice@test'], dir);
    expect(late.code).toBe(5); // refused: the region is done
    expect(late.stderr).toMatch(/already deployed/);

    // No release id: the running one. No --actor: $USER@host.
    const abort = await runCli(['abort', '--reason', 'latency is up'], dir, { USER: 'bob' });
    expect(abort.code, abort.stderr).toBe(0);
    const ended = await eventually(
      'the aborted release to end',
      async () => {
        const r = await client.getRelease(releaseId);
        return r.status === 'RUNNING' ? undefined : r;
      },
      60_000,
    );
    expect(ended.status).not.toBe('SUCCEEDED');
    expect(ended.intents.map((i) => `${i.actor} ${i.verb}${i.region ? ` ${i.region}` : ''}`)).toEqual([
      'alice@test pause',
      'alice@test skip-region eu-west-1',
      `bob@${hostname()} abort`,
    ]);
    expect(ended.regions['eu-west-1']?.phase).not.toBe('deployed');

    const history = await runCli(['history'], dir);
    expect(history.stdout).toMatch(new RegExp(`bob@${hostname()} abort — latency is up`));
    expect(up.output().stdout).toMatch(/intent for shop-1\.0\.0: alice@test pause — looking at the graphs/);

    // Ctrl-C: the API and the regions stop, control.json goes, the exit is clean.
    expect(await up.stop('SIGINT')).toBe(0);
    expect(existsSync(join(stateDir, 'control.json'))).toBe(false);
    expect(await servedVersion(asLocal(config.regions[0]?.target).port)).toBeNull();
  });

  it('runs a `flotilla release` sent to it, which follows the release and exits 0 when it SUCCEEDED', async () => {
    const config = await e2eConfig([[{ name: 'us-east-1', currency: 'USD' }]]);
    const dir = await workspace(config);
    const up = background(['up'], dir);
    await up.waitForOutput(/control API on/);
    const release = await runCli(['release', GOOD_BUILD], dir);
    expect(release.code, release.stderr + release.stdout).toBe(0);
    expect(release.stderr).toMatch(/started shop-1\.0\.0 on the control server/);
    expect(release.stdout).toMatch(/us-east-1: deployed/);
    expect(release.stdout).toMatch(/SUCCEEDED: shop 1\.0\.0/);
    const where = await runCli(['where', '--json'], dir);
    expect(JSON.parse(where.stdout).regions).toMatchObject([
      { region: 'us-east-1', version: '1.0.0', process: { state: 'serving' } },
    ]);
    // A second `up` for the same state dir is refused.
    const second = await runCli(['up'], dir);
    expect(second.code).toBe(3);
  });
});

describe('flotilla release', () => {
  it('serves the control API while it runs: an abort from another terminal rolls it back', async () => {
    const config = await slowConfig();
    const dir = await workspace(config);
    const release = background(['release', GOOD_BUILD], dir);
    await release.waitForOutput(/us-east-1: deployed/, 30_000);
    expect(release.output().stderr).toMatch(/control API on http:\/\/127\.0\.0\.1:\d+/);
    const abort = await runCli(['abort', 'shop-1.0.0', '--reason', 'wrong build', '--actor', 'carol@test'], dir);
    expect(abort.code, abort.stderr).toBe(0);
    expect(await release.exited).toBe(1);
    expect(release.output().stdout).toMatch(/intent for shop-1\.0\.0: carol@test abort — wrong build/);
    // The process is gone: control.json with it, and the next reads open the state dir again.
    expect(existsSync(join(dir, '.flotilla', 'control.json'))).toBe(false);
    const status = JSON.parse((await runCli(['status', '--json'], dir)).stdout);
    expect(status.status).not.toBe('RUNNING');
    expect(status.intents).toEqual([expect.objectContaining({ verb: 'abort', actor: 'carol@test' })]);
  });
});

describe('freeze', () => {
  it('set while nothing runs, holds the next release before its first wave until unfreeze', async () => {
    const config = await e2eConfig([[{ name: 'us-east-1', currency: 'USD' }]]);
    const dir = await workspace(config);
    const freeze = await runCli(['freeze', '--reason', 'incident in progress', '--actor', 'ops@test'], dir);
    expect(freeze.code, freeze.stderr).toBe(0);
    const release = background(['release', GOOD_BUILD], dir);
    await release.waitForOutput(/wave 1 HELD: .*frozen.*ops@test/);
    expect(await servedVersion(asLocal(config.regions[0]?.target).port)).toBeNull();
    const status = await runCli(['status'], dir);
    expect(status.stdout).toMatch(/shop is FROZEN: .* ops@test freeze — incident in progress/);
    const unfreeze = await runCli(['unfreeze', '--reason', 'incident over', '--actor', 'ops@test'], dir);
    expect(unfreeze.code, unfreeze.stderr).toBe(0);
    expect(await release.exited).toBe(0);
    expect(release.output().stdout).toMatch(/SUCCEEDED/);
  });
});

describe('rollback', () => {
  it('puts back what a SUCCEEDED release changed, and the audit says who asked and why', async () => {
    const config = await e2eConfig([[{ name: 'us-east-1', currency: 'USD' }]]);
    const dir = await workspace(config);
    expect((await runCli(['release', GOOD_BUILD], dir)).code).toBe(0);
    expect((await runCli(['release', GOOD_BUILD, '--version', '1.0.1'], dir)).code).toBe(0);
    const noReason = await runCli(['rollback', 'shop-1.0.1'], dir);
    expect(noReason.code).toBe(2);
    const rollback = await runCli(
      ['rollback', 'shop-1.0.1', '--reason', 'revenue dipped', '--actor', 'dave@test'],
      dir,
    );
    expect(rollback.code, rollback.stderr + rollback.stdout).toBe(0);
    expect(rollback.stdout).toMatch(/shop-1\.0\.1-rollback/);
    const where = JSON.parse((await runCli(['where', '--json'], dir)).stdout);
    expect(where.regions).toMatchObject([{ region: 'us-east-1', version: '1.0.0' }]);
    const target = JSON.parse((await runCli(['status', 'shop-1.0.1', '--json'], dir)).stdout);
    expect(target.intents).toEqual([
      expect.objectContaining({ verb: 'rollback', actor: 'dave@test', reason: 'revenue dipped' }),
    ]);
    // A rollback release is not rolled back itself.
    const again = await runCli(['rollback', 'shop-1.0.1-rollback', '--reason', 'r'], dir);
    expect(again.code).toBe(5);
    expect(again.stderr).toMatch(/itself the rollback of shop-1\.0\.1/);
  });
});

describe('verbs on AWS', () => {
  const sfn = mockClient(SFNClient);
  const settings = {
    region: 'eu-west-1',
    stateMachineArn: 'arn:aws:states:eu-west-1:123456789012:stateMachine:flotilla-prod-release',
    table: 'flotilla-prod-ledger',
  };
  let dynamo: EmbeddedDynamo;
  let n = 0;
  beforeAll(async () => {
    dynamo = await startEmbeddedDynamo({});
  });
  afterAll(async () => {
    await dynamo.close();
  });
  beforeEach(() => sfn.reset());

  async function aws() {
    n += 1;
    await createLedgerTable(dynamo.client, `verbs-${n}`);
    const ledger = new DynamoDbLedger({ client: dynamo.doc, tableName: `verbs-${n}` });
    const backend = new AwsCliBackend({
      config: configWith([['us-east-1'], ['eu-west-1']]),
      settings,
      sfn: new SFNClient({ region: 'eu-west-1' }),
      ledger,
    });
    const record = recordWith([
      { region: 'us-east-1', wave: 0, phase: 'deployed', before: '1.0.0' },
      { region: 'eu-west-1', wave: 1, phase: 'pending', before: '1.0.0' },
    ]);
    await ledger.createRelease(record);
    await ledger.acquireLock('shop', { releaseId: record.releaseId, owner: 'arn:exec', acquiredAt: record.startedAt });
    const hold = { token: 'token-of-the-hold-'.padEnd(64, 'x'), reason: 'waiting for approval', at: record.startedAt };
    await ledger.putHoldToken('shop', record.releaseId, hold);
    return { backend, ledger, record, hold };
  }

  it('promote wakes a release held at a hold with SendTaskSuccess, and the intent is in the ledger', async () => {
    sfn.on(SendTaskSuccessCommand).resolves({});
    const { backend, ledger, record, hold } = await aws();
    const intent = await backend.intent({ verb: 'promote', reason: 'graphs look fine', actor: 'alice@test' });
    expect(intent).toMatchObject({ releaseId: record.releaseId, verb: 'promote' });
    const calls = sfn.commandCalls(SendTaskSuccessCommand).map((c) => c.args[0].input);
    expect(calls).toHaveLength(1);
    expect(calls[0]?.taskToken).toBe(hold.token);
    expect(JSON.parse(calls[0]?.output ?? '{}')).toMatchObject({ verb: 'promote', actor: 'alice@test' });
    expect(sfn.commandCalls(SendTaskFailureCommand)).toHaveLength(0);
    expect(await ledger.listIntents('shop', record.releaseId)).toEqual([intent]);
    // The token is used up.
    expect(await ledger.takeHoldTokens('shop', record.releaseId)).toEqual([]);
  });

  it('abort sends SendTaskFailure with error ReleaseAborted, naming actor and reason', async () => {
    sfn.on(SendTaskFailureCommand).resolves({});
    const { backend, ledger, record, hold } = await aws();
    const intent = await backend.intent({
      verb: 'abort',
      releaseId: record.releaseId,
      reason: 'bad latency',
      actor: 'bob@test',
    });
    const calls = sfn.commandCalls(SendTaskFailureCommand).map((c) => c.args[0].input);
    expect(calls).toEqual([
      { taskToken: hold.token, error: 'ReleaseAborted', cause: 'aborted by bob@test: bad latency' },
    ]);
    expect(sfn.commandCalls(SendTaskSuccessCommand)).toHaveLength(0);
    expect(await ledger.listIntents('shop', record.releaseId)).toEqual([intent]);
  });

  it('takes a token whose task has moved on as nothing to wake, and keeps one a wake could not reach', async () => {
    const gone = await aws();
    sfn.on(SendTaskSuccessCommand).rejects(new TaskTimedOut({ message: 'closed', $metadata: {} }));
    await expect(gone.backend.intent({ verb: 'pause', reason: 'ok', actor: 'a@test' })).resolves.toMatchObject({
      verb: 'pause',
    });
    expect(await gone.ledger.takeHoldTokens('shop', gone.record.releaseId)).toEqual([]);

    sfn.reset();
    const flaky = await aws();
    const throttled = Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });
    sfn.on(SendTaskSuccessCommand).rejects(throttled);
    await expect(flaky.backend.intent({ verb: 'promote', reason: 'go', actor: 'a@test' })).rejects.toMatchObject({
      name: 'WakeFailed',
      message: expect.stringMatching(/recorded/),
    });
    expect(await flaky.ledger.listIntents('shop', flaky.record.releaseId)).toHaveLength(1);
    expect(await flaky.ledger.takeHoldTokens('shop', flaky.record.releaseId)).toEqual([flaky.hold]);
  });

  it('refuses a verb that does not apply, recording nothing and waking no one', async () => {
    const { backend, ledger, record } = await aws();
    await expect(
      backend.intent({ verb: 'skip-region', region: 'us-east-1', reason: 'r', actor: 'a@test' }),
    ).rejects.toMatchObject({ name: 'NotApplicable', message: expect.stringMatching(/already deployed/) });
    await expect(backend.intent({ verb: 'resume', reason: 'r', actor: 'a@test' })).rejects.toMatchObject({
      name: 'NoChange',
      message: expect.stringMatching(/not paused/),
    });
    expect(await ledger.listIntents('shop', record.releaseId)).toEqual([]);
    expect(sfn.calls()).toHaveLength(0);
  });

  it('rollback records the intent and starts <release>-rollback with rollbackOf', async () => {
    sfn.on(StartExecutionCommand).resolves({ executionArn: 'arn:exec:rollback', startDate: new Date() });
    const { backend, ledger, record } = await aws();
    await expect(backend.rollback(record.releaseId, { actor: 'a@test', reason: 'r' })).rejects.toMatchObject({
      name: 'NotApplicable',
      message: expect.stringMatching(/abort/),
    });
    // It ends as FinishRelease ends it: SUCCEEDED, the lock free (a held lock refuses a rollback: Busy).
    await ledger.updateRelease('shop', record.releaseId, { status: 'SUCCEEDED' });
    await ledger.releaseLock('shop', record.releaseId);
    await ledger.putRegion({
      service: 'shop',
      region: 'us-east-1',
      current: { version: record.version, artifact: record.artifact },
      releaseId: record.releaseId,
      updatedAt: record.startedAt,
    });
    const started = await backend.rollback(record.releaseId, { actor: 'dave@test', reason: 'revenue dipped' });
    expect(started.releaseId).toBe('shop-2.0.0-rollback');
    const call = sfn.commandCalls(StartExecutionCommand)[0]?.args[0].input;
    expect(call?.name).toBe('shop-2.0.0-rollback');
    expect(call?.stateMachineArn).toBe(settings.stateMachineArn);
    expect(JSON.parse(call?.input ?? '{}')).toMatchObject({
      releaseId: 'shop-2.0.0-rollback',
      version: record.version,
      artifact: record.artifact,
      rollbackOf: record.releaseId,
      owner: 'flotilla-cli',
      config: { service: 'shop' },
    });
    expect(await ledger.listIntents('shop', record.releaseId)).toEqual([
      expect.objectContaining({
        verb: 'rollback',
        actor: 'dave@test',
        reason: 'revenue dipped',
        regions: ['us-east-1'],
      }),
    ]);
  });
});
