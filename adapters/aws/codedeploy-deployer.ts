/**
 * RegionDeployer on AWS CodeDeploy: one deployment group per region. Flotilla starts a deployment,
 * the region's child waits until its state-change event (or a re-check) says it ended, and a
 * rollback is simply a new deployment of the region's last-known-good revision (CodeDeploy cannot
 * "remove" a revision).
 *
 * Artifacts (Revision.artifact), one for each of CodeDeploy's RevisionLocation types:
 *   s3://bucket/key.zip[?version=<S3 version id>&etag=<ETag>]   S3 bundle (.zip, .tar, .tar.gz/.tgz): Server only
 *   s3://bucket/appspec.yaml[?version=…&etag=…]                  S3 AppSpec file (.yaml/.yml, .json): Lambda and ECS only
 *   s3://bucket/key?bundle=<zip|tar|tgz|YAML|JSON>               the bundle type named, for a key without its extension
 *                                                                 (what a group deployed outside Flotilla may report)
 *   appspec:<AppSpec YAML or JSON>                                AppSpecContent: Lambda and ECS only (the
 *                                                                 deprecated String type reads back as this too)
 *   github:<owner/repo>@<commit>                                  GitHub revision: Server only (read back from groups
 *                                                                 deployed outside Flotilla, so a rollback can reuse it)
 *
 * A rollback redeploys the region's last-known-good revision as recorded (ECS, Server), except on
 * Lambda: there the AppSpec names the version the alias shifts *from*, which the recorded one has
 * stale, so the rollback reads the alias's live version (Lambda GetAlias) and deploys the last good
 * AppSpec shifting from it (adapters/aws/lambda-rollback.ts, deciding with core/appspec.ts). That
 * part is handed in (`lambdaRollback`): only the handler that starts deployments carries it, so
 * the Lambda client and the YAML parser stay out of every other bundle.
 *
 * The deployment's description is `flotilla <service> <version> <releaseId> <purpose>`: it is how
 * currentRevision() reads a version back, and how a retried start adopts its own deployment.
 */
import { createHash } from 'node:crypto';
import {
  type CodeDeployClient,
  type DeploymentStatus as CodeDeployStatus,
  ContinueDeploymentCommand,
  CreateDeploymentCommand,
  type DeploymentInfo,
  GetDeploymentCommand,
  GetDeploymentGroupCommand,
  ListDeploymentsCommand,
  type RevisionLocation,
  StopDeploymentCommand,
} from '@aws-sdk/client-codedeploy';
import type { CodeDeployTarget, RegionTarget } from '../../config/types.ts';
import { buildToMake } from '../../core/artifacts.ts';
import { readDeploymentStatus } from '../../core/deployment-status.ts';
import type {
  DeploymentRef,
  DeploymentRequest,
  DeploymentStatus,
  RegionDeployer,
  Revision,
  StageRef,
  StageStatus,
} from '../../ports/region-deployer.ts';
import type { AwsClients } from './clients.ts';
import {
  awsCall,
  DeploymentGroupBusy,
  DeploymentNotFound,
  errorMessage,
  errorName,
  InvalidRevision,
  namedError,
  UnsupportedRollback,
  UnsupportedTarget,
} from './errors.ts';
import { stagedStatus } from './stage-id.ts';

/** Statuses of a deployment that still holds its group (CodeDeploy allows one per group). */
export const ACTIVE_STATUSES: CodeDeployStatus[] = ['Created', 'Queued', 'InProgress', 'Ready', 'Baking'];

/**
 * What CodeDeploy's CreateDeployment throws when the group already runs a deployment. There is no
 * "DeploymentAlreadyStarted" error in CodeDeploy: the one-per-group rule surfaces as
 * DeploymentLimitExceededException ("The Deployment Group 'g' already has an active Deployment 'd-…'").
 */
export const GROUP_BUSY_SDK_ERROR = 'DeploymentLimitExceededException';

