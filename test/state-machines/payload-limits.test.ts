/**
 * AWS's size limits on the real ASL through the local engine (which enforces them): a release of
 * 100 regions in 5 waves, each region on an earlier build with its own 2 KB AppSpec, failing in
 * the last wave and rolling back all 100. Stand-in deployers and probes (bench/payloads.ts); the
 * state machines, handlers and ledger (dynalite) are the real ones.
 */
import { describe, expect, it } from 'vitest';
import { simulatePayloads } from '../../bench/payloads.ts';
import { regionTask } from '../../core/plan.ts';
import type { PlanRef, RollbackSteps } from '../../core/types.ts';

const scenario = { regions: 100, waves: [1, 9, 20, 30, 40], appSpecBytes: 2048 };

describe('a release of 100 regions with 2 KB AppSpecs, rolled back from its last wave', () => {
  it('stays within every limit: no state over 256 KiB, no ledger expression over 4 KB, and all 100 go back', async () => {
    const result = await simulatePayloads(scenario);
    expect(result).toMatchObject({ status: 'ROLLED_BACK', rolledBack: 100 });
    expect(result.maxStateBytes).toBeLessThan(256 * 1024);
    expect(result.maxExpressionBytes).toBeLessThanOrEqual(4096);
    expect(result.maxItemBytes).toBeLessThan(400 * 1024);
    expect(result.parentEvents).toBeLessThan(25_000);
  }, 180_000);

  it('dies with States.DataLimitExceeded when the state carries the whole plan (the shape before ids)', async () => {
    const result = await simulatePayloads({
      ...scenario,
      wrap: (name, handler, deps) =>
        name !== 'plan-release'
          ? handler
          : async (input) => {
              const out = (await handler(input)) as { plan: PlanRef };
              const plan = await deps.ledger.getPlan(out.plan.service, out.plan.releaseId);
              return { ...out, plan };
            },
    });
    expect(result.error).toMatchObject({ name: 'States.DataLimitExceeded' });
    expect(result.error?.message).toContain('PlanRelease');
  }, 180_000);

  it('dies mid-rollback, past every States.ALL catch, when the rollback carries whole tasks', async () => {
    const result = await simulatePayloads({
      ...scenario,
      wrap: (name, handler, deps) =>
        name !== 'plan-rollback'
          ? handler
          : async (input: { plan: PlanRef }) => {
              const out = (await handler(input)) as RollbackSteps;
              const [plan, record] = await Promise.all([
                deps.ledger.getPlan(input.plan.service, input.plan.releaseId),
                deps.ledger.getRelease(input.plan.service, input.plan.releaseId),
              ]);
              if (!plan || !record) throw new Error('no plan');
              return { ...out, steps: out.steps.map((ref) => regionTask(plan, record, ref)) };
            },
    });
    expect(result.error).toMatchObject({ name: 'States.DataLimitExceeded' });
    expect(result.error?.message).toContain('PlanRollback');
    // Nothing caught it (RollbackErrored would have finished the release): it is left RUNNING, as on AWS.
    expect(result.recorded).toBe('RUNNING');
    expect(result.rolledBack).toBe(0);
  }, 180_000);
});
