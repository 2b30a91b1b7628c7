/**
 * Regions keep serving after the command that started them ends, as `docker compose up -d` leaves
 * its services: the next release adopts them (same pids where it changes nothing), `where` starts
 * nothing, `down` stops them all, and a port another program holds is refused before any deploy.
 * Real CLI processes, real region processes; every test stops what it leaves (tempDir's cleanup).
 */
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import type { FlotillaConfig } from '../../config/types.ts';
import type { WhereAnswer } from '../../control/server.ts';
import { runCli } from '../helpers/cli.ts';
import { asLocal } from '../helpers/fixtures.ts';
import {
  BROKEN_BUILD,
  e2eConfig,
  GOOD_BUILD,
  recordedPids,
  running,
  servedVersion,
  stopRegionProcesses,
  tempDir,
} from '../helpers/local.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Three waves: a USD canary, two EUR regions (the broken build fails there), one USD region. */
async function workspace(): Promise<{ dir: string; config: FlotillaConfig; port: (region: string) => number }> {
  const t = await tempDir('flotilla-serving-');
  cleanups.push(t.cleanup);
  const config = await e2eConfig([
    [{ name: 'us-east-1', currency: 'USD' }],
    [
      { name: 'eu-west-1', currency: 'EUR' },
      { name: 'eu-central-1', currency: 'EUR' },
    ],
    [{ name: 'us-west-2', currency: 'USD' }],
  ]);
  await writeFile(join(t.dir, 'flotilla.yml'), stringify(config));
  const port = (region: string) => asLocal(config.regions.find((r) => r.name === region)?.target).port;
  return { dir: t.dir, config, port };
}

/** Each region's recorded pid. */
async function pidsOf(dir: string): Promise<Record<string, number>> {
  const pids: Record<string, number> = {};
  for (const [file, pid] of await recordedPids(join(dir, '.flotilla'))) pids[file.split('/').at(-2) ?? file] = pid;
  return pids;
}

async function served(config: FlotillaConfig): Promise<Record<string, string | null>> {
  const versions: Record<string, string | null> = {};
  for (const r of config.regions) versions[r.name] = await servedVersion(asLocal(r.target).port);
  return versions;
}

const everywhere = (config: FlotillaConfig, version: string) =>
  Object.fromEntries(config.regions.map((r) => [r.name, version]));

