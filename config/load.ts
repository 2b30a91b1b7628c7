/**
 * Loading `flotilla.yml`: YAML -> schema (`schema.ts`) -> policy (`policy.ts`), reporting every problem at once.
 *
 * Problem paths look like `waves[1].regions[0]`, `regions[0].target.port`, `gate.maxErrorRate`; an unknown key
 * is reported at its own path (`gate.probez: unknown key (did you mean "probes"?)`); `(root)` is the whole
 * document, `(yaml)` a YAML syntax error and `(file)` a file that cannot be read.
 *
 * YAML tags: only the plain data tags (`!!str`, `!!int`, `!!float`, `!!bool`, `!!null`, `!!map`, `!!seq`,
 * and merge keys) are accepted; any other (`!!python/object`, `!!binary`, `!!set`, `!foo`) is an error at
 * the path of the tagged value, never silently read as a plain string or mapping.
 */
import { readFile } from 'node:fs/promises';
import {
  type Document,
  isAlias,
  isMap,
  isNode,
  isPair,
  isScalar,
  isSeq,
  LineCounter,
  type Pair,
  parseDocument,
  visit,
  type YAMLError,
  type YAMLMap,
} from 'yaml';
import { formatPath, type PathSegment, parsePath } from './policy.ts';
import type { ConfigProblem } from './types.ts';
import { type ConfigResult, validateConfig } from './validate.ts';

export { type ConfigResult, configJsonSchema, formatProblems, validateConfig } from './validate.ts';

/**
 * Parses the text of a `flotilla.yml`. `source` (a file name) only appears in YAML syntax errors.
 * Problems come in document order.
 */
export function parseConfig(text: string, source?: string): ConfigResult {
  const lineCounter = new LineCounter();
  // The yaml package's own duplicate-key check compares every key of a mapping with every other
  // (32,000 keys: 14 s); duplicateKeys does the same in one pass over each mapping.
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, merge: true, uniqueKeys: false });
  const syntax = doc.errors.map((error) => ({ pos: error.pos[0], problem: yamlProblem(error, lineCounter, source) }));
  const errors = [...syntax, ...duplicateKeys(doc, lineCounter, source)];
  if (errors.length > 0) {
    return { ok: false, problems: errors.sort((a, b) => a.pos - b.pos).map((e) => e.problem) };
  }
  let data: unknown;
  try {
    data = doc.toJS();
  } catch (error) {
    const where = source === undefined ? '' : `${source}: `;
    return { ok: false, problems: [{ path: '(yaml)', message: `${where}${errorMessage(error)}` }] };
  }
  const tags = tagProblems(doc, lineCounter);
  const result = validateConfig(data);
  if (result.ok && tags.length === 0) return result;
  const problems = [...tags, ...(result.ok ? [] : result.problems)];
  const positioned = problems.map((problem, index) => ({
    problem,
    index,
    offset: offsetOf(doc, parsePath(problem.path)),
  }));
  positioned.sort((a, b) => a.offset - b.offset || a.index - b.index);
  return { ok: false, problems: positioned.map(({ problem }) => problem) };
}

/** Reads and parses a `flotilla.yml`. A file that cannot be read is a `(file)` problem. */
export async function loadConfigFile(path: string): Promise<ConfigResult> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : errorMessage(error);
    return { ok: false, problems: [{ path: '(file)', message: `cannot read ${path}: ${why}` }] };
  }
  return parseConfig(text, path);
}

// ---------------------------------------------------------------------------------------------------------------
// YAML

const DATA_TAGS = new Set(
  ['str', 'int', 'float', 'bool', 'null', 'map', 'seq', 'merge'].map((t) => `tag:yaml.org,2002:${t}`),
);

