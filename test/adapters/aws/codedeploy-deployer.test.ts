/**
 * CodeDeployDeployer against a stateful fake CodeDeploy at the SDK boundary (aws-sdk-client-mock).
 * Unlike the local adapters, no real peer can run here: there is no local CodeDeploy, so the fake
 * plays the service (life cycle, one active deployment per group, throttling, auto-rollback) with
 * the SDK's own exception classes and CodeDeploy's own error names and messages.
 */
import { createHash } from 'node:crypto';
import {
  CodeDeployClient,
  ContinueDeploymentCommand,
  CreateDeploymentCommand,
  DeploymentIsNotInReadyStateException,
  DeploymentLimitExceededException,
  GetDeploymentCommand,
  ListDeploymentsCommand,
  StopDeploymentCommand,
  ThrottlingException,
} from '@aws-sdk/client-codedeploy';
import { GetAliasCommand, LambdaClient, ResourceNotFoundException } from '@aws-sdk/client-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AwsClients } from '../../../adapters/aws/clients.ts';
import {
  CodeDeployDeployer,
  fromRevisionLocation,
  statusOf,
  toRevisionLocation,
} from '../../../adapters/aws/codedeploy-deployer.ts';
import { TRANSIENT_ERROR_NAMES } from '../../../adapters/aws/errors.ts';
import { LambdaRollbacks } from '../../../adapters/aws/lambda-rollback.ts';
import type { DeploymentRef } from '../../../ports/region-deployer.ts';
import {
  createFakeCodeDeploy,
  type FakeCodeDeploy,
  type FakeCodeDeployOptions,
} from '../../helpers/fake-codedeploy.ts';
import { cdTarget, deployRequest, localTarget, rejection } from './helpers.ts';

const cd = mockClient(CodeDeployClient);
const lambdaApi = mockClient(LambdaClient);
let fake: FakeCodeDeploy;
let deployer: CodeDeployDeployer;
let sleeps: number[];

function setUp(options: FakeCodeDeployOptions = {}): void {
  cd.reset();
  lambdaApi.reset();
  fake = createFakeCodeDeploy(options);
  fake.install(cd);
  sleeps = [];
  const clients = new AwsClients();
  deployer = new CodeDeployDeployer({
    clients,
    lambdaRollback: new LambdaRollbacks({ clients }),
    sleep: async (ms) => {
      sleeps.push(ms);
    },
  });
}

beforeEach(() => setUp());
afterEach(() => {
  cd.reset();
  lambdaApi.reset();
});

const appspec = 'version: 0.0\nResources:\n  - shop:\n      Type: AWS::Lambda::Function\n';
const lambda = cdTarget({ platform: 'Lambda', deploymentGroup: 'shop-fn' });
const ecs = cdTarget({ platform: 'ECS', deploymentGroup: 'shop-svc' });

async function pollUntilDone(ref: DeploymentRef, max = 10) {
  for (let i = 0; i < max; i++) {
    const status = await deployer.getDeployment(ref);
    if (status.status !== 'InProgress') return status;
  }
  throw new Error('still in progress');
}

