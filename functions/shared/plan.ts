/** The plan a handler works from: the state carries its ids (PlanRef), the ledger the plan itself. */

import type { PlanRef, ReleasePlan } from '../../core/types.ts';
import { type Deps, namedError } from '../deps.ts';

export async function loadPlan(
  deps: Pick<Deps, 'ledger'>,
  ref: Pick<PlanRef, 'service' | 'releaseId'>,
): Promise<ReleasePlan> {
  const plan = await deps.ledger.getPlan(ref.service, ref.releaseId);
  if (!plan) throw namedError('ReleaseNotFound', `release ${ref.releaseId} has no plan in the ledger`);
  return plan;
}
