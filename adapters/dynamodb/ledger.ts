/**
 * One concern, hence its length: the Ledger port on DynamoDB, request by request.
 *
 * The release ledger on DynamoDB. The same code runs against real DynamoDB (AWS backend) and
 * against the embedded dynalite server (local backend), so it uses only plain single-item
 * operations and Query: no transactions (dynalite has none), no ReturnValuesOnConditionCheckFailure.
 *
 * Single-table design, everything about one service in one item collection (pk = SERVICE#<service>):
 *
 *   sk = REGION#<region>     what the region runs now (RegionState)
 *   sk = RELEASE#<releaseId> one release (ReleaseRecord); its regions are one map attribute `regions`,
 *                            each region updated in place with SET regions.#r so that parallel
 *                            writers of different regions never clobber each other
 *   sk = PLAN#<releaseId>    the plan of that release (ReleasePlan), which the state machines refer to
 *                            by ids; stored without what every region's task repeats (the revision,
 *                            the gate and deploy settings), so 100 regions weigh ~30 KB, not 260
 *   sk = LOCK                the service's release lock (LockHolder)
 *   sk = BRANCH#<branch>     the newest push the webhook saw for the branch (BranchHead), advanced by
 *                            a write conditional on the head it replaces
 *
 * Bakes being watched live outside any service, under pk = BAKE, sk = BAKE#<service>#<releaseId>
 * (BakeWatch): the local prober, the scheduled prober and the alarm-event handler list them with one
 * Query; there are only as many as releases baking right now.
 *
 * A region's deployment waited on lives under pk = DEPLOYWAIT#<deploymentId>, sk = WAIT (DeployWait):
 * the deployment's state-change event names only the deployment, and finds the waiting child's
 * token with one GetItem. It carries `expiresAt` (a week on), so one left by an execution that ended
 * abnormally goes with DynamoDB's TTL.
 *
 * and, outside any service, pk = CLAIM#<key>, sk = CLAIM: a one-time key (claimRequest: a Slack
 * request's signature, so a replay inside Slack's five-minute window is refused). Each claim is its
 * own partition (no hot key), and carries `expiresAt` in epoch seconds, the table's TTL attribute
 * (infra/ledger-table.yml), so DynamoDB deletes it once it has expired. dynalite has no TTL: locally
 * claims stay, one small item per Slack click.
 *
 * Release items also carry `releaseStart` = `<startedAt ISO>#<releaseId>`, the sort key of the local
 * secondary index `byReleaseStart`. Only release items have that attribute, so the index is sparse and
 * holds exactly the service's releases in start order: listReleases is one Query, newest first, reading
 * `limit` items however many releases the service has. (Sorting all of a service's releases in code
 * would read every release, each with its regions map, just to show the latest ten.) An LSI rather than
 * a GSI because it is strongly consistent, like every other read here; the price is that it must exist
 * when the table is created (createLedgerTable does it) and a service's items stay under 10 GB, which is
 * millions of releases.
 *
 * All reads are strongly consistent: the ledger decides what to roll back to and who holds the lock.
 */
