import { readFileSync } from 'node:fs';
import aslValidator from 'asl-validator';
import { describe, expect, it } from 'vitest';
import { taskStates } from '../../backends/local/engine.ts';
import { functionFactories } from '../../functions/index.ts';

const load = (name: string) =>
  JSON.parse(readFileSync(new URL(`../../state-machines/${name}.asl.json`, import.meta.url), 'utf8'));

describe.each(['release', 'region'])('%s.asl.json', (name) => {
  const definition = load(name);

  it('is valid ASL', () => {
    const { isValid, errorsText } = aslValidator(definition);
    expect(isValid, errorsText?.('\n')).toBe(true);
  });

  it('uses JSONPath only: no JSONata, no Assign (the local engine would silently ignore them)', () => {
    const text = JSON.stringify(definition);
    expect(text).not.toMatch(/"QueryLanguage"\s*:\s*"JSONata"|"Assign"|\{%/);
  });

  it('binds every Lambda task to a handler in functions/', () => {
    const tasks = new Map(
      Object.entries(definition.States as Record<string, { Parameters?: { FunctionName?: string } }>),
    );
    for (const { name: state, resource } of taskStates(definition.States)) {
      const fn = /:function:flotilla-([a-z-]+)$/.exec(resource)?.[1];
      if (fn) expect(Object.keys(functionFactories)).toContain(fn);
      else if (resource === 'arn:aws:states:::lambda:invoke.waitForTaskToken') {
        const target = /:function:flotilla-([a-z-]+)$/.exec(tasks.get(state)?.Parameters?.FunctionName ?? '')?.[1];
        expect(Object.keys(functionFactories)).toContain(target);
      } else expect(resource).toBe('arn:aws:states:::states:startExecution.sync:2');
    }
  });

  it('sets an explicit timeout on every task (the local default is 60 s)', () => {
    const walk = (states: Record<string, { Type: string; TimeoutSeconds?: number; TimeoutSecondsPath?: string }>) => {
      for (const s of Object.values(states)) {
        if (s.Type === 'Task') expect((s.TimeoutSeconds ?? 0) > 0 || s.TimeoutSecondsPath !== undefined).toBe(true);
      }
    };
    walk(definition.States);
  });
});

describe('release.asl.json', () => {
  it('runs each region as a child execution so deploy time never grows the parent history', () => {
    const resources = taskStates(load('release').States).map((t) => t.resource);
    expect(resources.filter((r) => r.includes('startExecution.sync:2'))).toHaveLength(2);
  });
});
