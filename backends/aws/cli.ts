/**
 * The CLI's side of the AWS backend: a release is a StartExecution of the deployed release state
 * machine, named from service and version so a repeated start (a retried CI job) is idempotent;
 * progress and reads come from the ledger table and DescribeExecution.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DescribeExecutionCommand, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import {
  consoleUrl,
  executionArnOf,
  StepFunctionsHoldWaker,
  StepFunctionsReleaseStarter,
  StepFunctionsTaskCallbacks,
} from '../../adapters/aws/step-functions.ts';
import { DynamoDbLedger } from '../../adapters/dynamodb/ledger.ts';
import type { AwsBackendSettings, FlotillaConfig } from '../../config/types.ts';
import type { ArtifactRequest } from '../../core/artifacts.ts';
import type { Intent } from '../../core/control.ts';
import type { EmergencyRequest } from '../../core/model.ts';
import { isFinished, outcomeOfRecord } from '../../core/outcome.ts';
import { executionName } from '../../core/plan.ts';
import type { ReleaseOutcome, StartReleaseInput } from '../../core/types.ts';
import type { EventSink, ReleaseEvent } from '../../ports/events.ts';
import type { Ledger, ReleaseRecord } from '../../ports/ledger.ts';
import { type RollbackDeps, startRollback } from '../../services/rollback.ts';
import { type IntentRequest, submitIntent } from '../../services/steering.ts';
import { unlockService } from '../../services/unlock.ts';

export interface AwsCliOptions {
  config: FlotillaConfig;
  settings: AwsBackendSettings;
  events?: EventSink;
  sfn?: SFNClient;
  ledger?: Ledger;
  /** Pause between two reads of the ledger while following a release. */
  pollMs?: number;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

export interface StartedRelease {
  releaseId: string;
  executionArn: string;
  consoleUrl: string;
}

export { consoleUrl };

export class AwsCliBackend {
  readonly ledger: Ledger;
  readonly #config: FlotillaConfig;
  readonly #settings: AwsBackendSettings;
  readonly #sfn: SFNClient;
  readonly #events: EventSink | undefined;
  readonly #pollMs: number;
  readonly #sleep: (ms: number) => Promise<void>;
  readonly #now: () => number;

  constructor(options: AwsCliOptions) {
    this.#config = options.config;
    this.#settings = options.settings;
    this.#sfn = options.sfn ?? new SFNClient({ region: options.settings.region });
    this.ledger =
      options.ledger ??
      new DynamoDbLedger({
        client: DynamoDBDocumentClient.from(new DynamoDBClient({ region: options.settings.region })),
        tableName: options.settings.table,
      });
    this.#events = options.events;
    this.#pollMs = options.pollMs ?? 5_000;
    this.#sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.#now = options.now ?? Date.now;
  }

