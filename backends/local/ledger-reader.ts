/**
 * The local ledger opened read-only in this process, for the read verbs (`where`, `status`,
 * `history`, `doctor`): no dynalite server, no worker thread, no HTTP, no AWS SDK client. The same
 * DynamoDbLedger code makes the requests; its Get and Query go straight to dynalite's own request
 * validation and actions (dynalite/validations, dynalite/actions) on dynalite's own store over the
 * LevelDB, which is exactly what the embedded server runs for the same request, and its answers are
 * marshalled as the document client does (@aws-sdk/util-dynamodb, which lib-dynamodb uses). Every
 * write is refused (LedgerReadOnly): a reader changes nothing, not even the ledger's copy.
 *
 * It opens the ledger as every command does (ledger-files.ts): the state dir's guard, the damage
 * checks (a damaged or lost ledger is refused, naming the damage), then LevelDB itself, which a
 * process holding the ledger keeps locked (StateDirLocked). A state dir with no ledger yet reads as
 * empty, and nothing is made there.
 */
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { type DocumentOperation, type DocumentRequests, DynamoDbLedger } from '../../adapters/dynamodb/ledger.ts';
import { namedError } from '../../core/errors.ts';
import type { Ledger } from '../../ports/ledger.ts';
import { enforceDynamoLimits } from './dynamo-limits.ts';
import {
  checkLedgerFiles,
  GUARD_DIR,
  hasLedgerFiles,
  LedgerDamaged,
  lostLedger,
  openFailure,
  openOrLocked,
} from './ledger-files.ts';

/** A write sent to a ledger opened read-only: a bug in the caller, never a user's mistake. */
export const LedgerReadOnly = 'LedgerReadOnly';

export interface LedgerReader {
  ledger: Ledger;
  /** Closes LevelDB and frees the state dir. Idempotent. */
  close(): Promise<void>;
}

/** dynalite's store (db/index.js `create`): the part this module touches. */
interface DynaliteStore {
  db: { open(): Promise<void>; close(callback: (error?: Error) => void): void };
}

interface DynaliteValidation {
  types: unknown;
  custom?: unknown;
}

interface Dynalite {
  db: { create(options: Record<string, unknown>): DynaliteStore };
  validations: {
    checkTypes(data: unknown, types: unknown): Record<string, unknown>;
    checkValidations(data: unknown, types: unknown, custom: unknown, store: DynaliteStore): void;
  };
  actions: Record<'getItem' | 'query', (store: DynaliteStore, data: unknown, cb: Callback) => void>;
  validationsOf: Record<'getItem' | 'query', DynaliteValidation>;
}
type Callback = (error: (Error & { statusCode?: number; body?: DynamoErrorBody }) | null, data?: unknown) => void;
interface DynamoErrorBody {
  __type?: string;
  message?: string;
  Message?: string;
}

let dynalite: Dynalite | undefined;

/** dynalite's modules, from dynalite's own location (the copy the embedded server runs), without its HTTP server. */
function loadDynalite(): Dynalite {
  if (!dynalite) {
    const fromDynalite = createRequire(createRequire(import.meta.url).resolve('dynalite'));
    dynalite = {
      db: fromDynalite('./db') as Dynalite['db'],
      validations: fromDynalite('./validations') as Dynalite['validations'],
      actions: { getItem: fromDynalite('./actions/getItem'), query: fromDynalite('./actions/query') },
      validationsOf: {
        getItem: fromDynalite('./validations/getItem'),
        query: fromDynalite('./validations/query'),
      },
    };
    // The server's own checks (DynamoDB's 4 KB expression limit) hold here too.
    enforceDynamoLimits();
  }
  return dynalite;
}

/** Which dynalite action answers each read, and which of its fields hold attribute values (as lib-dynamodb marshals them). */
const READS = {
  Get: { action: 'getItem', input: ['Key'], output: ['Item'], outputLists: [] },
  Query: {
    action: 'query',
    input: ['ExclusiveStartKey', 'ExpressionAttributeValues'],
    output: ['LastEvaluatedKey'],
    outputLists: ['Items'],
  },
} as const satisfies Partial<Record<DocumentOperation, unknown>>;

type AttributeMap = Record<string, unknown>;
const marshallValues = (map: AttributeMap): AttributeMap =>
  Object.fromEntries(
    Object.entries(map).map(([k, v]) => [k, marshall(v as never, { convertTopLevelContainer: true } as never)]),
  );
const unmarshallValues = (map: AttributeMap): AttributeMap =>
  Object.fromEntries(
    Object.entries(map).map(([k, v]) => [
      k,
      unmarshall(fromWire(v) as never, { convertWithoutMapWrapper: true } as never),
    ]),
  );

