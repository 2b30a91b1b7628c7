/**
 * Staging ahead makes ECS task definitions and Lambda versions (adapters/aws/revision-stager.ts),
 * a staged region deploys exactly what staging made there, and the cleanup removes only what the
 * release made: against moto's ECS, Lambda, IAM and S3 over real HTTP (S3 through the signed
 * requests StageAhead makes), with CodeDeploy's CreateDeployment captured at the SDK boundary
 * (moto's CodeDeploy never runs a deployment).
 */
import { createHash } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { CodeDeployClient, CreateDeploymentCommand } from '@aws-sdk/client-codedeploy';
import { DescribeTaskDefinitionCommand, ECSClient } from '@aws-sdk/client-ecs';
import { CreateRoleCommand, IAMClient } from '@aws-sdk/client-iam';
import {
  CreateAliasCommand,
  CreateFunctionCommand,
  GetFunctionConfigurationCommand,
  LambdaClient,
  ListVersionsByFunctionCommand,
  UpdateAliasCommand,
} from '@aws-sdk/client-lambda';
import { type BucketLocationConstraint, CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AwsClientCache } from '../../../adapters/aws/clients.ts';
import { CodeDeployDeployer } from '../../../adapters/aws/codedeploy-deployer.ts';
import { AwsRevisionStager, STAGED_FOR } from '../../../adapters/aws/revision-stager.ts';
import { SignedS3 } from '../../../adapters/aws/signed-s3.ts';
import { StagedRevisions } from '../../../adapters/aws/staged-appspec.ts';
import type { CodeDeployTarget, FlotillaConfig } from '../../../config/types.ts';
import { resolveArtifacts } from '../../../core/artifacts.ts';
import { initialRecord, planRelease } from '../../../core/plan.ts';
import type { ReleasePlan } from '../../../core/types.ts';
import { createEnterWave } from '../../../functions/enter-wave.ts';
import { createLoadRegionTask } from '../../../functions/load-region-task.ts';
import { createStageAhead } from '../../../functions/stage-ahead.ts';
import { createStartRegionDeploy } from '../../../functions/start-region-deploy.ts';
import { createUnstageRelease } from '../../../functions/unstage-release.ts';
import type { Ledger, ReleaseRecord, ReleaseRegionPatch } from '../../../ports/ledger.ts';
import { type MotoServer, skipWithout, startMoto } from '../../helpers/aws-tools.ts';
import { configWith } from '../../helpers/fixtures.ts';
import { cdTarget } from './helpers.ts';

const SKIP = skipWithout(
  'moto_server',
  'staging ECS task definitions and Lambda versions against moto (test/adapters/aws/stage-builds.test.ts)',
);
const REGIONS = ['eu-west-1', 'ap-southeast-2'] as const;
const RELEASE = 'shop-1.4.0';
const IMAGE = '111122223333.dkr.ecr.{awsRegion}.amazonaws.com/shop:1.4.0';

let moto: MotoServer;
const s3 = (region: string) => new S3Client({ ...moto.client(region), forcePathStyle: true });
const ecs = (region: string) => new ECSClient(moto.client(region));
const lambda = (region: string) => new LambdaClient(moto.client(region));

/** The stager as StageAhead builds it (functions/runtime/ports.ts), pointed at moto. */
function stager(): AwsRevisionStager {
  return new AwsRevisionStager({
    s3: new SignedS3({ credentials: async () => moto.client('us-east-1').credentials, endpoint: () => moto.endpoint }),
    ecs: (region) => ecs(region),
    lambda: (region) => lambda(region),
    sleep: async () => {},
  });
}

/** A zip archive of one stored file: a real Lambda code bundle. */
function zipOf(name: string, text: string): Buffer {
  const data = Buffer.from(text);
  const file = Buffer.from(name);
  const crc = crc32(data);
  const local = Buffer.alloc(30);
  local.writeUInt32LE(0x04034b50, 0);
  local.writeUInt16LE(20, 4);
  local.writeUInt32LE(crc, 14);
  local.writeUInt32LE(data.length, 18);
  local.writeUInt32LE(data.length, 22);
  local.writeUInt16LE(file.length, 26);
  const central = Buffer.alloc(46);
  central.writeUInt32LE(0x02014b50, 0);
  central.writeUInt16LE(20, 4);
  central.writeUInt16LE(20, 6);
  central.writeUInt32LE(crc, 16);
  central.writeUInt32LE(data.length, 20);
  central.writeUInt32LE(data.length, 24);
  central.writeUInt16LE(file.length, 28);
  const end = Buffer.alloc(22);
  const centralAt = local.length + file.length + data.length;
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(1, 8);
  end.writeUInt16LE(1, 10);
  end.writeUInt32LE(central.length + file.length, 12);
  end.writeUInt32LE(centralAt, 16);
  return Buffer.concat([local, file, data, central, file, end]);
}

