/**
 * Staging ahead on AWS (the staging part of the RegionDeployer port): before the waves that need
 * it, put each region's build where its group deploys it from, switching nothing, so a missing or
 * broken build is reported before its wave (EnterWave, core/staging.ts), never halfway through it.
 *
 *   Server, with `copyFrom`   S3 CopyObject of the one bundle CI uploaded into the region's own
 *                             bucket (the release's `{awsRegion}` location), marked with the release
 *                             (`x-amz-meta-flotilla-staged-for`); an object already there is used as
 *                             is and never overwritten.
 *   Server, no `copyFrom`     HeadObject: the region's bundle must be in its bucket already.
 *   ECS, `TaskDefinition:     GetObject of the task-definition document (JSON: RegisterTaskDefinition's
 *   s3://…json`               input, `{awsRegion}` and `{region}` filled in), RegisterTaskDefinition in
 *                             the region, tagged `flotilla-staged-for: <release>`; a retried staging
 *                             reuses the family's latest revision if that tag names this release.
 *   Lambda, `TargetVersion:   UpdateFunctionCode of $LATEST from the zip (guarded by the function's
 *   s3://…zip`                RevisionId), then PublishVersion guarded by the CodeSha256 and RevisionId
 *                             that update left, described `flotilla-staged-for <release>`: a change
 *                             made to the function meanwhile is refused, never published. The alias
 *                             is not touched: CodeDeploy shifts it at the region's wave.
 *   other ECS, Lambda, GitHub nothing: AppSpec content travels in CreateDeployment itself, and the
 *                             task definition or version it names is CI's.
 *
 * Staging is done inside the call (a Lambda leaves nothing running after it returns), so the stage
 * id says how it went and what it made (adapters/aws/stage-id.ts). Cleanup removes only what a
 * release made itself: the object whose marker, the task definition whose tag, the version whose
 * description names that release; never a version an alias serves.
 *
 * S3 goes through signed requests (adapters/aws/signed-s3.ts), not the S3 client: with the ECS and
 * Lambda clients the S3 client would take StageAhead's and UnstageRelease's bundles past 600 KiB.
 */
import {
  DeregisterTaskDefinitionCommand,
  DescribeTaskDefinitionCommand,
  type ECSClient,
  RegisterTaskDefinitionCommand,
  type RegisterTaskDefinitionCommandInput,
} from '@aws-sdk/client-ecs';
import {
  DeleteFunctionCommand,
  GetFunctionConfigurationCommand,
  type LambdaClient,
  ListAliasesCommand,
  PublishVersionCommand,
  UpdateFunctionCodeCommand,
} from '@aws-sdk/client-lambda';
import type { CodeDeployTarget, RegionTarget } from '../../config/types.ts';
import { appSpecValues, buildToMake, parseS3Url } from '../../core/artifacts.ts';
import type { RegionDeployer, Revision, StageRef, StageRequest, StageStatus } from '../../ports/region-deployer.ts';
import { awsCall, errorMessage, errorName, InvalidRevision, namedError, UnsupportedTarget } from './errors.ts';
import { type SignedS3, s3Reason } from './signed-s3.ts';
import { stagedMade, stagedStatus, stageId } from './stage-id.ts';

/** The S3 user metadata key (`x-amz-meta-…`), and the ECS tag key, naming the release that made a thing. */
export const STAGED_FOR = 'flotilla-staged-for';

/** The description of a Lambda version a release published (PublishVersion's Description). */
export const publishedDescription = (releaseId: string) => `${STAGED_FOR} ${releaseId}`;

/** A client of a target's AWS region, through the target's role when it names one. */
export type ClientFor<C> = (awsRegion: string, roleArn?: string) => C;

export interface RevisionStagerOptions {
  s3: Pick<SignedS3, 'head' | 'getText' | 'copy' | 'delete'>;
  /** Needed to register (and deregister) task definitions; without it an ECS build to register fails its staging. */
  ecs?: ClientFor<ECSClient>;
  /** Needed to publish (and delete) Lambda versions. */
  lambda?: ClientFor<LambdaClient>;
  /** Pause between reads of a function whose code update is still in progress. */
  sleep?: (ms: number) => Promise<void>;
}

