/**
 * Submitting an intent, the same on both backends: check it makes sense for the release as it is,
 * record it (that is the audit trail), and wake the release if it waits at a hold. The release
 * acts on it at its next safe point; nothing here touches a deploy.
 */
import { randomUUID } from 'node:crypto';
import type { Intent, Verb } from '../core/control.ts';
import { namedError } from '../core/errors.ts';
import type { HoldToken, Ledger } from '../ports/ledger.ts';

export interface IntentRequest {
  service: string;
  verb: Verb;
  /** The release; defaults to the service's running one. Freeze/unfreeze take none. */
  releaseId?: string | null;
  region?: string;
  reason: string;
  actor: string;
}

export interface IntentDeps {
  ledger: Ledger;
  now: () => number;
  /**
   * Wakes a release waiting at a hold (AWS: SendTaskSuccess/SendTaskFailure with the tokens).
   * Locally the hold watches the ledger itself, so this is absent.
   */
  wake?: (tokens: HoldToken[], verb: Verb) => Promise<void>;
}

const GLOBAL_VERBS: ReadonlySet<Verb> = new Set(['freeze', 'unfreeze']);

/** Records an intent after checking it; throws an Error named InvalidIntent saying why not. */
export async function submitIntent(deps: IntentDeps, request: IntentRequest): Promise<Intent> {
  const invalid = (message: string) => namedError('InvalidIntent', message);
  if (!request.reason.trim()) throw invalid(`${request.verb} needs a reason (--reason)`);
  if (!request.actor.trim()) throw invalid(`${request.verb} needs an actor`);
  const at = new Date(deps.now()).toISOString();
  const id = `${at}-${randomUUID().slice(0, 8)}`;
  if (GLOBAL_VERBS.has(request.verb)) {
    const intent: Intent = {
      service: request.service,
      releaseId: null,
      verb: request.verb,
      actor: request.actor,
      reason: request.reason,
      at,
      id,
    };
    await deps.ledger.putIntent(intent);
    return intent;
  }

  let releaseId = request.releaseId ?? null;
  if (releaseId === null) {
    const lock = await deps.ledger.getLock(request.service);
    if (!lock) throw invalid(`${request.service} has no release running: name one`);
    releaseId = lock.releaseId;
  }
  const record = await deps.ledger.getRelease(request.service, releaseId);
  if (!record) throw invalid(`${request.service} has no release ${releaseId}`);
  if (request.verb === 'rollback') {
    if (record.status !== 'SUCCEEDED') {
      throw invalid(
        `rollback puts back a release that SUCCEEDED; ${releaseId} is ${record.status} (use abort while it runs)`,
      );
    }
  } else if (record.status !== 'RUNNING') {
    throw invalid(`${releaseId} is ${record.status}: ${request.verb} applies to a running release`);
  }
  if (request.verb === 'skip-region') {
    const entry = request.region ? record.regions[request.region] : undefined;
    if (!request.region || !entry)
      throw invalid(`skip-region needs a region of ${releaseId} (${Object.keys(record.regions).join(', ')})`);
    if (entry.phase !== 'pending')
      throw invalid(`${request.region} is already ${entry.phase} in ${releaseId}: too late to skip it`);
  }
  const intent: Intent = {
    service: request.service,
    releaseId,
    verb: request.verb,
    actor: request.actor,
    reason: request.reason,
    at,
    id,
    ...(request.region ? { region: request.region } : {}),
  };
  await deps.ledger.putIntent(intent);
  if (deps.wake) {
    const tokens = await deps.ledger.takeHoldTokens(request.service, releaseId);
    if (tokens.length > 0) await deps.wake(tokens, request.verb);
  }
  return intent;
}