const ZIP_1 = zipOf('index.js', 'exports.handler = async () => "1.0.0";');
const ZIP_2 = zipOf('index.js', 'exports.handler = async () => "1.4.0";');
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('base64');

const ecsTarget = (awsRegion: string): CodeDeployTarget =>
  cdTarget({ awsRegion, application: 'shop', deploymentGroup: `shop-${awsRegion}`, platform: 'ECS' });
const lambdaTarget = (awsRegion: string): CodeDeployTarget =>
  cdTarget({ awsRegion, application: 'shop', deploymentGroup: `shop-${awsRegion}`, platform: 'Lambda' });

const ecsAppSpec = (document: string) =>
  `appspec:version: 0.0
Resources:
  - TargetService:
      Type: AWS::ECS::Service
      Properties:
        TaskDefinition: "${document}"
        LoadBalancerInfo: { ContainerName: web, ContainerPort: 8080 }
`;
const lambdaAppSpec = (code: string) =>
  `appspec:{"version":"0.0","Resources":[{"shop":{"Type":"AWS::Lambda::Function","Properties":{"Name":"shop","Alias":"live","TargetVersion":"${code}"}}}]}`;

const request = (target: CodeDeployTarget, artifact: string, releaseId = RELEASE, stageId?: string) => ({
  service: 'shop',
  releaseId,
  region: target.awsRegion,
  target,
  revision: { version: '1.4.0', artifact },
  ...(stageId ? { stageId } : {}),
});

async function taskDefinition(region: string, arn: string) {
  return ecs(region).send(new DescribeTaskDefinitionCommand({ taskDefinition: arn, include: ['TAGS'] }));
}

async function versions(region: string): Promise<string[]> {
  const out = await lambda(region).send(new ListVersionsByFunctionCommand({ FunctionName: 'shop' }));
  return (out.Versions ?? []).map((v) => v.Version ?? '').filter((v) => v !== '$LATEST');
}

beforeAll(async () => {
  if (SKIP) return;
  moto = await startMoto();
  const role = await new IAMClient(moto.client('us-east-1')).send(
    new CreateRoleCommand({
      RoleName: 'shop-lambda',
      AssumeRolePolicyDocument: JSON.stringify({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }],
      }),
    }),
  );
  for (const region of REGIONS) {
    const bucket = `shop-builds-${region}`;
    await s3(region).send(
      new CreateBucketCommand({
        Bucket: bucket,
        CreateBucketConfiguration: { LocationConstraint: region as BucketLocationConstraint },
      }),
    );
    const put = (Key: string, Body: string | Buffer) =>
      s3(region).send(new PutObjectCommand({ Bucket: bucket, Key, Body }));
    await put(
      'shop/taskdef.json',
      JSON.stringify({
        family: 'shop',
        containerDefinitions: [{ name: 'web', image: IMAGE, memory: 512, essential: true }],
        tags: [{ key: 'team', value: 'shop' }],
      }),
    );
    await put(
      'shop/described.json',
      JSON.stringify({ taskDefinitionArn: 'x', revision: 3, family: 'shop', containerDefinitions: [] }),
    );
    await put('shop/1.4.0.zip', ZIP_2);
    await lambda(region).send(
      new CreateFunctionCommand({
        FunctionName: 'shop',
        Runtime: 'nodejs22.x',
        Role: role.Role?.Arn,
        Handler: 'index.handler',
        Code: { ZipFile: ZIP_1 },
        Publish: true,
      }),
    );
    await lambda(region).send(new CreateAliasCommand({ FunctionName: 'shop', Name: 'live', FunctionVersion: '1' }));
  }
}, 90_000);

afterAll(async () => {
  await moto?.close();
});

