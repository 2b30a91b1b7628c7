/**
 * The page's script and style, bundled by esbuild from dashboard/web/ when the server first
 * serves them and kept in memory: nothing generated is checked in, nothing is fetched from a CDN.
 */
import { build } from 'esbuild';

export interface Bundle {
  js: string;
  css: string;
}

const ENTRY = new URL('./web/app.ts', import.meta.url).pathname;

let built: Promise<Bundle> | undefined;

export function dashboardBundle(): Promise<Bundle> {
  built ??= build({
    entryPoints: [ENTRY],
    bundle: true,
    minify: true,
    format: 'iife',
    target: ['chrome110', 'firefox110', 'safari16'],
    outdir: 'out',
    write: false,
    logLevel: 'silent',
    legalComments: 'none',
  }).then((result) => {
    const text = (ext: string) => result.outputFiles.find((f) => f.path.endsWith(ext))?.text ?? '';
    return { js: text('.js'), css: text('.css') };
  });
  built.catch(() => {
    built = undefined;
  });
  return built;
}
