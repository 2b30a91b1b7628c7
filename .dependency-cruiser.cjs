/**
 * The architecture as rules: which folder may import which. test/architecture/dependencies.test.ts
 * cruises the source folders with this file and fails on any violation, so an arrow pointing the
 * wrong way breaks `npm test`. Paths are relative to the cruise's base directory (the repo root).
 * README "Layout" says the same thing in prose; keep the two in step.
 */

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-cycles',
      comment:
        'A cycle means neither side can be understood, tested or moved alone. Type-only imports count: ' +
        'they tie the two files together just as tightly, and a type cycle is usually a runtime one waiting.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'core-is-pure',
      comment:
        'core/ holds the decisions and domain types: pure functions of their inputs. It may use other core ' +
        'files and Node built-ins only, so it is testable without mocks and reusable by every entry point.',
      severity: 'error',
      from: { path: '^core/' },
      to: { pathNot: ['^core/'], dependencyTypesNot: ['core'] },
    },
    {
      name: 'ports-import-core-only',
      comment:
        'ports/ are the interfaces the handlers call; they speak in core types. Anything else would make ' +
        'an interface depend on one of its implementations.',
      severity: 'error',
      from: { path: '^ports/' },
      to: { pathNot: ['^core/', '^ports/'] },
    },
    {
      name: 'functions-not-entry-points-or-backends',
      comment:
        'functions/ are Lambda handlers bundled on their own: importing the CLI, the control API or a ' +
        'backend would pull a whole entry point into every bundle and make the arrows point both ways ' +
        '(backends run the functions). Their AWS wiring lives in functions/runtime/.',
      severity: 'error',
      from: { path: '^functions/' },
      to: { path: ['^cli/', '^control/', '^dashboard/', '^backends/'] },
    },
    {
      name: 'adapters-below-functions',
      comment:
        'adapters/ implement ports; handlers, backends and entry points choose and wire them. An adapter ' +
        'that imports one of those depends on its own callers.',
      severity: 'error',
      from: { path: '^adapters/' },
      to: { path: ['^cli/', '^control/', '^dashboard/', '^backends/', '^functions/', '^services/'] },
    },
    {
      name: 'services-call-core-and-ports',
      comment:
        'services/ are the actions every entry point shares (record an intent, start a rollback, wake a ' +
        'hold): they decide through core/ and act through ports/, with the adapters injected by their ' +
        'callers, so the CLI, the control API, Slack and the Lambdas get the same rules.',
      severity: 'error',
      from: { path: '^services/' },
      to: { path: ['^cli/', '^control/', '^dashboard/', '^backends/', '^functions/', '^adapters/'] },
    },
    {
      name: 'config-below-everything-that-runs',
      comment:
        'config/ parses and validates flotilla.yml once, at the edge; it is read by handlers, backends and ' +
        'entry points, so it may not import any of them (or the adapters they wire).',
      severity: 'error',
      from: { path: '^config/' },
      to: { path: ['^functions/', '^backends/', '^cli/', '^control/', '^dashboard/', '^adapters/'] },
    },
    {
      name: 'control-api-knows-no-dashboard',
      comment:
        'The control API serves the dashboard as a mount it is handed (control/server.ts Mount); the ' +
        "dashboard uses the API's HTTP helpers and schemas. Both ways would tie the two entry points together.",
      severity: 'error',
      from: { path: '^control/' },
      to: { path: '^dashboard/' },
    },
    {
      name: 'no-test-code-in-product',
      comment:
        'test/ and bench/ hold fakes, fixtures and harnesses. Product code importing them would ship test ' +
        'doubles and make the tests test themselves.',
      severity: 'error',
      from: { pathNot: '^(test|bench)/' },
      to: { path: '^(test|bench)/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // Type-only imports are real edges here (see no-cycles).
    tsPreCompilationDeps: true,
    // Imports name the .ts file (Node strips types itself); resolve them as TypeScript does.
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      extensions: ['.ts', '.d.ts', '.js', '.mjs', '.cjs', '.json'],
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
    },
  },
};
