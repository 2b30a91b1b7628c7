/**
 * Staging a build on the local fleet: a build given as a symlink is resolved and its content
 * copied; nothing is ever written into the source; a later rollback runs the copy, whatever the
 * link points at by then. Real processes on free ports, real files in a temp dir.
 */
import { cp, lstat, mkdtemp, readdir, rm, symlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalProcessFleet } from '../../adapters/local/process-fleet.ts';
import type { LocalTarget } from '../../config/types.ts';
import type { DeploymentRequest, DeploymentStatus } from '../../ports/region-deployer.ts';
import { freePorts, servedVersion } from '../helpers/local.ts';

const builds = path.resolve(import.meta.dirname, '../../examples/shop/builds');

let dir: string;
let fleet: LocalProcessFleet;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'flotilla-staging-'));
  fleet = new LocalProcessFleet({ stateDir: path.join(dir, 'state'), readinessTimeoutMs: 5_000 });
});
afterEach(async () => {
  await fleet.stopAll();
  await rm(dir, { recursive: true, force: true });
});

async function deploy(
  target: LocalTarget,
  version: string,
  artifact: string,
  purpose: DeploymentRequest['purpose'] = 'deploy',
): Promise<DeploymentStatus> {
  const request: DeploymentRequest = {
    service: 'shop',
    releaseId: `shop-${version}`,
    region: 'eu-west-1',
    target,
    purpose,
    revision: { version, artifact },
  };
  const { deploymentId } = await fleet.startDeployment(request);
  for (;;) {
    const status = await fleet.getDeployment({ region: 'eu-west-1', target, deploymentId });
    if (status.status !== 'InProgress') return status;
    await new Promise((ok) => setTimeout(ok, 25));
  }
}

describe('staging a build', () => {
  it('copies what a symlinked build points at, writes nothing into the source, and rolls back to the copy', async () => {
    const [port] = await freePorts(1);
    const target: LocalTarget = {
      kind: 'local-process',
      port: port as number,
      command: [process.execPath, 'server.js'],
      env: { CURRENCY: 'USD', LOCALE: 'en-US' },
      faults: [],
    };
    const source = path.join(dir, 'good');
    await cp(path.join(builds, 'good'), source, { recursive: true });
    const before = (await readdir(source)).sort();
    const link = path.join(dir, 'current-build');
    await symlink(source, link);

    expect(await deploy(target, '1.0.0', link)).toEqual({ status: 'Succeeded' });
    const staged = path.join(dir, 'state', 'regions', 'eu-west-1', 'releases', '1.0.0');
    expect((await lstat(staged)).isDirectory()).toBe(true);
    expect((await lstat(staged)).isSymbolicLink()).toBe(false);
    expect((await readdir(source)).sort()).toEqual(before);
    expect(await servedVersion(target.port)).toBe('1.0.0');

    // The link moves to a build that cannot even start; the staged copy is what a rollback runs.
    await rm(link);
    await symlink(path.join(dir, 'nothing-here'), link);
    expect(await deploy(target, '1.0.0', staged, 'rollback')).toEqual({ status: 'Succeeded' });
    expect(await servedVersion(target.port)).toBe('1.0.0');
    const gone = await deploy(target, '1.0.1', link);
    expect(gone).toMatchObject({ status: 'Failed', untouched: true, message: expect.stringMatching(/does not exist/) });
    expect(await servedVersion(target.port)).toBe('1.0.0');
  });
});
