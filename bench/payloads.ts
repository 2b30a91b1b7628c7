/**
 * AWS's size limits, measured on the real release and region state machines through the local
 * engine (which enforces them: backends/local/engine.ts, and the embedded DynamoDB its 4 KB
 * expressions): 100 regions in 5 waves, each running an earlier build with its own 2 KB AppSpec,
 * the new build's AppSpec 2 KB too; the last wave fails its gate and all 100 roll back.
 *
 * Stand-in deployers and probes (no processes): the figures are the state's and the ledger's,
 * which do not depend on how a region deploys.
 */
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { createLedgerTable, DynamoDbLedger } from '../adapters/dynamodb/ledger.ts';
import { startEmbeddedDynamo } from '../backends/local/dynalite-server.ts';
import {
  type EngineOptions,
  type ExecutionReport,
  LocalEngine,
  loadDefinition,
  localArn,
} from '../backends/local/engine.ts';
import type { FlotillaConfig } from '../config/types.ts';
import { jsonBytes } from '../core/limits.ts';
import type { Revision } from '../core/model.ts';
import type { Deps } from '../functions/deps.ts';
import { functionFactories } from '../functions/index.ts';
import type { RegionDeployer } from '../ports/region-deployer.ts';
import { benchGate, regionNames, simulatedRegions, splitWaves } from './fleet.ts';

type Handler = EngineOptions['functions'][string];

export interface PayloadScenario {
  regions: number;
  waves: number[];
  /** Bytes of each AppSpec (the new build's and every region's earlier one). */
  appSpecBytes: number;
  /** Stand in for handlers (a test that puts an old or oversize state shape through the same ASL). */
  wrap?: (name: string, handler: Handler, deps: Deps) => Handler;
}

export interface PayloadResult {
  /** How the release ended (ROLLED_BACK expected), or the error that ended the execution. */
  status: string;
  error?: { name: string; message: string };
  /** The largest state input/output or task payload of any execution, parent or child. */
  maxStateBytes: number;
  maxStateAt: string;
  parentEvents: number;
  /** The longest expression string of any ledger request. */
  maxExpressionBytes: number;
  /** The largest ledger item at the end (its JSON, a little over DynamoDB's own measure): the release record. */
  maxItemBytes: number;
  rolledBack: number;
  /** The release's status in the ledger at the end (RUNNING: the execution died before finishing). */
  recorded: string;
}

/** An AppSpec of about `bytes` bytes naming `version` (Lambda-shaped, padded with hooks). */
export function appSpec(version: string, bytes: number, region: string): string {
  const head = `version: 0.0\nResources:\n  - fn:\n      Type: AWS::Lambda::Function\n      Properties:\n        Name: svc-${region}\n        Alias: live\n        TargetVersion: "${version}"\nHooks:\n`;
  let text = head;
  for (let i = 0; text.length < bytes; i++)
    text += `  - BeforeAllowTraffic: arn:aws:lambda:${region}:123456789012:function:hook-${i}\n`;
  return `appspec:${text.slice(0, bytes)}`;
}

function config(s: PayloadScenario): FlotillaConfig {
  const names = regionNames(s.regions);
  return {
    service: 'sim',
    regions: simulatedRegions(names),
    waves: splitWaves(names, s.waves).map((regions, i) => ({
      name: `wave-${i + 1}`,
      regions,
      bakeSeconds: 60,
      approval: false,
    })),
    gate: { ...benchGate(60), intervalSeconds: 60 },
    deploy: { readinessTimeoutSeconds: 60, pollSeconds: 15, maxPollSeconds: 60 },
    policy: { allowMultiRegionCanary: false },
  };
}