describe.skipIf(SKIP)('staging an ECS task definition on moto', () => {
  it('registers the document in the region, its {awsRegion} filled in and tagged with the release, once however often it is retried', async () => {
    const target = ecsTarget('eu-west-1');
    const artifact = ecsAppSpec('s3://shop-builds-eu-west-1/shop/taskdef.json');
    const { stageId } = await stager().startStaging(request(target, artifact));
    const arn = /^registered:(arn:aws:ecs:eu-west-1:\d{12}:task-definition\/shop:\d+)$/.exec(stageId)?.[1];
    expect(arn, stageId).toBeDefined();
    const made = await taskDefinition('eu-west-1', arn as string);
    expect(made.taskDefinition?.containerDefinitions?.[0]?.image).toBe(
      '111122223333.dkr.ecr.eu-west-1.amazonaws.com/shop:1.4.0',
    );
    expect(made.tags).toEqual(
      expect.arrayContaining([
        { key: 'team', value: 'shop' },
        { key: STAGED_FOR, value: RELEASE },
      ]),
    );
    // A retried StageAhead registers nothing more.
    expect((await stager().startStaging(request(target, artifact))).stageId).toBe(stageId);
  });

  it('deregisters only a task definition its own release registered, and is idempotent', async () => {
    const target = ecsTarget('eu-west-1');
    const artifact = ecsAppSpec('s3://shop-builds-eu-west-1/shop/taskdef.json');
    const { stageId } = await stager().startStaging(request(target, artifact, 'shop-1.5.0'));
    const arn = stageId.slice('registered:'.length);
    await stager().removeStaged(request(target, artifact, 'shop-1.5.0-2', stageId));
    expect((await taskDefinition('eu-west-1', arn)).taskDefinition?.status).toBe('ACTIVE');
    await stager().removeStaged(request(target, artifact, 'shop-1.5.0', stageId));
    expect((await taskDefinition('eu-west-1', arn)).taskDefinition?.status).toBe('INACTIVE');
    await expect(stager().removeStaged(request(target, artifact, 'shop-1.5.0', stageId))).resolves.toBeUndefined();
  });

  it('reports a document RegisterTaskDefinition cannot take as Failed, naming what is wrong, registering nothing', async () => {
    const target = ecsTarget('eu-west-1');
    const { stageId } = await stager().startStaging(
      request(target, ecsAppSpec('s3://shop-builds-eu-west-1/shop/described.json')),
    );
    expect(await stager().awaitStaging({ region: 'eu-west-1', target, stageId })).toEqual({
      status: 'Failed',
      message:
        's3://shop-builds-eu-west-1/shop/described.json names what RegisterTaskDefinition does not take: taskDefinitionArn, revision (give its input, not a DescribeTaskDefinition output)',
    });
  });
});

describe.skipIf(SKIP)('staging a Lambda version on moto', () => {
  it('publishes the zip as a new version described with the release, leaving the alias where it was', async () => {
    const target = lambdaTarget('eu-west-1');
    const { stageId } = await stager().startStaging(
      request(target, lambdaAppSpec('s3://shop-builds-eu-west-1/shop/1.4.0.zip')),
    );
    expect(stageId).toMatch(/^published:arn:aws:lambda:eu-west-1:\d{12}:function:shop:2$/);
    const version = await lambda('eu-west-1').send(
      new GetFunctionConfigurationCommand({ FunctionName: 'shop', Qualifier: '2' }),
    );
    expect(version.CodeSha256).toBe(sha256(ZIP_2));
    expect(version.Description).toBe(`${STAGED_FOR} ${RELEASE}`);
    const live = await lambda('eu-west-1').send(new GetFunctionConfigurationCommand({ FunctionName: 'shop:live' }));
    expect(live.CodeSha256).toBe(sha256(ZIP_1));
  });

  it('never deletes a version an alias serves; deletes it once none does, then again changes nothing', async () => {
    const target = lambdaTarget('ap-southeast-2');
    const artifact = lambdaAppSpec('s3://shop-builds-ap-southeast-2/shop/1.4.0.zip');
    const { stageId } = await stager().startStaging(request(target, artifact, 'shop-1.6.0'));
    const version = stageId.split(':').at(-1) as string;
    await lambda('ap-southeast-2').send(
      new UpdateAliasCommand({ FunctionName: 'shop', Name: 'live', FunctionVersion: version }),
    );
    await stager().removeStaged(request(target, artifact, 'shop-1.6.0', stageId));
    expect(await versions('ap-southeast-2')).toContain(version);
    await lambda('ap-southeast-2').send(
      new UpdateAliasCommand({ FunctionName: 'shop', Name: 'live', FunctionVersion: '1' }),
    );
    await stager().removeStaged(request(target, artifact, 'shop-1.6.0-2', stageId));
    expect(await versions('ap-southeast-2')).toContain(version);
    await stager().removeStaged(request(target, artifact, 'shop-1.6.0', stageId));
    expect(await versions('ap-southeast-2')).not.toContain(version);
    await expect(stager().removeStaged(request(target, artifact, 'shop-1.6.0', stageId))).resolves.toBeUndefined();
    expect(await versions('ap-southeast-2')).toContain('1');
  });
});

