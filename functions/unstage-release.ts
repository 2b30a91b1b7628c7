/**
 * UnstageRelease (AWS only): when a release execution ends, however it ended, removes what its
 * staging made in regions that do not run its build (core/staging.ts `regionsToUnstage`): copied
 * bundles, registered task definitions, published Lambda versions no alias serves;
 * adapters/aws/revision-stager.ts removes only what is marked with this release. Run by an
 * EventBridge rule on the release state machine's status changes rather than by FinishRelease, so
 * FinishRelease's bundle needs no S3, ECS or Lambda calls and abnormal ends (which never reach FinishRelease) are
 * cleaned up too. Locally FinishRelease removes staged builds itself, through the local fleet.
 */

import type { RegionDeployer } from '../ports/region-deployer.ts';
import { type Deps, namedError } from './deps.ts';
import { lambda } from './runtime/lambda.ts';
import { ledgerFromEnv } from './runtime/ledger.ts';
import { stagerFromEnv } from './runtime/ports.ts';
import { unstage } from './shared/unstage.ts';

export interface ExecutionStatusEvent {
  'detail-type'?: string;
  detail?: { name?: string; status?: string; input?: string | null };
}

const ENDED = new Set(['SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED']);

export const createUnstageRelease =
  (deps: Pick<Deps, 'ledger'> & { deployer: Pick<RegionDeployer, 'removeStaged'> }) =>
  async (event: ExecutionStatusEvent): Promise<{ removed: boolean }> => {
    const detail = event.detail;
    if (event['detail-type'] !== 'Step Functions Execution Status Change' || !detail?.name || !detail.status) {
      throw namedError('InvalidEvent', 'not a Step Functions Execution Status Change event with a name and status');
    }
    if (!ENDED.has(detail.status)) return { removed: false };
    let service: unknown;
    try {
      service = (JSON.parse(detail.input ?? '') as { config?: { service?: unknown } }).config?.service;
    } catch {
      service = undefined;
    }
    if (typeof service !== 'string') {
      throw namedError('InvalidEvent', `execution ${detail.name}: its input names no service (config.service)`);
    }
    const [plan, record, states] = await Promise.all([
      deps.ledger.getPlan(service, detail.name),
      deps.ledger.getRelease(service, detail.name),
      deps.ledger.listRegions(service),
    ]);
    // A release refused before PlanRelease wrote anything staged nothing.
    if (!plan || !record) return { removed: false };
    const versions = Object.fromEntries(states.map((s) => [s.region, s.current?.version ?? null]));
    await unstage(deps, plan, record, versions);
    return { removed: true };
  };

/** The Lambda entry point on AWS, on the EventBridge rule serverless.yml sets. */
export const handler = lambda(() => createUnstageRelease({ ledger: ledgerFromEnv(), deployer: stagerFromEnv() }));
