/**
 * Staging ahead on AWS (adapters/aws/revision-stager.ts, StageAhead, UnstageRelease) against
 * moto: real S3 over real HTTP (CopyObject across regions' buckets, HeadObject, DeleteObject).
 */
import {
  type BucketLocationConstraint,
  CreateBucketCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AwsClientCache } from '../../../adapters/aws/clients.ts';
import { CodeDeployDeployer } from '../../../adapters/aws/codedeploy-deployer.ts';
import { AwsRevisionStager, STAGED_FOR } from '../../../adapters/aws/revision-stager.ts';
import { SignedS3 } from '../../../adapters/aws/signed-s3.ts';
import type { CodeDeployTarget, FlotillaConfig } from '../../../config/types.ts';
import { resolveArtifacts } from '../../../core/artifacts.ts';
import { initialRecord, planRelease } from '../../../core/plan.ts';
import type { ReleasePlan } from '../../../core/types.ts';
import { createStageAhead } from '../../../functions/stage-ahead.ts';
import { createUnstageRelease } from '../../../functions/unstage-release.ts';
import type { Ledger, ReleaseRecord, ReleaseRegionPatch } from '../../../ports/ledger.ts';
import type { Revision } from '../../../ports/region-deployer.ts';
import { type MotoServer, skipWithout, startMoto } from '../../helpers/aws-tools.ts';
import { configWith } from '../../helpers/fixtures.ts';
import { cdTarget } from './helpers.ts';

const SKIP = skipWithout('moto_server', 'AWS staging against moto (test/adapters/aws/staging.test.ts)');
const SOURCE = 's3://ci-builds/shop/1.4.0.zip';
const BUNDLE = 'the 1.4.0 bundle';

let moto: MotoServer;

const s3Config = (region: string): S3ClientConfig => ({ ...moto.client(region), forcePathStyle: true });
const s3 = (region: string) => new S3Client(s3Config(region));

/** The stager as StageAhead builds it, its S3 calls signed by hand (adapters/aws/signed-s3.ts) against moto. */
function stager(): AwsRevisionStager {
  return new AwsRevisionStager({
    s3: new SignedS3({ credentials: async () => moto.client('us-east-1').credentials, endpoint: () => moto.endpoint }),
  });
}

const server = (awsRegion: string): CodeDeployTarget =>
  cdTarget({ awsRegion, application: 'shop', deploymentGroup: 'shop-prod', platform: 'Server' });

const stageRequest = (target: CodeDeployTarget, revision: Revision, releaseId = 'shop-1.4.0') => ({
  service: 'shop',
  releaseId,
  region: target.awsRegion,
  target,
  revision,
});

async function body(region: string, bucket: string, key: string): Promise<string | undefined> {
  try {
    const out = await s3(region).send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return await out.Body?.transformToString();
  } catch {
    return undefined;
  }
}

beforeAll(async () => {
  if (SKIP) return;
  moto = await startMoto();
  await s3('us-east-1').send(new CreateBucketCommand({ Bucket: 'ci-builds' }));
  await s3('us-east-1').send(new PutObjectCommand({ Bucket: 'ci-builds', Key: 'shop/1.4.0.zip', Body: BUNDLE }));
  for (const region of ['eu-west-1', 'ap-southeast-2']) {
    await s3(region).send(
      new CreateBucketCommand({
        Bucket: `shop-builds-${region}`,
        CreateBucketConfiguration: { LocationConstraint: region as BucketLocationConstraint },
      }),
    );
  }
}, 60_000);

afterAll(async () => {
  await moto?.close();
});

