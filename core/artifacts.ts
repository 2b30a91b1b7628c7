/**
 * Per-region artifacts: which build each region of a release gets, and whether that build can
 * work on the region's platform at all. CodeDeploy needs the revision in the target region (an S3
 * bundle in a bucket of that region for EC2/on-premises; ECS task definitions and Lambda functions
 * are ARNs of one region), so one artifact string rarely serves every region. A release names its
 * builds as a template (`s3://shop-builds-{awsRegion}/shop/1.4.0.zip`, or `{awsRegion}` inside an
 * AppSpec), as a map region → artifact, or both (the map wins for the regions it names). Decided
 * here once, before anything runs: the CLI checks it at the edge and PlanRelease again before the
 * lock, and the plan in the ledger keeps each region's resolved revision. Pure.
 */
import type { CodeDeployTarget, FlotillaConfig, RegionTarget } from './config.ts';
import type { Revision } from './model.ts';

/** What a release was asked to ship, before it is resolved region by region. */
export interface ArtifactRequest {
  /**
   * The artifact of every region the map does not name; may hold `{region}` (Flotilla's name of
   * the region) and `{awsRegion}` (a CodeDeploy target's AWS region). Empty: the map names all.
   */
  artifact: string;
  /** Region name → that region's own artifact (templates allowed too). */
  artifacts?: Readonly<Record<string, string>>;
  /**
   * One S3 bundle (CI's upload) that Flotilla copies into each Server region's resolved location
   * before that region deploys (staging ahead, core/staging.ts `regionsToStage`).
   */
  copyFrom?: string;
}

/** One reason the request cannot ship, naming the region it concerns (or `--artifacts`, `--copy-from`). */
export interface ArtifactProblem {
  region: string;
  message: string;
}

export type ArtifactResolution =
  | { ok: true; revisions: Map<string, Revision> }
  | { ok: false; problems: ArtifactProblem[] };

/** The artifact of one region: the template's placeholders filled in, or a problem. */
export function fillTemplate(template: string, region: string, target: RegionTarget): string | ArtifactProblem {
  if (template.includes('{awsRegion}') && target.kind !== 'codedeploy') {
    return {
      region,
      message: `the artifact names {awsRegion}, but ${region} is a ${target.kind} region (no AWS region)`,
    };
  }
  const awsRegion = target.kind === 'codedeploy' ? target.awsRegion : '';
  return template.replaceAll('{region}', region).replaceAll('{awsRegion}', awsRegion);
}

/**
 * Every region's revision, or every problem at once: a region with no artifact, a map entry for a
 * region the config does not have, an artifact its platform cannot deploy, an ARN or a bucket of
 * another AWS region, one S3 bundle shared by groups in different AWS regions.
 */
export function resolveArtifacts(
  config: Pick<FlotillaConfig, 'regions'>,
  version: string,
  request: ArtifactRequest,
): ArtifactResolution {
  const problems: ArtifactProblem[] = [];
  const known = new Set(config.regions.map((r) => r.name));
  for (const name of Object.keys(request.artifacts ?? {})) {
    if (!known.has(name))
      problems.push({ region: name, message: `--artifacts names a region the config does not have` });
  }
  const revisions = new Map<string, Revision>();
  for (const { name, target } of config.regions) {
    const template = request.artifacts?.[name] ?? request.artifact;
    if (template.trim() === '') {
      problems.push({ region: name, message: 'no artifact: give a build for every region, or name it in --artifacts' });
      continue;
    }
    const artifact = fillTemplate(template, name, target);
    if (typeof artifact !== 'string') {
      problems.push(artifact);
      continue;
    }
    const problem = artifactProblem(artifact, target);
    if (problem) {
      problems.push({ region: name, message: problem });
      continue;
    }
    revisions.set(name, { version, artifact });
  }
  problems.push(...sharedBuckets(config.regions, revisions));
  if (request.copyFrom !== undefined) problems.push(...applyCopyFrom(request.copyFrom, config.regions, revisions));
  return problems.length > 0 ? { ok: false, problems } : { ok: true, revisions };
}