describe('region processes after the command ends', () => {
  it('keep answering; where reads them without starting anything; down stops them all', async () => {
    const { dir, config, port } = await workspace();
    const release = await runCli(['release', GOOD_BUILD], dir);
    expect(release.code, release.stderr).toBe(0);

    // The command is gone; every region still answers on its port, from a recorded pid.
    expect(await served(config)).toEqual(everywhere(config, '1.0.0'));
    const pids = await pidsOf(dir);
    expect(Object.keys(pids).sort()).toEqual(config.regions.map((r) => r.name).sort());
    for (const pid of Object.values(pids)) expect(await running(pid)).toBe(true);

    const where = await runCli(['where', '--json'], dir);
    expect(where.code, where.stderr).toBe(0);
    const answer = JSON.parse(where.stdout) as WhereAnswer;
    for (const r of answer.regions) {
      expect(r).toMatchObject({ version: '1.0.0', releaseId: 'shop-1.0.0', process: { state: 'serving' } });
      expect(r.process).toMatchObject({ pid: pids[r.region], version: '1.0.0', healthy: true });
      expect(Number.isNaN(Date.parse(r.since ?? ''))).toBe(false);
    }

    // A region whose process died: `where` says so, and starts nothing (no new pid, the port stays silent).
    const dead = pids['eu-west-1'] as number;
    process.kill(-dead, 'SIGKILL');
    for (let i = 0; i < 250 && (await running(dead)); i++) await new Promise((ok) => setTimeout(ok, 20));
    const after = await runCli(['where'], dir);
    expect(after.code, after.stderr).toBe(0);
    expect(after.stdout).toMatch(/eu-west-1 +1\.0\.0 +since \S+ by shop-1\.0\.0 +DOWN: its process is not running/);
    expect(after.stdout).toMatch(
      new RegExp(`us-east-1 +1\\.0\\.0 +since \\S+ by shop-1\\.0\\.0 +up \\(pid ${pids['us-east-1']}\\)`),
    );
    expect(await servedVersion(port('eu-west-1'))).toBeNull();
    const { 'eu-west-1': _gone, ...others } = pids;
    const { 'eu-west-1': stillRecorded, ...othersNow } = await pidsOf(dir);
    expect(othersNow).toEqual(others);
    if (stillRecorded !== undefined) expect(await running(stillRecorded)).toBe(false);

    const down = await runCli(['down'], dir);
    expect(down.code, down.stderr).toBe(0);
    for (const [region, pid] of Object.entries(others)) {
      expect(down.stdout).toMatch(new RegExp(`stopped ${region} +1\\.0\\.0 +pid ${pid}`));
      expect(await running(pid)).toBe(false);
    }
    expect(down.stdout).toContain('stopped 3 region processes of shop');
    expect(await served(config)).toEqual(Object.fromEntries(config.regions.map((r) => [r.name, null])));
    expect(await pidsOf(dir)).toEqual({});
    expect(await stopRegionProcesses(dir)).toEqual([]);

    // Nothing left to stop; the next release brings every region back up.
    const again = await runCli(['down'], dir);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain('no region process of shop was running');
  }, 120_000);

  it('read verbs change nothing in the state dir: the ledger copy is rewritten only when the ledger changed', async () => {
    const { dir } = await workspace();
    // A state dir with nothing in it yet: reading makes nothing there.
    for (const verb of [['where'], ['status'], ['history'], ['doctor']]) {
      const read = await runCli(verb, dir);
      expect(read.code, `${verb}: ${read.stderr}`).toBe(0);
    }
    expect(await readdir(join(dir, '.flotilla')).catch(() => [])).toEqual([]);

    const release = await runCli(['release', GOOD_BUILD], dir);
    expect(release.code, release.stderr).toBe(0);
    const copyFile = join(dir, '.flotilla', 'ledger-copy.json');
    const copy = async () => ({ text: await readFile(copyFile, 'utf8'), at: (await stat(copyFile)).mtimeMs });
    const written = await copy();
    expect(JSON.parse(written.text).items.length).toBeGreaterThan(0);
    const files = async () => (await readdir(join(dir, '.flotilla'))).sort();
    const before = await files();
    await new Promise((ok) => setTimeout(ok, 20)); // a rewrite would show in the mtime
    for (const verb of [
      ['where'],
      ['where', '--json'],
      ['status'],
      ['status', 'shop-1.0.0'],
      ['history'],
      ['doctor'],
    ]) {
      const read = await runCli(verb, dir);
      expect(read.code, `${verb}: ${read.stderr}`).toBe(0);
      expect(await copy(), verb.join(' ')).toEqual(written);
    }
    expect(await files()).toEqual(before);

    // A verb that changes the ledger rewrites it.
    const freeze = await runCli(['freeze', '--reason', 'copy test'], dir);
    expect(freeze.code, freeze.stderr).toBe(0);
    const frozen = await copy();
    expect(frozen.text).not.toEqual(written.text);
    expect(frozen.text).toContain('copy test');
  }, 120_000);

  it('are adopted by the next release: regions it does not change keep their pid', async () => {
    const { dir, config } = await workspace();
    const first = await runCli(['release', GOOD_BUILD], dir);
    expect(first.code, first.stderr).toBe(0);
    const before = await pidsOf(dir);

    // The broken build fails in the EUR wave: waves 1 and 2 roll back, wave 3 is never touched.
    const broken = await runCli(['release', BROKEN_BUILD], dir);
    expect(broken.code, broken.stdout).toBe(1);
    expect(broken.stdout).toContain('ROLLED_BACK');
    expect(await served(config)).toEqual(everywhere(config, '1.0.0'));
    const afterPids = await pidsOf(dir);
    expect(afterPids['us-west-2']).toBe(before['us-west-2']);
    for (const region of ['us-east-1', 'eu-west-1', 'eu-central-1']) {
      expect(afterPids[region]).not.toBe(before[region]);
      expect(await running(before[region] as number)).toBe(false);
    }
    for (const pid of Object.values(afterPids)) expect(await running(pid)).toBe(true);
  }, 120_000);

  it('a port another program holds is a clear error naming the region and port, before any deploy', async () => {
    const { dir, config, port } = await workspace();
    const first = await runCli(['release', GOOD_BUILD], dir);
    expect(first.code, first.stderr).toBe(0);
    const pids = await pidsOf(dir);

    // eu-central-1's process dies and another program takes its port, answering as 9.9.9.
    const dead = pids['eu-central-1'] as number;
    process.kill(-dead, 'SIGKILL');
    for (let i = 0; i < 250 && (await running(dead)); i++) await new Promise((ok) => setTimeout(ok, 20));
    const stray = await listen(port('eu-central-1'));
    cleanups.push(() => new Promise((ok) => stray.close(() => ok())));

    const where = await runCli(['where'], dir);
    expect(where.stdout).toMatch(
      new RegExp(`eu-central-1 .*DOWN: port ${port('eu-central-1')} is held by another program`),
    );

    const release = await runCli(['release', GOOD_BUILD, '--version', '1.0.1'], dir);
    expect(release.code, release.stderr).toBe(3);
    expect(release.stderr).toContain(`region eu-central-1: port ${port('eu-central-1')} is in use by another program`);
    expect(release.stderr).toContain('nothing was deployed');
    expect(release.stderr).not.toContain('control API on');
    expect(`${release.stdout}${release.stderr}`).not.toContain('9.9.9');
    // Nothing deployed, nothing restarted: the others still run 1.0.0 from the same pids.
    const { 'eu-central-1': _, ...others } = pids;
    const { 'eu-central-1': __, ...othersNow } = await pidsOf(dir);
    expect(othersNow).toEqual(others);
    const versions = await served(config);
    expect(versions).toEqual({ ...everywhere(config, '1.0.0'), 'eu-central-1': '9.9.9' });
    const history = await runCli(['history', '--json'], dir);
    expect((JSON.parse(history.stdout) as { releaseId?: string }[]).map((r) => r.releaseId)).toEqual(['shop-1.0.0']);
  }, 120_000);

  it('where with a CodeDeploy region and the local backend is an error naming --backend aws', async () => {
    const { dir, config } = await workspace();
    const region = config.regions[1];
    if (region) {
      region.target = {
        kind: 'codedeploy',
        awsRegion: 'eu-west-1',
        application: 'shop',
        deploymentGroup: 'shop-eu',
        platform: 'Server',
        alarms: { names: [] },
      };
    }
    await writeFile(join(dir, 'other.yml'), stringify(config));
    const where = await runCli(['where', '--config', 'other.yml'], dir);
    expect(where.code, where.stderr).toBe(2);
    expect(where.stderr).toMatch(/regions\[1\]\.target\.kind: .*--backend aws/);
  });
});

/** Another program on the port: answers /health as version 9.9.9. */
/** A stray answering as 9.9.9 on `port`; on a loaded machine the killed region's socket may take a moment to go. */
async function listen(port: number): Promise<Server> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await new Promise((ok, fail) => {
        const server = createServer((_req, res) => {
          res.setHeader('content-type', 'application/json');
          res.end(JSON.stringify({ status: 'ok', version: '9.9.9' }));
        });
        server.once('error', fail);
        server.listen(port, '127.0.0.1', () => ok(server));
      });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt >= 100) throw error;
      await new Promise((ok) => setTimeout(ok, 100));
    }
  }
}