/** Binary values as the SDK's JSON protocol reads them off the wire (base64 → bytes); everything else as sent. */
function fromWire(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(fromWire);
  if (value === null || typeof value !== 'object') return value;
  const v = value as Record<string, unknown>;
  if (typeof v.B === 'string') return { B: Buffer.from(v.B, 'base64') };
  if (Array.isArray(v.BS)) return { BS: v.BS.map((b) => Buffer.from(String(b), 'base64')) };
  if (Array.isArray(v.L)) return { L: v.L.map(fromWire) };
  if (v.M && typeof v.M === 'object') {
    return { M: Object.fromEntries(Object.entries(v.M).map(([k, x]) => [k, fromWire(x)])) };
  }
  return value;
}

/** A DynamoDB error as the SDK names it (`ResourceNotFoundException`, `ValidationException`, ...). */
function dynamoError(body: DynamoErrorBody | undefined, fallback: Error): Error {
  if (!body?.__type) return fallback;
  const error = new Error(body.message ?? body.Message ?? body.__type);
  error.name = body.__type.slice(body.__type.lastIndexOf('#') + 1);
  return error;
}

function readRequests(store: DynaliteStore): DocumentRequests {
  const { validations, actions, validationsOf } = loadDynalite();
  return {
    async send(request) {
      const read = READS[request.op as keyof typeof READS];
      if (!read) throw namedError(LedgerReadOnly, `the ledger is open read-only: ${request.op} refused`);
      const input = { ...(request.input as AttributeMap) };
      for (const field of read.input) {
        if (input[field] !== undefined) input[field] = marshallValues(input[field] as AttributeMap);
      }
      // As sent over the wire: JSON, without the fields left undefined.
      let data = JSON.parse(JSON.stringify(input)) as unknown;
      const validation = validationsOf[read.action];
      try {
        data = validations.checkTypes(data, validation.types);
        validations.checkValidations(data, validation.types, validation.custom, store);
      } catch (error) {
        throw dynamoError((error as { body?: DynamoErrorBody }).body, error as Error);
      }
      const answer = await new Promise<AttributeMap>((done, fail) =>
        actions[read.action](store, data, (error, out) => {
          if (error) fail(dynamoError(error.body, error));
          else done(JSON.parse(JSON.stringify(out ?? {})) as AttributeMap);
        }),
      );
      const output: AttributeMap = {};
      for (const field of read.output) {
        if (answer[field] !== undefined) output[field] = unmarshallValues(answer[field] as AttributeMap);
      }
      for (const field of read.outputLists) {
        if (answer[field] !== undefined) output[field] = (answer[field] as AttributeMap[]).map(unmarshallValues);
      }
      return output as never;
    },
  };
}

/** A ledger with nothing in it yet: every read answers empty, every write is refused. */
const EMPTY: DocumentRequests = {
  async send(request) {
    if (request.op === 'Get') return {} as never;
    if (request.op === 'Query') return { Items: [] } as never;
    throw namedError(LedgerReadOnly, `the ledger is open read-only: ${request.op} refused`);
  },
};

/**
 * Opens the ledger of `stateDir` (its `ledger/` LevelDB) read-only, as table `tableName`. Refuses a
 * damaged or lost ledger (LedgerDamaged) and one another process holds (StateDirLocked).
 */
export async function openLedgerReader(stateDir: string, tableName: string): Promise<LedgerReader> {
  const lost = await lostLedger(stateDir);
  if (lost) throw namedError(LedgerDamaged, `${lost}: run flotilla repair to rebuild it from the copy and the regions`);
  const dir = resolve(join(stateDir, 'ledger'));
  if (!(await hasLedgerFiles(dir))) {
    return { ledger: new DynamoDbLedger({ requests: EMPTY, tableName }), close: async () => {} };
  }
  const guard = await openOrLocked(join(dir, GUARD_DIR), dir);
  let store: DynaliteStore | undefined;
  try {
    await checkLedgerFiles(dir);
    const { db } = loadDynalite();
    store = db.create({ path: dir, createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
    await store.db.open().catch((error: unknown) => {
      throw openFailure(error, dir);
    });
  } catch (error) {
    if (store) await closeStore(store).catch(() => {});
    await guard.close();
    throw error;
  }
  const opened = store;
  let closing: Promise<void> | undefined;
  return {
    ledger: new DynamoDbLedger({ requests: readRequests(opened), tableName }),
    close() {
      closing ??= closeStore(opened).finally(() => guard.close());
      return closing;
    },
  };
}

function closeStore(store: DynaliteStore): Promise<void> {
  return new Promise((done, fail) => store.db.close((error) => (error ? fail(error) : done())));
}
