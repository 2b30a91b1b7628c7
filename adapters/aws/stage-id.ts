/**
 * What an AWS staging's id says (adapters/aws/revision-stager.ts): staging runs to its end inside
 * StageAhead's call, so its id carries how it went, and reading it back needs no AWS client (the
 * EnterWave bundle has no S3 client). `copied:<s3 url>` this release copied the bundle there;
 * `present:<s3 url>` it was there already; `checked:<what>` nothing to stage; `failed:<why>`;
 * `registered:<task definition ARN>` this release registered that ECS task definition;
 * `published:<function ARN>:<version>` this release published that Lambda version;
 * `found:<function ARN>:<version>` the code was that version already (not this release's: never
 * deleted). The region's deploy names the ARN or version (adapters/aws/staged-appspec.ts), and the
 * cleanup reads what to remove from the id the release record keeps.
 */
import type { StageStatus } from '../../ports/region-deployer.ts';

const FAILED = 'failed:';

export const stageId = {
  copied: (url: string) => `copied:${url}`,
  present: (url: string) => `present:${url}`,
  checked: (what: string) => `checked:${what}`,
  failed: (why: string) => `${FAILED}${why}`,
  registered: (taskDefinitionArn: string) => `registered:${taskDefinitionArn}`,
  published: (functionArn: string, version: string) => `published:${functionArn}:${version}`,
  found: (functionArn: string, version: string) => `found:${functionArn}:${version}`,
};

/** The status a stage id records. */
export function stagedStatus(id: string): StageStatus {
  return id.startsWith(FAILED) ? { status: 'Failed', message: id.slice(FAILED.length) } : { status: 'Staged' };
}

/** What staging made in the region, read from its id; `created`: by this release (so it may remove it). */
export type StagedMade =
  | { kind: 'TaskDefinition'; arn: string; created: true }
  | { kind: 'LambdaVersion'; functionArn: string; version: string; created: boolean };

export function stagedMade(id: string | undefined): StagedMade | undefined {
  if (id === undefined) return undefined;
  if (id.startsWith('registered:'))
    return { kind: 'TaskDefinition', arn: id.slice('registered:'.length), created: true };
  const lambda = /^(published|found):(arn:[^:]+:lambda:[^:]+:\d{12}:function:[^:]+):(\d+)$/.exec(id);
  if (!lambda) return undefined;
  return {
    kind: 'LambdaVersion',
    functionArn: lambda[2] as string,
    version: lambda[3] as string,
    created: lambda[1] === 'published',
  };
}
