/**
 * Staging ahead on AWS (the staging part of the RegionDeployer port): before the waves that need
 * it, put each region's CodeDeploy Server bundle where its group reads it, so a missing build is
 * reported before its wave (EnterWave, core/staging.ts), never halfway through it.
 *
 *   Server, with `copyFrom`   S3 CopyObject of the one bundle CI uploaded into the region's own
 *                             bucket (the release's `{awsRegion}` location), marked with the release
 *                             (`x-amz-meta-flotilla-staged-for`); an object already there is used as
 *                             is and never overwritten.
 *   Server, no `copyFrom`     HeadObject: the region's bundle must be in its bucket already.
 *   ECS, Lambda, GitHub       nothing: AppSpec content travels in CreateDeployment itself, and the
 *                             task definition or version it names is CI's to register or publish
 *                             (docs/aws.md, "Staging ahead on AWS", says why).
 *
 * Staging is done inside the call (a Lambda leaves nothing running after it returns), so the stage
 * id says how it went (adapters/aws/stage-id.ts). Cleanup removes only what a release copied
 * itself: the object whose marker names that release.
 */
import { CopyObjectCommand, DeleteObjectCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { CodeDeployTarget, RegionTarget } from '../../config/types.ts';
import { parseS3Url } from '../../core/artifacts.ts';
import type { RegionDeployer, Revision, StageRef, StageRequest, StageStatus } from '../../ports/region-deployer.ts';
import { awsCall, errorMessage, errorName, InvalidRevision, namedError, UnsupportedTarget } from './errors.ts';
import { stagedStatus, stageId } from './stage-id.ts';

/** The S3 user metadata key (`x-amz-meta-…`) naming the release that copied an object. */
export const STAGED_FOR = 'flotilla-staged-for';

/** S3 in a target's AWS region, through the target's role when it names one. */
export type S3ClientFor = (awsRegion: string, roleArn?: string) => S3Client;

/** StageAhead and UnstageRelease use it alone: their bundles carry S3, not CodeDeploy. */
export class AwsRevisionStager
  implements Required<Pick<RegionDeployer, 'startStaging' | 'awaitStaging' | 'removeStaged'>>
{
  readonly #s3: S3ClientFor;

  constructor(s3: S3ClientFor) {
    this.#s3 = s3;
  }

  /** Stages the revision in the target's region; never throws for a staging that failed: the id says so. */
  async startStaging(request: StageRequest): Promise<{ stageId: string }> {
    const target = codedeployTarget(request.target, request.region);
    try {
      return { stageId: await this.#stage(target, request.revision, request.releaseId) };
    } catch (error) {
      return { stageId: stageId.failed(errorMessage(error)) };
    }
  }

  /** How a staging went, from its id: it ran to its end inside startStaging. */
  async awaitStaging(ref: StageRef): Promise<StageStatus> {
    return stagedStatus(ref.stageId);
  }

  /** Deletes the region's copy if this very release made it (its marker says so). Idempotent. */
  async removeStaged(request: StageRequest): Promise<void> {
    const { revision } = request;
    const target = codedeployTarget(request.target, request.region);
    if (target.platform !== 'Server' || revision.copyFrom === undefined) return;
    const to = s3Of(revision.artifact);
    const s3 = this.#s3(target.awsRegion, target.roleArn);
    const where = `S3 ${revision.artifact} in ${target.awsRegion}`;
    const head = await headObject(s3, to, where);
    if (head?.Metadata?.[STAGED_FOR] !== request.releaseId) return;
    await awsCall(`${where}: DeleteObject`, () => s3.send(new DeleteObjectCommand({ Bucket: to.bucket, Key: to.key })));
  }

  async #stage(target: CodeDeployTarget, revision: Revision, releaseId: string): Promise<string> {
    if (target.platform !== 'Server' || !revision.artifact.startsWith('s3://')) {
      return stageId.checked(`nothing to stage for a ${target.platform} revision`);
    }
    const to = s3Of(revision.artifact);
    const s3 = this.#s3(target.awsRegion, target.roleArn);
    const where = `S3 ${revision.artifact} in ${target.awsRegion}`;
    if (await headObject(s3, to, where)) return stageId.present(revision.artifact);
    if (revision.copyFrom === undefined) throw new Error(`${revision.artifact} is not in ${target.awsRegion}'s bucket`);
    const from = s3Of(revision.copyFrom);
    try {
      await awsCall(`${where}: CopyObject`, () =>
        s3.send(
          new CopyObjectCommand({
            Bucket: to.bucket,
            Key: to.key,
            CopySource: `${from.bucket}/${from.key.split('/').map(encodeURIComponent).join('/')}`,
            MetadataDirective: 'REPLACE',
            Metadata: { [STAGED_FOR]: releaseId },
          }),
        ),
      );
    } catch (error) {
      throw new Error(`copying ${revision.copyFrom} into ${revision.artifact} failed: ${errorMessage(error)}`);
    }
    return stageId.copied(revision.artifact);
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

/** The object's head, or undefined when there is none (404). */
async function headObject(s3: S3Client, at: { bucket: string; key: string }, where: string) {
  try {
    return await awsCall(`${where}: HeadObject`, () =>
      s3.send(new HeadObjectCommand({ Bucket: at.bucket, Key: at.key })),
    );
  } catch (error) {
    if (errorName(error) === 'NotFound' || errorName(error) === 'NoSuchKey') return undefined;
    throw error;
  }
}
