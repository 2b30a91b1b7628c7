/**
 * Every Lambda function the state machines call, by the name its ASL Resource ARN ends with
 * (`...:function:flotilla-<name>`). The local engine binds Task states through this table;
 * serverless.yml deploys the same handlers.
 */
import { createAwaitDeployment } from './await-deployment.ts';
import { createBake } from './bake.ts';
import { createCheckGate } from './check-gate.ts';
import { createCheckRegionDeploy } from './check-region-deploy.ts';
import { createClaimTurn } from './claim-turn.ts';
import type { Deps } from './deps.ts';
import { createEnterWave } from './enter-wave.ts';
import { createFinishRelease } from './finish-release.ts';
import { createHold } from './hold.ts';
import { createLoadRegionTask } from './load-region-task.ts';
import { createPlanRelease } from './plan-release.ts';
import { createPlanRollback } from './plan-rollback.ts';
import { createRecordRegionResult } from './record-region-result.ts';
import { createStageAhead } from './stage-ahead.ts';
import { createStartBake } from './start-bake.ts';
import { createStartRegionDeploy } from './start-region-deploy.ts';
import { createVerifyRegion } from './verify-region.ts';

// Each handler takes its own input type; the engine hands them parsed JSON.
// biome-ignore lint/suspicious/noExplicitAny: the table erases per-handler input types on purpose.
type AnyHandler = (input: any) => Promise<unknown>;

export const functionFactories: Record<string, (deps: Deps) => AnyHandler> = {
  'plan-release': createPlanRelease,
  'enter-wave': createEnterWave,
  'claim-turn': createClaimTurn,
  'stage-ahead': createStageAhead,
  'start-bake': createStartBake,
  'check-gate': createCheckGate,
  bake: createBake,
  'plan-rollback': createPlanRollback,
  'finish-release': createFinishRelease,
  hold: (deps) => createHold({ ...deps, waitHere: deps.waitAtHolds ?? false }),
  'load-region-task': createLoadRegionTask,
  'start-region-deploy': createStartRegionDeploy,
  'await-deployment': createAwaitDeployment,
  'check-region-deploy': createCheckRegionDeploy,
  'verify-region': createVerifyRegion,
  'record-region-result': createRecordRegionResult,
};