import type { CreateTableCommandInput, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type {
  BatchWriteCommandInput,
  BatchWriteCommandOutput,
  DeleteCommandInput,
  DeleteCommandOutput,
  DynamoDBDocumentClient,
  GetCommandInput,
  GetCommandOutput,
  PutCommandInput,
  PutCommandOutput,
  QueryCommandInput,
  QueryCommandOutput,
  UpdateCommandInput,
  UpdateCommandOutput,
} from '@aws-sdk/lib-dynamodb';
import type { Intent } from '../../core/control.ts';
import { DYNAMO_EXPRESSION_LIMIT_BYTES } from '../../core/limits.ts';
import type { BakeWatch, DeployWait, RegionTask, ReleasePlan, SampleCounts, WavePlan } from '../../core/types.ts';
import type {
  BranchHead,
  HoldToken,
  Ledger,
  LockHolder,
  LockResult,
  RegionState,
  ReleaseRecord,
  ReleaseRegion,
  ReleaseRegionPatch,
} from '../../ports/ledger.ts';
import { isThrottling } from '../aws/errors.ts';
import { namedError, ReleaseExists, ReleaseNotFound, StoreThrottled } from './errors.ts';
import type { DynamoJson } from './json-protocol.ts';

/** Name of the local secondary index that orders a service's releases by start time. */
export const RELEASES_BY_START_INDEX = 'byReleaseStart';

type Item = Record<string, unknown>;

/**
 * The document client's operations the ledger sends, each as the input and output it has in
 * `@aws-sdk/lib-dynamodb` (plain JS values, marshalled by the client).
 */
export interface DocumentOperations {
  Get: [GetCommandInput, Omit<GetCommandOutput, '$metadata'>];
  Query: [QueryCommandInput, Omit<QueryCommandOutput, '$metadata'>];
  Put: [PutCommandInput, Omit<PutCommandOutput, '$metadata'>];
  Update: [UpdateCommandInput, Omit<UpdateCommandOutput, '$metadata'>];
  Delete: [DeleteCommandInput, Omit<DeleteCommandOutput, '$metadata'>];
  BatchWrite: [BatchWriteCommandInput, Omit<BatchWriteCommandOutput, '$metadata'>];
}
export type DocumentOperation = keyof DocumentOperations;

/** One request of the ledger: a document-client operation and its input. */
export interface DocumentRequest<K extends DocumentOperation = DocumentOperation> {
  op: K;
  input: DocumentOperations[K][0];
}

/**
 * Where the ledger's requests go: a DynamoDB document client (AWS, or the embedded dynalite
 * server), or the local backend's in-process reader (backends/local/ledger-reader.ts), which
 * answers Get and Query through dynalite's own code straight from its LevelDB and refuses writes.
 */
export interface DocumentRequests {
  send<K extends DocumentOperation>(request: DocumentRequest<K>): Promise<DocumentOperations[K][1]>;
}

const request = <K extends DocumentOperation>(op: K, input: DocumentOperations[K][0]): DocumentRequest<K> => ({
  op,
  input,
});

type Commands = typeof import('./commands.ts');
let libDynamodb: Commands | undefined;

/**
 * The SDK's commands, loaded on the first request. The specifier is a URL, not a literal, so that no
 * Lambda bundle takes this path in: esbuild keeps every export of a module imported lazily, which
 * put the whole of DynamoDB's client in each bundle (two went past 600 KiB). Lambdas pass their
 * commands in, imported statically (functions/runtime/ledger.ts), and never reach this.
 */
export const loadCommands = async (): Promise<Commands> =>
  (libDynamodb ??= (await import(new URL('./commands.ts', import.meta.url).href)) as Commands);

/**
 * A document client's requests. Without `commands` the SDK's are loaded on the first request
 * (whoever made the client has loaded the SDK already), so this module loads without it: the
 * reader's `where` needs none of it.
 */
export function documentClientRequests(client: DynamoDBDocumentClient, given?: Commands): DocumentRequests {
  return {
    async send(r) {
      const lib = given ?? (await loadCommands());
      const commands = {
        Get: lib.GetCommand,
        Query: lib.QueryCommand,
        Put: lib.PutCommand,
        Update: lib.UpdateCommand,
        Delete: lib.DeleteCommand,
        BatchWrite: lib.BatchWriteCommand,
      };
      const Command = commands[r.op] as unknown as new (
        input: unknown,
      ) => Parameters<DynamoDBDocumentClient['send']>[0];
      return client.send(new Command(r.input)) as never;
    },
  };
}

export type DynamoDbLedgerOptions = { tableName: string } & (
  | { client: DynamoDBDocumentClient }
  | { requests: DocumentRequests }
);

const servicePk = (service: string): string => `SERVICE#${service}`;
const branchSk = (branch: string): string => `BRANCH#${branch}`;
const regionSk = (region: string): string => `REGION#${region}`;
const releaseSk = (releaseId: string): string => `RELEASE#${releaseId}`;
const planSk = (releaseId: string): string => `PLAN#${releaseId}`;
const LOCK_SK = 'LOCK';
const claimPk = (key: string): string => `CLAIM#${key}`;
const CLAIM_SK = 'CLAIM';
/** The table's TTL attribute (epoch seconds): infra/ledger-table.yml enables TTL on it. */
export const LEDGER_TTL_ATTRIBUTE = 'expiresAt';
/** Intents not about one service's release (freeze, unfreeze) live under one global key. */
const GLOBAL_PK = 'GLOBAL';
/** Intents sort by id, which is time-ordered: the audit trail reads in order. */
const intentSk = (releaseId: string | null, id: string): string => `INTENT#${releaseId ?? '*'}#${id}`;
/** Bakes being watched, of every service, under one key: the watchers list them without knowing the service. */
const BAKE_PK = 'BAKE';
const bakeSk = (service: string, releaseId: string): string => `BAKE#${service}#${releaseId}`;
/** Regions whose samples one UpdateItem adds (about 120 bytes of expression each). */
const BAKE_REGIONS_PER_UPDATE = 20;

function bakeOf(item: Item): BakeWatch {
  const { pk: _pk, sk: _sk, ...watch } = item;
  return watch as unknown as BakeWatch;
}

const deployWaitKey = (deploymentId: string) => ({ pk: `DEPLOYWAIT#${deploymentId}`, sk: 'WAIT' });
/** How long a deployment's wait is kept at most (a deployment, Ready included, ends well before). */
const DEPLOY_WAIT_TTL_MS = 7 * 24 * 3_600_000;

function deployWaitOf(item: Item): DeployWait {
  const { pk: _pk, sk: _sk, [LEDGER_TTL_ATTRIBUTE]: _ttl, ...wait } = item;
  return wait as unknown as DeployWait;
}

/** BatchWriteItem's limit per request, and how often unprocessed items are retried. */
const BATCH_WRITE_LIMIT = 25;
const BATCH_ATTEMPTS = 5;

function regionItem(state: RegionState): Item {
  return compact({
    pk: servicePk(state.service),
    sk: regionSk(state.region),
    service: state.service,
    region: state.region,
    current: state.current,
    releaseId: state.releaseId,
    updatedAt: state.updatedAt,
  });
}

/** Regions of one release a single getReleaseRegion request reads: its projection stays far under 4 KB. */
const REGIONS_PER_READ = 25;

interface RegionReads {
  waiting: Map<string, { resolve: (entry: ReleaseRegion | undefined) => void; reject: (error: unknown) => void }[]>;
  running: boolean;
}

/** How often acquireLock retries when the lock vanishes between its failed put and its read of the holder. */
const LOCK_ATTEMPTS = 5;

export class DynamoDbLedger implements Ledger {
  readonly #client: DocumentRequests;
  readonly #table: string;
  /** getReleaseRegion's reads waiting to go out, per release (see there). */
  readonly #regionReads = new Map<string, RegionReads>();

  constructor(options: DynamoDbLedgerOptions) {
    this.#client = 'requests' in options ? options.requests : documentClientRequests(options.client);
    this.#table = options.tableName;
  }

  // --- regions ---------------------------------------------------------------------------------

  async getRegion(service: string, region: string): Promise<RegionState | undefined> {
    const item = await this.#get(servicePk(service), regionSk(region));
    return item ? toRegionState(item) : undefined;
  }

  async listRegions(service: string): Promise<RegionState[]> {
    const items = await this.#queryAll({
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
      ExpressionAttributeValues: { ':pk': servicePk(service), ':prefix': 'REGION#' },
    });
    return items.map(toRegionState);
  }

  async putRegion(state: RegionState): Promise<void> {
    await this.#send(() => this.#client.send(request('Put', { TableName: this.#table, Item: regionItem(state) })));
  }

  async putRegions(states: readonly RegionState[]): Promise<void> {
    // BatchWriteItem takes 25 items a request; whatever DynamoDB leaves unprocessed (throttling)
    // is sent again with back-off, and still-unprocessed items after that are a StoreThrottled.
    for (let i = 0; i < states.length; i += BATCH_WRITE_LIMIT) {
      let pending = states
        .slice(i, i + BATCH_WRITE_LIMIT)
        .map((state) => ({ PutRequest: { Item: regionItem(state) } }));
      for (let attempt = 0; pending.length > 0; attempt++) {
        if (attempt >= BATCH_ATTEMPTS) {
          throw namedError(
            StoreThrottled,
            `DynamoDB left ${pending.length} region writes unprocessed on ${this.#table}`,
          );
        }
        if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 50 * 2 ** attempt));
        const out = await this.#send(() =>
          this.#client.send(request('BatchWrite', { RequestItems: { [this.#table]: pending } })),
        );
        pending = (out.UnprocessedItems?.[this.#table] ?? []) as typeof pending;
      }
    }
  }

  // --- releases --------------------------------------------------------------------------------

  async createRelease(record: ReleaseRecord): Promise<void> {
    const item: Item = {
      ...releaseFields(record),
      pk: servicePk(record.service),
      sk: releaseSk(record.releaseId),
      releaseStart: `${record.startedAt}#${record.releaseId}`,
    };
    try {
      await this.#send(() =>
        this.#client.send(
          request('Put', {
            TableName: this.#table,
            Item: compact(item),
            ConditionExpression: 'attribute_not_exists(pk)',
          }),
        ),
      );
    } catch (error) {
      if (isConditionFailed(error)) {
        throw namedError(
          ReleaseExists,
          `release ${record.releaseId} of service ${record.service} already exists`,
          error,
        );
      }
      throw error;
    }
  }

  async getRelease(service: string, releaseId: string): Promise<ReleaseRecord | undefined> {
    const item = await this.#get(servicePk(service), releaseSk(releaseId));
    return item ? toReleaseRecord(item) : undefined;
  }

  async getReleaseRegion(service: string, releaseId: string, region: string): Promise<ReleaseRegion | undefined> {
    // Reads of one release's regions asked for while one is in flight go out together, as one
    // GetItem of those regions (a wave's children all load their task at once: locally one
    // request instead of one per region, each of which costs the orchestrator ~2 ms of SDK work).
    const key = `${service}\u0000${releaseId}`;
    let reads = this.#regionReads.get(key);
    if (!reads) {
      reads = { waiting: new Map(), running: false };
      this.#regionReads.set(key, reads);
    }
    const entry = new Promise<ReleaseRegion | undefined>((resolve, reject) => {
      const waiters = reads.waiting.get(region) ?? [];
      waiters.push({ resolve, reject });
      reads.waiting.set(region, waiters);
    });
    if (!reads.running) void this.#readReleaseRegions(key, service, releaseId, reads);
    return entry;
  }

  /** Sends the waiting region reads of one release, REGIONS_PER_READ a request, until none waits. */
  async #readReleaseRegions(key: string, service: string, releaseId: string, reads: RegionReads): Promise<void> {
    reads.running = true;
    try {
      while (reads.waiting.size > 0) {
        const batch = [...reads.waiting].slice(0, REGIONS_PER_READ);
        for (const [region] of batch) reads.waiting.delete(region);
        const names: Record<string, string> = { '#regions': 'regions' };
        batch.forEach(([region], i) => {
          names[`#r${i}`] = region;
        });
        try {
          const out = await this.#send(() =>
            this.#client.send(
              request('Get', {
                TableName: this.#table,
                Key: { pk: servicePk(service), sk: releaseSk(releaseId) },
                ConsistentRead: true,
                ProjectionExpression: batch.map((_, i) => `#regions.#r${i}`).join(', '),
                ExpressionAttributeNames: names,
              }),
            ),
          );
          const regions = out.Item?.regions as Record<string, ReleaseRegion> | undefined;
          for (const [region, waiters] of batch) for (const w of waiters) w.resolve(regions?.[region]);
        } catch (error) {
          for (const [, waiters] of batch) for (const w of waiters) w.reject(error);
        }
      }
    } finally {
      reads.running = false;
      if (this.#regionReads.get(key) === reads) this.#regionReads.delete(key);
    }
  }

  async listReleases(service: string, limit?: number): Promise<ReleaseRecord[]> {
    if (limit !== undefined && limit <= 0) return [];
    const items = await this.#queryAll(
      {
        IndexName: RELEASES_BY_START_INDEX,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': servicePk(service) },
        ScanIndexForward: false,
      },
      limit,
    );
    return items.map(toReleaseRecord);
  }

  async putPlan(plan: ReleasePlan): Promise<ReleasePlan> {
    const stored = storedPlan(plan);
    const item: Item = { pk: servicePk(plan.service), sk: planSk(plan.releaseId), plan: stored };
    try {
      // Written once: handlers may cache it, and a second release under the same id must not replace it.
      await this.#send(() =>
        this.#client.send(
          request('Put', { TableName: this.#table, Item: item, ConditionExpression: 'attribute_not_exists(pk)' }),
        ),
      );
    } catch (error) {
      if (!isConditionFailed(error)) throw error;
      const existing = await this.getPlan(plan.service, plan.releaseId);
      // The same plan again (a retried PlanRelease) is fine; another one is another release's id.
      if (JSON.stringify(existing) !== JSON.stringify(expandPlan(stored))) {
        throw namedError(
          ReleaseExists,
          `release ${plan.releaseId} of service ${plan.service} already has a plan`,
          error,
        );
      }
    }
    // What a read gives back: the stored form expanded, through JSON as DynamoDB's types carry it (no undefined).
    return JSON.parse(JSON.stringify(expandPlan(stored))) as ReleasePlan;
  }

  async getPlan(service: string, releaseId: string): Promise<ReleasePlan | undefined> {
    const item = await this.#get(servicePk(service), planSk(releaseId));
    return item ? expandPlan(item.plan as StoredPlan) : undefined;
  }

  async putReleaseRegion(service: string, releaseId: string, entry: ReleaseRegion): Promise<void> {
    await this.#updateExistingRelease(service, releaseId, {
      UpdateExpression: 'SET #regions.#r = :entry',
      ExpressionAttributeNames: { '#regions': 'regions', '#r': entry.region },
      ExpressionAttributeValues: { ':entry': compact({ ...entry }) },
    });
  }

  async updateReleaseRegions(
    service: string,
    releaseId: string,
    patches: readonly ReleaseRegionPatch[],
  ): Promise<void> {
    // DynamoDB refuses an expression over 4 KB (about 38 regions of a wave in one UpdateItem):
    // the patches go in as few requests as keep every expression within it. Each region's fields
    // are still written together, and no region is ever read first.
    for (const chunk of expressionChunks(patches)) await this.#updateRegions(service, releaseId, chunk);
  }

  async #updateRegions(service: string, releaseId: string, patches: readonly ReleaseRegionPatch[]): Promise<void> {
    const { names, values, sets, exists } = regionUpdate(patches);
    if (sets.length === 0) return;
    try {
      await this.#send(() =>
        this.#client.send(
          request('Update', {
            TableName: this.#table,
            Key: { pk: servicePk(service), sk: releaseSk(releaseId) },
            // Never conjure up a half-made release or a region it does not have.
            ConditionExpression: conditionOf(exists),
            UpdateExpression: `SET ${sets.join(', ')}`,
            ExpressionAttributeNames: names,
            ExpressionAttributeValues: values,
          }),
        ),
      );
    } catch (error) {
      if (isConditionFailed(error)) {
        const regions = patches.map((p) => p.region).join(', ');
        throw namedError(
          ReleaseNotFound,
          `release ${releaseId} of service ${service} (regions ${regions}) not found`,
          error,
        );
      }
      throw error;
    }
  }

  async updateRelease(
    service: string,
    releaseId: string,
    patch: Partial<Pick<ReleaseRecord, 'status' | 'wave' | 'reason' | 'endedAt' | 'used' | 'hold'>>,
  ): Promise<void> {
    // Only the fields given (and not undefined) are written; everything else stays as it is.
    const fields = Object.entries(patch).filter(([, value]) => value !== undefined);
    if (fields.length === 0) return;
    const names: Record<string, string> = {};
    const values: Record<string, unknown> = {};
    const sets = fields.map(([field, value], i) => {
      names[`#f${i}`] = field;
      values[`:v${i}`] = value;
      return `#f${i} = :v${i}`;
    });
    await this.#updateExistingRelease(service, releaseId, {
      UpdateExpression: `SET ${sets.join(', ')}`,
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values,
    });
  }

  // --- intents and holds ------------------------------------------------------------------------

  async putIntent(intent: Intent): Promise<void> {
    const item: Item = compact({
      ...intent,
      pk: intent.releaseId === null ? GLOBAL_PK : servicePk(intent.service),
      sk: intentSk(intent.releaseId, intent.id),
    });
    await this.#send(() => this.#client.send(request('Put', { TableName: this.#table, Item: item })));
  }

  async listIntents(service: string, releaseId: string | null): Promise<Intent[]> {
    const items = await this.#queryAll({
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
      ExpressionAttributeValues: {
        ':pk': releaseId === null ? GLOBAL_PK : servicePk(service),
        ':prefix': intentSk(releaseId, ''),
      },
    });
    return items.map((item) => {
      const { pk: _pk, sk: _sk, ...intent } = item;
      return intent as unknown as Intent;
    });
  }

  async putHoldToken(service: string, releaseId: string, token: HoldToken): Promise<void> {
    const item: Item = {
      pk: servicePk(service),
      sk: `HOLD#${releaseId}#${token.at}#${token.token.slice(-16)}`,
      ...token,
    };
    await this.#send(() => this.#client.send(request('Put', { TableName: this.#table, Item: item })));
  }

  async takeHoldTokens(service: string, releaseId: string): Promise<HoldToken[]> {
    const items = await this.#queryAll({
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
      ExpressionAttributeValues: { ':pk': servicePk(service), ':prefix': `HOLD#${releaseId}#` },
    });
    await Promise.all(
      items.map((item) =>
        this.#send(() =>
          this.#client.send(request('Delete', { TableName: this.#table, Key: { pk: item.pk, sk: item.sk } })),
        ),
      ),
    );
    return items.map((item) => ({ token: item.token as string, reason: item.reason as string, at: item.at as string }));
  }

  // --- bakes being watched ---------------------------------------------------------------------

  async putBake(watch: BakeWatch): Promise<void> {
    const item: Item = { pk: BAKE_PK, sk: bakeSk(watch.service, watch.releaseId), ...watch };
    await this.#send(() => this.#client.send(request('Put', { TableName: this.#table, Item: item })));
  }

  async listBakes(): Promise<BakeWatch[]> {
    const items = await this.#queryAll({
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': BAKE_PK },
    });
    return items.map(bakeOf);
  }

  async addBakeSamples(
    watch: Pick<BakeWatch, 'service' | 'releaseId' | 'wave' | 'token'>,
    samples: Readonly<Record<string, SampleCounts>>,
  ): Promise<boolean> {
    const entries = Object.entries(samples);
    // A few regions per request keeps each update expression far under DynamoDB's 4 KB.
    for (let start = 0; start < entries.length; start += BAKE_REGIONS_PER_UPDATE) {
      // Every name through a placeholder: `missing`, `token` and others are DynamoDB reserved words.
      const names: Record<string, string> = {
        '#s': 'samples',
        '#ok': 'ok',
        '#errors': 'errors',
        '#missing': 'missing',
        '#wave': 'wave',
        '#token': 'token',
      };
      const values: Record<string, unknown> = { ':wave': watch.wave, ':token': watch.token };
      const adds: string[] = [];
      const sets: string[] = [];
      entries.slice(start, start + BAKE_REGIONS_PER_UPDATE).forEach(([region, counts], i) => {
        names[`#r${i}`] = region;
        for (const field of ['ok', 'errors', 'missing'] as const) {
          adds.push(`#s.#r${i}.#${field} :${field}${i}`);
          values[`:${field}${i}`] = counts[field];
        }
        if (counts.lastProblem !== undefined) {
          names['#lp'] = 'lastProblem';
          sets.push(`#s.#r${i}.#lp = :p${i}`);
          values[`:p${i}`] = counts.lastProblem;
        }
      });
      try {
        await this.#send(() =>
          this.#client.send(
            request('Update', {
              TableName: this.#table,
              Key: { pk: BAKE_PK, sk: bakeSk(watch.service, watch.releaseId) },
              UpdateExpression: `ADD ${adds.join(', ')}${sets.length > 0 ? ` SET ${sets.join(', ')}` : ''}`,
              ConditionExpression: 'attribute_exists(pk) AND #wave = :wave AND #token = :token',
              ExpressionAttributeNames: names,
              ExpressionAttributeValues: values,
            }),
          ),
        );
      } catch (error) {
        if (isConditionFailed(error)) return false;
        throw error;
      }
    }
    return true;
  }

  async takeBake(service: string, releaseId: string): Promise<BakeWatch | undefined> {
    const out = await this.#send(() =>
      this.#client.send(
        request('Delete', {
          TableName: this.#table,
          Key: { pk: BAKE_PK, sk: bakeSk(service, releaseId) },
          ReturnValues: 'ALL_OLD',
        }),
      ),
    );
    return out.Attributes ? bakeOf(out.Attributes) : undefined;
  }

  // --- deployments waited on ------------------------------------------------------------------

  async putDeployWait(wait: DeployWait): Promise<void> {
    const expiresAt = Math.ceil((Date.parse(wait.at) + DEPLOY_WAIT_TTL_MS) / 1000);
    const item: Item = { ...deployWaitKey(wait.deploymentId), ...wait, [LEDGER_TTL_ATTRIBUTE]: expiresAt };
    await this.#send(() => this.#client.send(request('Put', { TableName: this.#table, Item: item })));
  }

  async getDeployWait(deploymentId: string): Promise<DeployWait | undefined> {
    const out = await this.#send(() =>
      this.#client.send(
        request('Get', { TableName: this.#table, Key: deployWaitKey(deploymentId), ConsistentRead: true }),
      ),
    );
    return out.Item ? deployWaitOf(out.Item) : undefined;
  }

  async takeDeployWait(deploymentId: string): Promise<DeployWait | undefined> {
    const out = await this.#send(() =>
      this.#client.send(
        request('Delete', { TableName: this.#table, Key: deployWaitKey(deploymentId), ReturnValues: 'ALL_OLD' }),
      ),
    );
    return out.Attributes ? deployWaitOf(out.Attributes) : undefined;
  }

  // --- lock ------------------------------------------------------------------------------------

  async acquireLock(service: string, holder: LockHolder): Promise<LockResult> {
    const item: Item = {
      pk: servicePk(service),
      sk: LOCK_SK,
      releaseId: holder.releaseId,
      owner: holder.owner,
      acquiredAt: holder.acquiredAt,
    };
    for (let attempt = 1; ; attempt++) {
      try {
        // Free, or already ours (same release: idempotent, e.g. a retried or resumed step).
        await this.#send(() =>
          this.#client.send(
            request('Put', {
              TableName: this.#table,
              Item: item,
              ConditionExpression: 'attribute_not_exists(pk) OR releaseId = :rid',
              ExpressionAttributeValues: { ':rid': holder.releaseId },
            }),
          ),
        );
        return { acquired: true };
      } catch (error) {
        if (!isConditionFailed(error)) throw error;
      }
      const heldBy = await this.getLock(service);
      if (heldBy) return { acquired: false, heldBy };
      // Released between our put and our read: try again.
      if (attempt >= LOCK_ATTEMPTS) {
        throw new Error(`lock of service ${service} kept changing hands; gave up after ${attempt} attempts`);
      }
    }
  }

  async releaseLock(service: string, releaseId: string): Promise<void> {
    try {
      await this.#send(() =>
        this.#client.send(
          request('Delete', {
            TableName: this.#table,
            Key: { pk: servicePk(service), sk: LOCK_SK },
            ConditionExpression: 'releaseId = :rid',
            ExpressionAttributeValues: { ':rid': releaseId },
          }),
        ),
      );
    } catch (error) {
      // Not held, or held by another release: not ours to free.
      if (!isConditionFailed(error)) throw error;
    }
  }

  async getLock(service: string): Promise<LockHolder | undefined> {
    const item = await this.#get(servicePk(service), LOCK_SK);
    if (!item) return undefined;
    return {
      releaseId: item.releaseId as string,
      owner: item.owner as string,
      acquiredAt: item.acquiredAt as string,
    };
  }

  // --- one-time claims -------------------------------------------------------------------------

  async claimRequest(key: string, expiresAt: number): Promise<boolean> {
    try {
      await this.#send(() =>
        this.#client.send(
          request('Put', {
            TableName: this.#table,
            Item: { pk: claimPk(key), sk: CLAIM_SK, [LEDGER_TTL_ATTRIBUTE]: Math.ceil(expiresAt / 1000) },
            ConditionExpression: 'attribute_not_exists(pk)',
          }),
        ),
      );
      return true;
    } catch (error) {
      if (isConditionFailed(error)) return false;
      throw error;
    }
  }

  // --- branch heads --------------------------------------------------------------------------

  async getBranchHead(service: string, branch: string): Promise<BranchHead | undefined> {
    const item = await this.#get(servicePk(service), branchSk(branch));
    if (!item) return undefined;
    return {
      branch: item.branch as string,
      commit: item.commit as string,
      pushedAt: item.pushedAt as number,
      ...(typeof item.committedAt === 'number' ? { committedAt: item.committedAt } : {}),
    };
  }

  async putBranchHead(service: string, head: BranchHead, previous: BranchHead | undefined): Promise<boolean> {
    const item: Item = compact({
      pk: servicePk(service),
      sk: branchSk(head.branch),
      branch: head.branch,
      commit: head.commit,
      pushedAt: head.pushedAt,
      committedAt: head.committedAt,
    });
    // Compare-and-set on the head read before: the commit and its time identify it.
    const condition =
      previous === undefined
        ? { ConditionExpression: 'attribute_not_exists(pk)' }
        : {
            ConditionExpression: '#commit = :commit AND pushedAt = :pushedAt',
            ExpressionAttributeNames: { '#commit': 'commit' },
            ExpressionAttributeValues: { ':commit': previous.commit, ':pushedAt': previous.pushedAt },
          };
    try {
      await this.#send(() => this.#client.send(request('Put', { TableName: this.#table, Item: item, ...condition })));
      return true;
    } catch (error) {
      if (isConditionFailed(error)) return false;
      throw error;
    }
  }

  // --- plumbing --------------------------------------------------------------------------------

  async #get(pk: string, sk: string): Promise<Item | undefined> {
    const out = await this.#send(() =>
      this.#client.send(request('Get', { TableName: this.#table, Key: { pk, sk }, ConsistentRead: true })),
    );
    return out.Item;
  }

  /** Runs a Query to the end (or until `limit` items), following LastEvaluatedKey across 1 MB pages. */
  async #queryAll(
    input: {
      IndexName?: string;
      KeyConditionExpression: string;
      ExpressionAttributeValues: Record<string, unknown>;
      ScanIndexForward?: boolean;
    },
    limit?: number,
  ): Promise<Item[]> {
    const items: Item[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const remaining = limit === undefined ? undefined : limit - items.length;
      const out = await this.#send(() =>
        this.#client.send(
          request('Query', {
            TableName: this.#table,
            ...input,
            ConsistentRead: true,
            ExclusiveStartKey: startKey,
            Limit: remaining,
          }),
        ),
      );
      items.push(...(out.Items ?? []));
      startKey = out.LastEvaluatedKey;
    } while (startKey && (limit === undefined || items.length < limit));
    return limit === undefined ? items : items.slice(0, limit);
  }

  async #updateExistingRelease(
    service: string,
    releaseId: string,
    update: {
      UpdateExpression: string;
      ExpressionAttributeNames: Record<string, string>;
      ExpressionAttributeValues: Record<string, unknown>;
    },
  ): Promise<void> {
    try {
      await this.#send(() =>
        this.#client.send(
          request('Update', {
            TableName: this.#table,
            Key: { pk: servicePk(service), sk: releaseSk(releaseId) },
            // Never let an update conjure up a half-made release.
            ConditionExpression: 'attribute_exists(pk)',
            ...update,
          }),
        ),
      );
    } catch (error) {
      if (isConditionFailed(error)) {
        throw namedError(ReleaseNotFound, `release ${releaseId} of service ${service} not found`, error);
      }
      throw error;
    }
  }

  /** Maps throttling to StoreThrottled; every other error passes through untouched. */
  async #send<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      if (isThrottling(error)) {
        const name = errorName(error) ?? 'throttled';
        throw namedError(StoreThrottled, `DynamoDB throttled a ledger request on ${this.#table} (${name})`, error);
      }
      throw error;
    }
  }
}