const DESCRIPTION_PREFIX = 'flotilla ';

/**
 * The id startDeployment returns for a Lambda rollback with nothing to shift (the alias already
 * serves the last good version): no CodeDeploy deployment exists, and it reads as Succeeded.
 * CodeDeploy's own ids are `d-` and nine characters, so the two never meet.
 */
export const ALREADY_LIVE_PREFIX = 'flotilla-already-live:';

/** The revision that rolls a Lambda region back (adapters/aws/lambda-rollback.ts). */
export interface LambdaRollbackSource {
  revision(
    target: CodeDeployTarget,
    lastGood: RevisionLocation,
    artifact: string,
  ): Promise<{ kind: 'Deploy'; revision: RevisionLocation } | { kind: 'AlreadyLive'; version: string }>;
}

/**
 * The revision of a region whose AppSpec names a build staging makes (core/artifacts.ts
 * `buildToMake`): that AppSpec naming what StageAhead made there (adapters/aws/staged-appspec.ts).
 */
export interface StagedRevisionSource {
  revision(
    target: CodeDeployTarget,
    region: string,
    artifact: string,
    stageId: string | undefined,
  ): Promise<{ kind: 'Deploy'; revision: RevisionLocation } | { kind: 'AlreadyLive'; version: string }>;
}

export interface CodeDeployDeployerOptions {
  clients: AwsClients;
  /** Needed to start a Lambda rollback; a deployer without it refuses one (UnsupportedRollback). */
  lambdaRollback?: LambdaRollbackSource;
  /** Needed to deploy a staged build (a registered task definition, a published version); without it one is refused. */
  staged?: StagedRevisionSource;
  /** Pause before the one re-try of a create whose busy group had emptied meanwhile. */
  sleep?: (ms: number) => Promise<void>;
}

export class CodeDeployDeployer implements RegionDeployer {
  readonly #clients: AwsClients;
  readonly #sleep: (ms: number) => Promise<void>;
  readonly #lambdaRollback: LambdaRollbackSource | undefined;
  readonly #staged: StagedRevisionSource | undefined;

  constructor(options: CodeDeployDeployerOptions) {
    this.#clients = options.clients;
    this.#lambdaRollback = options.lambdaRollback;
    this.#staged = options.staged;
    this.#sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  async startDeployment(request: DeploymentRequest): Promise<{ deploymentId: string }> {
    const target = codedeployTarget(request.target, request.region);
    if (request.revision === null) {
      throw namedError(UnsupportedRollback, `${request.region} had no earlier revision to roll back to`);
    }
    const wanted = request.revision;
    const where = `CodeDeploy ${target.application}/${target.deploymentGroup} in ${target.awsRegion}`;
    const location = toRevisionLocation(wanted.artifact, target.platform);
    let revision = location;
    if (request.purpose === 'deploy' && buildToMake(wanted.artifact, target) !== undefined) {
      if (this.#staged === undefined) {
        throw namedError(
          InvalidRevision,
          `${request.region}: this deployer was built without staged builds (adapters/aws/staged-appspec.ts)`,
        );
      }
      const staged = await this.#staged.revision(target, request.region, wanted.artifact, request.stageId);
      if (staged.kind === 'AlreadyLive') {
        return { deploymentId: `${ALREADY_LIVE_PREFIX}${target.awsRegion}:${staged.version}` };
      }
      revision = staged.revision;
    }
    if (request.purpose === 'rollback' && target.platform === 'Lambda') {
      if (this.#lambdaRollback === undefined) {
        throw namedError(
          UnsupportedRollback,
          `${request.region}: this deployer was built without Lambda rollback (adapters/aws/lambda-rollback.ts)`,
        );
      }
      const rollback = await this.#lambdaRollback.revision(target, location, wanted.artifact);
      if (rollback.kind === 'AlreadyLive') {
        return { deploymentId: `${ALREADY_LIVE_PREFIX}${target.awsRegion}:${rollback.version}` };
      }
      revision = rollback.revision;
    }
    const description = describe(request, wanted);
    const client = this.#client(target);

    // Two tries: a busy group whose active deployment ends before we list it gets one more create.
    for (let attempt = 1; ; attempt++) {
      try {
        const out = await awsCall(`${where}: CreateDeployment`, () =>
          client.send(
            new CreateDeploymentCommand({
              applicationName: target.application,
              deploymentGroupName: target.deploymentGroup,
              revision,
              description,
            }),
          ),
        );
        if (!out.deploymentId) throw new Error(`${where}: CreateDeployment returned no deployment id`);
        return { deploymentId: out.deploymentId };
      } catch (error) {
        if (errorName(error) !== GROUP_BUSY_SDK_ERROR) throw error;
        const active = await this.#activeDeployments(client, target, where);
        const own = active.find((d) => sameRequest(d.description, request, wanted));
        if (own?.deploymentId) return { deploymentId: own.deploymentId };
        if (active.length === 0 && attempt < 2) {
          // The active deployment ended between CreateDeployment and ListDeployments: try once more.
          await this.#sleep(1000);
          continue;
        }
        const other = active[0]?.deploymentId ?? activeIdFromMessage(errorMessage(error));
        throw namedError(
          DeploymentGroupBusy,
          other === undefined
            ? `${where} refused a new deployment: ${errorMessage(error)}`
            : `${where} is busy with deployment ${other} (not this request's); will retry`,
          error,
        );
      }
    }
  }