  /**
   * Records a release manager's intent (services/steering.ts, the same as locally) and wakes the
   * release if it waits at a hold (adapters/aws/step-functions.ts). Needs
   * states:SendTaskSuccess/SendTaskFailure on the release state machine's executions.
   */
  async intent(request: Omit<IntentRequest, 'service'>): Promise<Intent> {
    return submitIntent(
      { ledger: this.ledger, now: this.#now, waker: new StepFunctionsHoldWaker(this.#sfn) },
      { ...request, service: this.#config.service },
    );
  }

  /**
   * `flotilla unlock` (services/unlock.ts): frees the lock of a release whose execution no longer
   * runs (DescribeExecution; an execution that does not exist does not run), audited. Needs
   * states:DescribeExecution and, to wake a queued release, states:SendTaskSuccess.
   */
  async unlock(who: { actor: string; reason: string }) {
    return unlockService(
      {
        ledger: this.ledger,
        now: this.#now,
        callbacks: new StepFunctionsTaskCallbacks(this.#sfn),
        events: this.#events ?? { emit: () => {} },
        isRunning: async (releaseId) => {
          try {
            return (await this.describe(releaseId)).status === 'RUNNING';
          } catch (error) {
            if ((error as Error).name === 'ExecutionDoesNotExist') return false;
            throw error;
          }
        },
      },
      { service: this.#config.service, ...who },
    );
  }

  /**
   * The `rollback` verb (services/rollback.ts): starts an execution named `<release>-rollback`
   * (then `-2`, `-3`, ... once taken) that only puts back what that release changed.
   */
  async rollback(releaseId: string, who: { actor: string; reason: string }): Promise<StartedRelease> {
    const started = await startRollback(
      {
        ledger: this.ledger,
        now: this.#now,
        starter: new StepFunctionsReleaseStarter(this.#sfn, this.#settings.stateMachineArn),
        config: this.#config as unknown as RollbackDeps['config'],
        owner: 'flotilla-cli',
      },
      { releaseId, ...who },
    );
    const executionArn = started.executionArn ?? this.executionArn(started.releaseId);
    return { releaseId: started.releaseId, executionArn, consoleUrl: consoleUrl(executionArn) };
  }

  /**
   * Starts the release. The same service, version and attempt give the same execution name and
   * input, which Step Functions treats as the same execution: starting twice starts it once.
   */
  async start(
    request: {
      version: string;
      attempt?: number;
      emergency?: EmergencyRequest;
    } & ArtifactRequest,
  ): Promise<StartedRelease> {
    const releaseId = executionName(this.#config.service, request.version, request.attempt ?? 1);
    const input: StartReleaseInput = {
      releaseId,
      version: request.version,
      artifact: request.artifact,
      ...(request.artifacts ? { artifacts: request.artifacts } : {}),
      ...(request.copyFrom !== undefined ? { copyFrom: request.copyFrom } : {}),
      config: this.#config,
      // No host, pid or time here: the input must be identical for a repeated start to be idempotent.
      owner: 'flotilla-cli',
      ...(request.emergency ? { emergency: request.emergency } : {}),
    };
    try {
      const started = await this.#sfn.send(
        new StartExecutionCommand({
          stateMachineArn: this.#settings.stateMachineArn,
          name: releaseId,
          input: JSON.stringify(input),
        }),
      );
      const executionArn = started.executionArn ?? this.executionArn(releaseId);
      return { releaseId, executionArn, consoleUrl: consoleUrl(executionArn) };
    } catch (error) {
      if ((error as Error).name === 'ExecutionAlreadyExists') {
        const existing = await this.ledger.getRelease(this.#config.service, releaseId);
        const detail = existing ? `it is ${existing.status}` : 'with a different input';
        const next = (request.attempt ?? 1) + 1;
        const wrapped = new Error(
          `release ${releaseId} already exists (${detail}); to release ${request.version} again, pass --attempt ${next}`,
        );
        wrapped.name = 'ReleaseExists';
        throw wrapped;
      }
      throw error;
    }
  }

  /** The execution ARN of a release: same account, region and state machine, named after the release. */
  executionArn(releaseId: string): string {
    return executionArnOf(this.#settings.stateMachineArn, releaseId);
  }

  async describe(releaseId: string): Promise<{ status: string; error?: string; cause?: string }> {
    const out = await this.#sfn.send(new DescribeExecutionCommand({ executionArn: this.executionArn(releaseId) }));
    return {
      status: out.status ?? 'UNKNOWN',
      ...(out.error ? { error: out.error } : {}),
      ...(out.cause ? { cause: out.cause } : {}),
    };
  }

  /**
   * Follows a started release through the ledger until it ends, turning what changed into the
   * same progress events the local backend emits. If the execution ends without the ledger saying
   * so (it was stopped, or failed before planning), the execution's own status is the answer.
   */
  async follow(releaseId: string): Promise<ReleaseOutcome> {
    let previous: ReleaseRecord | undefined;
    for (;;) {
      const record = await this.ledger.getRelease(this.#config.service, releaseId);
      if (record) {
        const emit = async (event: ReleaseEvent) =>
          this.#events?.emit({ ...event, service: record.service, releaseId, at: new Date().toISOString() });
        for (const event of diffRecords(previous, record, this.#config.waves)) await emit(event);
        previous = record;
        if (isFinished(record.status)) {
          const outcome = await this.outcomeOf(record);
          await emit({ kind: 'release-finished', outcome });
          return outcome;
        }
      }
      const execution = await this.describe(releaseId).catch(() => undefined);
      if (execution && execution.status !== 'RUNNING' && (!record || !isFinished(record.status))) {
        const again = await this.ledger.getRelease(this.#config.service, releaseId);
        if (again && isFinished(again.status)) return this.outcomeOf(again);
        return {
          releaseId,
          service: this.#config.service,
          version: record?.version ?? '',
          status: 'FAILED',
          reason: `execution ${execution.status}${execution.error ? `: ${execution.error}` : ''}${execution.cause ? `: ${execution.cause}` : ''}`,
          regions: [],
        };
      }
      await this.#sleep(this.#pollMs);
    }
  }

  async outcomeOf(record: ReleaseRecord): Promise<ReleaseOutcome> {
    const states = await this.ledger.listRegions(record.service);
    return outcomeOfRecord(record, new Map(states.map((s) => [s.region, s.current?.version ?? null])));
  }
}

const progressOf = {
  pending: undefined,
  skipped: undefined,
  deploying: 'deploying',
  deployed: 'deployed',
  failed: 'failed',
  'rolling-back': 'rolling-back',
  'rolled-back': 'rolled-back',
  'rollback-failed': 'rollback-failed',
} as const;

/**
 * Progress events for what changed between two reads of a release record: the view a local
 * release shows, as far as the record holds it (no gate checks: those are not in the ledger).
 * `waves` (the config's) names the waves; without it they are `wave-<n>`.
 */
export function diffRecords(
  before: ReleaseRecord | undefined,
  after: ReleaseRecord,
  waves?: readonly { name: string; regions: readonly string[] }[],
): ReleaseEvent[] {
  const events: ReleaseEvent[] = [];
  // In the config's order where it is known (as the local engine shows them), else by name.
  const order = new Map((waves ?? []).flatMap((w) => w.regions.map((r, i) => [r, i] as const)));
  const position = (region: string) => order.get(region) ?? Number.MAX_SAFE_INTEGER;
  const regions = Object.values(after.regions).sort(
    (a, b) => a.wave - b.wave || position(a.region) - position(b.region) || a.region.localeCompare(b.region),
  );
  const nameOf = (wave: number) => waves?.[wave]?.name ?? `wave-${wave + 1}`;
  if (!before) {
    const planned: { name: string; regions: string[] }[] = [];
    for (const r of regions) {
      const wave = planned[r.wave] ?? { name: nameOf(r.wave), regions: [] };
      planned[r.wave] = wave;
      wave.regions.push(r.region);
    }
    events.push({ kind: 'release-started', version: after.version, waves: planned });
  }
  const hold = after.hold ?? null;
  if (hold && JSON.stringify(hold) !== JSON.stringify(before?.hold ?? null)) {
    events.push({ kind: 'wave-held', wave: hold.wave, reasons: hold.reasons.map((r) => r.text) });
  }
  if (!before || before.wave !== after.wave) {
    // A skipped region is left out of its wave, as the local engine's wave-started leaves it out.
    const names = regions.filter((r) => r.wave === after.wave && r.phase !== 'skipped').map((r) => r.region);
    events.push({ kind: 'wave-started', wave: after.wave, name: nameOf(after.wave), regions: names });
  }
  for (const r of regions) {
    const state = progressOf[r.phase];
    if (state && before?.regions[r.region]?.phase !== r.phase) {
      events.push({
        kind: 'region',
        wave: r.wave,
        region: r.region,
        state,
        version: null,
        ...(r.message ? { message: r.message } : {}),
      });
    }
  }
  return events;
}
