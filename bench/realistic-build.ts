/**
 * A realistic build for the staging bench: the example service plus a dependency tree of tens of
 * MB in thousands of files (what a Node service's node_modules looks like), generated into a temp
 * directory at bench time so nothing of it is in git.
 */
import { randomBytes } from 'node:crypto';
import { cp, mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';

export const EXAMPLE_BUILD = resolve(import.meta.dirname, '../examples/shop/builds/good');

/** Writes the build under `dir` and returns its path, with how many files and bytes it holds. */
export async function realisticBuild(
  dir: string,
  { packages = 200, filesPerPackage = 20, fileBytes = 10 * 1024 } = {},
): Promise<{ path: string; files: number; bytes: number }> {
  const build = join(dir, 'build');
  await cp(EXAMPLE_BUILD, build, { recursive: true });
  for (let p = 0; p < packages; p++) {
    const pkg = join(build, 'node_modules', `pkg-${p}`, 'lib');
    await mkdir(pkg, { recursive: true });
    await Promise.all(
      Array.from({ length: filesPerPackage }, (_, f) => writeFile(join(pkg, `m${f}.js`), randomBytes(fileBytes))),
    );
  }
  return { path: build, files: packages * filesPerPackage + 2, bytes: packages * filesPerPackage * fileBytes };
}
