import { readFileSync } from 'node:fs';
import aslValidator from 'asl-validator';
import { describe, expect, it } from 'vitest';
import { taskStates } from '../../backends/local/engine.ts';
import { functionFactories } from '../../functions/index.ts';

interface MachineLike {
  StartAt: string;
  States: Record<string, StateLike>;
}

interface StateLike {
  Type: string;
  Resource?: string;
  TimeoutSeconds?: number;
  TimeoutSecondsPath?: string;
  ItemProcessor?: MachineLike;
  Iterator?: MachineLike;
  Branches?: MachineLike[];
}

/** Paths ('Map/Branch/State') of every Task, at any depth of Map and Parallel, with no timeout. */
function tasksWithoutTimeout(states: Record<string, StateLike>, prefix = ''): string[] {
  return Object.entries(states).flatMap(([name, s]) => {
    const path = `${prefix}${name}`;
    const own = s.Type === 'Task' && !((s.TimeoutSeconds ?? 0) > 0 || s.TimeoutSecondsPath !== undefined) ? [path] : [];
    const nested = [s.ItemProcessor, s.Iterator, ...(s.Branches ?? [])].flatMap((inner) =>
      inner ? tasksWithoutTimeout(inner.States, `${path}/`) : [],
    );
    return [...own, ...nested];
  });
}

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

  it('sets an explicit timeout on every task, nested ones included (the local default is 60 s)', () => {
    expect(tasksWithoutTimeout(definition.States)).toEqual([]);
  });
});

describe('tasksWithoutTimeout', () => {
  const task = (timeout?: number) => ({
    Type: 'Task',
    Resource: 'arn:x',
    ...(timeout ? { TimeoutSeconds: timeout } : {}),
  });
  it('finds a Task without TimeoutSeconds two levels down: a Parallel branch inside a Map', () => {
    const states: Record<string, StateLike> = {
      Top: task(10),
      Fan: {
        Type: 'Map',
        ItemProcessor: {
          StartAt: 'Split',
          States: {
            Inner: task(10),
            Split: {
              Type: 'Parallel',
              Branches: [
                { StartAt: 'Ok', States: { Ok: { Type: 'Task', Resource: 'arn:x', TimeoutSecondsPath: '$.t' } } },
                { StartAt: 'Bare', States: { Bare: task() } },
              ],
            },
          },
        },
      },
      Old: { Type: 'Map', Iterator: { StartAt: 'Legacy', States: { Legacy: task() } } },
    };
    expect(tasksWithoutTimeout(states)).toEqual(['Fan/Split/Bare', 'Old/Legacy']);
  });
  it('passes when every nested Task has one', () => {
    const states: Record<string, StateLike> = {
      Fan: { Type: 'Map', ItemProcessor: { StartAt: 'T', States: { T: task(5) } } },
    };
    expect(tasksWithoutTimeout(states)).toEqual([]);
  });
});

describe('release.asl.json', () => {
  it('runs each region as a child execution so deploy time never grows the parent history', () => {
    const resources = taskStates(load('release').States).map((t) => t.resource);
    expect(resources.filter((r) => r.includes('startExecution.sync:2'))).toHaveLength(2);
  });
});
