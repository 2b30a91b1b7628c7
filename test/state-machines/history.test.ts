import { describe, expect, it } from 'vitest';
import { type EngineOptions, type ExecutionReport, LocalEngine } from '../../backends/local/engine.ts';

const lambda = 'arn:aws:lambda:us-east-1:123456789012:function:flotilla-poll';

/** Poll → IsDone? → Wait → Poll … until the third poll, then Succeed. */
const polling = {
  StartAt: 'Poll',
  States: {
    Poll: { Type: 'Task', Resource: lambda, TimeoutSeconds: 10, Next: 'IsDone' },
    IsDone: {
      Type: 'Choice',
      Choices: [{ Variable: '$.n', NumericGreaterThanEquals: 3, Next: 'Done' }],
      Default: 'Wait',
    },
    Wait: { Type: 'Wait', Seconds: 60, Next: 'Poll' },
    Done: { Type: 'Succeed' },
  },
};

function engine(reports: ExecutionReport[], functions: EngineOptions['functions']) {
  return new LocalEngine({ functions, waitMs: 0, onExecutionEnd: (r) => reports.push(r) });
}

describe('AWS history-event counting', () => {
  it('counts a Task → Choice → Wait polling round as 9 events, as AWS does', async () => {
    const reports: ExecutionReport[] = [];
    const e = engine(reports, { poll: async (input: { n?: number }) => ({ n: (input.n ?? 0) + 1 }) });
    const arn = e.register('polling', polling as never);
    await e.run(arn, {});
    // Started 1 + two full rounds 2×9 + last Poll 5 + Choice 2 + Succeed 2 + Succeeded 1.
    expect(reports).toEqual([expect.objectContaining({ status: 'SUCCEEDED', awsHistoryEvents: 29 })]);
  });

  it('adds a Lambda attempt per retry and counts a caught failure', async () => {
    let calls = 0;
    const definition = {
      StartAt: 'Flaky',
      States: {
        Flaky: {
          Type: 'Task',
          Resource: lambda,
          TimeoutSeconds: 10,
          Retry: [{ ErrorEquals: ['Transient'], MaxAttempts: 2, IntervalSeconds: 1 }],
          Catch: [{ ErrorEquals: ['States.ALL'], Next: 'Caught' }],
          End: true,
        },
        Caught: { Type: 'Pass', End: true },
      },
    };
    const reports: ExecutionReport[] = [];
    const e = new LocalEngine({
      functions: {
        poll: async () => {
          calls += 1;
          const error = new Error('try again');
          error.name = 'Transient';
          throw error;
        },
      },
      retryIntervalMs: 0,
      onExecutionEnd: (r) => reports.push(r),
    });
    await e.run(e.register('flaky', definition as never), {});
    expect(calls).toBe(3);
    // Started 1; Entered 1 + 3 attempts × (Scheduled, Started) 6 + 3 failures 3 + exit 1; Pass 2; Succeeded 1.
    expect(reports[0]?.awsHistoryEvents).toBe(15);
  });
});