/** Every explicit tag that is not a plain data tag, at the path of the value it tags (a tagged key: its pair). */
function tagProblems(doc: Document, lineCounter: LineCounter): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  visit(doc, {
    Node(key, node, ancestors) {
      if (!('tag' in node) || node.tag === undefined || DATA_TAGS.has(node.tag)) return;
      const segments: PathSegment[] = [];
      ancestors.forEach((ancestor, index) => {
        const child = ancestors[index + 1] ?? node;
        if (isPair(ancestor)) segments.push(isScalar(ancestor.key) ? String(ancestor.key.value) : String(ancestor.key));
        else if (isSeq(ancestor)) segments.push(ancestor.items.indexOf(child as never));
      });
      const { line, col } = lineCounter.linePos(node.range?.[0] ?? 0);
      const tag = node.tag.startsWith('tag:yaml.org,2002:') ? `!!${node.tag.slice(18)}` : node.tag;
      const what = key === 'key' ? 'a key' : 'a value';
      problems.push({
        path: formatPath(segments),
        message: `unsupported YAML tag ${tag} on ${what} (line ${line}, column ${col}); only plain data is allowed: strings, numbers, true/false, null, lists and mappings`,
      });
    },
  });
  return problems;
}

/** Each key written twice in one mapping, as the yaml package reports it, at the second one. */
function duplicateKeys(
  doc: Document,
  lineCounter: LineCounter,
  source: string | undefined,
): { pos: number; problem: ConfigProblem }[] {
  const found: { pos: number; problem: ConfigProblem }[] = [];
  visit(doc, {
    Map(_key, map) {
      const seen = new Set<unknown>();
      for (const pair of map.items) {
        const key = isScalar(pair.key) ? pair.key.value : pair.key;
        // Merge keys (<<) may repeat; a non-scalar key is compared by identity, as the yaml package does.
        if (isScalar(pair.key) && pair.key.value === '<<') continue;
        if (!seen.has(key)) {
          seen.add(key);
          continue;
        }
        const pos = (isScalar(pair.key) ? pair.key.range?.[0] : undefined) ?? map.range?.[0] ?? 0;
        const { line, col } = lineCounter.linePos(pos);
        const where = `${source === undefined ? '' : `${source}, `}line ${line}, column ${col}`;
        found.push({ pos, problem: { path: '(yaml)', message: `${where}: Map keys must be unique` } });
      }
    },
  });
  return found;
}

function yamlProblem(error: YAMLError, lineCounter: LineCounter, source: string | undefined): ConfigProblem {
  const { line, col } = lineCounter.linePos(error.pos[0]);
  const where = `${source === undefined ? '' : `${source}, `}line ${line}, column ${col}`;
  const message =
    error.code === 'MULTIPLE_DOCS'
      ? 'a config is a single YAML document, but this has more than one (---)'
      : error.message.split('\n')[0];
  return { path: '(yaml)', message: `${where}: ${message}` };
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Where a path is in the document, for sorting: the start of its key or item; for a path that is not written
 * (a missing or defaulted key), the end of the nearest written ancestor.
 */
/** Each mapping's pairs by key, built once: finding every problem's place stays linear in the document. */
const keyIndexes = new WeakMap<object, Map<string, Pair<unknown, unknown>>>();
function keyIndex(map: YAMLMap<unknown, unknown>): Map<string, Pair<unknown, unknown>> {
  let index = keyIndexes.get(map);
  if (!index) {
    index = new Map();
    for (const item of map.items) {
      const key = isScalar(item.key) ? String(item.key.value) : String(item.key);
      if (!index.has(key)) index.set(key, item);
    }
    keyIndexes.set(map, index);
  }
  return index;
}

function offsetOf(doc: Document, segments: readonly PathSegment[]): number {
  let node: unknown = doc.contents;
  let offset = 0;
  for (const segment of segments) {
    if (isAlias(node)) node = node.resolve(doc);
    if (isMap(node)) {
      const pair = keyIndex(node).get(String(segment));
      if (pair === undefined) return endOf(node, offset);
      offset = startOf(pair.key, offset);
      node = pair.value;
    } else if (isSeq(node) && typeof segment === 'number') {
      const item = node.items[segment];
      if (item === undefined) return endOf(node, offset);
      offset = startOf(item, offset);
      node = item;
    } else {
      return endOf(node, offset);
    }
  }
  return offset;
}

function startOf(node: unknown, fallback: number): number {
  return isNode(node) && node.range ? node.range[0] : fallback;
}

function endOf(node: unknown, fallback: number): number {
  return isNode(node) && node.range ? node.range[1] : fallback;
}
