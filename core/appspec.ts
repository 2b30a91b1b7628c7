/**
 * A Lambda rollback's AppSpec. A CodeDeploy Lambda deployment shifts an alias from CurrentVersion
 * to TargetVersion, and both are written in the AppSpec. The AppSpec of a region's last-known-good
 * deployment names the version it shifted *from* back then: redeployed verbatim, it would shift
 * traffic between two old versions, not from what the alias serves now. A rollback's AppSpec is
 * that last good AppSpec with CurrentVersion the alias's live version (read at rollback time) and
 * TargetVersion the last good one; its function, alias and hooks stay as they were.
 *
 * The documents here are parsed AppSpecs (YAML or JSON, parsed by the adapter): plain data in, plain
 * data out.
 */

/** The function and alias a Lambda AppSpec shifts, and the version it shifts to. */
export interface LambdaAppSpecTarget {
  /** The AppSpec's key for the resource (e.g. "myFunction"). */
  resource: string;
  /** Properties.Name: the function's name or ARN. */
  functionName: string;
  alias: string;
  currentVersion: string | null;
  targetVersion: string;
}

export type LambdaAppSpecReading = ({ kind: 'Function' } & LambdaAppSpecTarget) | { kind: 'Invalid'; message: string };

export type LambdaRollbackAppSpec =
  /** Deploy `appSpec`: the last good AppSpec with CurrentVersion the live version. */
  | { kind: 'Deploy'; appSpec: Record<string, unknown>; from: string; to: string }
  /**
   * The alias already serves the last good version: nothing to shift (CodeDeploy refuses a Lambda
   * deployment whose CurrentVersion and TargetVersion are the same).
   */
  | { kind: 'AlreadyLive'; version: string }
  | { kind: 'Invalid'; message: string };

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** A version as CodeDeploy reads it: YAML may give a number (`TargetVersion: 3`). */
function versionText(value: unknown): string | null {
  if (typeof value === 'number' && Number.isInteger(value) && value > 0) return String(value);
  if (typeof value === 'string' && value.trim() !== '') return value.trim();
  return null;
}

/** The one AWS::Lambda::Function resource of a Lambda AppSpec (CodeDeploy allows exactly one). */
export function lambdaAppSpecTarget(doc: unknown): LambdaAppSpecReading {
  const invalid = (message: string): LambdaAppSpecReading => ({ kind: 'Invalid', message });
  if (!isRecord(doc)) return invalid('the AppSpec is not a YAML or JSON object');
  const resources = doc.Resources;
  if (!Array.isArray(resources) || resources.length === 0) return invalid('the AppSpec has no Resources');
  if (resources.length !== 1) {
    return invalid(`a Lambda AppSpec names exactly one function; this one has ${resources.length} resources`);
  }
  const entry = resources[0];
  const keys = isRecord(entry) ? Object.keys(entry) : [];
  const key = keys[0];
  if (!isRecord(entry) || keys.length !== 1 || key === undefined) {
    return invalid('each AppSpec resource is one named entry (- myFunction: {Type, Properties})');
  }
  const resource = entry[key];
  if (!isRecord(resource) || resource.Type !== 'AWS::Lambda::Function') {
    return invalid(`resource ${key} is not of Type AWS::Lambda::Function`);
  }
  const props = resource.Properties;
  if (!isRecord(props)) return invalid(`resource ${key} has no Properties`);
  const functionName = typeof props.Name === 'string' ? props.Name.trim() : '';
  const alias = typeof props.Alias === 'string' ? props.Alias.trim() : '';
  const targetVersion = versionText(props.TargetVersion);
  if (functionName === '') return invalid(`resource ${key} has no Properties.Name`);
  if (alias === '') return invalid(`resource ${key} has no Properties.Alias`);
  if (targetVersion === null) return invalid(`resource ${key} has no Properties.TargetVersion`);
  return {
    kind: 'Function',
    resource: key,
    functionName,
    alias,
    currentVersion: versionText(props.CurrentVersion),
    targetVersion,
  };
}

/**
 * The AppSpec that rolls a Lambda region back: `lastGood` (the AppSpec of the region's
 * last-known-good deployment) shifting from `liveVersion` (what the alias serves now) to the last
 * good version. Everything else of `lastGood` (the function, the alias, the hooks) is kept.
 */
