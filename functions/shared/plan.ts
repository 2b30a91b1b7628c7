/** The plan a handler works from: the state carries its ids (PlanRef), the ledger the plan itself. */

import type { PlanRef, ReleasePlan } from '../../core/types.ts';
import type { Ledger } from '../../ports/ledger.ts';
import { type Deps, namedError } from '../deps.ts';

/**
 * Plans read, per ledger: a plan never changes once written (Ledger.putPlan), so each process
 * reads it once. Locally that is one read for a whole wave's children instead of one each (32
 * concurrent reads cost a wave ~0.3 s); on AWS a warm Lambda skips the read.
 */
const cache = new WeakMap<Ledger, Map<string, Promise<ReleasePlan>>>();
/** Releases a process keeps plans of: a few run at once per service, and each is ~30 KB at 100 regions. */
const CACHED = 16;

function plansOf(ledger: Ledger): Map<string, Promise<ReleasePlan>> {
  let plans = cache.get(ledger);
  if (!plans) {
    plans = new Map();
    cache.set(ledger, plans);
  }
  return plans;
}

const keyOf = (ref: Pick<PlanRef, 'service' | 'releaseId'>) => `${ref.service}\u0000${ref.releaseId}`;

function keep(plans: Map<string, Promise<ReleasePlan>>, key: string, plan: Promise<ReleasePlan>): void {
  plans.set(key, plan);
  if (plans.size > CACHED) plans.delete(plans.keys().next().value as string);
}

/**
 * Keeps the plan PlanRelease has just written, as the ledger reads it back (Ledger.putPlan), so
 * that the steps after it in this process do not read it again.
 */
export function rememberPlan(deps: Pick<Deps, 'ledger'>, plan: ReleasePlan): void {
  keep(plansOf(deps.ledger), keyOf(plan), Promise.resolve(structuredClone(plan)));
}

export function loadPlan(
  deps: Pick<Deps, 'ledger'>,
  ref: Pick<PlanRef, 'service' | 'releaseId'>,
): Promise<ReleasePlan> {
  const plans = plansOf(deps.ledger);
  const key = keyOf(ref);
  const known = plans.get(key);
  // Each caller gets its own copy: nothing one handler does to it can reach another.
  if (known) return known.then((plan) => structuredClone(plan));
  const loading = (async () => {
    const plan = await deps.ledger.getPlan(ref.service, ref.releaseId);
    if (!plan) throw namedError('ReleaseNotFound', `release ${ref.releaseId} has no plan in the ledger`);
    return plan;
  })();
  keep(plans, key, loading);
  // A failed read is not kept: the next call reads again.
  loading.catch(() => plans.delete(key));
  return loading.then((plan) => structuredClone(plan));
}
