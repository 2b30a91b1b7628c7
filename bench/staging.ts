/**
 * `staged_deploy_ratio`: a later wave's deploy of a realistic build (bench/realistic-build.ts) into
 * a region that runs the previous version, on the real local fleet: with the build staged ahead
 * (StageAhead did the copy while the canary baked), ÷ without (the deploy copies it itself). Both
 * stop the running process, switch `current`, start the new one and wait until it answers HTTP;
 * the staged one skips the copy and the content check of the source.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalProcessFleet } from '../adapters/local/process-fleet.ts';
import type { LocalTarget } from '../config/types.ts';
import type { DeploymentStatus, Revision } from '../ports/region-deployer.ts';
import { freePorts } from '../test/helpers/local.ts';
import { realisticBuild } from './realistic-build.ts';

export interface StagedDeployRun {
  unstagedMs: number;
  stagedMs: number;
  /** Stop + start + readiness with nothing to copy: a redeploy of what is staged, the physical floor. */
  floorMs: number;
  files: number;
  bytes: number;
}

export async function stagedDeployRun(): Promise<StagedDeployRun> {
  const dir = await mkdtemp(join(tmpdir(), 'flotilla-bench-staging-'));
  const fleet = new LocalProcessFleet({ stateDir: join(dir, 'state'), readinessTimeoutMs: 30_000 });
  try {
    const build = await realisticBuild(dir);
    const [port] = await freePorts(1);
    const target: LocalTarget = {
      kind: 'local-process',
      port: port as number,
      command: [process.execPath, 'server.js'],
      env: { CURRENCY: 'USD' },
      faults: [],
    };
    const region = 'region-02';
    const deploy = async (version: string, artifact: string): Promise<number> => {
      const revision: Revision = { version, artifact };
      const started = performance.now();
      const { deploymentId } = await fleet.startDeployment({
        service: 'shop',
        releaseId: `shop-${version}`,
        region,
        target,
        purpose: 'deploy',
        revision,
      });
      const status: DeploymentStatus = await fleet.awaitDeployment({ region, target, deploymentId }, 60_000);
      if (status.status !== 'Succeeded') throw new Error(`staging bench: deploy ${version}: ${JSON.stringify(status)}`);
      return performance.now() - started;
    };
    await deploy('1.0.0', build.path);
    const unstagedMs = await deploy('1.1.0', build.path);
    const { stageId } = await fleet.startStaging({
      service: 'shop',
      releaseId: 'shop-1.2.0',
      region,
      target,
      revision: { version: '1.2.0', artifact: build.path },
    });
    const staged = await fleet.awaitStaging({ region, target, stageId }, 60_000);
    if (staged.status !== 'Staged') throw new Error(`staging bench: ${JSON.stringify(staged)}`);
    const stagedMs = await deploy('1.2.0', build.path);
    // A rollback to 1.1.0 runs its staged copy in place: the restart alone.
    const floorMs = await deploy('1.1.0', join(dir, 'state', 'regions', region, 'releases', '1.1.0'));
    return { unstagedMs, stagedMs, floorMs, files: build.files, bytes: build.bytes };
  } finally {
    await fleet.stopAll();
    await rm(dir, { recursive: true, force: true });
  }
}
