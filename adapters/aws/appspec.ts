/**
 * What the new-host launchers need from a CodeDeploy AppSpec (the `appspec:<YAML or JSON>`
 * artifact of a Lambda or ECS group): the new Lambda version, or the new ECS task definition with
 * its network configuration. YAML is a superset of JSON, so one parser reads both.
 */
import { parse } from 'yaml';
import { InvalidRevision, namedError } from './errors.ts';

const APPSPEC_PREFIX = 'appspec:';

type Props = Record<string, unknown>;

function resourceProperties(artifact: string): Props {
  if (!artifact.startsWith(APPSPEC_PREFIX))
    throw namedError(InvalidRevision, 'the artifact is not "appspec:<content>"');
  let doc: unknown;
  try {
    doc = parse(artifact.slice(APPSPEC_PREFIX.length));
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