export function lambdaRollbackAppSpec(lastGood: unknown, liveVersion: string): LambdaRollbackAppSpec {
  const target = lambdaAppSpecTarget(lastGood);
  if (target.kind === 'Invalid') return target;
  const live = versionText(liveVersion);
  if (live === null) return { kind: 'Invalid', message: `the alias ${target.alias} has no live version` };
  if (live === target.targetVersion) return { kind: 'AlreadyLive', version: live };
  const doc = lastGood as Record<string, unknown>;
  const [entry] = doc.Resources as Record<string, Record<string, unknown>>[];
  const resource = (entry as Record<string, Record<string, unknown>>)[target.resource] as Record<string, unknown>;
  const properties = resource.Properties as Record<string, unknown>;
  const appSpec: Record<string, unknown> = {
    ...doc,
    // YAML reads `version: 0.0` as the number 0; the AppSpec wants "0.0" back.
    ...(typeof doc.version === 'number' ? { version: doc.version.toFixed(1) } : {}),
    Resources: [
      {
        [target.resource]: {
          ...resource,
          Properties: { ...properties, CurrentVersion: live, TargetVersion: target.targetVersion },
        },
      },
    ],
  };
  return { kind: 'Deploy', appSpec, from: live, to: target.targetVersion };
}

/**
 * What a staged region deploys: its release's AppSpec naming what staging made there instead of
 * where it was made from (core/artifacts.ts `buildToMake`). An ECS AppSpec gets the registered
 * task definition's ARN as its TaskDefinition; a Lambda AppSpec the published version as its
 * TargetVersion, shifting from `liveVersion` (what the alias serves at deploy time: the versions a
 * region numbered itself differ by region, so no AppSpec written ahead can name them). Everything
 * else (the service, the load balancer, the alias, the hooks) is kept.
 */
export type StagedAppSpec =
  | { kind: 'Deploy'; appSpec: Record<string, unknown> }
  /** The alias already serves the published version (the code was live already): nothing to shift. */
  | { kind: 'AlreadyLive'; version: string }
  | { kind: 'Invalid'; message: string };

export function stagedAppSpec(
  doc: unknown,
  made: { kind: 'TaskDefinition'; arn: string } | { kind: 'LambdaVersion'; version: string; liveVersion: string },
): StagedAppSpec {
  if (made.kind === 'LambdaVersion') {
    const target = lambdaAppSpecTarget(doc);
    if (target.kind === 'Invalid') return target;
    const withTarget = withProperties(doc as Record<string, unknown>, (p) => ({ ...p, TargetVersion: made.version }));
    const shifted = lambdaRollbackAppSpec(withTarget, made.liveVersion);
    return shifted.kind === 'Deploy' ? { kind: 'Deploy', appSpec: shifted.appSpec } : shifted;
  }
  if (!isRecord(doc) || !Array.isArray(doc.Resources) || doc.Resources.length === 0) {
    return { kind: 'Invalid', message: 'the AppSpec has no Resources' };
  }
  let named = 0;
  const appSpec = withProperties(doc, (p) => {
    if (!('TaskDefinition' in p)) return p;
    named++;
    return { ...p, TaskDefinition: made.arn };
  });
  return named === 1
    ? { kind: 'Deploy', appSpec }
    : { kind: 'Invalid', message: `the ECS AppSpec names ${named} TaskDefinition properties; it must name one` };
}

/** `doc` with each resource's Properties mapped, and YAML's `version: 0.0` (the number 0) back to "0.0". */
function withProperties(
  doc: Record<string, unknown>,
  map: (properties: Record<string, unknown>) => Record<string, unknown>,
): Record<string, unknown> {
  const resources = (doc.Resources as unknown[]).map((entry) => {
    if (!isRecord(entry)) return entry;
    return Object.fromEntries(
      Object.entries(entry).map(([key, resource]) =>
        isRecord(resource) && isRecord(resource.Properties)
          ? [key, { ...resource, Properties: map(resource.Properties) }]
          : [key, resource],
      ),
    );
  });
  return {
    ...doc,
    ...(typeof doc.version === 'number' ? { version: doc.version.toFixed(1) } : {}),
    Resources: resources,
  };
}