/** RegisterTaskDefinition's input keys: a document naming others (a DescribeTaskDefinition output) is refused. */
const TASK_DEFINITION_KEYS = new Set([
  'family',
  'taskRoleArn',
  'executionRoleArn',
  'networkMode',
  'containerDefinitions',
  'volumes',
  'placementConstraints',
  'requiresCompatibilities',
  'cpu',
  'memory',
  'tags',
  'pidMode',
  'ipcMode',
  'proxyConfiguration',
  'inferenceAccelerators',
  'ephemeralStorage',
  'runtimePlatform',
  'enableFaultInjection',
]);

/** How long staging waits for a function's code update to finish before it gives up (its Lambda has 300 s). */
const UPDATE_WAIT_MS = 120_000;

/** StageAhead and UnstageRelease use it alone: their bundles carry no CodeDeploy. */
export class AwsRevisionStager
  implements Required<Pick<RegionDeployer, 'startStaging' | 'awaitStaging' | 'removeStaged'>>
{
  readonly #s3: RevisionStagerOptions['s3'];
  readonly #ecs: ClientFor<ECSClient> | undefined;
  readonly #lambda: ClientFor<LambdaClient> | undefined;
  readonly #sleep: (ms: number) => Promise<void>;

  constructor(options: RevisionStagerOptions) {
    this.#s3 = options.s3;
    this.#ecs = options.ecs;
    this.#lambda = options.lambda;
    this.#sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  /** Stages the revision in the target's region; never throws for a staging that failed: the id says so. */
  async startStaging(request: StageRequest): Promise<{ stageId: string }> {
    const target = codedeployTarget(request.target, request.region);
    try {
      return { stageId: await this.#stage(target, request) };
    } catch (error) {
      return { stageId: stageId.failed(errorMessage(error)) };
    }
  }

  /** How a staging went, from its id: it ran to its end inside startStaging. */
  async awaitStaging(ref: StageRef): Promise<StageStatus> {
    return stagedStatus(ref.stageId);
  }

  /** Removes what this very release made in the region (its marker says so). Idempotent. */
  async removeStaged(request: StageRequest): Promise<void> {
    const { revision } = request;
    const target = codedeployTarget(request.target, request.region);
    const made = stagedMade(request.stageId);
    if (made?.kind === 'TaskDefinition') return this.#deregister(target, made.arn, request.releaseId);
    if (made?.kind === 'LambdaVersion') {
      if (made.created) await this.#deleteVersion(target, made.functionArn, made.version, request.releaseId);
      return;
    }
    if (target.platform !== 'Server' || revision.copyFrom === undefined) return;
    const to = this.#object(target, revision.artifact);
    const head = await this.#s3.head(to);
    if (head?.[STAGED_FOR] !== request.releaseId) return;
    await this.#s3.delete(to);
  }

  async #stage(target: CodeDeployTarget, request: StageRequest): Promise<string> {
    const { revision, releaseId } = request;
    const build = buildToMake(revision.artifact, target);
    if (build?.kind === 'TaskDefinition') return this.#register(target, request, build.document);
    if (build?.kind === 'LambdaVersion') return this.#publish(target, revision, releaseId, build.code);
    if (target.platform !== 'Server' || !revision.artifact.startsWith('s3://')) {
      return stageId.checked(`nothing to stage for a ${target.platform} revision`);
    }
    const to = this.#object(target, revision.artifact);
    if (await this.#s3.head(to)) return stageId.present(revision.artifact);
    if (revision.copyFrom === undefined) throw new Error(`${revision.artifact} is not in ${target.awsRegion}'s bucket`);
    try {
      await this.#s3.copy(s3Of(revision.copyFrom), to, { [STAGED_FOR]: releaseId });
    } catch (error) {
      throw new Error(`copying ${revision.copyFrom} into ${revision.artifact} failed: ${s3Reason(error)}`);
    }
    return stageId.copied(revision.artifact);
  }

  async #register(target: CodeDeployTarget, request: StageRequest, document: string): Promise<string> {
    const ecs = this.#client(this.#ecs, 'ECS', target);
    const text = await this.#s3.getText(this.#object(target, document));
    const input = taskDefinitionInput(
      text.replaceAll('{awsRegion}', target.awsRegion).replaceAll('{region}', request.region),
      document,
    );
    const where = `ECS task definition ${input.family} in ${target.awsRegion}`;
    // A retried StageAhead finds the revision its first try registered (the family's latest, tagged with this release).
    const latest = await describeTaskDefinition(ecs, input.family as string, where);
    const latestArn = latest?.taskDefinition?.taskDefinitionArn;
    if (latestArn && latest?.tags?.some((t) => t.key === STAGED_FOR && t.value === request.releaseId)) {
      return stageId.registered(latestArn);
    }
    const out = await awsCall(`${where}: RegisterTaskDefinition`, () =>
      ecs.send(
        new RegisterTaskDefinitionCommand({
          ...input,
          tags: [
            ...(input.tags ?? []).filter((t) => t.key !== STAGED_FOR),
            { key: STAGED_FOR, value: request.releaseId },
          ],
        }),
      ),
    );
    const arn = out.taskDefinition?.taskDefinitionArn;
    if (!arn) throw new Error(`${where}: RegisterTaskDefinition returned no ARN`);
    return stageId.registered(arn);
  }

  async #publish(target: CodeDeployTarget, revision: Revision, releaseId: string, code: string): Promise<string> {
    const lambda = this.#client(this.#lambda, 'Lambda', target);
    const content = revision.artifact.slice('appspec:'.length);
    const functionName = appSpecValues(content, 'Name')[0];
    if (!functionName) throw namedError(InvalidRevision, 'the Lambda AppSpec names no function (Properties.Name)');
    const zip = s3Of(code);
    const where = `Lambda ${functionName} in ${target.awsRegion}`;
    const before = await awsCall(`${where}: GetFunctionConfiguration`, () =>
      lambda.send(new GetFunctionConfigurationCommand({ FunctionName: functionName })),
    );
    const updated = await refused(`${where}: UpdateFunctionCode`, () =>
      lambda.send(
        new UpdateFunctionCodeCommand({
          FunctionName: functionName,
          S3Bucket: zip.bucket,
          S3Key: zip.key,
          Publish: false,
          ...(before.RevisionId ? { RevisionId: before.RevisionId } : {}),
        }),
      ),
    );
    const settled = await this.#settled(lambda, functionName, where);
    if (updated.CodeSha256 === undefined || settled.CodeSha256 !== updated.CodeSha256) {
      throw new Error(`${where}: its code changed while ${code} was being staged; not published`);
    }
    const published = await refused(`${where}: PublishVersion`, () =>
      lambda.send(
        new PublishVersionCommand({
          FunctionName: functionName,
          CodeSha256: updated.CodeSha256,
          ...(settled.RevisionId ? { RevisionId: settled.RevisionId } : {}),
          Description: publishedDescription(releaseId),
        }),
      ),
    );
    const version = published.Version;
    const arn = published.FunctionArn;
    if (!version || !/^\d+$/.test(version) || !arn) throw new Error(`${where}: PublishVersion returned no version`);
    const functionArn = arn.endsWith(`:${version}`) ? arn.slice(0, -version.length - 1) : arn;
    // Lambda publishes nothing when code and configuration are those of the latest version: it
    // returns that version, described as whoever published it.
    return published.Description === publishedDescription(releaseId)
      ? stageId.published(functionArn, version)
      : stageId.found(functionArn, version);
  }

  /** The function's configuration once its code update has finished (LastUpdateStatus no longer InProgress). */
  async #settled(lambda: LambdaClient, functionName: string, where: string) {
    for (let waited = 0; ; waited += 1000) {
      const config = await awsCall(`${where}: GetFunctionConfiguration`, () =>
        lambda.send(new GetFunctionConfigurationCommand({ FunctionName: functionName })),
      );
      if (config.LastUpdateStatus === 'Failed') {
        throw new Error(`${where}: the code update failed: ${config.LastUpdateStatusReason ?? 'no reason given'}`);
      }
      if (config.LastUpdateStatus !== 'InProgress') return config;
      if (waited >= UPDATE_WAIT_MS)
        throw new Error(`${where}: the code update was still in progress after ${UPDATE_WAIT_MS / 1000} s`);
      await this.#sleep(1000);
    }
  }

  async #deregister(target: CodeDeployTarget, arn: string, releaseId: string): Promise<void> {
    const ecs = this.#client(this.#ecs, 'ECS', target);
    const where = `ECS task definition ${arn}`;
    const found = await describeTaskDefinition(ecs, arn, where);
    if (found?.taskDefinition?.status !== 'ACTIVE') return;
    if (!found.tags?.some((t) => t.key === STAGED_FOR && t.value === releaseId)) return;
    await awsCall(`${where}: DeregisterTaskDefinition`, () =>
      ecs.send(new DeregisterTaskDefinitionCommand({ taskDefinition: arn })),
    );
  }

  async #deleteVersion(target: CodeDeployTarget, functionArn: string, version: string, releaseId: string) {
    const lambda = this.#client(this.#lambda, 'Lambda', target);
    const where = `Lambda ${functionArn}:${version}`;
    let config: { Description?: string } | undefined;
    try {
      config = await awsCall(`${where}: GetFunctionConfiguration`, () =>
        lambda.send(new GetFunctionConfigurationCommand({ FunctionName: functionArn, Qualifier: version })),
      );
    } catch (error) {
      if (errorName(error) === 'ResourceNotFoundException') return;
      throw error;
    }
    if (config.Description !== publishedDescription(releaseId)) return;
    // Lambda refuses to delete a version an alias references; a weighted one counts too. Checked
    // first, so a version some alias serves is never touched.
    for (let marker: string | undefined; ; ) {
      const page = await awsCall(`${where}: ListAliases`, () =>
        lambda.send(new ListAliasesCommand({ FunctionName: functionArn, ...(marker ? { Marker: marker } : {}) })),
      );
      const served = (page.Aliases ?? []).some(
        (a) => a.FunctionVersion === version || a.RoutingConfig?.AdditionalVersionWeights?.[version] !== undefined,
      );
      if (served) return;
      marker = page.NextMarker;
      if (!marker) break;
    }
    await awsCall(`${where}: DeleteFunction`, () =>
      lambda.send(new DeleteFunctionCommand({ FunctionName: functionArn, Qualifier: version })),
    );
  }

  #client<C>(make: ClientFor<C> | undefined, service: string, target: CodeDeployTarget): C {
    if (!make) throw namedError(UnsupportedTarget, `this stager was built without an ${service} client`);
    return make(target.awsRegion, target.roleArn);
  }

  #object(target: CodeDeployTarget, url: string) {
    return { awsRegion: target.awsRegion, ...(target.roleArn ? { roleArn: target.roleArn } : {}), ...s3Of(url) };
  }
}

