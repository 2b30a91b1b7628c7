/**
 * The architecture as a test: dependency-cruiser, with the rules in .dependency-cruiser.cjs,
 * over every source folder. A second test cruises a throwaway tree that breaks each rule once,
 * so a rule that silently stopped matching (a typo in a path, a resolver that no longer follows
 * `.ts` imports) fails here instead of passing everything.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cruise, type ICruiseResult, type IViolation } from 'dependency-cruiser';
import extractDepcruiseOptions from 'dependency-cruiser/config-utl/extract-depcruise-options';
import extractTSConfig from 'dependency-cruiser/config-utl/extract-ts-config';
import { afterAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));
const SOURCE_FOLDERS = [
  'core',
  'ports',
  'config',
  'control',
  'dashboard',
  'adapters',
  'services',
  'backends',
  'functions',
  'cli',
  'test',
  'bench',
];

async function cruiseTree(baseDir: string, folders: string[]): Promise<ICruiseResult> {
  const options = await extractDepcruiseOptions(join(root, '.dependency-cruiser.cjs'));
  const tsConfig = extractTSConfig(join(root, 'tsconfig.json'));
  const { output } = await cruise(folders, { ...options, baseDir }, {}, { tsConfig });
  if (typeof output === 'string') throw new Error('dependency-cruiser returned a report, not a result');
  return output;
}

const edge = (v: IViolation) => `${v.rule.name}: ${v.from} → ${v.to}`;
/** A cycle is reported once, from whichever file the cruise met first: name it by its members. */
const cycleOrEdge = (v: IViolation) =>
  v.cycle ? `${v.rule.name}: ${[...new Set([v.from, ...v.cycle.map((c) => c.name)])].sort().join(' ⇄ ')}` : edge(v);
const describeViolation = (v: IViolation) =>
  v.cycle ? `${edge(v)} (cycle: ${[v.from, ...v.cycle.map((c) => c.name)].join(' → ')})` : edge(v);

describe('the dependency rules', () => {
  it('hold over every source folder', async () => {
    const result = await cruiseTree(root, SOURCE_FOLDERS);
    // Guards against a cruise that found nothing (and so nothing wrong).
    expect(result.summary.totalCruised).toBeGreaterThan(100);
    const unresolved = result.modules.flatMap((m) =>
      m.dependencies.filter((d) => d.couldNotResolve).map((d) => `${m.source} → ${d.module}`),
    );
    expect(unresolved, 'imports dependency-cruiser could not resolve').toEqual([]);
    const violations = result.summary.violations.map(describeViolation);
    expect(violations, `\n${violations.join('\n')}\n`).toEqual([]);
  });

  describe('bite: a tree that breaks each rule once', () => {
    const dir = mkdtempSync(join(tmpdir(), 'flotilla-depcruise-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));
    const files: Record<string, string[]> = {
      // A cycle made only of type imports still counts.
      'core/a.ts': ["import type { B } from './b.ts';", 'export type A = { b?: B };'],
      'core/b.ts': ["import type { A } from './a.ts';", 'export type B = { a?: A };'],
      'core/pure.ts': ["import { readFileSync } from 'node:fs';", "import type { A } from './a.ts';"],
      'core/impure.ts': ["import type { P } from '../ports/p.ts';"],
      'ports/p.ts': ["import type { C } from '../config/c.ts';", 'export type P = C;'],
      'ports/q.ts': ["import type { P } from './p.ts';", "import type { B } from '../core/b.ts';"],
      'functions/f.ts': ["import '../cli/x.ts';", "import '../control/x.ts';", "import '../backends/x.ts';"],
      'adapters/a.ts': [
        "import '../cli/x.ts';",
        "import '../control/x.ts';",
        "import '../backends/x.ts';",
        "import '../functions/f.ts';",
      ],
      'config/c.ts': [
        "import '../functions/f.ts';",
        "import '../backends/x.ts';",
        "import '../cli/x.ts';",
        "import '../control/x.ts';",
        "import '../adapters/a.ts';",
        'export type C = string;',
      ],
      'cli/x.ts': ["import '../test/helper.ts';", "import '../bench/b.ts';"],
      'services/s.ts': [
        "import type { P } from '../ports/p.ts';",
        "import '../adapters/a.ts';",
        "import '../functions/f.ts';",
        "import '../cli/x.ts';",
      ],
      'control/x.ts': ["import '../dashboard/d.ts';"],
      'dashboard/d.ts': [],
      'backends/x.ts': [],
      'test/helper.ts': ["import '../bench/b.ts';"],
      'bench/b.ts': ["import '../test/other.ts';"],
      'test/other.ts': [],
    };
    for (const [file, lines] of Object.entries(files)) {
      mkdirSync(join(dir, dirname(file)), { recursive: true });
      writeFileSync(join(dir, file), `${lines.join('\n')}\n`);
    }

    it('reports exactly the forbidden imports, and none of the allowed ones', async () => {
      const result = await cruiseTree(dir, [
        'core',
        'ports',
        'functions',
        'adapters',
        'services',
        'config',
        'cli',
        'control',
        'test',
        'bench',
      ]);
      const reported = [...new Set(result.summary.violations.map(cycleOrEdge))].sort();
      expect(reported).toEqual(
        [
          'no-cycles: core/a.ts ⇄ core/b.ts',
          'core-is-pure: core/impure.ts → ports/p.ts',
          'ports-import-core-only: ports/p.ts → config/c.ts',
          'functions-not-entry-points-or-backends: functions/f.ts → cli/x.ts',
          'functions-not-entry-points-or-backends: functions/f.ts → control/x.ts',
          'functions-not-entry-points-or-backends: functions/f.ts → backends/x.ts',
          'adapters-below-functions: adapters/a.ts → cli/x.ts',
          'adapters-below-functions: adapters/a.ts → control/x.ts',
          'adapters-below-functions: adapters/a.ts → backends/x.ts',
          'adapters-below-functions: adapters/a.ts → functions/f.ts',
          'services-call-core-and-ports: services/s.ts → adapters/a.ts',
          'services-call-core-and-ports: services/s.ts → functions/f.ts',
          'services-call-core-and-ports: services/s.ts → cli/x.ts',
          'config-below-everything-that-runs: config/c.ts → functions/f.ts',
          'config-below-everything-that-runs: config/c.ts → backends/x.ts',
          'config-below-everything-that-runs: config/c.ts → cli/x.ts',
          'config-below-everything-that-runs: config/c.ts → control/x.ts',
          'config-below-everything-that-runs: config/c.ts → adapters/a.ts',
          'control-api-knows-no-dashboard: control/x.ts → dashboard/d.ts',
          'no-test-code-in-product: cli/x.ts → test/helper.ts',
          'no-test-code-in-product: cli/x.ts → bench/b.ts',
        ].sort(),
      );
      // The cycle is type-only, so this passes only while type imports are cruised.
      const a = result.modules.find((m) => m.source === 'core/a.ts');
      expect(a?.dependencies.find((d) => d.resolved === 'core/b.ts')?.dependencyTypes).toContain('type-only');
    });
  });
});