  /**
   * Staging ahead on AWS runs in StageAhead (adapters/aws/revision-stager.ts), which records how
   * it went in its stage id; EnterWave reads it here, with no AWS call.
   */
  async awaitStaging(ref: StageRef): Promise<StageStatus> {
    return stagedStatus(ref.stageId);
  }

  async getDeployment(ref: DeploymentRef): Promise<DeploymentStatus> {
    const target = codedeployTarget(ref.target, ref.region);
    if (ref.deploymentId.startsWith(ALREADY_LIVE_PREFIX)) return { status: 'Succeeded' };
    const client = this.#client(target);
    const info = await this.#deployment(client, target, ref.deploymentId);
    const reading = readDeploymentStatus(info);
    if (reading.continueWith !== undefined)
      await this.#continue(client, target, ref.deploymentId, reading.continueWith);
    return reading.phase;
  }

  async currentRevision(region: string, target: RegionTarget): Promise<Revision | null> {
    const t = codedeployTarget(target, region);
    const client = this.#client(t);
    const where = `CodeDeploy ${t.application}/${t.deploymentGroup} in ${t.awsRegion}`;
    const group = await awsCall(`${where}: GetDeploymentGroup`, () =>
      client.send(
        new GetDeploymentGroupCommand({ applicationName: t.application, deploymentGroupName: t.deploymentGroup }),
      ),
    );
    const lastId = group.deploymentGroupInfo?.lastSuccessfulDeployment?.deploymentId;
    if (!lastId) return null;
    const info = await this.#deployment(client, t, lastId);
    if (!info.revision) throw new Error(`${where}: deployment ${lastId} has no revision`);
    return { version: versionOf(info.description) ?? lastId, artifact: fromRevisionLocation(info.revision) };
  }

  async stopDeployment(ref: DeploymentRef): Promise<void> {
    const target = codedeployTarget(ref.target, ref.region);
    if (ref.deploymentId.startsWith(ALREADY_LIVE_PREFIX)) return;
    const client = this.#client(target);
    try {
      // No CodeDeploy auto-rollback: Flotilla itself rolls back every region the release touched.
      await awsCall(`CodeDeploy StopDeployment ${ref.deploymentId} in ${target.awsRegion}`, () =>
        client.send(new StopDeploymentCommand({ deploymentId: ref.deploymentId, autoRollbackEnabled: false })),
      );
    } catch (error) {
      const name = errorName(error);
      if (name === 'DeploymentAlreadyCompletedException') return;
      if (name === 'DeploymentDoesNotExistException') throw notFound(ref.deploymentId, target, error);
      throw error;
    }
  }

