/**
 * Errors are API: the state machines route on `error.name`. This runs the real region.asl.json on
 * the local engine with handlers that throw the named errors, and checks where each one leads.
 * The handlers here are stand-ins on purpose: what is under test is the ASL's Retry/Catch routing.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { TRANSIENT_ERROR_NAMES } from '../../adapters/aws/errors.ts';
import { StoreThrottled } from '../../adapters/dynamodb/errors.ts';
import { LocalEngine, loadDefinition, taskStates } from '../../backends/local/engine.ts';
import type { RegionResult } from '../../core/types.ts';
import { regionResult } from '../../functions/record-region-result.ts';
import { configWith } from '../helpers/fixtures.ts';

const named = (name: string) => Object.assign(new Error(`${name} from a stand-in`), { name });
const task = { ...configWith([['eu-west-1']]), region: 'eu-west-1' };

function runRegion(
  startDeploy: () => Promise<unknown>,
  // The task is given whole here: what the ledger would give back for its ids.
  loadTask: (input: { task: unknown }) => Promise<unknown> = async ({ task }) => task,
) {
  const engine = new LocalEngine({
    functions: {
      'load-region-task': loadTask,
      'start-region-deploy': startDeploy,
      'await-deployment': async () => ({ deploymentId: 'd-1', status: 'Succeeded', waitSeconds: 0, polls: 1 }),
      'check-region-deploy': async () => ({ deploymentId: 'd-1', status: 'Succeeded', waitSeconds: 1, polls: 1 }),
      'verify-region': async () => ({ ok: 1, errors: 0, missing: 0 }),
      'record-region-result': async (state: Parameters<typeof regionResult>[0]) => regionResult(state),
    },
    retryIntervalMs: 0,
  });
  const arn = engine.register('region', loadDefinition('region'));
  const regionTask = {
    releaseId: 'r1',
    service: 'shop',
    region: task.region,
    wave: 0,
    action: 'deploy',
    revision: { version: '2.0.0', artifact: '/b' },
    target: task.regions[0]?.target,
    gate: task.gate,
    deploy: task.deploy,
  };
  return engine.run(arn, { task: regionTask } as never) as Promise<unknown> as Promise<RegionResult>;
}

describe('error routing in region.asl.json', () => {
  it.each([...TRANSIENT_ERROR_NAMES, StoreThrottled, 'Lambda.TooManyRequestsException'])(
    'retries %s and carries on when the next attempt works',
    async (name) => {
      let calls = 0;
      const result = await runRegion(async () => {
        calls += 1;
        if (calls < 3) throw named(name);
        return { deploymentId: 'd-1', status: 'InProgress', waitSeconds: 1, polls: 0 };
      });
      expect(calls).toBe(3);
      expect(result.outcome).toBe('deployed');
    },
  );

  it.each(['InvalidRevision', 'UnsupportedTarget', 'UnsupportedRollback', 'DeploymentNotFound', 'TypeError'])(
    'does not retry %s: the region fails with the error named, for the parent to roll back',
    async (name) => {
      let calls = 0;
      const result = await runRegion(async () => {
        calls += 1;
        throw named(name);
      });
      expect(calls).toBe(1);
      expect(result).toMatchObject({ outcome: 'failed', changed: false });
      expect(result.message).toContain(name);
    },
  );

  it('gives up on a transient error that never clears, and fails the region rather than the release', async () => {
    let calls = 0;
    const result = await runRegion(async () => {
      calls += 1;
      throw named('AwsThrottled');
    });
    expect(calls).toBe(5);
    expect(result.outcome).toBe('failed');
  });

  it('fails the region, naming the error, when its task cannot be looked up; nothing is deployed', async () => {
    let deploys = 0;
    const result = await runRegion(
      async () => {
        deploys += 1;
        return { deploymentId: 'd-1', status: 'InProgress', waitSeconds: 1, polls: 0 };
      },
      async () => {
        throw named('ReleaseNotFound');
      },
    );
    expect(deploys).toBe(0);
    expect(result).toMatchObject({ region: 'eu-west-1', outcome: 'failed', changed: false });
    expect(result.message).toContain('ReleaseNotFound');
  });
});

describe('every Lambda task state', () => {
  it.each(['release', 'region'] as const)('in %s.asl.json retries every transient error the adapters name', (name) => {
    const definition = JSON.parse(
      readFileSync(new URL(`../../state-machines/${name}.asl.json`, import.meta.url), 'utf8'),
    );
    const lambdaTasks = taskStates(definition.States).filter((t) => t.resource.includes(':function:'));
    const states = new Map<string, { Retry?: { ErrorEquals: string[] }[] }>();
    const collect = (all: Record<string, { ItemProcessor?: { States: Record<string, never> } }>) => {
      for (const [k, v] of Object.entries(all)) {
        states.set(k, v as never);
        if (v.ItemProcessor) collect(v.ItemProcessor.States);
      }
    };
    collect(definition.States);
    for (const { name: state } of lambdaTasks) {
      const retried = (states.get(state)?.Retry ?? []).flatMap((r) => r.ErrorEquals);
      for (const transient of ['AwsThrottled', StoreThrottled])
        expect(retried, `${state} retries ${transient}`).toContain(transient);
    }
  });
});

describe('every child-execution start', () => {
  it.each(['release', 'region'] as const)(
    'in %s.asl.json retries a throttled start under both of its names',
    (name) => {
      const definition = JSON.parse(
        readFileSync(new URL(`../../state-machines/${name}.asl.json`, import.meta.url), 'utf8'),
      );
      const states = new Map<string, { Retry?: { ErrorEquals: string[] }[] }>();
      const collect = (all: Record<string, { ItemProcessor?: { States: Record<string, never> } }>) => {
        for (const [k, v] of Object.entries(all)) {
          states.set(k, v as never);
          if (v.ItemProcessor) collect(v.ItemProcessor.States);
        }
      };
      collect(definition.States);
      const starts = taskStates(definition.States).filter((t) => t.resource.includes(':states:startExecution'));
      if (name === 'release') expect(starts.length).toBeGreaterThan(0);
      for (const { name: state } of starts) {
        const retried = (states.get(state)?.Retry ?? []).flatMap((r) => r.ErrorEquals);
        // AWS's docs name it StepFunctions.ExecutionLimitExceeded; some SDKs and emulators add "Exception".
        for (const spelling of [
          'StepFunctions.ExecutionLimitExceeded',
          'StepFunctions.ExecutionLimitExceededException',
        ])
          expect(retried, `${state} retries ${spelling}`).toContain(spelling);
      }
    },
  );
});
