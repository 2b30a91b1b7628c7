/** Shared test helpers for the config tests: a small valid config, and path-based edits of plain data. */
import { stringify } from 'yaml';
import { type ConfigResult, parseConfig } from '../../config/load.ts';
import { type PathSegment, parsePath } from '../../config/policy.ts';
import type { ConfigProblem } from '../../config/types.ts';

export type Data = Record<string, unknown>;

export function region(name: string, port: number): Data {
  return { name, target: { kind: 'local-process', port, command: ['node', 'server.js'] } };
}

/**
 * A valid config: 4 regions; waves canary [us-east-1], wave-2 [eu-west-1, eu-central-1] and an unnamed
 * third wave [ap-southeast-2] with bakeSeconds 4; gate and deploy left to their defaults.
 */
export function baseInput(): Data {
  return {
    service: 'shop',
    regions: [
      region('us-east-1', 7101),
      region('eu-west-1', 7102),
      region('eu-central-1', 7103),
      region('ap-southeast-2', 7104),
    ],
    waves: [
      { name: 'canary', regions: ['us-east-1'] },
      { name: 'wave-2', regions: ['eu-west-1', 'eu-central-1'] },
      { regions: ['ap-southeast-2'], bakeSeconds: 4 },
    ],
  };
}

function container(root: unknown, segments: PathSegment[]): { parent: Record<PropertyKey, unknown>; key: PathSegment } {
  const key = segments.at(-1);
  if (key === undefined) throw new Error('empty path');
  let node: unknown = root;
  for (const segment of segments.slice(0, -1)) {
    const next = (node as Record<PropertyKey, unknown>)[segment];
    if (next === undefined) (node as Record<PropertyKey, unknown>)[segment] = {};
    node = (node as Record<PropertyKey, unknown>)[segment];
  }
  return { parent: node as Record<PropertyKey, unknown>, key };
}

/** Sets the value at a path like `waves[1].regions[0]`, creating missing mappings on the way. */
export function setAt(root: unknown, path: string, value: unknown): void {
  const { parent, key } = container(root, parsePath(path));
  parent[key] = value;
}

export function getAt(root: unknown, path: string): unknown {
  let node: unknown = root;
  for (const segment of parsePath(path)) node = (node as Record<PropertyKey, unknown>)[segment];
  return node;
}

export function deleteAt(root: unknown, path: string): void {
  const { parent, key } = container(root, parsePath(path));
  delete parent[key];
}

/** Appends to the list at a path. */
export function pushAt(root: unknown, path: string, value: unknown): void {
  const list = getAt(root, path);
  if (!Array.isArray(list)) throw new Error(`${path} is not a list`);
  list.push(value);
}

/** The base config, changed by `edit`, as YAML. */
export function yamlOf(edit: (data: Data) => void = () => {}, data: Data = baseInput()): string {
  edit(data);
  return stringify(data);
}

export function problemsOf(result: ConfigResult): ConfigProblem[] {
  return result.ok ? [] : result.problems;
}

/** Parses the base config changed by `edit`. */
export function parseEdited(edit: (data: Data) => void): ConfigResult {
  return parseConfig(yamlOf(edit));
}
