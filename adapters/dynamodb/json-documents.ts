/**
 * The ledger's document requests (plain JS values in, plain JS values out) over DynamoDB's JSON
 * protocol directly (json-protocol.ts), for the local backend's embedded server: what
 * `@aws-sdk/lib-dynamodb`'s DynamoDBDocumentClient does, without the SDK.
 *
 * The marshalling is lib-dynamodb's (3.11xx), step for step: the same fields of each command are
 * converted (its `inputKeyNodes` / `outputKeyNodes`, copied below), by the same walk
 * (commands/utils.js `processKeysInObj`), with `@aws-sdk/util-dynamodb`'s marshall and unmarshall and
 * the options a document client built without a translateConfig uses
 * (`DynamoDBDocumentClient.from(client)`: marshall `{ convertTopLevelContainer: true }`, unmarshall
 * `{ convertWithoutMapWrapper: true }`), so no `removeUndefinedValues`: a nested undefined is an
 * error here as there. Binary values go over the wire as base64 and come back as Uint8Array, as the
 * SDK's DynamoDB codec does. test/store/json-documents.test.ts sends the same requests both ways and
 * compares what goes over the wire, what comes back, and what is stored.
 */
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import type { DynamoAction, DynamoJson } from './json-protocol.ts';
import type { DocumentOperation, DocumentRequests } from './ledger.ts';

/** A tree of the fields holding attribute values: lib-dynamodb's KeyNodes. */
type KeyNodes = { [field: string]: KeyNodes } | null;
type Fields = { [field: string]: KeyNodes };

/** The value itself is one attribute value (lib-dynamodb SELF). */
const SELF = null;
/** Every value of the object (or every member of the list) is one (ALL_VALUES, ALL_MEMBERS). */
const ALL_VALUES: KeyNodes = {};
const ALL_MEMBERS: KeyNodes = {};
/** Every value of the object, each walked with the nodes under it. */
const NEXT_LEVEL = '*';

const EXPECTED: Fields = { '*': { Value: SELF, AttributeValueList: ALL_MEMBERS } };
const ITEM_COLLECTION_METRICS: Fields = { ItemCollectionKey: ALL_VALUES };
const WRITE_OUTPUT: Fields = { Attributes: ALL_VALUES, ItemCollectionMetrics: ITEM_COLLECTION_METRICS };
const WRITE_REQUESTS: Fields = {
  '*': { '*': { PutRequest: { Item: ALL_VALUES }, DeleteRequest: { Key: ALL_VALUES } } },
};

/** Each operation's DynamoDB action and its fields that hold attribute values, as lib-dynamodb lists them. */
const OPERATIONS: Record<DocumentOperation, { action: DynamoAction; input: Fields; output: Fields }> = {
  Get: { action: 'GetItem', input: { Key: ALL_VALUES }, output: { Item: ALL_VALUES } },
  Query: {
    action: 'Query',
    input: {
      KeyConditions: { '*': { AttributeValueList: ALL_MEMBERS } },
      QueryFilter: { '*': { AttributeValueList: ALL_MEMBERS } },
      ExclusiveStartKey: ALL_VALUES,
      ExpressionAttributeValues: ALL_VALUES,
    },
    output: { Items: { '*': ALL_VALUES }, LastEvaluatedKey: ALL_VALUES },
  },
  Put: {
    action: 'PutItem',
    input: { Item: ALL_VALUES, Expected: EXPECTED, ExpressionAttributeValues: ALL_VALUES },
    output: WRITE_OUTPUT,
  },
  Update: {
    action: 'UpdateItem',
    input: {
      Key: ALL_VALUES,
      AttributeUpdates: { '*': { Value: SELF } },
      Expected: EXPECTED,
      ExpressionAttributeValues: ALL_VALUES,
    },
    output: WRITE_OUTPUT,
  },
  Delete: {
    action: 'DeleteItem',
    input: { Key: ALL_VALUES, Expected: EXPECTED, ExpressionAttributeValues: ALL_VALUES },
    output: WRITE_OUTPUT,
  },
  BatchWrite: {
    action: 'BatchWriteItem',
    input: { RequestItems: WRITE_REQUESTS },
    output: { UnprocessedItems: WRITE_REQUESTS, ItemCollectionMetrics: { '*': { '*': ITEM_COLLECTION_METRICS } } },
  },
};