  /**
   * Starts the traffic reroute of a blue/green deployment waiting at Ready. One that is no longer
   * Ready (someone continued it, it moved on) or already ended is reported by the next read.
   */
  async #continue(
    client: CodeDeployClient,
    target: CodeDeployTarget,
    deploymentId: string,
    deploymentWaitType: 'READY_WAIT',
  ): Promise<void> {
    try {
      await awsCall(`CodeDeploy ContinueDeployment ${deploymentId} in ${target.awsRegion}`, () =>
        client.send(new ContinueDeploymentCommand({ deploymentId, deploymentWaitType })),
      );
    } catch (error) {
      const name = errorName(error);
      if (name === 'DeploymentIsNotInReadyStateException' || name === 'DeploymentAlreadyCompletedException') return;
      if (name === 'DeploymentDoesNotExistException') throw notFound(deploymentId, target, error);
      throw error;
    }
  }

  #client(target: CodeDeployTarget): CodeDeployClient {
    return this.#clients.codedeploy(target.awsRegion, target.roleArn);
  }

  async #deployment(client: CodeDeployClient, target: CodeDeployTarget, deploymentId: string): Promise<DeploymentInfo> {
    try {
      const out = await awsCall(`CodeDeploy GetDeployment ${deploymentId} in ${target.awsRegion}`, () =>
        client.send(new GetDeploymentCommand({ deploymentId })),
      );
      if (!out.deploymentInfo) throw notFound(deploymentId, target);
      return out.deploymentInfo;
    } catch (error) {
      if (errorName(error) === 'DeploymentDoesNotExistException') throw notFound(deploymentId, target, error);
      throw error;
    }
  }

  /** The group's active deployments, newest information first as CodeDeploy lists them. */
  async #activeDeployments(
    client: CodeDeployClient,
    target: CodeDeployTarget,
    where: string,
  ): Promise<DeploymentInfo[]> {
    const ids: string[] = [];
    let nextToken: string | undefined;
    do {
      const page = await awsCall(`${where}: ListDeployments`, () =>
        client.send(
          new ListDeploymentsCommand({
            applicationName: target.application,
            deploymentGroupName: target.deploymentGroup,
            includeOnlyStatuses: ACTIVE_STATUSES,
            ...(nextToken !== undefined ? { nextToken } : {}),
          }),
        ),
      );
      ids.push(...(page.deployments ?? []));
      nextToken = page.nextToken || undefined;
    } while (nextToken !== undefined);

    const infos: DeploymentInfo[] = [];
    for (const id of ids) {
      try {
        const info = await this.#deployment(client, target, id);
        // It may have finished between the list and now: then it no longer holds the group.
        if (info.status === undefined || ACTIVE_STATUSES.includes(info.status)) infos.push(info);
      } catch (error) {
        if (errorName(error) !== DeploymentNotFound) throw error;
      }
    }
    return infos;
  }
}

function codedeployTarget(target: RegionTarget, region: string): CodeDeployTarget {
  if (target.kind !== 'codedeploy') {
    throw namedError(UnsupportedTarget, `${region}: the CodeDeploy deployer cannot drive a ${target.kind} target`);
  }
  return target;
}

function notFound(deploymentId: string, target: CodeDeployTarget, cause?: unknown): Error {
  return namedError(
    DeploymentNotFound,
    `CodeDeploy has no deployment ${deploymentId} in ${target.awsRegion} (${target.application}/${target.deploymentGroup})`,
    cause,
  );
}

// ---- status ---------------------------------------------------------------------------------------

/** CodeDeploy's status as the port's (core/deployment-status.ts decides; a Ready one is also continued). */
export function statusOf(info: DeploymentInfo): DeploymentStatus {
  return readDeploymentStatus(info).phase;
}

