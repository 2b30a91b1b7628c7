/**
 * AWS history budget, measured: runs the real release and region state machines on the local
 * engine with simulated time, and counts the history events AWS would record (history.ts).
 *
 * Simulated time: Wait states take no real time; the parent's clock advances by the gate interval
 * at each CheckGate. A child's wait on its deployment lasts its timeout (the fallback re-check,
 * `deploy.pollSeconds` doubling to `maxPollSeconds`) while the deployment runs, and ends when the
 * deployment does (its state-change event), which is after `deployMinutes` of simulated time;
 * with `missedEvents` no event ever comes and only the re-checks find the end.
 */
import { createLedgerTable, DynamoDbLedger } from '../adapters/dynamodb/ledger.ts';
import { startEmbeddedDynamo } from '../backends/local/dynalite-server.ts';
import { type ExecutionReport, LocalEngine, loadDefinition, localArn } from '../backends/local/engine.ts';
import type { FlotillaConfig } from '../config/types.ts';
import { namedError } from '../core/errors.ts';
import type { Deps } from '../functions/deps.ts';
import { functionFactories } from '../functions/index.ts';
import type { DeploymentHandle } from '../functions/start-region-deploy.ts';
import type { RegionDeployer } from '../ports/region-deployer.ts';
import { regionNames, SIMULATED_APPSPEC, simulatedRegions, splitWaves } from './fleet.ts';

export interface HistoryScenario {
  regions: number;
  /** Regions per wave, in order; must add up to `regions`. */
  waves: number[];
  deployMinutes: number;
  bakeMinutes: number;
  gateIntervalSeconds: number;
  pollSeconds: number;
  maxPollSeconds: number;
  /** No deployment's state-change event arrives: the re-check on the wait's timeout finds every end. */
  missedEvents?: boolean;
  /** Hours the release waits in the queue behind another one holding the lock (default none). */
  queueHours?: number;
}

export interface HistoryResult {
  parentEvents: number;
  /** The largest child history (every child does the same here). */
  maxChildEvents: number;
  children: number;
  status: string;
}

/**
 * The AWS-side settings docs/aws.md recommends: deploys are woken by their event, so the re-check
 * for a missed one starts after a minute and slows to every 15 minutes.
 */
export const awsDefaults = { gateIntervalSeconds: 60, pollSeconds: 60, maxPollSeconds: 900 };

export function scenarioConfig(s: HistoryScenario): FlotillaConfig {
  const names = regionNames(s.regions);
  const waves = splitWaves(names, s.waves);
  return {
    service: 'sim',
    regions: simulatedRegions(names),
    waves: waves.map((regions, i) => ({
      name: `wave-${i + 1}`,
      regions,
      bakeSeconds: s.bakeMinutes * 60,
      approval: false,
    })),
    gate: {
      healthPath: '/health',
      probes: 1,
      intervalSeconds: s.gateIntervalSeconds,
      maxErrorRate: 0,
      minSamples: 1,
      probeTimeoutMs: 1000,
      probeSpacingMs: 0,
      bakeSeconds: s.bakeMinutes * 60,
      onInconclusive: 'rollback',
    },
    deploy: { readinessTimeoutSeconds: 60, pollSeconds: s.pollSeconds, maxPollSeconds: s.maxPollSeconds },
    policy: { allowMultiRegionCanary: false },
  };
}