const MARSHALL = { convertTopLevelContainer: true } as const;
const UNMARSHALL = { convertWithoutMapWrapper: true } as const;

export function jsonDocumentRequests(dynamo: DynamoJson): DocumentRequests {
  return {
    async send(request) {
      const operation = OPERATIONS[request.op];
      const body = processKeys(
        request.input as object,
        (value) => toWire(marshall(value as never, MARSHALL)),
        operation.input,
      );
      const answer = await dynamo.call(operation.action, body);
      return processKeys(
        answer,
        (value) => unmarshall(fromWire(value) as never, UNMARSHALL as never),
        operation.output,
      ) as never;
    },
  };
}

type Convert = (value: unknown) => unknown;

// --- lib-dynamodb's walk (commands/utils.js), as it is ----------------------------------------------

function processObj(obj: unknown, convert: Convert, nodes: KeyNodes): unknown {
  if (obj === undefined) return undefined;
  if (nodes === null) return convert(obj);
  const keys = Object.keys(nodes);
  const nextLevel = keys.length === 1 && keys[0] === NEXT_LEVEL;
  if (keys.length === 0) return processAll(obj as object, convert);
  if (!nextLevel) return processKeys(obj as object, convert, nodes);
  const under = nodes[NEXT_LEVEL] as KeyNodes;
  const out: Record<string, unknown> | unknown[] = Array.isArray(obj) ? [] : {};
  for (const [k, v] of Object.entries(obj ?? {})) {
    if (typeof v !== 'function') (out as Record<string, unknown>)[k] = processObj(v, convert, under);
  }
  return out;
}

function processKeys(obj: object, convert: Convert, nodes: Fields): Record<string, unknown> {
  let out: Record<string, unknown>;
  if (Array.isArray(obj)) {
    out = obj.filter((item) => typeof item !== 'function') as unknown as Record<string, unknown>;
  } else {
    out = {};
    for (const [k, v] of Object.entries(obj)) if (typeof v !== 'function') out[k] = v;
  }
  const source = obj as Record<string, unknown>;
  for (const [key, under] of Object.entries(nodes)) {
    if (typeof source[key] === 'function') continue;
    const converted = processObj(source[key], convert, under);
    if (converted !== undefined && typeof converted !== 'function') out[key] = converted;
  }
  return out;
}

function processAll(obj: object, convert: Convert): unknown {
  if (Array.isArray(obj)) {
    return obj.filter((item) => typeof item !== 'function').map((item) => processObj(item, convert, SELF));
  }
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(obj)) {
    if (typeof value === 'function') continue;
    const converted = processObj(value, convert, SELF);
    if (converted !== undefined && typeof converted !== 'function') out[key] = converted;
  }
  return out;
}

// --- binary values on the wire, as the SDK's DynamoDB codec (@aws-sdk/dynamodb-codec) writes and reads them

type WireValue = Record<string, unknown>;

const base64 = (bytes: unknown): unknown =>
  ArrayBuffer.isView(bytes)
    ? Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64')
    : bytes instanceof ArrayBuffer
      ? Buffer.from(bytes).toString('base64')
      : bytes;

/** A marshalled attribute value made ready for JSON: its binaries as base64 (in place: marshall made it). */
function toWire(value: unknown): unknown {
  const av = value as WireValue;
  if (av.B !== undefined) av.B = base64(av.B);
  if (Array.isArray(av.BS)) av.BS = av.BS.map(base64);
  if (Array.isArray(av.L)) for (const member of av.L) toWire(member);
  if (av.M !== null && typeof av.M === 'object') for (const member of Object.values(av.M)) toWire(member);
  return av;
}

/** An attribute value off the wire: its binaries as bytes (Uint8Array, as the SDK's fromBase64 gives). */
function fromWire(value: unknown): unknown {
  const av = value as WireValue;
  if (av === null || typeof av !== 'object') return av;
  if (typeof av.B === 'string') av.B = bytes(av.B);
  if (Array.isArray(av.BS)) av.BS = av.BS.map((b) => bytes(String(b)));
  if (Array.isArray(av.L)) for (const member of av.L) fromWire(member);
  if (av.M !== null && typeof av.M === 'object') for (const member of Object.values(av.M)) fromWire(member);
  return av;
}

function bytes(text: string): Uint8Array {
  const buffer = Buffer.from(text, 'base64');
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}