/**
 * Creates the ledger table (on-demand billing, with the releases-by-start LSI) and waits until it is
 * ACTIVE. Idempotent: an existing table is fine, as long as it has the index.
 */
/** The ledger table: one definition for createLedgerTable and for infra/ledger-table.yml (a test keeps them equal). */
export function ledgerTableDefinition(tableName: string): CreateTableCommandInput {
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [
      { AttributeName: 'pk', AttributeType: 'S' },
      { AttributeName: 'sk', AttributeType: 'S' },
      { AttributeName: 'releaseStart', AttributeType: 'S' },
    ],
    KeySchema: [
      { AttributeName: 'pk', KeyType: 'HASH' },
      { AttributeName: 'sk', KeyType: 'RANGE' },
    ],
    LocalSecondaryIndexes: [
      {
        IndexName: RELEASES_BY_START_INDEX,
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'releaseStart', KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: 'ALL' },
      },
    ],
  };
}

export async function createLedgerTable(
  client: DynamoDBClient | DynamoJson,
  tableName: string,
  options: { timeoutMs?: number } = {},
): Promise<void> {
  const tables = await tableCalls(client);
  try {
    await tables.create(ledgerTableDefinition(tableName));
  } catch (error) {
    // Exists already (or is being created by someone else): wait for it like for our own.
    if (errorName(error) !== 'ResourceInUseException') throw error;
  }

  const deadline = Date.now() + (options.timeoutMs ?? 5 * 60_000);
  let delayMs = 50;
  for (;;) {
    const Table = await tables.describe(tableName);
    if (Table?.TableStatus === 'ACTIVE') {
      const hasIndex = (Table.LocalSecondaryIndexes ?? []).some((i) => i.IndexName === RELEASES_BY_START_INDEX);
      if (!hasIndex) {
        throw new Error(
          `table ${tableName} exists but lacks the local secondary index ${RELEASES_BY_START_INDEX}; ` +
            'an LSI can only be added when a table is created, so recreate the table',
        );
      }
      return;
    }
    if (Date.now() > deadline) {
      throw new Error(`table ${tableName} is still ${Table?.TableStatus ?? 'missing'} after waiting for it`);
    }
    await new Promise((resolve) => setTimeout(resolve, delayMs));
    delayMs = Math.min(delayMs * 2, 2_000);
  }
}

