/**
 * The local fleet's copy of a build (adapters/local/copy-tree.ts), on the real file system: what
 * `fs.cp(…, {recursive, dereference})` gave, checked against what the copy holds.
 */
import { execFileSync } from 'node:child_process';
import { chmod, lstat, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { copyTree } from '../../adapters/local/copy-tree.ts';

const made: string[] = [];
afterEach(async () => {
  for (const dir of made.splice(0)) {
    await chmod(dir, 0o755).catch(() => {});
    await rm(dir, { recursive: true, force: true });
  }
});

async function scratch(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'flotilla-copy-tree-'));
  made.push(dir);
  return dir;
}

/** Every entry under `root`: its kind, mode and content. */
async function listing(root: string, dir = root): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of (await readdir(dir, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
    const full = path.join(dir, entry.name);
    const rel = path.relative(root, full);
    const info = await lstat(full);
    const mode = (info.mode & 0o777).toString(8);
    if (info.isSymbolicLink()) out[rel] = 'link';
    else if (info.isDirectory()) {
      out[rel] = `dir ${mode}`;
      Object.assign(out, await listing(root, full));
    } else out[rel] = `file ${mode} ${await readFile(full, 'utf8')}`;
  }
  return out;
}

describe('copyTree', () => {
  it('copies files and directories with their modes, and what links point at instead of the links', async () => {
    const dir = await scratch();
    const build = path.join(dir, 'build');
    await mkdir(path.join(build, 'lib', 'deep'), { recursive: true });
    await writeFile(path.join(build, 'server.js'), 'serve');
    await writeFile(path.join(build, 'start.sh'), '#!/bin/sh');
    await chmod(path.join(build, 'start.sh'), 0o750);
    await writeFile(path.join(build, 'lib', 'deep', 'a.txt'), 'a');
    // Every mode set here, whatever the umask.
    for (const f of ['server.js', 'lib/deep/a.txt']) await chmod(path.join(build, f), 0o644);
    for (const d of ['', 'lib/deep']) await chmod(path.join(build, d), 0o755);
    await chmod(path.join(build, 'lib'), 0o700);
    const shared = path.join(dir, 'shared');
    await mkdir(shared);
    await writeFile(path.join(shared, 'config.json'), '{}');
    await chmod(path.join(shared, 'config.json'), 0o644);
    await chmod(shared, 0o755);
    await symlink(path.join(shared, 'config.json'), path.join(build, 'config.json'));
    await symlink(shared, path.join(build, 'shared'));
    const copy = path.join(dir, 'copy');

    await copyTree(build, copy);

    expect(await listing(copy)).toEqual({
      'config.json': 'file 644 {}',
      lib: 'dir 700',
      'lib/deep': 'dir 755',
      'lib/deep/a.txt': 'file 644 a',
      'server.js': 'file 644 serve',
      shared: 'dir 755',
      'shared/config.json': 'file 644 {}',
      'start.sh': 'file 750 #!/bin/sh',
    });
    expect((await stat(copy)).mode & 0o777).toBe((await stat(build)).mode & 0o777);
    // Nothing in the copy still reaches the original.
    await writeFile(path.join(shared, 'config.json'), '{"changed":true}');
    expect(await readFile(path.join(copy, 'config.json'), 'utf8')).toBe('{}');
  });

  it('copies a read-only directory, giving it its mode once its content is in', async () => {
    const dir = await scratch();
    const build = path.join(dir, 'build');
    await mkdir(path.join(build, 'locked'), { recursive: true });
    await writeFile(path.join(build, 'locked', 'f'), 'x');
    await chmod(path.join(build, 'locked', 'f'), 0o644);
    await chmod(path.join(build, 'locked'), 0o555);
    const copy = path.join(dir, 'copy');
    await copyTree(build, copy);
    expect(await listing(copy)).toEqual({ locked: 'dir 555', 'locked/f': 'file 644 x' });
    await chmod(path.join(copy, 'locked'), 0o755);
    await chmod(path.join(build, 'locked'), 0o755);
  });

  it('refuses a link to nothing, a link back into the build, and what is neither file nor directory', async () => {
    const dir = await scratch();
    const dangling = path.join(dir, 'dangling');
    await mkdir(dangling);
    await symlink(path.join(dir, 'nowhere'), path.join(dangling, 'gone'));
    await expect(copyTree(dangling, path.join(dir, 'c1'))).rejects.toThrow(/symbolic link to nothing/);

    const looping = path.join(dir, 'looping');
    await mkdir(path.join(looping, 'sub'), { recursive: true });
    await symlink(looping, path.join(looping, 'sub', 'up'));
    await expect(copyTree(looping, path.join(dir, 'c2'))).rejects.toThrow(/links back into a directory it is in/);

    const fifo = path.join(dir, 'fifo');
    await mkdir(fifo);
    execFileSync('mkfifo', [path.join(fifo, 'pipe')]);
    await expect(copyTree(fifo, path.join(dir, 'c3'))).rejects.toThrow(/neither a file nor a directory/);

    await writeFile(path.join(dir, 'plain'), 'x');
    await expect(copyTree(path.join(dir, 'plain'), path.join(dir, 'c4'))).rejects.toThrow(/is not a directory/);
  });

  it('copies a build of many files in many directories exactly', async () => {
    const dir = await scratch();
    const build = path.join(dir, 'build');
    for (let d = 0; d < 12; d++) {
      await mkdir(path.join(build, `d${d}`), { recursive: true });
      await Promise.all(
        Array.from({ length: 40 }, (_, f) => writeFile(path.join(build, `d${d}`, `f${f}`), `${d}/${f}`.repeat(f + 1))),
      );
    }
    const copy = path.join(dir, 'copy');
    await copyTree(build, copy);
    expect(await listing(copy)).toEqual(await listing(build));
  });
});