/** The problems as lines, for a CLI error or a named error's message. */
export function formatArtifactProblems(problems: readonly ArtifactProblem[]): string {
  return problems.map((p) => `${p.region}: ${p.message}`).join('\n');
}

/** Why `artifact` cannot be deployed to `target`, or undefined when it can be. */
export function artifactProblem(artifact: string, target: RegionTarget): string | undefined {
  if (target.kind === 'local-process') {
    if (/^(s3:\/\/|appspec:|github:|arn:)/.test(artifact)) {
      return `${short(artifact)} is an AWS artifact; a local region needs a build directory`;
    }
    return artifact.startsWith('/') ? undefined : `${short(artifact)} is not an absolute build directory path`;
  }
  switch (target.platform) {
    case 'Server':
      return serverProblem(artifact, target);
    case 'ECS':
      return appSpecProblem(artifact, target) ?? ecsProblem(artifact.slice(APPSPEC.length), target);
    case 'Lambda':
      return appSpecProblem(artifact, target) ?? lambdaProblem(artifact.slice(APPSPEC.length), target);
  }
}

const S3 = 's3://';
const APPSPEC = 'appspec:';
/** An AWS region code as it appears in names: us-east-1, eu-central-2, us-gov-west-1, ap-southeast-5. */
const AWS_REGION =
  /(?:^|[^a-z0-9])([a-z]{2}(?:-gov|-iso[a-z]?)?-(?:north|south|east|west|central)(?:east|west)?-\d)(?![0-9])/;

/** An S3 URL's bucket and key, or undefined when it is not `s3://bucket/key`. */
export function parseS3Url(url: string): { bucket: string; key: string } | undefined {
  if (!url.startsWith(S3)) return undefined;
  const path = url.slice(S3.length).split('?')[0] ?? '';
  const slash = path.indexOf('/');
  if (slash <= 0 || slash === path.length - 1) return undefined;
  return { bucket: path.slice(0, slash), key: path.slice(slash + 1) };
}

function serverProblem(artifact: string, target: CodeDeployTarget): string | undefined {
  if (artifact.startsWith('github:')) return undefined;
  if (artifact.startsWith(APPSPEC)) {
    return 'AppSpec content can only be deployed to a Lambda or ECS group; a Server group needs s3://bucket/key.zip';
  }
  const s3 = parseS3Url(artifact);
  if (!s3) return `${short(artifact)} is not an S3 bundle (s3://bucket/key.zip) or github:<owner/repo>@<commit>`;
  if (!/\.(zip|tar|tar\.gz|tgz)$/i.test(s3.key)) {
    return `${short(artifact)}: the key must end in .zip, .tar, .tar.gz or .tgz (the bundle type comes from it)`;
  }
  const named = AWS_REGION.exec(s3.bucket)?.[1];
  if (named !== undefined && named !== target.awsRegion) {
    return `bucket ${s3.bucket} is named for ${named}, but the group is in ${target.awsRegion}: CodeDeploy reads the bundle from a bucket in the group's region (use {awsRegion} or --artifacts)`;
  }
  return undefined;
}

function appSpecProblem(artifact: string, target: CodeDeployTarget): string | undefined {
  if (artifact.startsWith(S3)) {
    return `an S3 bundle (${short(artifact)}) can only be deployed to a Server group; a ${target.platform} group needs an AppSpec file`;
  }
  if (!artifact.startsWith(APPSPEC))
    return `${short(artifact)} is not an AppSpec (a ${target.platform} group needs one)`;
  return artifact.slice(APPSPEC.length).trim() === '' ? 'the AppSpec is empty' : undefined;
}

/**
 * The values an AppSpec (YAML or JSON) gives a property, e.g. every `TaskDefinition: …`: a scan,
 * not a parse (core stays free of a YAML parser), enough for the few scalar properties read here.
 */
