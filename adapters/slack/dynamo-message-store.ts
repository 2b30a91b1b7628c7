/**
 * MessageStore in the ledger table, for the notifier Lambda: a container keeps no memory between
 * invocations reliably, so the release's Slack message (channel, ts), the view it shows and the
 * replies already posted are kept next to the release:
 *
 *   pk = SERVICE#<service>   sk = SLACK#<releaseId>   channel, ts, view (JSON), notified, updatedAt
 *
 * Plain GetItem/PutItem of its own (the ledger's methods are the ledger's), strongly consistent.
 * The first message recorded for a release wins: the put is conditional on there being no item or
 * one with the same ts; when another ts is there, it is returned instead (the notifier that lost the
 * race deletes its duplicate message). The view is stored as a JSON string: one attribute,
 * whatever it holds, far below DynamoDB's 400 KB item limit even with hundreds of regions.
 */
import { type DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { MessageStore, ReleaseKey, StoredMessage } from './message-store.ts';
import type { ReleaseView } from './view.ts';

export interface DynamoMessageStoreOptions {
  client: DynamoDBDocumentClient;
  tableName: string;
  /** Milliseconds since the epoch, for `updatedAt`. */
  now?: () => number;
}

const servicePk = (service: string) => `SERVICE#${service}`;
const slackSk = (releaseId: string) => `SLACK#${releaseId}`;

export class DynamoMessageStore implements MessageStore {
  readonly #client: DynamoDBDocumentClient;
  readonly #tableName: string;
  readonly #now: () => number;

  constructor(options: DynamoMessageStoreOptions) {
    this.#client = options.client;
    this.#tableName = options.tableName;
    this.#now = options.now ?? Date.now;
  }

  async get(release: ReleaseKey): Promise<StoredMessage | undefined> {
    const { Item } = await this.#client.send(
      new GetCommand({
        TableName: this.#tableName,
        Key: { pk: servicePk(release.service), sk: slackSk(release.releaseId) },
        ConsistentRead: true,
      }),
    );
    return Item ? fromItem(Item) : undefined;
  }

  async put(release: ReleaseKey, message: StoredMessage): Promise<StoredMessage> {
    const item: Record<string, unknown> = {
      pk: servicePk(release.service),
      sk: slackSk(release.releaseId),
      service: release.service,
      releaseId: release.releaseId,
      channel: message.channel,
      ts: message.ts,
      notified: message.notified ?? [],
      updatedAt: new Date(this.#now()).toISOString(),
    };
    if (message.view) item.view = JSON.stringify(message.view);
    try {
      await this.#client.send(
        new PutCommand({
          TableName: this.#tableName,
          Item: item,
          ConditionExpression: 'attribute_not_exists(pk) OR #ts = :ts',
          ExpressionAttributeNames: { '#ts': 'ts' },
          ExpressionAttributeValues: { ':ts': message.ts },
        }),
      );
      return message;
    } catch (error) {
      if ((error as { name?: unknown }).name !== 'ConditionalCheckFailedException') throw error;
      const winner = await this.get(release);
      // Gone between the failed put and the read (deleted by hand): nothing to defer to.
      return winner ?? message;
    }
  }
}

function fromItem(item: Record<string, unknown>): StoredMessage | undefined {
  const { channel, ts, view, notified } = item;
  if (typeof channel !== 'string' || typeof ts !== 'string') return undefined;
  const stored: StoredMessage = { channel, ts };
  if (typeof view === 'string') {
    try {
      stored.view = JSON.parse(view) as ReleaseView;
    } catch {
      // A view that cannot be read is re-built from the next events: the message itself is still there.
    }
  }
  if (Array.isArray(notified)) stored.notified = notified.filter((n): n is string => typeof n === 'string');
  return stored;
}