// ---- description --------------------------------------------------------------------------------

function describe(request: DeploymentRequest, revision: Revision): string {
  return `${DESCRIPTION_PREFIX}${request.service} ${revision.version} ${request.releaseId} ${request.purpose}`;
}

/** The version a Flotilla description names, or null for a deployment made by someone else. */
export function versionOf(description: string | undefined): string | null {
  if (!description?.startsWith(DESCRIPTION_PREFIX)) return null;
  const version = description.split(' ')[2];
  return version ? version : null;
}

/** True when the description is the one this very request would write: a retry of it. */
function sameRequest(description: string | undefined, request: DeploymentRequest, revision: Revision): boolean {
  return description === describe(request, revision);
}

/** The active deployment id CodeDeploy names in its error message, when it does. */
function activeIdFromMessage(message: string): string | undefined {
  return /(?:already has an active Deployment|is already deploying)\s+'?(d-[A-Z0-9]+)/i.exec(message)?.[1];
}

// ---- revisions ----------------------------------------------------------------------------------

const S3_PREFIX = 's3://';
const APPSPEC_PREFIX = 'appspec:';
const GITHUB_PREFIX = 'github:';

export function invalid(message: string): Error {
  return namedError(InvalidRevision, message);
}

/** An artifact string as a CodeDeploy RevisionLocation for the target's platform. */
export function toRevisionLocation(artifact: string, platform: CodeDeployTarget['platform']): RevisionLocation {
  if (artifact.startsWith(S3_PREFIX)) {
    const s3Location = parseS3(artifact);
    const appSpecFile = s3Location.bundleType === 'YAML' || s3Location.bundleType === 'JSON';
    if (appSpecFile && platform === 'Server') {
      throw invalid(
        `an AppSpec file in S3 (${short(artifact)}) can only be deployed to a Lambda or ECS group; a Server group needs a bundle (s3://bucket/key.zip, .tar or .tgz)`,
      );
    }
    if (!appSpecFile && platform !== 'Server') {
      throw invalid(
        `an S3 bundle (${short(artifact)}) can only be deployed to a Server (EC2/on-premises) group; a ${platform} group needs "appspec:<content>" or an AppSpec file in S3 (s3://bucket/appspec.yaml or .json)`,
      );
    }
    return { revisionType: 'S3', s3Location };
  }
  if (artifact.startsWith(APPSPEC_PREFIX)) {
    if (platform === 'Server') {
      throw invalid(
        'AppSpec content can only be deployed to a Lambda or ECS group; a Server group needs "s3://bucket/key.zip"',
      );
    }
    const content = artifact.slice(APPSPEC_PREFIX.length);
    if (content.trim() === '') throw invalid('"appspec:" has no AppSpec content after it');
    return { revisionType: 'AppSpecContent', appSpecContent: { content, sha256: sha256(content) } };
  }
  if (artifact.startsWith(GITHUB_PREFIX)) {
    if (platform !== 'Server') throw invalid(`a GitHub revision (${artifact}) can only be deployed to a Server group`);
    const match = /^github:([^@\s]+\/[^@\s]+)@([0-9a-f]{7,40})$/i.exec(artifact);
    if (!match?.[1] || !match[2]) throw invalid(`"${artifact}" is not github:<owner>/<repo>@<commit>`);
    return { revisionType: 'GitHub', gitHubLocation: { repository: match[1], commitId: match[2] } };
  }
  throw invalid(
    `"${short(artifact)}" is not a CodeDeploy revision: use s3://bucket/key.zip (Server) or appspec:<content> (Lambda, ECS)`,
  );
}