export function appSpecValues(content: string, property: string): string[] {
  const pattern = new RegExp(`["']?\\b${property}["']?\\s*:\\s*["']?([^\\s"',}\\]]+)`, 'g');
  return [...content.matchAll(pattern)].flatMap((m) => (m[1] ? [m[1]] : []));
}

const ECS_TASK_DEFINITION = /^arn:aws[a-z-]*:ecs:([a-z0-9-]+):(\d{12}):task-definition\/[A-Za-z0-9_-]{1,255}:\d+$/;

function ecsProblem(content: string, target: CodeDeployTarget): string | undefined {
  const values = appSpecValues(content, 'TaskDefinition');
  if (values.length === 0) return 'the AppSpec names no TaskDefinition (an ECS AppSpec needs the task definition ARN)';
  if (values.some((v) => v.startsWith(S3))) {
    if (values.length > 1)
      return 'the AppSpec names more than one TaskDefinition; one to register is the most it may name';
    return stagedObjectProblem(values[0] as string, 'TaskDefinition', '.json', 'task-definition document', target);
  }
  for (const value of values) {
    const match = ECS_TASK_DEFINITION.exec(value);
    if (!match) {
      return `TaskDefinition ${short(value)} is not a task definition ARN (arn:aws:ecs:<region>:<account>:task-definition/<family>:<revision>) or a task-definition document to register (s3://bucket/key.json)`;
    }
    if (match[1] !== target.awsRegion) {
      return `TaskDefinition ${value} is in ${match[1]}, but the group is in ${target.awsRegion}: task definitions are regional (use {awsRegion} or --artifacts)`;
    }
  }
  return undefined;
}

/**
 * Why an S3 object staging makes a region's build from (an ECS task-definition document, a Lambda
 * code zip) cannot serve `target`: not `s3://bucket/key<ext>`, or a bucket named for another AWS
 * region (Lambda reads a code zip only from a bucket of the function's region; StageAhead reads a
 * document through the target's region).
 */
function stagedObjectProblem(
  value: string,
  property: string,
  extension: string,
  what: string,
  target: CodeDeployTarget,
): string | undefined {
  const s3 = parseS3Url(value);
  if (!s3?.key.toLowerCase().endsWith(extension)) {
    return `${property} ${short(value)} is not a ${what} in S3 (s3://bucket/key${extension})`;
  }
  const named = AWS_REGION.exec(s3.bucket)?.[1];
  if (named !== undefined && named !== target.awsRegion) {
    return `${property} ${short(value)}: bucket ${s3.bucket} is named for ${named}, but the group is in ${target.awsRegion}: staging reads the ${what} from a bucket of the group's region (use {awsRegion} or --artifacts)`;
  }
  return undefined;
}

/**
 * What staging makes in a region before it deploys, when the region's AppSpec names it by where it
 * is made from rather than by what AWS numbered it: an ECS `TaskDefinition: s3://…/taskdef.json`
 * (registered in the region: RegisterTaskDefinition) or a Lambda `TargetVersion: s3://…/code.zip`
 * (published there: UpdateFunctionCode, then PublishVersion). Undefined when the AppSpec names an
 * existing task definition ARN or version number (CI made it), or for any other artifact. The
 * region's deploy then names what staging made (adapters/aws/staged-appspec.ts).
 */
export type StagedBuild = { kind: 'TaskDefinition'; document: string } | { kind: 'LambdaVersion'; code: string };

export function buildToMake(artifact: string, target: RegionTarget): StagedBuild | undefined {
  if (target.kind !== 'codedeploy' || !artifact.startsWith(APPSPEC)) return undefined;
  const content = artifact.slice(APPSPEC.length);
  if (target.platform === 'ECS') {
    const document = appSpecValues(content, 'TaskDefinition').find((v) => v.startsWith(S3));
    return document === undefined ? undefined : { kind: 'TaskDefinition', document };
  }
  if (target.platform === 'Lambda') {
    const code = appSpecValues(content, 'TargetVersion').find((v) => v.startsWith(S3));
    return code === undefined ? undefined : { kind: 'LambdaVersion', code };
  }
  return undefined;
}