/** The task-definition document as RegisterTaskDefinition's input, or why it cannot be one. */
function taskDefinitionInput(text: string, document: string): RegisterTaskDefinitionCommandInput {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (error) {
    throw namedError(InvalidRevision, `${document} is not JSON: ${errorMessage(error)}`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw namedError(InvalidRevision, `${document} is not a task-definition object`);
  }
  const record = doc as Record<string, unknown>;
  const unknown = Object.keys(record).filter((k) => !TASK_DEFINITION_KEYS.has(k));
  if (unknown.length > 0) {
    throw namedError(
      InvalidRevision,
      `${document} names what RegisterTaskDefinition does not take: ${unknown.join(', ')} (give its input, not a DescribeTaskDefinition output)`,
    );
  }
  if (typeof record.family !== 'string' || !/^[A-Za-z0-9_-]{1,255}$/.test(record.family)) {
    throw namedError(InvalidRevision, `${document} names no family (up to 255 letters, digits, - and _)`);
  }
  if (!Array.isArray(record.containerDefinitions) || record.containerDefinitions.length === 0) {
    throw namedError(InvalidRevision, `${document} has no containerDefinitions`);
  }
  // Checked above as far as Flotilla reads it; ECS validates the rest and says what is wrong.
  return record as unknown as RegisterTaskDefinitionCommandInput;
}

/**
 * One AWS call whose refusal names itself: Lambda's guards (PreconditionFailedException when the
 * RevisionId or CodeSha256 no longer match, ResourceConflictException while an update runs) end
 * the staging with this message, reported before the region's wave.
 */
async function refused<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await awsCall(what, call);
  } catch (error) {
    throw new Error(`${what} refused (${errorName(error) ?? 'error'}): ${errorMessage(error)}`, { cause: error });
  }
}

/** A task definition with its tags, or undefined when ECS knows none by that name. */
async function describeTaskDefinition(ecs: ECSClient, taskDefinition: string, where: string) {
  try {
    return await awsCall(`${where}: DescribeTaskDefinition`, () =>
      ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition, include: ['TAGS'] })),
    );
  } catch (error) {
    // ECS answers an unknown family or revision with a ClientException ("Unable to describe task definition").
    if (errorName(error) === 'ClientException') return undefined;
    throw error;
  }
}

function codedeployTarget(target: RegionTarget, region: string): CodeDeployTarget {
  if (target.kind !== 'codedeploy') {
    throw namedError(UnsupportedTarget, `${region}: AWS staging cannot stage into a ${target.kind} target`);
  }
  return target;
}

function s3Of(url: string): { bucket: string; key: string } {
  const s3 = parseS3Url(url);
  if (!s3) throw namedError(InvalidRevision, `"${url}" is not s3://<bucket>/<key>`);
  return s3;
}