/** The artifact string for a revision CodeDeploy reports: the inverse of toRevisionLocation. */
export function fromRevisionLocation(revision: RevisionLocation): string {
  switch (revision.revisionType) {
    case 'S3': {
      const s3 = revision.s3Location;
      if (!s3?.bucket || !s3.key) throw invalid('CodeDeploy reported an S3 revision without bucket or key');
      const query = new URLSearchParams();
      if (s3.version) query.set('version', s3.version);
      if (s3.eTag) query.set('etag', s3.eTag);
      if (s3.bundleType && bundleTypeOf(s3.key) !== s3.bundleType) query.set('bundle', s3.bundleType);
      const q = query.toString();
      return `${S3_PREFIX}${s3.bucket}/${s3.key}${q ? `?${q}` : ''}`;
    }
    case 'AppSpecContent':
      return `${APPSPEC_PREFIX}${revision.appSpecContent?.content ?? ''}`;
    case 'String':
      // The deprecated RawString form of AppSpec content (Lambda deployments made by older tools).
      return `${APPSPEC_PREFIX}${revision.string?.content ?? ''}`;
    case 'GitHub': {
      const gh = revision.gitHubLocation;
      if (!gh?.repository || !gh.commitId)
        throw invalid('CodeDeploy reported a GitHub revision without repository or commit');
      return `${GITHUB_PREFIX}${gh.repository}@${gh.commitId}`;
    }
    default:
      throw invalid(
        `CodeDeploy reported a ${revision.revisionType ?? 'typeless'} revision, which Flotilla cannot redeploy`,
      );
  }
}

function parseS3(artifact: string): NonNullable<RevisionLocation['s3Location']> {
  const rest = artifact.slice(S3_PREFIX.length);
  const q = rest.indexOf('?');
  const path = q === -1 ? rest : rest.slice(0, q);
  const slash = path.indexOf('/');
  const bucket = slash === -1 ? path : path.slice(0, slash);
  const key = slash === -1 ? '' : path.slice(slash + 1);
  if (bucket === '' || key === '') throw invalid(`"${artifact}" is not s3://<bucket>/<key>`);
  const found: { version?: string; eTag?: string } = {};
  let named: BundleType | undefined;
  if (q !== -1) {
    for (const [name, value] of new URLSearchParams(rest.slice(q + 1))) {
      if (value === '') throw invalid(`"${artifact}": ${name} is empty`);
      if (name === 'version') found.version = value;
      else if (name === 'etag') found.eTag = value;
      else if (name === 'bundle') {
        named = BUNDLE_TYPES.find((t) => t === value);
        if (named === undefined)
          throw invalid(`"${artifact}": bundle "${value}" is not one of ${BUNDLE_TYPES.join(', ')}`);
      } else throw invalid(`"${artifact}": unknown query parameter "${name}" (only version, etag and bundle)`);
    }
  }
  const bundleType = named ?? bundleTypeOf(key);
  if (bundleType === undefined) {
    throw invalid(
      `"${artifact}": the key must end in .zip, .tar, .tar.gz or .tgz (a bundle) or .yaml, .yml or .json (an AppSpec file), or name its type with ?bundle=`,
    );
  }
  return { bucket, key, bundleType, ...found };
}

/** CodeDeploy's S3 bundle types: archives for Server groups, AppSpec files for Lambda and ECS. */
const BUNDLE_TYPES = ['zip', 'tar', 'tgz', 'YAML', 'JSON'] as const;
type BundleType = (typeof BUNDLE_TYPES)[number];

function bundleTypeOf(key: string): BundleType | undefined {
  const k = key.toLowerCase();
  if (k.endsWith('.zip')) return 'zip';
  if (k.endsWith('.tar.gz') || k.endsWith('.tgz')) return 'tgz';
  if (k.endsWith('.tar')) return 'tar';
  if (k.endsWith('.yaml') || k.endsWith('.yml')) return 'YAML';
  if (k.endsWith('.json')) return 'JSON';
  return undefined;
}

export function sha256(content: string): string {
  return createHash('sha256').update(content, 'utf8').digest('hex');
}

export function short(text: string): string {
  return text.length > 80 ? `${text.slice(0, 80)}…` : text;
}
