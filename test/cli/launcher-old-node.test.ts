/**
 * The `flotilla` launcher (cli/flotilla.js) on a Node too old for Flotilla: run by the machine's own
 * Node (the one `node cli/flotilla.js` finds outside npm), it says in one line what to do instead
 * and exits with the usage code, before it loads anything that Node cannot load.
 */
import { spawnSync } from 'node:child_process';
import { delimiter, join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { nodeTooOld, supportsNode } from '../../cli/node-version.js';

const LAUNCHER = resolve(import.meta.dirname, '../../cli/flotilla.js');

/** The first `node` outside node_modules (PATH, then the usual system places) older than 22, with its version. */
function oldNode(): { bin: string; version: string } | null {
  const dirs = (process.env.PATH ?? '').split(delimiter).filter((d) => d !== '' && !d.includes('node_modules'));
  const candidates = [...dirs.map((d) => join(d, 'node')), '/usr/bin/node', '/usr/local/bin/node', '/bin/node'];
  for (const bin of new Set(candidates)) {
    const probe = spawnSync(bin, ['--version'], { encoding: 'utf8', timeout: 10_000 });
    const version = probe.status === 0 ? probe.stdout.trim().replace(/^v/, '') : '';
    const major = Number(version.split('.')[0]);
    if (Number.isInteger(major) && major > 0 && major < 22) return { bin, version };
  }
  return null;
}

const old = oldNode();
if (!old) console.warn('SKIPPED: the launcher on an old Node: no node older than 22 on PATH or in /usr/bin here');

describe('the flotilla launcher on an old Node', () => {
  it.skipIf(!old)(
    `says in one line to use npx flotilla or npm start, and exits 2 (${old?.bin} ${old?.version})`,
    () => {
      if (!old) return;
      const run = spawnSync(old.bin, [LAUNCHER, 'where'], { encoding: 'utf8', timeout: 30_000 });
      expect(run.status, run.stderr).toBe(2);
      expect(run.stdout).toBe('');
      expect(run.stderr).toBe(
        `flotilla needs Node 22.18 or later (this is Node ${old.version}): run it with npx flotilla or npm start, which use the project's Node\n`,
      );
    },
  );
});

describe('supportsNode', () => {
  it('takes the Node lines that run Flotilla: 22.18 and later (types stripped by default), 23.6 and later, 24 on', () => {
    const versions = [
      '20.20.2',
      '21.7.3',
      '22.0.0',
      '22.17.1',
      '22.18.0',
      '22.23.3',
      '23.5.0',
      '23.6.0',
      '24.0.0',
      '25.1.0',
    ];
    expect(versions.filter(supportsNode)).toEqual(['22.18.0', '22.23.3', '23.6.0', '24.0.0', '25.1.0']);
  });

  it('says which Node it found', () => {
    expect(nodeTooOld('22.5.1')).toBe(
      "flotilla needs Node 22.18 or later (this is Node 22.5.1): run it with npx flotilla or npm start, which use the project's Node",
    );
  });
});