/** What createLedgerTable reads of a table's description (the same fields in the SDK's output and on the wire). */
interface TableState {
  TableStatus?: string;
  LocalSecondaryIndexes?: { IndexName?: string }[];
}

/**
 * CreateTable and DescribeTable through the SDK's client, or through the JSON protocol directly
 * (the local backend: json-protocol.ts), whose bodies are the same shapes: neither holds an
 * attribute value.
 */
async function tableCalls(client: DynamoDBClient | DynamoJson) {
  if ('send' in client) {
    const { CreateTableCommand, DescribeTableCommand } = await loadCommands();
    return {
      create: (input: CreateTableCommandInput) => client.send(new CreateTableCommand(input)),
      describe: async (name: string): Promise<TableState | undefined> =>
        (await client.send(new DescribeTableCommand({ TableName: name }))).Table,
    };
  }
  return {
    create: (input: CreateTableCommandInput) => client.call('CreateTable', input),
    describe: async (name: string) =>
      (await client.call('DescribeTable', { TableName: name })).Table as TableState | undefined,
  };
}

// --- expressions within DynamoDB's limits ----------------------------------------------------------

/** The parts of one UpdateItem that patches some regions' entries of a release. */
function regionUpdate(patches: readonly ReleaseRegionPatch[]) {
  const names: Record<string, string> = { '#regions': 'regions' };
  const values: Record<string, unknown> = {};
  const sets: string[] = [];
  const exists: string[] = [];
  patches.forEach((patch, r) => {
    names[`#r${r}`] = patch.region;
    exists.push(`attribute_exists(#regions.#r${r})`);
    for (const [field, value] of Object.entries(patch)) {
      if (field === 'region' || value === undefined) continue;
      names[`#${field}`] = field;
      values[`:r${r}${field}`] = value !== null && typeof value === 'object' ? compact({ ...value }) : value;
      sets.push(`#regions.#r${r}.#${field} = :r${r}${field}`);
    }
  });
  return { names, values, sets, exists };
}

