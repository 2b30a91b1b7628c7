import { describe, expect, it } from 'vitest';
import { type ExecutionReport, LocalEngine } from '../../backends/local/engine.ts';

const lambda = (name: string) => `arn:aws:lambda:us-east-1:123456789012:function:flotilla-${name}`;
const KiB = 1024;

describe("the local engine enforces Step Functions' payload limit", () => {
  it('fails the execution with States.DataLimitExceeded when a task returns over 256 KiB, past any States.ALL catch', async () => {
    const called: string[] = [];
    const engine = new LocalEngine({
      functions: {
        big: async () => ({ blob: 'x'.repeat(257 * KiB) }),
        cleanup: async () => {
          called.push('cleanup');
          return {};
        },
      },
    });
    const arn = engine.register('big', {
      StartAt: 'Big',
      States: {
        Big: {
          Type: 'Task',
          Resource: lambda('big'),
          Retry: [{ ErrorEquals: ['States.ALL'], MaxAttempts: 3, IntervalSeconds: 1 }],
          Catch: [{ ErrorEquals: ['States.ALL'], Next: 'Cleanup' }],
          End: true,
        },
        Cleanup: { Type: 'Task', Resource: lambda('cleanup'), End: true },
      },
    } as never);
    await expect(engine.run(arn, {})).rejects.toMatchObject({
      name: 'States.DataLimitExceeded',
      message: expect.stringContaining('result of task Big'),
    });
    expect(called).toEqual([]);
  });

  it('fails it when a state output passes 256 KiB, and lets one just under through', async () => {
    const definition = {
      StartAt: 'Double',
      States: { Double: { Type: 'Pass', Parameters: { 'a.$': '$.blob', 'b.$': '$.blob' }, End: true } },
    };
    const reports: ExecutionReport[] = [];
    const engine = new LocalEngine({ functions: {}, onExecutionEnd: (r) => reports.push(r) });
    const arn = engine.register('double', definition as never);
    // {"a":"…","b":"…"}: 15 bytes of JSON around the two copies; 2 × 131,064 + 15 = 262,143 bytes.
    const fits = 131_064;
    await expect(engine.run(arn, { blob: 'x'.repeat(fits) })).resolves.toBeDefined();
    expect(reports[0]).toMatchObject({ status: 'SUCCEEDED', maxPayloadBytes: 256 * KiB - 1 });
    await expect(engine.run(arn, { blob: 'x'.repeat(fits + 1) })).rejects.toMatchObject({
      name: 'States.DataLimitExceeded',
      message: expect.stringContaining('output of state Double'),
    });
  });

  it('counts UTF-8 bytes, not characters', async () => {
    const engine = new LocalEngine({ functions: { echo: async (input: unknown) => input } });
    const arn = engine.register('echo', {
      StartAt: 'Echo',
      States: { Echo: { Type: 'Task', Resource: lambda('echo'), End: true } },
    } as never);
    // 100 Ki characters of 3 bytes each: 300 KiB.
    await expect(engine.run(arn, { text: '€'.repeat(100 * KiB) })).rejects.toMatchObject({
      name: 'States.DataLimitExceeded',
    });
  });
});

describe("the local engine enforces Step Functions' history limit", () => {
  /** Pass (2 events) → Choice (2 events) per round: `rounds` rounds make 4 × rounds + 4 events. */
  const loop = (rounds: number) => ({
    StartAt: 'Count',
    States: {
      Count: { Type: 'Pass', Parameters: { 'n.$': 'States.MathAdd($.n, 1)' }, Next: 'Enough' },
      Enough: {
        Type: 'Choice',
        Choices: [{ Variable: '$.n', NumericGreaterThanEquals: rounds, Next: 'Done' }],
        Default: 'Count',
      },
      Done: { Type: 'Succeed' },
    },
  });

  it('lets an execution end on its 25,000th event and fails one that needs more', async () => {
    const reports: ExecutionReport[] = [];
    const engine = new LocalEngine({ functions: {}, onExecutionEnd: (r) => reports.push(r) });
    const exact = engine.register('exact', loop(6_249) as never);
    await engine.run(exact, { n: 0 });
    expect(reports[0]).toMatchObject({ status: 'SUCCEEDED', awsHistoryEvents: 25_000 });
    const over = engine.register('over', loop(6_250) as never);
    await expect(engine.run(over, { n: 0 })).rejects.toMatchObject({
      name: 'States.Runtime',
      message: expect.stringContaining('25000 history events'),
    });
    expect(reports[1]).toMatchObject({ status: 'FAILED' });
  }, 120_000);
});

describe('the local engine refuses execution names Step Functions refuses', () => {
  const engine = new LocalEngine({ functions: {} });
  const arn = engine.register('pass', { StartAt: 'P', States: { P: { Type: 'Pass', End: true } } } as never);

  it.each([
    ['81 characters', 'a'.repeat(81)],
    ['a colon', 'svc:1.0.0'],
    ['a space', 'svc 1.0.0'],
    ['a slash', 'svc/1.0.0'],
    ['a control character', 'svc\u00071'],
  ])('refuses a name with %s (InvalidName)', async (_, name) => {
    await expect(engine.run(arn, {}, name)).rejects.toMatchObject({ name: 'InvalidName' });
  });

  it('runs a name of 80 allowed characters, and names its child executions within the limit', async () => {
    const children = new LocalEngine({ functions: {} });
    children.register('child', { StartAt: 'P', States: { P: { Type: 'Pass', End: true } } } as never);
    const parent = children.register('parent', {
      StartAt: 'Child',
      States: {
        Child: {
          Type: 'Task',
          Resource: 'arn:aws:states:::states:startExecution.sync:2',
          Parameters: { StateMachineArn: 'arn:aws:states:local:000000000000:stateMachine:child', Input: {} },
          End: true,
        },
      },
    } as never);
    await expect(engine.run(arn, {}, `${'a'.repeat(79)}.`)).resolves.toBeDefined();
    await expect(children.run(parent, {}, 'p'.repeat(80))).resolves.toMatchObject({ Status: 'SUCCEEDED' });
  });
});