/** ECS in two waves, the canary in eu-west-1, each region's document in its own bucket. */
function ecsPlan(): ReleasePlan {
  const base = configWith([['euw1'], ['apse2']]);
  const config: FlotillaConfig = {
    ...base,
    regions: [
      { name: 'euw1', target: ecsTarget('eu-west-1') },
      { name: 'apse2', target: ecsTarget('ap-southeast-2') },
    ],
  };
  const artifact = ecsAppSpec('s3://shop-builds-{awsRegion}/shop/taskdef.json');
  const resolved = resolveArtifacts(config, '2.0.0', { artifact });
  if (!resolved.ok) throw new Error(JSON.stringify(resolved.problems));
  return planRelease({
    config,
    releaseId: 'shop-2.0.0',
    version: '2.0.0',
    artifact,
    regionStateMachineArn: 'arn',
    owner: 'test',
    revisions: resolved.revisions,
  });
}

/** The ledger reads and writes these handlers make, in memory: patches land in the record. */
function memoryLedger(p: ReleasePlan, record: ReleaseRecord, current: Record<string, string>) {
  return {
    getPlan: async () => p,
    getRelease: async () => record,
    getReleaseRegion: async (_s: string, _r: string, region: string) => record.regions[region],
    listRegions: async () =>
      Object.entries(current).map(([region, version]) => ({
        service: 'shop',
        region,
        current: { version, artifact: 'x' },
        releaseId: null,
        updatedAt: '',
      })),
    updateReleaseRegions: async (_s: string, _r: string, patches: ReleaseRegionPatch[]) => {
      for (const { region, ...fields } of patches) Object.assign(record.regions[region] ?? {}, fields);
    },
  } as unknown as Ledger;
}