const conditionOf = (exists: readonly string[]): string => ['attribute_exists(pk)', ...exists].join(' AND ');

/**
 * At most this many regions per request, whatever their expressions weigh: DynamoDB also caps an
 * expression at 300 operators and functions (each region's condition is one function and one AND).
 */
const REGIONS_PER_UPDATE = 100;

/**
 * Splits patches into runs whose UpdateItem expressions (update and condition) each stay within
 * DynamoDB's 4 KB. Placeholders are numbered per request, so a run's size is known before sending.
 */
export function expressionChunks(patches: readonly ReleaseRegionPatch[]): ReleaseRegionPatch[][] {
  const chunks: ReleaseRegionPatch[][] = [];
  let chunk: ReleaseRegionPatch[] = [];
  const fits = (candidate: readonly ReleaseRegionPatch[]) => {
    const { sets, exists } = regionUpdate(candidate);
    return (
      candidate.length <= REGIONS_PER_UPDATE &&
      Buffer.byteLength(`SET ${sets.join(', ')}`) <= DYNAMO_EXPRESSION_LIMIT_BYTES &&
      Buffer.byteLength(conditionOf(exists)) <= DYNAMO_EXPRESSION_LIMIT_BYTES
    );
  };
  for (const patch of patches) {
    if (chunk.length > 0 && !fits([...chunk, patch])) {
      chunks.push(chunk);
      chunk = [];
    }
    chunk.push(patch);
  }
  if (chunk.length > 0) chunks.push(chunk);
  return chunks;
}

