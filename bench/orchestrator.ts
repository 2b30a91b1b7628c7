/**
 * Flotilla's own overhead, measured on the real ASL and the real handlers: regions are stand-ins
 * whose deploy only waits a fixed time (this machine has 2 cores; 32 real processes would measure
 * the machine, not the orchestrator), probes answer from a script, the ledger is a real dynalite.
 */
import { jsonDocumentRequests } from '../adapters/dynamodb/json-documents.ts';
import { createLedgerTable, DynamoDbLedger } from '../adapters/dynamodb/ledger.ts';
import { LocalTaskTokens } from '../adapters/local/task-tokens.ts';
import type { Dynalite } from '../backends/local/dynalite-server.ts';
import { LocalEngine, loadDefinition, localArn } from '../backends/local/engine.ts';
import { BakeNotices, noticingBakes, watchBakes } from '../backends/local/index.ts';
import type { FlotillaConfig } from '../config/types.ts';
import type { ReleaseOutcome } from '../core/types.ts';
import type { Deps } from '../functions/deps.ts';
import { functionFactories } from '../functions/index.ts';
import type { Stamped } from '../ports/events.ts';
import type { ProbeSample } from '../ports/health-prober.ts';
import type { DeploymentStatus, RegionDeployer, Revision } from '../ports/region-deployer.ts';
import { deploymentChanged } from '../services/deploy-watch.ts';
import { benchGate, regionNames, splitWaves } from './fleet.ts';

/** A region target that only waits: every deployment takes exactly `deployMs`. */
export class WaitingDeployer implements RegionDeployer {
  readonly #deployMs: number;
  readonly #status = new Map<string, DeploymentStatus>();
  readonly #done = new Map<string, Promise<void>>();
  readonly #current = new Map<string, Revision | null>();
  #ids = 0;
  /** Told as each deployment ends, as the local fleet tells the backend (which wakes the waiting child). */
  onEnd: (deploymentId: string) => void = () => {};

  constructor(deployMs: number) {
    this.#deployMs = deployMs;
  }

  async startDeployment(request: Parameters<RegionDeployer['startDeployment']>[0]) {
    const deploymentId = `w-${++this.#ids}`;
    this.#status.set(deploymentId, { status: 'InProgress' });
    const done = new Promise<void>((resolve) =>
      setTimeout(() => {
        this.#current.set(request.region, request.revision);
        this.#status.set(deploymentId, { status: 'Succeeded' });
        resolve();
        this.onEnd(deploymentId);
      }, this.#deployMs),
    );
    this.#done.set(deploymentId, done);
    return { deploymentId };
  }

  async getDeployment({ deploymentId }: { deploymentId: string }): Promise<DeploymentStatus> {
    return this.#status.get(deploymentId) ?? { status: 'Failed', message: 'unknown deployment' };
  }

  async awaitDeployment(ref: { deploymentId: string }, timeoutMs: number): Promise<DeploymentStatus> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.#done.get(ref.deploymentId), new Promise((r) => (timer = setTimeout(r, timeoutMs)))]);
    clearTimeout(timer);
    return this.getDeployment(ref);
  }

  async currentRevision(region: string): Promise<Revision | null> {
    return this.#current.get(region) ?? null;
  }

  async stopDeployment() {}
}

export interface Scenario {
  waves: number[];
  deployMs: number;
  bakeSeconds: number;
  /** Health of a region at a moment: ok unless this says otherwise. */
  unhealthy?: (region: string, version: string | null, now: number) => boolean;
  /** Regions start on this version (so a rollback has somewhere to go). */
  startOn?: string;
  /** Sees each event as it happens. */
  onEvent?: (event: Stamped) => void;
}

export interface ScenarioRun {
  wallMs: number;
  outcome: ReleaseOutcome;
  events: (Stamped & { t: number })[];
}

let services = 0;

export async function runScenario(dynamo: Dynalite, s: Scenario): Promise<ScenarioRun> {
  services += 1;
  const service = `bench-${services}`;
  const table = `bench-${services}`;
  await createLedgerTable(dynamo.json, table);
  // The local backend's transport (backends/local/index.ts): DynamoDB's JSON protocol, no SDK.
  const ledger = new DynamoDbLedger({ requests: jsonDocumentRequests(dynamo.json), tableName: table });
  const total = s.waves.reduce((a, b) => a + b, 0);
  const names = regionNames(total);
  const deployer = new WaitingDeployer(s.deployMs);
  const tokens = new LocalTaskTokens();
  deployer.onEnd = (deploymentId) => {
    void deploymentChanged({ ledger, deployer, callbacks: tokens, now: Date.now }, deploymentId).catch(() => {});
  };
  if (s.startOn) {
    for (const region of names) {
      await ledger.putRegion({
        service,
        region,
        current: { version: s.startOn, artifact: '/b' },
        releaseId: null,
        updatedAt: '',
      });
    }
  }
  const events: (Stamped & { t: number })[] = [];
  let outcome: ReleaseOutcome | undefined;
  // As the local backend wires them: each bake a handler keeps wakes the watcher below.
  const bakeNotices = new BakeNotices();
  const deps: Deps = {
    ledger: noticingBakes(ledger, bakeNotices),
    deployer,
    prober: {
      async probe(request): Promise<ProbeSample[]> {
        const version = (await deployer.currentRevision(request.region))?.version ?? s.startOn ?? null;
        if (s.unhealthy?.(request.region, version, Date.now())) return [{ kind: 'error', message: 'scripted failure' }];
        return [{ kind: 'ok', ...(version ? { version } : {}) }];
      },
    },
    events: {
      emit(event) {
        events.push({ ...event, t: performance.now() });
        s.onEvent?.(event);
        if (event.kind === 'release-finished') outcome = event.outcome;
      },
    },
    now: Date.now,
    regionStateMachineArn: localArn('region'),
    waitForToken: (token, signal) => tokens.wait(token, signal),
    callbacks: tokens,
  };
  const functions = Object.fromEntries(Object.entries(functionFactories).map(([n, make]) => [n, make(deps)]));
  const engine = new LocalEngine({ functions, retryIntervalMs: 50 });
  // The bakes' watcher, as the local backend runs it: a signal turning bad fails the bake's wait.
  const stopWatching = new AbortController();
  const watcher = watchBakes(
    { ledger, prober: deps.prober, callbacks: tokens, events: deps.events, now: Date.now },
    stopWatching.signal,
    bakeNotices,
  );
  engine.register('region', loadDefinition('region'));
  const arn = engine.register('release', loadDefinition('release'));
  const config: FlotillaConfig = {
    service,
    regions: names.map((name, i) => ({
      name,
      target: { kind: 'local-process', port: 20_000 + i, command: ['true'], env: {}, faults: [] },
    })),
    waves: splitWaves(names, s.waves).map((regions, i) => ({
      name: `wave-${i + 1}`,
      regions,
      bakeSeconds: s.bakeSeconds,
      approval: false,
    })),
    gate: benchGate(s.bakeSeconds),
    deploy: { readinessTimeoutSeconds: 60, pollSeconds: 1, maxPollSeconds: 5 },
    policy: { allowMultiRegionCanary: true },
  };
  const started = performance.now();
  await engine
    .run(arn, { releaseId: `${service}-2.0.0`, version: '2.0.0', artifact: '/b', config, owner: 'bench' } as never)
    .catch(() => {});
  const wallMs = performance.now() - started;
  stopWatching.abort();
  await watcher;
  if (!outcome) throw new Error(`${service}: release ended without an outcome`);
  return { wallMs, outcome, events };
}
