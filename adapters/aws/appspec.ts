/**
 * What the new-host launchers need from a CodeDeploy AppSpec (the `appspec:<YAML or JSON>`
 * artifact of a Lambda or ECS group): the new Lambda version, or the new ECS task definition with
 * its network configuration. JSON is parsed; YAML is scanned for those few properties (as the
 * platform checks do, core/artifacts.ts `appSpecValues`), not parsed: a YAML parser would cost the
 * StartBake bundle, which carries these launchers, over 100 KiB of its 600.
 */
import { appSpecValues } from '../../core/artifacts.ts';
import { InvalidRevision, namedError } from './errors.ts';

const APPSPEC_PREFIX = 'appspec:';

type Props = Record<string, unknown>;

function resourceProperties(artifact: string): Props {
  if (!artifact.startsWith(APPSPEC_PREFIX))
    throw namedError(InvalidRevision, 'the artifact is not "appspec:<content>"');
  const content = artifact.slice(APPSPEC_PREFIX.length);
  if (!content.trimStart().startsWith('{')) return scannedProperties(content);
  let doc: unknown;
  try {
    doc = JSON.parse(content);
  } catch (error) {
    throw namedError(InvalidRevision, `the AppSpec is not YAML or JSON: ${String(error)}`);
  }
  const resources = (doc as { Resources?: unknown } | null)?.Resources;
  const first = Array.isArray(resources)
    ? (resources[0] as Record<string, { Properties?: Props }> | undefined)
    : undefined;
  const properties = first ? Object.values(first)[0]?.Properties : undefined;
  if (!properties || typeof properties !== 'object')
    throw namedError(InvalidRevision, 'the AppSpec has no Resources[0] Properties');
  return properties;
}

/** A YAML AppSpec's properties read here, shaped as the JSON one's, each its first value in the file. */
function scannedProperties(content: string): Props {
  const first = (property: string) => appSpecValues(content, property)[0];
  const defined = (entries: Record<string, unknown>) =>
    Object.fromEntries(
      Object.entries(entries).filter(([, v]) => v !== undefined && !(Array.isArray(v) && v.length === 0)),
    );
  return defined({
    Name: first('Name'),
    TargetVersion: first('TargetVersion'),
    TaskDefinition: first('TaskDefinition'),
    PlatformVersion: first('PlatformVersion'),
    LoadBalancerInfo: defined({ ContainerName: first('ContainerName'), ContainerPort: first('ContainerPort') }),
    NetworkConfiguration: {
      AwsvpcConfiguration: defined({
        Subnets: scannedList(content, 'Subnets'),
        SecurityGroups: scannedList(content, 'SecurityGroups'),
        AssignPublicIp: first('AssignPublicIp'),
      }),
    },
  });
}

/** A YAML list property, flow (`Subnets: [a, b]`) or block (`- a` lines below it). */
function scannedList(content: string, property: string): string[] {
  const match = new RegExp(
    `["']?\\b${property}["']?\\s*:[ \\t]*(?:\\[([^\\]]*)\\]|\\r?\\n((?:[ \\t]*-[^\\n]*(?:\\r?\\n|$))+))`,
  ).exec(content);
  if (!match) return [];
  const items =
    match[1] !== undefined ? match[1].split(',') : (match[2] ?? '').split('\n').map((l) => l.replace(/^\s*-\s*/, ''));
  return items.map((item) => item.trim().replace(/^["']|["']$/g, '')).filter((item) => item !== '');
}

const text = (value: unknown): string | undefined =>
  typeof value === 'string' || typeof value === 'number' ? String(value) : undefined;

/** The Lambda AppSpec's function and the version the deployment shifts to. */
export function lambdaTargetVersion(artifact: string): { functionName: string; version: string } {
  const p = resourceProperties(artifact);
  const functionName = text(p.Name);
  const version = text(p.TargetVersion);
  if (!functionName || !version)
    throw namedError(InvalidRevision, 'the Lambda AppSpec names no Name and TargetVersion');
  return { functionName, version };
}

export interface EcsTaskSpec {
  taskDefinition: string;
  containerName?: string;
  containerPort?: number;
  platformVersion?: string;
  subnets: string[];
  securityGroups: string[];
  assignPublicIp?: 'ENABLED' | 'DISABLED';
}

/** The ECS AppSpec's new task definition, its load-balanced container and its awsvpc network. */
export function ecsTaskSpec(artifact: string): EcsTaskSpec {
  const p = resourceProperties(artifact);
  const taskDefinition = text(p.TaskDefinition);
  if (!taskDefinition) throw namedError(InvalidRevision, 'the ECS AppSpec names no TaskDefinition');
  const lb = (p.LoadBalancerInfo ?? {}) as Props;
  const vpc = (((p.NetworkConfiguration ?? {}) as Props).AwsvpcConfiguration ?? {}) as Props;
  const list = (value: unknown) => (Array.isArray(value) ? value.map(String) : []);
  const port = Number(lb.ContainerPort);
  const publicIp = text(vpc.AssignPublicIp);
  return {
    taskDefinition,
    ...(text(lb.ContainerName) ? { containerName: text(lb.ContainerName) as string } : {}),
    ...(Number.isInteger(port) && port > 0 ? { containerPort: port } : {}),
    ...(text(p.PlatformVersion) ? { platformVersion: text(p.PlatformVersion) as string } : {}),
    subnets: list(vpc.Subnets),
    securityGroups: list(vpc.SecurityGroups),
    ...(publicIp === 'ENABLED' || publicIp === 'DISABLED' ? { assignPublicIp: publicIp } : {}),
  };
}