// --- mapping -----------------------------------------------------------------------------------

/**
 * A plan as stored: each task keeps only what differs between regions, its revision only when it
 * is not the release's one (per-region artifacts, core/artifacts.ts).
 */
type StoredTask = Pick<RegionTask, 'region' | 'target' | 'window'> & { revision?: RegionTask['revision'] };
type StoredPlan = Omit<ReleasePlan, 'waves'> & { waves: (Omit<WavePlan, 'regions'> & { regions: StoredTask[] })[] };

function storedPlan(plan: ReleasePlan): StoredPlan {
  return compact({
    ...plan,
    waves: plan.waves.map((wave) => ({
      ...wave,
      regions: wave.regions.map((t) =>
        compact({
          region: t.region,
          target: t.target,
          window: t.window,
          revision: sameAs(t.revision, plan) ? undefined : t.revision,
        }),
      ),
    })),
  });
}

/** The task's revision is the release's own `{version, artifact}`, nothing more. */
function sameAs(revision: RegionTask['revision'], plan: ReleasePlan): boolean {
  return (
    revision !== null &&
    revision.version === plan.version &&
    revision.artifact === plan.artifact &&
    revision.copyFrom === undefined
  );
}

function expandPlan(stored: StoredPlan): ReleasePlan {
  const revision = { version: stored.version, artifact: stored.artifact };
  return {
    ...stored,
    waves: stored.waves.map((wave) => ({
      ...wave,
      regions: wave.regions.map((t) => ({
        releaseId: stored.releaseId,
        service: stored.service,
        region: t.region,
        wave: wave.index,
        action: 'deploy' as const,
        revision: t.revision === undefined ? revision : t.revision,
        target: t.target,
        ...(t.window ? { window: t.window } : {}),
        gate: stored.gate,
        deploy: stored.deploy,
      })),
    })),
  };
}