export async function simulateHistory(s: HistoryScenario): Promise<HistoryResult> {
  const dynamo = await startEmbeddedDynamo({});
  try {
    await createLedgerTable(dynamo.client, 'sim-ledger');
    const ledger = new DynamoDbLedger({ client: dynamo.doc, tableName: 'sim-ledger' });
    let clock = Date.UTC(2026, 0, 1);
    const elapsedMs = new Map<string, number>();
    let ids = 0;
    const deployMs = s.deployMinutes * 60_000;
    const deployer: RegionDeployer = {
      async startDeployment() {
        const id = `d-${++ids}`;
        elapsedMs.set(id, 0);
        return { deploymentId: id };
      },
      async getDeployment({ deploymentId }) {
        return (elapsedMs.get(deploymentId) ?? 0) >= deployMs ? { status: 'Succeeded' } : { status: 'InProgress' };
      },
      async currentRevision() {
        return null;
      },
      async stopDeployment() {},
    };
    const deps: Deps = {
      ledger,
      deployer,
      prober: { probe: async () => [{ kind: 'ok' }] },
      events: { emit: () => {} },
      now: () => clock,
      regionStateMachineArn: localArn('region'),
    };
    const functions = Object.fromEntries(Object.entries(functionFactories).map(([n, make]) => [n, make(deps)]));
    const awaitDeployment = functions['await-deployment'];
    if (!awaitDeployment) throw new Error('functions missing');
    // The wait on a deployment: its event ends it when the deployment ends within the wait's
    // timeout; otherwise the timeout fires (the deployment ran on meanwhile) and CheckDeployment looks.
    functions['await-deployment'] = async (input: { deployment: DeploymentHandle }) => {
      const { deploymentId, waitSeconds } = input.deployment;
      const elapsed = elapsedMs.get(deploymentId) ?? 0;
      const waitMs = waitSeconds * 1000;
      const first = await awaitDeployment(input);
      if ((first as DeploymentHandle).status !== 'InProgress') return first;
      if (!s.missedEvents && elapsed + waitMs >= deployMs) {
        elapsedMs.set(deploymentId, deployMs);
        return awaitDeployment(input);
      }
      elapsedMs.set(deploymentId, elapsed + waitMs);
      throw namedError('States.Timeout', 'no state change within the wait');
    };
    const checkGate = functions['check-gate'];
    if (!checkGate) throw new Error('functions missing');
    functions['check-gate'] = async (input: unknown) => {
      clock += s.gateIntervalSeconds * 1000;
      return checkGate(input);
    };
    // The bake's wait (when the ASL has one) sleeps to its timeout: nothing goes wrong here.
    const bake = functions.bake;
    if (bake) {
      functions.bake = async (input: { gate: { bakeUntil: number } }) => {
        await bake(input);
        clock = Math.max(clock, input.gate.bakeUntil);
        throw namedError('States.Timeout', 'the bake ran its length');
      };
    }
    // Queued: each wait on the queue lasts its heartbeat; the release ahead ends after `queueHours`.
    const hold = functions.hold;
    const queueEnds = clock + (s.queueHours ?? 0) * 3_600_000;
    if (hold && s.queueHours) {
      await ledger.acquireLock('sim', {
        releaseId: 'sim-0',
        owner: 'bench',
        acquiredAt: new Date(clock).toISOString(),
      });
      functions.hold = async (input: { holdSeconds: number; lockSeen?: string }) => {
        await hold(input);
        if (input.lockSeen === undefined) return { woke: 'time' };
        clock = Math.min(clock + input.holdSeconds * 1000, queueEnds);
        if (clock >= queueEnds) {
          await ledger.releaseLock('sim', 'sim-0');
          return { woke: 'lock' };
        }
        throw namedError('States.Timeout', 'the queue heartbeat came round');
      };
    }

    const reports: ExecutionReport[] = [];
    const engine = new LocalEngine({ functions, waitMs: 0, onExecutionEnd: (r) => reports.push(r) });
    engine.register('region', loadDefinition('region'));
    const release = engine.register('release', loadDefinition('release'));
    const outcome = (await engine.run(release, {
      releaseId: 'sim-1',
      version: '1.0.0',
      artifact: SIMULATED_APPSPEC,
      config: scenarioConfig(s),
      owner: 'bench',
    } as never)) as { status?: string };
    const parent = reports.find((r) => r.stateMachine === release);
    const children = reports.filter((r) => r.stateMachine !== release);
    return {
      parentEvents: parent?.awsHistoryEvents ?? -1,
      maxChildEvents: Math.max(...children.map((c) => c.awsHistoryEvents)),
      children: children.length,
      status: outcome.status ?? 'unknown',
    };
  } finally {
    await dynamo.close();
  }
}

/** The figures the AWS-backend issue asks for. */
export async function historyFigures() {
  const fleet = { regions: 40, waves: [1, 9, 15, 15], bakeMinutes: 10, ...awsDefaults };
  const tenMinutes = await simulateHistory({ ...fleet, deployMinutes: 10 });
  const tenHours = await simulateHistory({ ...fleet, deployMinutes: 600 });
  const one = { ...fleet, regions: 1, waves: [1] };
  const day = await simulateHistory({ ...one, deployMinutes: 24 * 60 });
  const dayMissed = await simulateHistory({ ...one, deployMinutes: 24 * 60, missedEvents: true });
  return {
    history_parent_events_10m: tenMinutes.parentEvents,
    history_parent_events_10h: tenHours.parentEvents,
    history_child_events_10m: tenMinutes.maxChildEvents,
    history_child_events_10h: tenHours.maxChildEvents,
    history_child_events_24h: day.maxChildEvents,
    history_child_events_24h_missed_event: dayMissed.maxChildEvents,
    statuses: [tenMinutes.status, tenHours.status, day.status, dayMissed.status],
  };
}

/** Parent history against bake length, queue time and width (the event-driven waits' figures). */
export async function waitFigures() {
  const fleet = { regions: 40, waves: [1, 9, 15, 15], deployMinutes: 10, ...awsDefaults };
  const bake10m = await simulateHistory({ ...fleet, bakeMinutes: 10 });
  const bake24h = await simulateHistory({ ...fleet, bakeMinutes: 24 * 60 });
  const queue48h = await simulateHistory({ ...fleet, bakeMinutes: 10, queueHours: 48 });
  const wide = await simulateHistory({ ...fleet, regions: 100, waves: [1, 9, 30, 30, 30], bakeMinutes: 60 });
  return {
    history_parent_events_bake_10m: bake10m.parentEvents,
    history_parent_events_bake_24h: bake24h.parentEvents,
    history_parent_events_queue_48h: queue48h.parentEvents,
    history_parent_events_100r: wide.parentEvents,
    statuses: [bake10m.status, bake24h.status, queue48h.status, wide.status],
  };
}
