/**
 * Output read through a pipe arrives whole: the CLI waits for stdout and stderr to drain before it
 * exits (a pipe is written asynchronously; exiting at once cut a long `validate` short).
 */
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CLI, runCli } from '../helpers/cli.ts';
import { tempDir } from '../helpers/local.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

/** A config with 3,000 unknown keys: `validate` has 3,000 problem lines to print. */
async function writeBogusConfig(dir: string): Promise<void> {
  const lines = [
    'service: shop',
    'regions:',
    '  - name: us-east-1',
    '    target: {kind: local-process, port: 7000, command: [node, server.js]}',
    'waves:',
    '  - {name: one, regions: [us-east-1]}',
    ...Array.from({ length: 3000 }, (_, i) => `bogus${i}: 1`),
  ];
  await writeFile(join(dir, 'flotilla.yml'), `${lines.join('\n')}\n`);
}

describe('output through a pipe', () => {
  it('delivers every one of 3,000 problem lines of validate', async () => {
    const t = await tempDir('flotilla-pipe-');
    cleanups.push(t.cleanup);
    await writeBogusConfig(t.dir);
    // Through a shell pipe into `cat`, as `flotilla validate 2>&1 | less` would: an exit before the
    // pipe drained lost the tail in two runs out of three, so it runs a few times.
    for (let run = 0; run < 4; run += 1) {
      const out = await new Promise<string>((ok, fail) => {
        const child = spawn('sh', ['-c', `"${process.execPath}" "${CLI}" validate 2>&1 | cat`], { cwd: t.dir });
        let text = '';
        child.stdout.on('data', (c) => {
          text += c;
        });
        child.on('error', fail);
        child.on('close', () => ok(text));
      });
      const named = out.split('\n').filter((l) => /bogus\d+/.test(l));
      expect(named).toHaveLength(3000);
      expect(named.at(-1)).toMatch(/bogus2999/);
    }
    expect((await runCli(['validate'], t.dir)).code).toBe(2);
  });

  it('ends quietly when the reader stops early (`| head -1`), with no EPIPE stack trace', async () => {
    const t = await tempDir('flotilla-pipe-');
    cleanups.push(t.cleanup);
    await writeBogusConfig(t.dir);
    // validate prints its 3,000 problems on stdout with --json; `head -c 1` closes the pipe at once.
    const stderr = await new Promise<string>((ok, fail) => {
      const child = spawn(
        'sh',
        ['-c', `"${process.execPath}" "${CLI}" validate --json 2>err.txt | head -c 1 >/dev/null; cat err.txt`],
        { cwd: t.dir },
      );
      let out = '';
      child.stdout.on('data', (c) => {
        out += c;
      });
      child.on('error', fail);
      child.on('close', () => ok(out));
    });
    expect(stderr).not.toMatch(/EPIPE|Unhandled 'error' event|at .*stream_base_commons/);
  });
});