describe.skipIf(SKIP)('staging a Server bundle on moto', () => {
  it("copies the one bundle into the region's own bucket, marked with the release, and says Staged", async () => {
    const target = server('eu-west-1');
    const revision = { version: '1.4.0', artifact: 's3://shop-builds-eu-west-1/shop/1.4.0.zip', copyFrom: SOURCE };
    const { stageId } = await stager().startStaging(stageRequest(target, revision));
    expect(stageId).toBe('copied:s3://shop-builds-eu-west-1/shop/1.4.0.zip');
    expect(await stager().awaitStaging({ region: 'eu-west-1', target, stageId })).toEqual({ status: 'Staged' });
    expect(await body('eu-west-1', 'shop-builds-eu-west-1', 'shop/1.4.0.zip')).toBe(BUNDLE);
    const head = await s3('eu-west-1').send(
      new HeadObjectCommand({ Bucket: 'shop-builds-eu-west-1', Key: 'shop/1.4.0.zip' }),
    );
    expect(head.Metadata?.[STAGED_FOR]).toBe('shop-1.4.0');
  });

  it('uses an object already in the bucket as it is: never overwritten, never removed', async () => {
    const target = server('ap-southeast-2');
    await s3('ap-southeast-2').send(
      new PutObjectCommand({ Bucket: 'shop-builds-ap-southeast-2', Key: 'shop/own.zip', Body: 'uploaded by hand' }),
    );
    const revision = { version: '1.4.0', artifact: 's3://shop-builds-ap-southeast-2/shop/own.zip', copyFrom: SOURCE };
    const { stageId } = await stager().startStaging(stageRequest(target, revision));
    expect(stageId).toBe('present:s3://shop-builds-ap-southeast-2/shop/own.zip');
    await stager().removeStaged(stageRequest(target, revision));
    expect(await body('ap-southeast-2', 'shop-builds-ap-southeast-2', 'shop/own.zip')).toBe('uploaded by hand');
  });

  it('reports a copy that cannot be made as Failed, naming why, without throwing', async () => {
    const target = server('eu-west-1');
    const revision = {
      version: '1.4.0',
      artifact: 's3://shop-builds-eu-west-1/shop/missing.zip',
      copyFrom: 's3://ci-builds/shop/never-uploaded.zip',
    };
    const { stageId } = await stager().startStaging(stageRequest(target, revision));
    const status = await stager().awaitStaging({ region: 'eu-west-1', target, stageId });
    expect(status).toMatchObject({
      status: 'Failed',
      message:
        'copying s3://ci-builds/shop/never-uploaded.zip into s3://shop-builds-eu-west-1/shop/missing.zip failed: HTTP 404 NoSuchKey: The specified key does not exist.',
    });
    expect(await body('eu-west-1', 'shop-builds-eu-west-1', 'shop/missing.zip')).toBeUndefined();
  });

  it('without --copy-from, checks that the region’s bundle is in its bucket already', async () => {
    const target = server('eu-west-1');
    const missing = await stager().startStaging(
      stageRequest(target, { version: '1.4.0', artifact: 's3://shop-builds-eu-west-1/shop/nope.zip' }),
    );
    expect(await stager().awaitStaging({ region: 'eu-west-1', target, stageId: missing.stageId })).toEqual({
      status: 'Failed',
      message: "s3://shop-builds-eu-west-1/shop/nope.zip is not in eu-west-1's bucket",
    });
    await s3('eu-west-1').send(
      new PutObjectCommand({ Bucket: 'shop-builds-eu-west-1', Key: 'shop/there.zip', Body: 'x' }),
    );
    const there = await stager().startStaging(
      stageRequest(target, { version: '1.4.0', artifact: 's3://shop-builds-eu-west-1/shop/there.zip' }),
    );
    expect(await stager().awaitStaging({ region: 'eu-west-1', target, stageId: there.stageId })).toEqual({
      status: 'Staged',
    });
  });

  it('removes only the copy its own release made', async () => {
    const target = server('eu-west-1');
    const revision = { version: '1.5.0', artifact: 's3://shop-builds-eu-west-1/shop/1.5.0.zip', copyFrom: SOURCE };
    await stager().startStaging(stageRequest(target, revision, 'shop-1.5.0'));
    await stager().removeStaged(stageRequest(target, revision, 'shop-1.5.0-2'));
    expect(await body('eu-west-1', 'shop-builds-eu-west-1', 'shop/1.5.0.zip')).toBe(BUNDLE);
    await stager().removeStaged(stageRequest(target, revision, 'shop-1.5.0'));
    expect(await body('eu-west-1', 'shop-builds-eu-west-1', 'shop/1.5.0.zip')).toBeUndefined();
    // Again: nothing there, nothing to do.
    await expect(stager().removeStaged(stageRequest(target, revision, 'shop-1.5.0'))).resolves.toBeUndefined();
  });
});

/** Two Server regions in two AWS regions, the canary's and a later wave's bundle copied from CI's. */
function plan(): ReleasePlan {
  const base = configWith([['use1'], ['euw1']]);
  const config: FlotillaConfig = {
    ...base,
    regions: [
      { name: 'use1', target: server('ap-southeast-2') },
      { name: 'euw1', target: server('eu-west-1') },
    ],
  };
  const request = { artifact: 's3://shop-builds-{awsRegion}/shop/2.0.0.zip', copyFrom: SOURCE };
  const resolved = resolveArtifacts(config, '2.0.0', request);
  if (!resolved.ok) throw new Error(JSON.stringify(resolved.problems));
  return planRelease({
    config,
    releaseId: 'shop-2.0.0',
    version: '2.0.0',
    artifact: request.artifact,
    regionStateMachineArn: 'arn',
    owner: 'test',
    revisions: resolved.revisions,
  });
}