describe('startDeployment: revisions', () => {
  it('deploys an S3 bundle to a Server group, with version and ETag from the query, and a readable description', async () => {
    const { deploymentId } = await deployer.startDeployment(
      deployRequest({ revision: { version: '1.1.0', artifact: 's3://builds/shop/1.1.0.zip?version=v42&etag=abc123' } }),
    );
    const input = cd.commandCalls(CreateDeploymentCommand)[0]?.args[0].input;
    expect(input).toEqual({
      applicationName: 'shop',
      deploymentGroupName: 'shop-prod',
      description: 'flotilla shop 1.1.0 shop-1.1.0-r1 deploy',
      revision: {
        revisionType: 'S3',
        s3Location: { bucket: 'builds', key: 'shop/1.1.0.zip', bundleType: 'zip', version: 'v42', eTag: 'abc123' },
      },
    });
    expect(fake.deployment(deploymentId)?.awsRegion).toBe('eu-west-1');
  });

  it.each([
    ['s3://b/k.zip', 'zip'],
    ['s3://b/dir/k.tar', 'tar'],
    ['s3://b/k.tar.gz', 'tgz'],
    ['s3://b/k.tgz', 'tgz'],
    ['s3://b/K.TGZ', 'tgz'],
  ])('takes the bundle type of %s from its extension (%s)', (artifact, bundleType) => {
    expect(toRevisionLocation(artifact, 'Server').s3Location?.bundleType).toBe(bundleType);
  });

  it.each([
    ['s3://b/k.rar', /\.zip, \.tar/],
    ['s3://b', /s3:\/\/<bucket>\/<key>/],
    ['s3:///k.zip', /s3:\/\/<bucket>\/<key>/],
    ['s3://b/k.zip?versionId=1', /unknown query parameter "versionId"/],
    ['/builds/1.1.0', /not a CodeDeploy revision/],
    ['appspec:   ', /no AppSpec content/],
  ])('rejects %s as InvalidRevision', (artifact, message) => {
    const platform = artifact.startsWith('appspec:') ? 'Lambda' : 'Server';
    let thrown: unknown;
    try {
      toRevisionLocation(artifact, platform);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toMatchObject({ name: 'InvalidRevision', message: expect.stringMatching(message) });
  });

  it.each([lambda, ecs])('deploys AppSpec content with its sha256 to a $platform group', async (target) => {
    await deployer.startDeployment(
      deployRequest({ target, revision: { version: '1.1.0', artifact: `appspec:${appspec}` } }),
    );
    const input = cd.commandCalls(CreateDeploymentCommand)[0]?.args[0].input;
    expect(input?.revision).toEqual({
      revisionType: 'AppSpecContent',
      appSpecContent: { content: appspec, sha256: createHash('sha256').update(appspec).digest('hex') },
    });
  });

  it('rejects an S3 bundle for a Lambda or ECS group and AppSpec content for a Server group, before calling AWS', async () => {
    for (const target of [lambda, ecs]) {
      const error = await rejection(deployer.startDeployment(deployRequest({ target })));
      expect(error.name).toBe('InvalidRevision');
      expect(error.message).toMatch(
        new RegExp(`only be deployed to a Server.*a ${target.platform} group needs "appspec:`),
      );
    }
    const error = await rejection(
      deployer.startDeployment(deployRequest({ revision: { version: '1', artifact: `appspec:${appspec}` } })),
    );
    expect(error).toMatchObject({ name: 'InvalidRevision', message: expect.stringMatching(/Lambda or ECS group/) });
    expect(cd.commandCalls(CreateDeploymentCommand)).toHaveLength(0);
  });

  it('cannot roll back to "nothing": UnsupportedRollback naming the region', async () => {
    const error = await rejection(deployer.startDeployment(deployRequest({ purpose: 'rollback', revision: null })));
    expect(error.name).toBe('UnsupportedRollback');
    expect(error.message).toBe('eu-west had no earlier revision to roll back to');
  });

  it('refuses a local-process target on every method with UnsupportedTarget', async () => {
    const ref = { region: 'local', target: localTarget, deploymentId: 'd-1' };
    for (const call of [
      deployer.startDeployment(deployRequest({ target: localTarget })),
      deployer.getDeployment(ref),
      deployer.currentRevision('local', localTarget),
      deployer.stopDeployment(ref),
    ]) {
      expect((await rejection(call)).name).toBe('UnsupportedTarget');
    }
    expect(cd.calls()).toHaveLength(0);
  });
});

describe('getDeployment: status', () => {
  it('follows a deployment Created → InProgress → Succeeded over polls', async () => {
    setUp({ pollsToComplete: 3 });
    const target = cdTarget();
    const { deploymentId } = await deployer.startDeployment(deployRequest({ target }));
    const ref = { region: 'eu-west', target, deploymentId };
    expect(await deployer.getDeployment(ref)).toEqual({ status: 'InProgress' });
    expect(await deployer.getDeployment(ref)).toEqual({ status: 'InProgress' });
    expect(await deployer.getDeployment(ref)).toEqual({ status: 'Succeeded' });
    expect(fake.deployment(deploymentId)?.status).toBe('Succeeded');
  });

  it('reports a scripted failure with CodeDeploy’s error message', async () => {
    setUp({
      failWhen: (_group, revision) => revision.s3Location?.key === 'shop/1.1.0.zip' && 'hook ValidateService failed',
    });
    const target = cdTarget();
    const { deploymentId } = await deployer.startDeployment(deployRequest({ target }));
    expect(await pollUntilDone({ region: 'eu-west', target, deploymentId })).toEqual({
      status: 'Failed',
      message: 'hook ValidateService failed',
    });
  });

  it.each([
    ['Created', { status: 'InProgress' }],
    ['Queued', { status: 'InProgress' }],
    ['InProgress', { status: 'InProgress' }],
    ['Baking', { status: 'InProgress' }],
    ['Ready', { status: 'InProgress' }],
    ['Succeeded', { status: 'Succeeded' }],
  ] as const)('maps %s to %o', (status, expected) => {
    expect(statusOf({ deploymentId: 'd-1', status })).toEqual(expected);
  });

  it('continues a blue/green deployment waiting at Ready for its traffic reroute (ContinueDeployment READY_WAIT), once', async () => {
    setUp({ pollsToComplete: 1, waitForReroute: true });
    const target = cdTarget({ platform: 'ECS', deploymentGroup: 'shop-svc' });
    const { deploymentId } = await deployer.startDeployment(
      deployRequest({ target, revision: { version: '1.1.0', artifact: `appspec:${appspec}` } }),
    );
    const ref = { region: 'eu-west', target, deploymentId };
    // The poll that finds it Ready continues it and still says InProgress: the reroute is under way.
    expect(await deployer.getDeployment(ref)).toEqual({ status: 'InProgress' });
    expect(cd.commandCalls(ContinueDeploymentCommand).map((c) => c.args[0].input)).toEqual([
      { deploymentId, deploymentWaitType: 'READY_WAIT' },
    ]);
    expect(await deployer.getDeployment(ref)).toEqual({ status: 'Succeeded' });
    expect(fake.deployment(deploymentId)?.continued).toEqual(['READY_WAIT']);
    expect(cd.commandCalls(ContinueDeploymentCommand)).toHaveLength(1);
  });

  it('takes a Ready deployment someone else continued first as still in progress', async () => {
    setUp({ pollsToComplete: 1, waitForReroute: true });
    const target = cdTarget({ platform: 'ECS', deploymentGroup: 'shop-svc' });
    const { deploymentId } = await deployer.startDeployment(
      deployRequest({ target, revision: { version: '1.1.0', artifact: `appspec:${appspec}` } }),
    );
    cd.on(ContinueDeploymentCommand).rejects(
      new DeploymentIsNotInReadyStateException({ message: 'not Ready', $metadata: {} }),
    );
    expect(await deployer.getDeployment({ region: 'eu-west', target, deploymentId })).toEqual({
      status: 'InProgress',
    });
  });

  it('maps Failed and Stopped to Failed with the reason', () => {
    expect(
      statusOf({ deploymentId: 'd-1', status: 'Failed', errorInformation: { message: 'too many unhealthy hosts' } }),
    ).toEqual({
      status: 'Failed',
      message: 'too many unhealthy hosts',
    });
    expect(statusOf({ deploymentId: 'd-1', status: 'Failed' })).toEqual({
      status: 'Failed',
      message: 'd-1 failed (CodeDeploy gave no reason)',
    });
    expect(
      statusOf({
        deploymentId: 'd-1',
        status: 'Stopped',
        errorInformation: { code: 'ALARM_ACTIVE', message: 'alarm 5xx' },
      }),
    ).toEqual({
      status: 'Failed',
      message: 'stopped: alarm 5xx',
    });
  });

  it('reports a deployment CodeDeploy rolled back on its own as Failed, naming the rollback deployment', async () => {
    setUp({ autoRollback: true, pollsToComplete: 1, failWhen: (_g, _r, n) => n === 2 && 'AllowTraffic failed' });
    const target = cdTarget();
    const first = await deployer.startDeployment(deployRequest({ target }));
    await pollUntilDone({ region: 'eu-west', target, deploymentId: first.deploymentId });
    const second = await deployer.startDeployment(
      deployRequest({
        target,
        releaseId: 'r2',
        revision: { version: '1.2.0', artifact: 's3://builds/shop/1.2.0.zip' },
      }),
    );
    const status = await pollUntilDone({ region: 'eu-west', target, deploymentId: second.deploymentId });
    const rollbackId = fake.deployment(second.deploymentId)?.rollbackDeploymentId;
    expect(rollbackId).toMatch(/^d-/);
    expect(status).toEqual({
      status: 'Failed',
      message: `${second.deploymentId} failed: AllowTraffic failed; CodeDeploy rolled it back automatically in deployment ${rollbackId}`,
    });
    // Even a "Succeeded" status does not hide a rollback.
    expect(
      statusOf({ deploymentId: 'd-9', status: 'Succeeded', rollbackInfo: { rollbackDeploymentId: 'd-10' } }),
    ).toMatchObject({
      status: 'Failed',
      message: expect.stringContaining('d-10'),
    });
  });

  it('says DeploymentNotFound for an unknown id, and for an id from another AWS region', async () => {
    const target = cdTarget();
    expect((await rejection(deployer.getDeployment({ region: 'eu-west', target, deploymentId: 'd-NOPE' }))).name).toBe(
      'DeploymentNotFound',
    );
    const { deploymentId } = await deployer.startDeployment(deployRequest({ target }));
    const elsewhere = cdTarget({ awsRegion: 'us-east-1' });
    const error = await rejection(deployer.getDeployment({ region: 'us-east', target: elsewhere, deploymentId }));
    expect(error.name).toBe('DeploymentNotFound');
    expect(error.message).toContain('us-east-1');
    expect((error.cause as Error).name).toBe('DeploymentDoesNotExistException');
  });
});

describe('S3 AppSpec revisions (Lambda, ECS)', () => {
  it.each([
    ['s3://specs/shop/appspec.yaml', 'YAML'],
    ['s3://specs/shop/appspec.yml', 'YAML'],
    ['s3://specs/shop/APPSPEC.JSON', 'JSON'],
    ['s3://specs/shop/appspec?bundle=JSON', 'JSON'],
  ])('deploys %s to Lambda and ECS groups as an S3 revision of bundle type %s', (artifact, bundleType) => {
    for (const platform of ['Lambda', 'ECS'] as const) {
      expect(toRevisionLocation(artifact, platform)).toEqual({
        revisionType: 'S3',
        s3Location: { bucket: 'specs', key: artifact.slice('s3://specs/'.length).split('?')[0], bundleType },
      });
    }
  });

  it('refuses an AppSpec file for a Server group and a bundle for a Lambda or ECS group', () => {
    const refusal = (artifact: string, platform: 'Server' | 'Lambda' | 'ECS') => {
      try {
        toRevisionLocation(artifact, platform);
      } catch (error) {
        return error;
      }
      return undefined;
    };
    expect(refusal('s3://specs/appspec.yaml', 'Server')).toMatchObject({
      name: 'InvalidRevision',
      message: expect.stringMatching(/AppSpec file .* Lambda or ECS group; a Server group needs a bundle/),
    });
    expect(refusal('s3://builds/app.zip?bundle=YAML', 'Server')).toMatchObject({ name: 'InvalidRevision' });
    expect(refusal('s3://builds/app.zip', 'ECS')).toMatchObject({ name: 'InvalidRevision' });
    expect(refusal('s3://builds/app?bundle=rar', 'Server')).toMatchObject({
      message: expect.stringMatching(/bundle "rar"/),
    });
  });

  it.each([
    [{ bucket: 'specs', key: 'shop/appspec.yaml', bundleType: 'YAML' as const }, 's3://specs/shop/appspec.yaml'],
    [
      { bucket: 'specs', key: 'shop/spec', bundleType: 'JSON' as const, version: 'v1' },
      's3://specs/shop/spec?version=v1&bundle=JSON',
    ],
    [{ bucket: 'builds', key: 'shop/1.0.0', bundleType: 'zip' as const }, 's3://builds/shop/1.0.0?bundle=zip'],
    [{ bucket: 'builds', key: 'shop/1.0.0.zip', bundleType: 'zip' as const }, 's3://builds/shop/1.0.0.zip'],
  ])('reads a recorded S3 revision %j back as %s, which deploys the same revision again', (s3Location, artifact) => {
    const platform = s3Location.bundleType === 'zip' ? 'Server' : 'ECS';
    expect(fromRevisionLocation({ revisionType: 'S3', s3Location })).toBe(artifact);
    expect(toRevisionLocation(artifact, platform)).toEqual({ revisionType: 'S3', s3Location });
  });
});

describe('startDeployment: rollback', () => {
  /** What the Lambda region ran before the release: the deployment that shifted shop-api:live from 6 to 7. */
  const lastGoodLambda = [
    'version: 0.0',
    'Resources:',
    '  - shopApi:',
    '      Type: AWS::Lambda::Function',
    '      Properties:',
    '        Name: shop-api',
    '        Alias: live',
    '        CurrentVersion: "6"',
    '        TargetVersion: "7"',
    'Hooks:',
    '  - BeforeAllowTraffic: shop-api-smoke',
    '',
  ].join('\n');

  it('rolls a Lambda region back from the version its alias serves now (GetAlias) to the last good one', async () => {
    lambdaApi.on(GetAliasCommand).resolves({ Name: 'live', FunctionVersion: '9' });
    await deployer.startDeployment(
      deployRequest({
        target: lambda,
        purpose: 'rollback',
        revision: { version: '1.0.0', artifact: `appspec:${lastGoodLambda}` },
      }),
    );
    const aliasCalls = lambdaApi.commandCalls(GetAliasCommand);
    expect(aliasCalls.map((c) => c.args[0].input)).toEqual([{ FunctionName: 'shop-api', Name: 'live' }]);
    const revision = cd.commandCalls(CreateDeploymentCommand)[0]?.args[0].input.revision;
    expect(revision?.revisionType).toBe('AppSpecContent');
    const content = revision?.appSpecContent?.content ?? '';
    expect(revision?.appSpecContent?.sha256).toBe(createHash('sha256').update(content).digest('hex'));
    expect(JSON.parse(content)).toEqual({
      version: '0.0',
      Resources: [
        {
          shopApi: {
            Type: 'AWS::Lambda::Function',
            Properties: { Name: 'shop-api', Alias: 'live', CurrentVersion: '9', TargetVersion: '7' },
          },
        },
      ],
      Hooks: [{ BeforeAllowTraffic: 'shop-api-smoke' }],
    });
  });

  it("asks Lambda in the target's own AWS region", async () => {
    lambdaApi.on(GetAliasCommand).resolves({ Name: 'live', FunctionVersion: '9' });
    const target = { ...lambda, awsRegion: 'ap-southeast-2' };
    await deployer.startDeployment(
      deployRequest({
        target,
        purpose: 'rollback',
        revision: { version: '1.0.0', artifact: `appspec:${lastGoodLambda}` },
      }),
    );
    const client = lambdaApi.commandCalls(GetAliasCommand)[0]?.thisValue as LambdaClient | undefined;
    expect(await client?.config.region()).toBe('ap-southeast-2');
  });

  it('deploys nothing when the alias already serves the last good version, and reports that as done', async () => {
    lambdaApi.on(GetAliasCommand).resolves({ Name: 'live', FunctionVersion: '7' });
    const { deploymentId } = await deployer.startDeployment(
      deployRequest({
        target: lambda,
        purpose: 'rollback',
        revision: { version: '1.0.0', artifact: `appspec:${lastGoodLambda}` },
      }),
    );
    expect(cd.commandCalls(CreateDeploymentCommand)).toHaveLength(0);
    const ref = { region: 'eu-west', target: lambda, deploymentId };
    expect(await deployer.getDeployment(ref)).toEqual({ status: 'Succeeded' });
    await expect(deployer.stopDeployment(ref)).resolves.toBeUndefined();
    expect(cd.calls()).toHaveLength(0);
  });

  it("passes Lambda's ResourceNotFoundException for a missing alias through, naming the function", async () => {
    lambdaApi.on(GetAliasCommand).rejects(new ResourceNotFoundException({ message: 'Alias not found', $metadata: {} }));
    const error = await rejection(
      deployer.startDeployment(
        deployRequest({
          target: lambda,
          purpose: 'rollback',
          revision: { version: '1.0.0', artifact: `appspec:${lastGoodLambda}` },
        }),
      ),
    );
    expect(error.name).toBe('ResourceNotFoundException');
    expect(cd.commandCalls(CreateDeploymentCommand)).toHaveLength(0);
  });

  it('refuses a Lambda rollback when built without Lambda rollback support, before calling AWS', async () => {
    const bare = new CodeDeployDeployer({ clients: new AwsClients() });
    const error = await rejection(
      bare.startDeployment(
        deployRequest({
          target: lambda,
          purpose: 'rollback',
          revision: { version: '1.0.0', artifact: `appspec:${lastGoodLambda}` },
        }),
      ),
    );
    expect(error.name).toBe('UnsupportedRollback');
    expect(cd.calls()).toHaveLength(0);
  });

  it('refuses a Lambda rollback whose last good AppSpec names no function, before calling AWS', async () => {
    const error = await rejection(
      deployer.startDeployment(
        deployRequest({
          target: lambda,
          purpose: 'rollback',
          revision: { version: '1.0.0', artifact: `appspec:${appspec}` },
        }),
      ),
    );
    expect(error).toMatchObject({ name: 'InvalidRevision', message: expect.stringMatching(/no Properties/) });
    expect(lambdaApi.calls()).toHaveLength(0);
    expect(cd.calls()).toHaveLength(0);
  });

  it.each([
    [
      'ECS AppSpec content',
      ecs,
      'appspec:{"version":0.0,"Resources":[{"TargetService":{"Type":"AWS::ECS::Service"}}]}',
    ],
    ['an ECS AppSpec file in S3', ecs, 's3://specs/shop/appspec.yaml?version=v3'],
    ['a Server bundle', cdTarget(), 's3://builds/shop/1.0.0.zip?etag=abc'],
    ['a Server GitHub revision', cdTarget(), 'github:acme/shop@ec26c3e57ca3a959ca5aad62de7213c562f8c821'],
  ])('redeploys %s exactly as recorded, asking Lambda nothing', async (_what, target, artifact) => {
    await deployer.startDeployment(
      deployRequest({ target, purpose: 'rollback', revision: { version: '1.0.0', artifact } }),
    );
    expect(cd.commandCalls(CreateDeploymentCommand)[0]?.args[0].input.revision).toEqual(
      toRevisionLocation(artifact, target.platform),
    );
    expect(lambdaApi.calls()).toHaveLength(0);
  });

  it('redeploys a Lambda AppSpec as given on a deploy (only a rollback rewrites it)', async () => {
    await deployer.startDeployment(
      deployRequest({ target: lambda, revision: { version: '1.1.0', artifact: `appspec:${lastGoodLambda}` } }),
    );
    expect(cd.commandCalls(CreateDeploymentCommand)[0]?.args[0].input.revision?.appSpecContent?.content).toBe(
      lastGoodLambda,
    );
    expect(lambdaApi.calls()).toHaveLength(0);
  });
});

describe('currentRevision', () => {
  it('is null for a group that never had a successful deployment', async () => {
    expect(await deployer.currentRevision('eu-west', cdTarget())).toBeNull();
  });

  it.each([
    ['an S3 bundle', cdTarget(), 's3://builds/shop/1.1.0.tgz'],
    [
      'an S3 bundle with version and ETag',
      cdTarget(),
      's3://builds/shop/1.1.0.zip?version=3HL4kqtJlcpXroDTDmJ%2Bexample&etag=%22a1b2%22',
    ],
    ['AppSpec content (Lambda)', lambda, `appspec:${appspec}`],
    ['AppSpec content (ECS)', ecs, 'appspec:{"version":0.0,"Resources":[]}'],
  ])('gives back exactly the artifact it deployed: %s', async (_what, target, artifact) => {
    const revision = { version: '1.1.0', artifact };
    const { deploymentId } = await deployer.startDeployment(deployRequest({ target, revision }));
    expect(await deployer.currentRevision('eu-west', target)).toBeNull();
    await pollUntilDone({ region: 'eu-west', target, deploymentId });
    expect(await deployer.currentRevision('eu-west', target)).toEqual(revision);
  });

  it('stays on the last successful revision after a failed deployment', async () => {
    setUp({ failWhen: (_g, _r, n) => n === 2 });
    const target = cdTarget();
    const good = { version: '1.0.0', artifact: 's3://builds/shop/1.0.0.zip' };
    const a = await deployer.startDeployment(deployRequest({ target, revision: good }));
    await pollUntilDone({ region: 'eu-west', target, deploymentId: a.deploymentId });
    const b = await deployer.startDeployment(deployRequest({ target, releaseId: 'r2' }));
    expect(await pollUntilDone({ region: 'eu-west', target, deploymentId: b.deploymentId })).toMatchObject({
      status: 'Failed',
    });
    expect(await deployer.currentRevision('eu-west', target)).toEqual(good);
  });

  it('uses the deployment id as the version of a deployment Flotilla did not make', async () => {
    const target = cdTarget();
    const seeded = fake.seed(
      { awsRegion: 'eu-west-1', application: 'shop', deploymentGroup: 'shop-prod' },
      {
        revision: { revisionType: 'S3', s3Location: { bucket: 'legacy', key: 'app.zip', bundleType: 'zip' } },
        description: 'manual',
      },
    );
    expect(await deployer.currentRevision('eu-west', target)).toEqual({
      version: seeded.deploymentId,
      artifact: 's3://legacy/app.zip',
    });
  });

  it('turns GitHub and legacy String revisions into artifacts it can redeploy', () => {
    const github = fromRevisionLocation({
      revisionType: 'GitHub',
      gitHubLocation: { repository: 'acme/shop', commitId: 'ec26c3e57ca3a959ca5aad62de7213c562f8c821' },
    });
    expect(github).toBe('github:acme/shop@ec26c3e57ca3a959ca5aad62de7213c562f8c821');
    expect(toRevisionLocation(github, 'Server')).toEqual({
      revisionType: 'GitHub',
      gitHubLocation: { repository: 'acme/shop', commitId: 'ec26c3e57ca3a959ca5aad62de7213c562f8c821' },
    });
    expect(fromRevisionLocation({ revisionType: 'String', string: { content: 'version: 0.0' } })).toBe(
      'appspec:version: 0.0',
    );
  });

  it('keeps regions apart: the same group name in two AWS regions are two groups', async () => {
    const eu = cdTarget();
    const us = cdTarget({ awsRegion: 'us-east-1' });
    const a = await deployer.startDeployment(deployRequest({ target: eu }));
    await pollUntilDone({ region: 'eu-west', target: eu, deploymentId: a.deploymentId });
    expect(await deployer.currentRevision('us-east', us)).toBeNull();
    expect(await deployer.currentRevision('eu-west', eu)).toMatchObject({ version: '1.1.0' });
  });
});

describe('a busy deployment group', () => {
  const group = { awsRegion: 'eu-west-1', application: 'shop', deploymentGroup: 'shop-prod' };

  it('adopts its own active deployment when the same start is retried (no second deployment)', async () => {
    const first = await deployer.startDeployment(deployRequest());
    const retried = await deployer.startDeployment(deployRequest());
    expect(retried).toEqual(first);
    expect(fake.deployments).toHaveLength(1);
    expect(cd.commandCalls(ListDeploymentsCommand)[0]?.args[0].input).toMatchObject({
      applicationName: 'shop',
      deploymentGroupName: 'shop-prod',
      includeOnlyStatuses: ['Created', 'Queued', 'InProgress', 'Ready', 'Baking'],
    });
  });

  it('throws DeploymentGroupBusy (transient) naming a deployment someone else started', async () => {
    const other = fake.startExternal(group, {
      revision: { revisionType: 'S3', s3Location: { bucket: 'x', key: 'y.zip', bundleType: 'zip' } },
      description: 'hotfix by hand',
    });
    const error = await rejection(deployer.startDeployment(deployRequest()));
    expect(error.name).toBe('DeploymentGroupBusy');
    expect(TRANSIENT_ERROR_NAMES).toContain(error.name);
    expect(error.message).toContain(other.deploymentId);
    expect((error.cause as Error).name).toBe('DeploymentLimitExceededException');
    expect(fake.deployments).toHaveLength(1);
  });

  it('does not adopt a Flotilla deployment of another release or purpose', async () => {
    // Every GetDeployment moves the fake along; keep the first deployment running throughout.
    setUp({ pollsToComplete: 10 });
    const mine = await deployer.startDeployment(deployRequest());
    for (const request of [deployRequest({ releaseId: 'shop-1.2.0-r1' }), deployRequest({ purpose: 'rollback' })]) {
      const error = await rejection(deployer.startDeployment(request));
      expect(error.name).toBe('DeploymentGroupBusy');
      expect(error.message).toContain(mine.deploymentId);
    }
  });

  it('starts once the group is free again', async () => {
    const other = fake.startExternal(group, {
      revision: { revisionType: 'S3', s3Location: { bucket: 'x', key: 'y.zip', bundleType: 'zip' } },
    });
    expect((await rejection(deployer.startDeployment(deployRequest()))).name).toBe('DeploymentGroupBusy');
    fake.complete(other.deploymentId, 'Succeeded');
    const { deploymentId } = await deployer.startDeployment(deployRequest());
    expect(deploymentId).not.toBe(other.deploymentId);
  });

  it('retries the create once when the active deployment ended before it could be listed', async () => {
    cd.reset();
    cd.on(CreateDeploymentCommand)
      .rejectsOnce(
        new DeploymentLimitExceededException({
          message: "The Deployment Group 'shop-prod' already has an active Deployment 'd-GONE00001'",
          $metadata: {},
        }),
      )
      .resolves({ deploymentId: 'd-NEW000001' });
    cd.on(ListDeploymentsCommand).resolves({ deployments: [] });
    expect(await deployer.startDeployment(deployRequest())).toEqual({ deploymentId: 'd-NEW000001' });
    expect(sleeps).toEqual([1000]);
  });

  it('pages through ListDeployments to find its own deployment', async () => {
    cd.reset();
    cd.on(CreateDeploymentCommand).rejects(new DeploymentLimitExceededException({ message: 'busy', $metadata: {} }));
    cd.on(ListDeploymentsCommand)
      .resolvesOnce({ deployments: ['d-OTHER0001'], nextToken: 't1' })
      .resolvesOnce({ deployments: ['d-MINE00001'] });
    cd.on(GetDeploymentCommand, { deploymentId: 'd-OTHER0001' }).resolves({
      deploymentInfo: {
        deploymentId: 'd-OTHER0001',
        status: 'Succeeded',
        description: 'flotilla shop 1.1.0 shop-1.1.0-r1 deploy',
      },
    });
    cd.on(GetDeploymentCommand, { deploymentId: 'd-MINE00001' }).resolves({
      deploymentInfo: {
        deploymentId: 'd-MINE00001',
        status: 'Queued',
        description: 'flotilla shop 1.1.0 shop-1.1.0-r1 deploy',
      },
    });
    expect(await deployer.startDeployment(deployRequest())).toEqual({ deploymentId: 'd-MINE00001' });
    expect(cd.commandCalls(ListDeploymentsCommand)[1]?.args[0].input.nextToken).toBe('t1');
  });
});

describe('throttling', () => {
  it('turns a throttled CreateDeployment into AwsThrottled (transient), keeping the SDK error as cause', async () => {
    setUp({ throttle: { CreateDeployment: 1 } });
    const error = await rejection(deployer.startDeployment(deployRequest()));
    expect(error.name).toBe('AwsThrottled');
    expect(TRANSIENT_ERROR_NAMES).toContain('AwsThrottled');
    expect(error.cause).toBeInstanceOf(ThrottlingException);
    expect(fake.deployments).toHaveLength(0);
    // The state machine's retry then succeeds.
    expect((await deployer.startDeployment(deployRequest())).deploymentId).toMatch(/^d-/);
  });

  it('recognises throttling by HTTP 429 and other services’ names, on every call', async () => {
    cd.reset();
    const tooMany = Object.assign(new Error('slow down'), { name: 'TooManyRequestsException' });
    const http429 = Object.assign(new Error('rate'), { name: 'SomethingElse', $metadata: { httpStatusCode: 429 } });
    cd.on(GetDeploymentCommand).rejectsOnce(tooMany).rejectsOnce(http429);
    cd.on(StopDeploymentCommand).rejects(new ThrottlingException({ message: 'Rate exceeded', $metadata: {} }));
    const ref = { region: 'eu-west', target: cdTarget(), deploymentId: 'd-1' };
    expect((await rejection(deployer.getDeployment(ref))).name).toBe('AwsThrottled');
    expect((await rejection(deployer.getDeployment(ref))).name).toBe('AwsThrottled');
    expect((await rejection(deployer.stopDeployment(ref))).name).toBe('AwsThrottled');
  });

  it('leaves other SDK errors as they are', async () => {
    cd.reset();
    const denied = Object.assign(new Error('not allowed'), { name: 'AccessDeniedException' });
    cd.on(CreateDeploymentCommand).rejects(denied);
    expect(await rejection(deployer.startDeployment(deployRequest()))).toBe(denied);
  });
});

describe('stopDeployment', () => {
  it('stops an active deployment without CodeDeploy auto-rollback', async () => {
    setUp({ autoRollback: true });
    const target = cdTarget();
    const { deploymentId } = await deployer.startDeployment(deployRequest({ target }));
    await deployer.stopDeployment({ region: 'eu-west', target, deploymentId });
    expect(cd.commandCalls(StopDeploymentCommand)[0]?.args[0].input).toEqual({
      deploymentId,
      autoRollbackEnabled: false,
    });
    expect(fake.deployment(deploymentId)?.status).toBe('Stopped');
    expect(fake.deployments).toHaveLength(1);
    expect(await deployer.getDeployment({ region: 'eu-west', target, deploymentId })).toEqual({
      status: 'Failed',
      message: 'stopped: Deployment was stopped by a user request.',
    });
  });

  it('is a no-op for a deployment that already ended', async () => {
    setUp({ pollsToComplete: 1 });
    const target = cdTarget();
    const { deploymentId } = await deployer.startDeployment(deployRequest({ target }));
    await pollUntilDone({ region: 'eu-west', target, deploymentId });
    await expect(deployer.stopDeployment({ region: 'eu-west', target, deploymentId })).resolves.toBeUndefined();
    expect(fake.deployment(deploymentId)?.status).toBe('Succeeded');
  });

  it('says DeploymentNotFound for an unknown id', async () => {
    const error = await rejection(
      deployer.stopDeployment({ region: 'eu-west', target: cdTarget(), deploymentId: 'd-NOPE' }),
    );
    expect(error.name).toBe('DeploymentNotFound');
  });
});