const LAMBDA_FUNCTION_ARN =
  /^arn:aws[a-z-]*:lambda:([a-z0-9-]+):(\d{12}):function:[A-Za-z0-9_-]+(?::[A-Za-z0-9$_-]+)?$/;

function lambdaProblem(content: string, target: CodeDeployTarget): string | undefined {
  const names = appSpecValues(content, 'Name');
  if (names.length === 0) return 'the AppSpec names no function (Properties.Name)';
  for (const name of names) {
    if (!name.startsWith('arn:')) continue;
    const match = LAMBDA_FUNCTION_ARN.exec(name);
    if (!match) return `Name ${short(name)} is not a Lambda function ARN`;
    if (match[1] !== target.awsRegion) {
      return `function ${name} is in ${match[1]}, but the group is in ${target.awsRegion}: Lambda versions are regional (use {awsRegion} or --artifacts)`;
    }
  }
  const versions = appSpecValues(content, 'TargetVersion');
  if (versions.length === 0) return 'the AppSpec names no TargetVersion';
  if (versions.some((v) => v.startsWith(S3))) {
    if (versions.length > 1)
      return 'the AppSpec names more than one TargetVersion; one to publish is the most it may name';
    return stagedObjectProblem(versions[0] as string, 'TargetVersion', '.zip', 'code zip', target);
  }
  const bad = versions.find((v) => !/^\d+$/.test(v));
  return bad === undefined
    ? undefined
    : `TargetVersion ${short(bad)} is not a published version number or a code zip to publish (s3://bucket/key.zip)`;
}

/** One S3 bucket lives in one AWS region: Server groups of different AWS regions cannot share a bundle. */
function sharedBuckets(
  regions: FlotillaConfig['regions'],
  revisions: ReadonlyMap<string, Revision>,
): ArtifactProblem[] {
  const byBucket = new Map<string, { region: string; awsRegion: string }[]>();
  for (const { name, target } of regions) {
    if (target.kind !== 'codedeploy' || target.platform !== 'Server') continue;
    const s3 = parseS3Url(revisions.get(name)?.artifact ?? '');
    if (!s3) continue;
    byBucket.set(s3.bucket, [...(byBucket.get(s3.bucket) ?? []), { region: name, awsRegion: target.awsRegion }]);
  }
  return [...byBucket].flatMap(([bucket, users]) => {
    const awsRegions = [...new Set(users.map((u) => u.awsRegion))];
    if (awsRegions.length < 2) return [];
    return [
      {
        region: users.map((u) => u.region).join(', '),
        message: `share the bundle bucket ${bucket} across ${awsRegions.join(', ')}; a bucket is in one AWS region and CodeDeploy reads from the group's own: use s3://…{awsRegion}… or --artifacts`,
      },
    ];
  });
}

/** Marks each Server region whose bundle is not the source itself as one to copy into. */
function applyCopyFrom(
  copyFrom: string,
  regions: FlotillaConfig['regions'],
  revisions: Map<string, Revision>,
): ArtifactProblem[] {
  const source = parseS3Url(copyFrom);
  if (!source || !/\.(zip|tar|tar\.gz|tgz)$/i.test(source.key)) {
    return [{ region: '--copy-from', message: `${short(copyFrom)} is not an S3 bundle (s3://bucket/key.zip)` }];
  }
  const servers = regions.filter((r) => r.target.kind === 'codedeploy' && r.target.platform === 'Server');
  if (servers.length === 0) {
    return [
      { region: '--copy-from', message: 'no region of the config is a CodeDeploy Server group to copy a bundle into' },
    ];
  }
  for (const { name } of servers) {
    const revision = revisions.get(name);
    if (revision?.artifact.startsWith(S3) && revision.artifact !== copyFrom) {
      revisions.set(name, { ...revision, copyFrom });
    }
  }
  return [];
}

function short(text: string): string {
  return text.length > 80 ? `${text.slice(0, 80)}…` : text;
}
