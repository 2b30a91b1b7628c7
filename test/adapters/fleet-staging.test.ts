/**
 * Staging a build on the local fleet: a build given as a symlink is resolved and its content
 * copied; nothing is ever written into the source; a later rollback runs the copy, whatever the
 * link points at by then. Real processes on free ports, real files in a temp dir.
 */
import { execFileSync } from 'node:child_process';
import { cp, lstat, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
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

describe('staging ahead of a wave', () => {
  const targetOn = (port: number): LocalTarget => ({
    kind: 'local-process',
    port,
    command: [process.execPath, 'server.js'],
    env: { CURRENCY: 'USD', LOCALE: 'en-US' },
    faults: [],
  });
  const releases = () => path.join(dir, 'state', 'regions', 'eu-west-1', 'releases');

  it('puts the build in releases/<version> and switches nothing; the deploy then runs the staged bits as they were', async () => {
    const [port] = await freePorts(1);
    const target = targetOn(port as number);
    const source = path.join(dir, 'build');
    await cp(path.join(builds, 'good'), source, { recursive: true });
    const stage = { service: 'shop', releaseId: 'shop-1.0.0', region: 'eu-west-1', target };
    const { stageId } = await fleet.startStaging({ ...stage, revision: { version: '1.0.0', artifact: source } });
    expect(await fleet.awaitStaging({ region: 'eu-west-1', target, stageId }, 10_000)).toEqual({ status: 'Staged' });
    expect(await readdir(path.join(releases(), '1.0.0'))).toContain('server.js');
    expect(await fleet.currentVersion('eu-west-1')).toBeNull();
    expect(fleet.pid('eu-west-1')).toBeNull();

    // The release ships what it staged: the build changing afterwards is not copied again.
    await writeFile(path.join(source, 'late.txt'), 'not staged');
    expect(await deploy(target, '1.0.0', source)).toEqual({ status: 'Succeeded' });
    expect(await servedVersion(port as number)).toBe('1.0.0');
    expect(await readdir(path.join(releases(), '1.0.0'))).not.toContain('late.txt');
  });

  it('removes only what this release staged, and never what the region runs', async () => {
    const [port] = await freePorts(1);
    const target = targetOn(port as number);
    const good = path.join(builds, 'good');
    expect(await deploy(target, '1.0.0', good)).toEqual({ status: 'Succeeded' });
    const stage = { service: 'shop', region: 'eu-west-1', target };
    const { stageId } = await fleet.startStaging({
      ...stage,
      releaseId: 'shop-2.0.0',
      revision: { version: '2.0.0', artifact: good },
    });
    await fleet.awaitStaging({ region: 'eu-west-1', target, stageId }, 10_000);

    // Another release's cleanup, and a cleanup of what runs there, leave everything in place.
    await fleet.removeStaged({ ...stage, releaseId: 'shop-other', revision: { version: '2.0.0', artifact: good } });
    await fleet.removeStaged({ ...stage, releaseId: 'shop-1.0.0', revision: { version: '1.0.0', artifact: good } });
    expect((await readdir(releases())).sort()).toEqual(['1.0.0', '2.0.0']);

    await fleet.removeStaged({ ...stage, releaseId: 'shop-2.0.0', revision: { version: '2.0.0', artifact: good } });
    expect(await readdir(releases())).toEqual(['1.0.0']);
    expect(await servedVersion(port as number)).toBe('1.0.0');
  });

  it('reports an injected staging failure without touching the region', async () => {
    const [port] = await freePorts(1);
    const target: LocalTarget = {
      ...targetOn(port as number),
      faults: [{ kind: 'stage-fail', on: 'deploy', ms: 0 }],
    };
    const { stageId } = await fleet.startStaging({
      service: 'shop',
      releaseId: 'shop-1.0.0',
      region: 'eu-west-1',
      target,
      revision: { version: '1.0.0', artifact: path.join(builds, 'good') },
    });
    expect(await fleet.awaitStaging({ region: 'eu-west-1', target, stageId }, 10_000)).toEqual({
      status: 'Failed',
      message: 'eu-west-1: staging 1.0.0 failed: injected staging failure',
    });
    expect(await fleet.currentVersion('eu-west-1')).toBeNull();
  });

  it('copies a version again when a release brings other content under it, not when the content is the same, and leaves no half copy when a copy fails', async () => {
    const [port] = await freePorts(1);
    const target = targetOn(port as number);
    const source = path.join(dir, 'build');
    await cp(path.join(builds, 'good'), source, { recursive: true });
    const ship = async (releaseId: string) => {
      const request: DeploymentRequest = {
        service: 'shop',
        releaseId,
        region: 'eu-west-1',
        target,
        purpose: 'deploy',
        revision: { version: '1.0.0', artifact: source },
      };
      const { deploymentId } = await fleet.startDeployment(request);
      for (;;) {
        const status = await fleet.getDeployment({ region: 'eu-west-1', target, deploymentId });
        if (status.status !== 'InProgress') return status;
        await new Promise((ok) => setTimeout(ok, 25));
      }
    };
    const server = () => lstat(path.join(releases(), '1.0.0', 'server.js'));
    expect(await ship('r1')).toEqual({ status: 'Succeeded' });

    await writeFile(path.join(source, 'extra.txt'), 'new content');
    expect(await ship('r2')).toEqual({ status: 'Succeeded' });
    expect(await readdir(path.join(releases(), '1.0.0'))).toContain('extra.txt');
    const copied = await server();

    // The same content again, from another release: nothing is copied.
    expect(await ship('r3')).toEqual({ status: 'Succeeded' });
    expect((await server()).ino).toBe(copied.ino);
    const pid = fleet.pid('eu-west-1');

    // A FIFO cannot be part of a build: the copy fails before anything switches, and leaves nothing.
    await writeFile(path.join(source, 'more.txt'), 'changed again');
    execFileSync('mkfifo', [path.join(source, 'pipe')]);
    const failed = await ship('r4');
    expect(failed.status).toBe('Failed');
    expect(failed.status === 'Failed' && failed.message).toMatch(/neither a file nor a directory/);
    expect((await readdir(releases())).filter((name) => name.startsWith('.'))).toEqual([]);
    expect(fleet.pid('eu-west-1')).toBe(pid);
    expect(await servedVersion(port as number)).toBe('1.0.0');
    expect(await readdir(path.join(releases(), '1.0.0'))).not.toContain('more.txt');
  });
});
