/**
 * The rules of every steering verb: when it applies, when it is refused, and with what message.
 * Pure: the caller passes the release as the ledger has it, its intents and the service's. One
 * set of rules for the CLI, the control API, the dashboard, Slack and the AWS CLI (they all call
 * services/steering.ts, which calls this). The `rollback` verb's region rules are
 * core/rollback.ts `planRollbackOf`; its state rule is here.
 */
import { byWhom, controlState, freezeOf, type Intent, latest } from './control.ts';
import { REFUSALS, type Refusal } from './errors.ts';
import type { ReleaseRecord } from './model.ts';
import { VERB_INFO, type Verb } from './verbs.ts';

export interface VerbRequest {
  verb: Verb;
  /** skip-region: the region. */
  region?: string;
  /** Who asks: approve must come from someone other than who asked for the emergency release. */
  actor?: string;
}

export interface SteeringContext {
  /** The release the verb is about (service-wide verbs: absent). */
  release?: ReleaseRecord;
  /** The release's intents, oldest first. */
  intents: readonly Intent[];
  /** The service's own intents (freeze, unfreeze), oldest first. */
  serviceIntents: readonly Intent[];
}

export type VerbVerdict =
  /** Record it; `wave` is set for force: the hold it is given for. */
  { kind: 'Accept'; wave?: number } | { kind: 'Refuse'; refusal: Refusal; message: string };

const refuse = (refusal: Refusal, message: string): VerbVerdict => ({ kind: 'Refuse', refusal, message });
const live = (r: ReleaseRecord) => r.status === 'RUNNING' || r.status === 'QUEUED';

/** Whether a verb applies now, and if not why. Every refusal names what to do instead where there is something. */
export function checkVerb(request: VerbRequest, ctx: SteeringContext): VerbVerdict {
  const { verb } = request;
  const frozen = freezeOf(ctx.serviceIntents);
  if (VERB_INFO[verb].scope === 'service') {
    if (verb === 'freeze' && frozen) {
      return refuse(REFUSALS.NoChange, `already frozen since ${frozen.at}${byWhom(frozen)}`);
    }
    if (verb === 'unfreeze' && !frozen) return refuse(REFUSALS.NoChange, 'not frozen: nothing to unfreeze');
    return { kind: 'Accept' };
  }
  if (verb === 'rollback') {
    // Not an intent the release acts on: it starts a release of its own, and whether it may (and
    // for which regions) is core/rollback.ts planRollbackOf, called by services/rollback.ts.
    return refuse(REFUSALS.InvalidInput, 'rollback starts a release of its own: see planRollbackOf (core/rollback.ts)');
  }
  const release = ctx.release;
  if (!release) return refuse(REFUSALS.NotFound, `${verb} names no release`);
  const id = release.releaseId;
  if (!live(release)) {
    const hint =
      release.status === 'FAILED' || release.status === 'SUCCEEDED'
        ? `; flotilla rollback ${id} puts back what it changed`
        : '';
    return refuse(
      REFUSALS.NotApplicable,
      `${id} is ${release.status}: ${verb} applies to a running or queued release${hint}`,
    );
  }
  const control = controlState(ctx.intents, release.used ?? { promotions: 0 });
  const hold = release.hold ?? null;
  switch (verb) {
    case 'abort':
      return control.abort
        ? refuse(REFUSALS.NoChange, `${id} is already being aborted${byWhom(latest(ctx.intents, 'abort'))}`)
        : { kind: 'Accept' };
    case 'pause':
      return control.paused
        ? refuse(REFUSALS.NoChange, `${id} is already paused${byWhom(latest(ctx.intents, 'pause'))}`)
        : { kind: 'Accept' };
    case 'resume':
      return control.paused ? { kind: 'Accept' } : refuse(REFUSALS.NoChange, `${id} is not paused: nothing to resume`);
    case 'promote': {
      if (release.status === 'QUEUED') {
        return refuse(REFUSALS.NotApplicable, `${id} is QUEUED: nothing to promote until it runs`);
      }
      if (control.promotions > 0) {
        return refuse(
          REFUSALS.NoChange,
          `a promote${byWhom(latest(ctx.intents, 'promote'))} is still waiting to be used`,
        );
      }
      const kinds = new Set(hold?.reasons.map((r) => r.kind) ?? []);
      if (hold && !kinds.has('approval') && !kinds.has('inconclusive')) {
        const instead = kinds.has('paused') ? 'resume' : 'force';
        return refuse(
          REFUSALS.NotApplicable,
          `${id} is held (${hold.reasons.map((r) => r.text).join('; ')}): promote does not pass that; use ${instead}`,
        );
      }
      return { kind: 'Accept' };
    }
    case 'skip-region': {
      const entry = request.region ? release.regions[request.region] : undefined;
      if (!request.region || !entry) {
        return refuse(
          REFUSALS.NotFound,
          `${request.region ?? 'no region'} is not a region of ${id} (${Object.keys(release.regions).sort().join(', ')})`,
        );
      }
      if (entry.phase === 'skipped') return refuse(REFUSALS.NoChange, `${request.region} is already skipped in ${id}`);
      if (entry.phase !== 'pending') {
        return refuse(
          REFUSALS.NotApplicable,
          `${request.region} is already ${entry.phase} in ${id}: too late to skip it`,
        );
      }
      return { kind: 'Accept' };
    }
    case 'force': {
      const overridable = hold?.reasons.filter((r) => r.kind === 'frozen' || r.kind === 'window') ?? [];
      if (!hold || overridable.length === 0) {
        return refuse(
          REFUSALS.NoChange,
          `nothing to force: ${id} is not held by a freeze or a closed window${hold ? ` (held: ${hold.reasons.map((r) => r.text).join('; ')})` : ''}`,
        );
      }
      if (control.forcedWaves.includes(hold.wave)) {
        return refuse(
          REFUSALS.NoChange,
          `wave ${hold.wave + 1} of ${id} is already forced${byWhom(latest(ctx.intents, 'force'))}`,
        );
      }
      return { kind: 'Accept', wave: hold.wave };
    }
    case 'approve': {
      const emergency = release.emergency;
      if (!emergency) {
        return refuse(
          REFUSALS.NotApplicable,
          `${id} is not an emergency release: approve is its second approval; a wave waiting for approval takes promote`,
        );
      }
      if (request.actor === undefined || request.actor === emergency.actor) {
        return refuse(
          REFUSALS.NotApplicable,
          `${emergency.actor} asked for emergency release ${id}: a second, distinct person must approve it`,
        );
      }
      const other = control.approvers.find((a) => a !== emergency.actor);
      if (other !== undefined) {
        return refuse(REFUSALS.NoChange, `${id} is already approved by ${other}`);
      }
      return { kind: 'Accept' };
    }
  }
  return refuse(REFUSALS.InvalidInput, `unknown verb ${verb}`);
}
