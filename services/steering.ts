/**
 * Steering a release, the one way every entry point does it (CLI, control API, dashboard, Slack,
 * the AWS CLI): check the request at the edge, ask the core whether the verb applies
 * (core/steering.ts), record the intent (that is the audit trail), and wake the release if it
 * waits at a hold. The release acts on the intent at its next safe point; nothing here touches a
 * deploy. Refusals are errors named after core/errors.ts REFUSALS.
 */
import { randomUUID } from 'node:crypto';
import type { Intent } from '../core/control.ts';
import { namedError, REFUSALS, refused } from '../core/errors.ts';
import { checkVerb } from '../core/steering.ts';
import { isVerb, VERB_INFO, type Verb } from '../core/verbs.ts';
import type { HoldWaker } from '../ports/hold-waker.ts';
import type { Ledger } from '../ports/ledger.ts';

export interface IntentRequest {
  service: string;
  verb: Verb;
  /** The release; defaults to the service's running one. Freeze/unfreeze take none. */
  releaseId?: string | null;
  region?: string;
  reason: string;
  actor: string;
}

export interface SteeringDeps {
  ledger: Ledger;
  now: () => number;
  /** Wakes a release at a hold (AWS). Locally the hold watches the ledger itself, so this is absent. */
  waker?: HoldWaker;
}

/** The longest reason or actor kept in the audit trail. */
const MAX_TEXT = 1000;

/** Checks what a person typed, before anything is read or written. */
export function checkRequestShape(request: { verb: string; reason: string; actor: string; region?: string }): void {
  if (!isVerb(request.verb)) throw refused(REFUSALS.InvalidInput, `unknown verb ${JSON.stringify(request.verb)}`);
  if (!request.reason.trim()) throw refused(REFUSALS.InvalidInput, `${request.verb} needs a reason (--reason)`);
  if (!request.actor.trim()) throw refused(REFUSALS.InvalidInput, `${request.verb} needs an actor`);
  if (request.reason.length > MAX_TEXT || request.actor.length > MAX_TEXT) {
    throw refused(REFUSALS.InvalidInput, `${request.verb}: reason and actor are ${MAX_TEXT} characters at most`);
  }
  if (VERB_INFO[request.verb].needsRegion && !request.region?.trim()) {
    throw refused(REFUSALS.InvalidInput, `${request.verb} needs a region`);
  }
}

export function newIntentStamp(now: () => number): { at: string; id: string } {
  const at = new Date(now()).toISOString();
  return { at, id: `${at}-${randomUUID().slice(0, 8)}` };
}

/** The release a verb is about: the one named, else the one holding the service's lock. */
export async function resolveRelease(ledger: Ledger, service: string, releaseId: string | null | undefined) {
  let id = releaseId ?? null;
  if (id === null) {
    const lock = await ledger.getLock(service);
    if (!lock) throw refused(REFUSALS.NotFound, `${service} has no release running: name one`);
    id = lock.releaseId;
  }
  const record = await ledger.getRelease(service, id);
  if (!record) throw refused(REFUSALS.NotFound, `${service} has no release ${id}`);
  return record;
}

/** Records an intent after checking it; throws an error named after the refusal saying why not. */
export async function submitIntent(deps: SteeringDeps, request: IntentRequest): Promise<Intent> {
  checkRequestShape(request);
  const { service, verb } = request;
  const serviceIntents = await deps.ledger.listIntents(service, null);
  if (VERB_INFO[verb].scope === 'service') {
    const verdict = checkVerb({ verb }, { intents: [], serviceIntents });
    if (verdict.kind === 'Refuse') throw refused(verdict.refusal, verdict.message);
    const intent: Intent = {
      service,
      releaseId: null,
      verb,
      actor: request.actor,
      reason: request.reason,
      ...newIntentStamp(deps.now),
    };
    await deps.ledger.putIntent(intent);
    return intent;
  }
  const release = await resolveRelease(deps.ledger, service, request.releaseId);
  const intents = await deps.ledger.listIntents(service, release.releaseId);
  const verdict = checkVerb(
    { verb, actor: request.actor, ...(request.region ? { region: request.region } : {}) },
    { release, intents, serviceIntents },
  );
  if (verdict.kind === 'Refuse') throw refused(verdict.refusal, verdict.message);
  const intent: Intent = {
    service,
    releaseId: release.releaseId,
    verb,
    actor: request.actor,
    reason: request.reason,
    ...newIntentStamp(deps.now),
    ...(request.region ? { region: request.region } : {}),
    ...(verdict.wave !== undefined ? { wave: verdict.wave } : {}),
  };
  await deps.ledger.putIntent(intent);
  if (deps.waker) await wakeHolds({ ledger: deps.ledger, waker: deps.waker }, intent);
  return intent;
}

/**
 * Wakes a release waiting at holds because of `intent`. A token whose task moved on is dropped;
 * one that could not be reached is put back for the next verb, and the caller hears WakeFailed
 * (the intent stays recorded: the release reads it at its next look).
 */
export async function wakeHolds(deps: { ledger: Ledger; waker: HoldWaker }, intent: Intent): Promise<void> {
  if (intent.releaseId === null) return;
  const releaseId = intent.releaseId;
  const tokens = await deps.ledger.takeHoldTokens(intent.service, releaseId);
  const results = await Promise.allSettled(tokens.map((token) => deps.waker.wake(token, intent)));
  const failed = results.flatMap((result, i) => {
    const token = tokens[i];
    return result.status === 'rejected' && token ? [{ token, error: result.reason as unknown }] : [];
  });
  if (failed.length === 0) return;
  await Promise.all(failed.map((f) => deps.ledger.putHoldToken(intent.service, releaseId, f.token)));
  const first = failed[0]?.error;
  const name = first instanceof Error ? first.name : 'Error';
  const message = first instanceof Error ? first.message : String(first);
  throw namedError(
    'WakeFailed',
    `the ${intent.verb} was recorded, but waking the release failed for ${failed.length} hold(s): ${name}: ${message}; it acts on it at its next look`,
    first,
  );
}