export async function simulatePayloads(s: PayloadScenario): Promise<PayloadResult> {
  const dynamo = await startEmbeddedDynamo({});
  let maxExpressionBytes = 0;
  dynamo.doc.middlewareStack.add(
    (next) => async (args) => {
      const input = args.input as Record<string, unknown>;
      for (const key of Object.keys(input))
        if (key.endsWith('Expression') && typeof input[key] === 'string')
          maxExpressionBytes = Math.max(maxExpressionBytes, Buffer.byteLength(input[key] as string));
      return next(args);
    },
    { step: 'initialize', name: 'measureExpressions' },
  );
  try {
    await createLedgerTable(dynamo.client, 'sim-ledger');
    const ledger = new DynamoDbLedger({ client: dynamo.doc, tableName: 'sim-ledger' });
    const cfg = config(s);
    const lastWave = new Set(cfg.waves.at(-1)?.regions ?? []);
    // Every region runs 1.0.0, each with its own AppSpec: that is what a rollback puts back.
    const before = new Map<string, Revision>(
      cfg.regions.map((r) => [r.name, { version: '1.0.0', artifact: appSpec('1', s.appSpecBytes, r.name) }]),
    );
    await ledger.putRegions(
      cfg.regions.map((r) => ({
        service: 'sim',
        region: r.name,
        current: before.get(r.name) ?? null,
        releaseId: 'sim-0',
        updatedAt: '2026-01-01T00:00:00.000Z',
      })),
    );
    let clock = Date.UTC(2026, 0, 1);
    let ids = 0;
    const deployer: RegionDeployer = {
      startDeployment: async () => ({ deploymentId: `d-${++ids}` }),
      getDeployment: async () => ({ status: 'Succeeded' }),
      currentRevision: async (region) => before.get(region) ?? null,
      stopDeployment: async () => {},
    };
    const deps: Deps = {
      ledger,
      deployer,
      // The new build fails in the last wave; everything else (the old build included) is healthy.
      prober: {
        probe: async ({ region, expectedVersion }) =>
          lastWave.has(region) && expectedVersion === '2.0.0' ? [{ kind: 'error', message: '500' }] : [{ kind: 'ok' }],
      },
      events: { emit: () => {} },
      now: () => clock,
      regionStateMachineArn: localArn('region'),
    };
    const functions = Object.fromEntries(
      Object.entries(functionFactories).map(([n, make]) => {
        const handler = make(deps);
        return [n, s.wrap ? s.wrap(n, handler, deps) : handler];
      }),
    );
    const checkGate = functions['check-gate'];
    if (checkGate) {
      functions['check-gate'] = async (input: unknown) => {
        clock += 60_000;
        return checkGate(input);
      };
    }
    const reports: ExecutionReport[] = [];
    const engine = new LocalEngine({ functions, waitMs: 0, onExecutionEnd: (r) => reports.push(r) });
    engine.register('region', loadDefinition('region'));
    const release = engine.register('release', loadDefinition('release'));
    let status: string;
    let error: PayloadResult['error'];
    try {
      const out = (await engine.run(
        release,
        {
          releaseId: 'sim-1',
          version: '2.0.0',
          artifact: appSpec('2', s.appSpecBytes, 'all'),
          config: cfg,
          owner: 'bench',
        } as never,
        'sim-1',
      )) as { status?: string };
      status = out.status ?? 'unknown';
    } catch (e) {
      const err = e as Error;
      error = { name: err.name, message: err.message };
      // A release that rolls back ends in a Fail state; the ledger says how it ended. One the
      // engine stopped (a limit) is still RUNNING there: its error says why.
      const record = await ledger.getRelease('sim', 'sim-1');
      status = record && record.status !== 'RUNNING' ? record.status : err.name;
    }
    const record = await ledger.getRelease('sim', 'sim-1');
    const items = await Promise.all(
      ['RELEASE#sim-1', 'PLAN#sim-1'].map(
        async (sk) =>
          (await dynamo.doc.send(new GetCommand({ TableName: 'sim-ledger', Key: { pk: 'SERVICE#sim', sk } }))).Item,
      ),
    );
    const largest = reports.reduce<ExecutionReport | undefined>(
      (a, b) => (a && a.maxPayloadBytes >= b.maxPayloadBytes ? a : b),
      undefined,
    );
    return {
      status,
      ...(error ? { error } : {}),
      maxStateBytes: largest?.maxPayloadBytes ?? 0,
      maxStateAt: largest ? `${largest.name}: ${largest.maxPayloadAt}` : '',
      parentEvents: reports.find((r) => r.stateMachine === release)?.awsHistoryEvents ?? -1,
      maxExpressionBytes,
      maxItemBytes: Math.max(...items.map(jsonBytes)),
      rolledBack: Object.values(record?.regions ?? {}).filter((r) => r.phase === 'rolled-back').length,
      recorded: record?.status ?? 'none',
    };
  } finally {
    await dynamo.close();
  }
}

/** The figure the bench reports: the 100-region, 5-wave release with 2 KB AppSpecs, failing last and rolling back all. */
export async function payloadFigures() {
  const result = await simulatePayloads({ regions: 100, waves: [1, 9, 20, 30, 40], appSpecBytes: 2048 });
  return {
    max_state_kib_100r: Math.round((result.maxStateBytes / 1024) * 10) / 10,
    max_state_at_100r: result.maxStateAt,
    max_expression_bytes_100r: result.maxExpressionBytes,
    max_item_kib_100r: Math.round((result.maxItemBytes / 1024) * 10) / 10,
    status_100r: result.status,
    rolled_back_100r: result.rolledBack,
  };
}