describe.skipIf(SKIP)('a staged ECS release, StageAhead to UnstageRelease, on moto', () => {
  it("deploys each region exactly the task definition staging registered there, and a rollback's cleanup deregisters them", async () => {
    const p = ecsPlan();
    const record = initialRecord(p, [], '');
    const ledger = memoryLedger(p, record, {});
    // The canary's task definition is registered before wave 1 too: only staging makes it.
    expect(await createStageAhead({ ledger, deployer: stager(), now: () => 0 })({ plan: p as never })).toEqual({
      staging: 2,
    });
    const arns = Object.fromEntries(
      Object.entries(record.regions).map(([region, entry]) => [region, entry.staging?.id.slice('registered:'.length)]),
    );
    expect(arns.euw1).toMatch(/^arn:aws:ecs:eu-west-1:\d{12}:task-definition\/shop:\d+$/);
    expect(arns.apse2).toMatch(/^arn:aws:ecs:ap-southeast-2:\d{12}:task-definition\/shop:\d+$/);

    const codedeploy = mockClient(CodeDeployClient);
    try {
      codedeploy.on(CreateDeploymentCommand).resolves({ deploymentId: 'd-STAGED001' });
      const clients = new AwsClientCache({ factories: { codedeploy: (c) => new CodeDeployClient(c) } });
      const deployer = new CodeDeployDeployer({ clients, staged: new StagedRevisions({ clients }) });
      const task = await createLoadRegionTask({ ledger })({
        task: { service: 'shop', releaseId: 'shop-2.0.0', region: 'apse2', action: 'deploy' } as never,
      });
      expect(task.stageId).toBe(`registered:${arns.apse2}`);
      await createStartRegionDeploy({ deployer, events: { emit: () => {} }, now: () => 0 })({ task });
      const sent = codedeploy.commandCalls(CreateDeploymentCommand)[0]?.args[0].input;
      expect(sent?.deploymentGroupName).toBe('shop-ap-southeast-2');
      const content = JSON.parse(sent?.revision?.appSpecContent?.content ?? '{}');
      expect(content.Resources[0].TargetService.Properties).toEqual({
        TaskDefinition: arns.apse2,
        LoadBalancerInfo: { ContainerName: 'web', ContainerPort: 8080 },
      });
      expect(content.version).toBe('0.0');
    } finally {
      codedeploy.restore();
    }

    // Rolled back everywhere: neither region runs 2.0.0, so neither keeps its task definition.
    for (const entry of Object.values(record.regions)) entry.phase = 'rolled-back';
    const unstage = createUnstageRelease({
      ledger: memoryLedger(p, record, { euw1: '1.0.0', apse2: '1.0.0' }),
      deployer: stager(),
    });
    await unstage({
      'detail-type': 'Step Functions Execution Status Change',
      detail: { name: 'shop-2.0.0', status: 'FAILED', input: JSON.stringify({ config: { service: 'shop' } }) },
    });
    expect((await taskDefinition('eu-west-1', arns.euw1 as string)).taskDefinition?.status).toBe('INACTIVE');
    expect((await taskDefinition('ap-southeast-2', arns.apse2 as string)).taskDefinition?.status).toBe('INACTIVE');
  });

  it('deploys a staged Lambda region from the version the alias serves now to the one staging published', async () => {
    const target = lambdaTarget('eu-west-1');
    const artifact = lambdaAppSpec('s3://shop-builds-eu-west-1/shop/1.4.0.zip');
    const { stageId } = await stager().startStaging(request(target, artifact, 'shop-1.7.0'));
    const version = stageId.split(':').at(-1);
    const codedeploy = mockClient(CodeDeployClient);
    try {
      codedeploy.on(CreateDeploymentCommand).resolves({ deploymentId: 'd-STAGED002' });
      const clients = new AwsClientCache({
        factories: {
          codedeploy: (c) => new CodeDeployClient(c),
          lambda: (c) => new LambdaClient({ ...c, ...moto.client(c.region) }),
        },
      });
      const deployer = new CodeDeployDeployer({ clients, staged: new StagedRevisions({ clients }) });
      await deployer.startDeployment({ ...request(target, artifact, 'shop-1.7.0', stageId), purpose: 'deploy' });
      const sent = codedeploy.commandCalls(CreateDeploymentCommand)[0]?.args[0].input;
      const content = JSON.parse(sent?.revision?.appSpecContent?.content ?? '{}');
      expect(content.Resources[0].shop.Properties).toEqual({
        Name: 'shop',
        Alias: 'live',
        CurrentVersion: '1',
        TargetVersion: version,
      });
    } finally {
      codedeploy.restore();
    }
  });
});

describe('EnterWave before a region that deploys what only staging makes', () => {
  it('blocks the wave before it starts when that region was never staged, and touches no region', async () => {
    const p = ecsPlan();
    const record = initialRecord(p, [], '');
    const touched: ReleaseRegionPatch[] = [];
    const ledger = {
      ...memoryLedger(p, record, {}),
      takeHoldTokens: async () => [],
      listIntents: async () => [],
      updateRelease: async () => {},
      updateReleaseRegions: async (_s: string, _r: string, patches: ReleaseRegionPatch[]) => {
        touched.push(...patches);
      },
    } as unknown as Ledger;
    const unused = () => {
      throw new Error('not expected before a blocked wave');
    };
    // The deployer EnterWave has on AWS: it reads stage ids, with no AWS client.
    const deployer = new CodeDeployDeployer({ clients: new AwsClientCache({ factories: {} }) });
    const entry = await createEnterWave({
      ledger,
      deployer,
      prober: { probe: unused },
      events: { emit: () => {} },
      now: () => Date.parse('2026-12-01T12:00:00Z'),
    })({ plan: p as never, waveIndex: 0 });
    expect(entry).toEqual({
      kind: 'Blocked',
      signals: ['euw1: 2.0.0 is not staged before its wave (it was never staged; only staging makes what it deploys)'],
    });
    expect(touched).toEqual([]);
  });
});