function releaseFields(record: ReleaseRecord): Item {
  return {
    service: record.service,
    releaseId: record.releaseId,
    version: record.version,
    artifact: record.artifact,
    status: record.status,
    wave: record.wave,
    waveCount: record.waveCount,
    reason: record.reason,
    regions: Object.fromEntries(Object.entries(record.regions).map(([k, v]) => [k, compact({ ...v })])),
    startedAt: record.startedAt,
    endedAt: record.endedAt,
    used: record.used,
    rollbackOf: record.rollbackOf,
    emergency: record.emergency,
  };
}

function toRegionState(item: Item): RegionState {
  return {
    service: item.service as string,
    region: item.region as string,
    current: (item.current ?? null) as RegionState['current'],
    releaseId: (item.releaseId ?? null) as string | null,
    updatedAt: item.updatedAt as string,
  };
}

function toReleaseRecord(item: Item): ReleaseRecord {
  const record: ReleaseRecord = {
    service: item.service as string,
    releaseId: item.releaseId as string,
    version: item.version as string,
    artifact: item.artifact as string,
    status: item.status as ReleaseRecord['status'],
    wave: item.wave as number,
    waveCount: item.waveCount as number,
    regions: (item.regions ?? {}) as Record<string, ReleaseRegion>,
    startedAt: item.startedAt as string,
  };
  if (item.reason !== undefined) record.reason = item.reason as string;
  if (item.endedAt !== undefined) record.endedAt = item.endedAt as string;
  if (item.used !== undefined) record.used = item.used as NonNullable<ReleaseRecord['used']>;
  if (item.rollbackOf !== undefined) record.rollbackOf = item.rollbackOf as string;
  if (item.hold) record.hold = item.hold as NonNullable<ReleaseRecord['hold']>;
  if (item.emergency) record.emergency = item.emergency as NonNullable<ReleaseRecord['emergency']>;
  return record;
}

/**
 * Drops undefined-valued keys (optional fields): the document client refuses undefined unless it was
 * built with removeUndefinedValues, and the client is the caller's to configure, not ours.
 */
function compact<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

function errorName(error: unknown): string | undefined {
  return error instanceof Error ? error.name : undefined;
}

function isConditionFailed(error: unknown): boolean {
  return errorName(error) === 'ConditionalCheckFailedException';
}