/** The ledger reads and the one write these handlers make, in memory. */
function memoryLedger(p: ReleasePlan, record: ReleaseRecord, current: Record<string, string>) {
  const patches: ReleaseRegionPatch[] = [];
  const ledger = {
    getPlan: async () => p,
    getRelease: async () => record,
    listRegions: async () =>
      Object.entries(current).map(([region, version]) => ({
        service: 'shop',
        region,
        current: { version, artifact: 'x' },
        releaseId: null,
        updatedAt: '',
      })),
    updateReleaseRegions: async (_s: string, _r: string, more: ReleaseRegionPatch[]) => {
      patches.push(...more);
    },
  } as unknown as Ledger;
  return { ledger, patches };
}

describe.skipIf(SKIP)('StageAhead and UnstageRelease on AWS, on moto', () => {
  it('copies every region’s bundle before wave 1, the canary’s too, and records each stage id', async () => {
    const p = plan();
    const { ledger, patches } = memoryLedger(p, initialRecord(p, [], ''), {});
    const out = await createStageAhead({ ledger, deployer: stager(), now: () => 0 })({
      plan: { releaseId: p.releaseId, service: 'shop' } as never,
    });
    expect(out).toEqual({ staging: 2 });
    expect(patches.map((x) => [x.region, x.staging?.id])).toEqual([
      ['use1', 'copied:s3://shop-builds-ap-southeast-2/shop/2.0.0.zip'],
      ['euw1', 'copied:s3://shop-builds-eu-west-1/shop/2.0.0.zip'],
    ]);
    expect(await body('ap-southeast-2', 'shop-builds-ap-southeast-2', 'shop/2.0.0.zip')).toBe(BUNDLE);
    expect(await body('eu-west-1', 'shop-builds-eu-west-1', 'shop/2.0.0.zip')).toBe(BUNDLE);
  });

  it('after a rollback, removes the copy where the region does not run the build, and keeps it where it does', async () => {
    const p = plan();
    const record = initialRecord(p, [], '');
    for (const entry of Object.values(record.regions)) entry.phase = 'rolled-back';
    // use1 was rolled back to 1.0.0; euw1 still runs 2.0.0 (say its rollback failed).
    const { ledger } = memoryLedger(p, record, { use1: '1.0.0', euw1: '2.0.0' });
    const ended = await createUnstageRelease({ ledger, deployer: stager() })({
      'detail-type': 'Step Functions Execution Status Change',
      detail: { name: 'shop-2.0.0', status: 'SUCCEEDED', input: JSON.stringify({ config: { service: 'shop' } }) },
    });
    expect(ended).toEqual({ removed: true });
    expect(await body('ap-southeast-2', 'shop-builds-ap-southeast-2', 'shop/2.0.0.zip')).toBeUndefined();
    expect(await body('eu-west-1', 'shop-builds-eu-west-1', 'shop/2.0.0.zip')).toBe(BUNDLE);
  });

  it('ignores an execution that has not ended', async () => {
    const p = plan();
    const { ledger } = memoryLedger(p, initialRecord(p, [], ''), {});
    expect(
      await createUnstageRelease({ ledger, deployer: stager() })({
        'detail-type': 'Step Functions Execution Status Change',
        detail: { name: 'shop-2.0.0', status: 'RUNNING', input: '{}' },
      }),
    ).toEqual({ removed: false });
  });
});

describe('CodeDeployDeployer.awaitStaging', () => {
  it('reads how a staging went from its id for EnterWave, with no AWS client at all', async () => {
    const deployer = new CodeDeployDeployer({ clients: new AwsClientCache({ factories: {} }) });
    const ref = (stageId: string) => ({ region: 'eu-west-1', target: server('eu-west-1'), stageId });
    expect(await deployer.awaitStaging(ref('failed:copying s3://a/b.zip failed: Access Denied'))).toEqual({
      status: 'Failed',
      message: 'copying s3://a/b.zip failed: Access Denied',
    });
    expect(await deployer.awaitStaging(ref('copied:s3://shop-builds-eu-west-1/shop/2.0.0.zip'))).toEqual({
      status: 'Staged',
    });
  });
});
