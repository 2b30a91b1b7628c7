/**
 * The AWS adapters against a real AWS-protocol server: moto (`moto_server`, from the machine
 * image's Python) on a free loopback port, started by this file. Real HTTP, the SDK's real
 * serialisation and AWS's own error codes, where the other adapter tests mock the SDK.
 *
 * What moto models (moto 5.2, checked in its source), and so what is tested here: CodeDeploy
 * applications, groups and deployments (a deployment stays `Created`, a group never reports a last
 * successful deployment, there is no one-deployment-per-group limit and no StopDeployment, and its
 * times come as ISO strings: see withAwsTimes); CloudWatch metric alarms with SetAlarmState (no
 * PutCompositeAlarm); SNS topics with HTTP subscriptions and filter policies, which it really POSTs
 * to; STS AssumeRole, whose credentials then act in the role's account; SSM SecureStrings; and, with
 * its Step Functions interpreter on, task tokens that SendTaskSuccess/Failure/Heartbeat act on (it
 * drops a failure's cause, and a stopped or timed-out task's token still answers). What it does not
 * model stays tested with the SDK mocked, in the other files of this folder. Also Lambda functions,
 * versions and aliases (GetAlias, for a Lambda rollback) and versioned S3 objects (AppSpec files);
 * moto has no CodeDeploy ContinueDeployment, so the Ready path is tested with the SDK mocked.
 */
import { createServer, type Server } from 'node:http';
import { CloudWatchClient, PutMetricAlarmCommand, SetAlarmStateCommand } from '@aws-sdk/client-cloudwatch';
import {
  CodeDeployClient,
  CreateApplicationCommand,
  CreateDeploymentGroupCommand,
  GetDeploymentCommand,
  ListDeploymentsCommand,
} from '@aws-sdk/client-codedeploy';
import {
  CreateAccessKeyCommand,
  CreateRoleCommand,
  CreateUserCommand,
  IAMClient,
  PutUserPolicyCommand,
} from '@aws-sdk/client-iam';
import {
  CreateAliasCommand,
  CreateFunctionCommand,
  LambdaClient,
  PublishVersionCommand,
  UpdateFunctionConfigurationCommand,
} from '@aws-sdk/client-lambda';
import { CreateBucketCommand, PutBucketVersioningCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import {
  CreateStateMachineCommand,
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  SendTaskHeartbeatCommand,
  SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import { CreateTopicCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { STSClient } from '@aws-sdk/client-sts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AwsClients, type ClientFactories } from '../../../adapters/aws/clients.ts';
import { CloudWatchProber } from '../../../adapters/aws/cloudwatch-prober.ts';
import { ALREADY_LIVE_PREFIX, CodeDeployDeployer } from '../../../adapters/aws/codedeploy-deployer.ts';
import { DeploymentNotFound } from '../../../adapters/aws/errors.ts';
import { LambdaRollbacks } from '../../../adapters/aws/lambda-rollback.ts';
import { SnsEventSink } from '../../../adapters/aws/sns-events.ts';
import { StepFunctionsHoldWaker, StepFunctionsReleaseStarter } from '../../../adapters/aws/step-functions.ts';
import { createLedgerTable, DynamoDbLedger } from '../../../adapters/dynamodb/ledger.ts';
import { startEmbeddedDynamo } from '../../../backends/local/dynalite-server.ts';
import type { Intent } from '../../../core/control.ts';
import { createDeploymentChanged, DEPLOYMENT_STATE_CHANGE } from '../../../functions/deployment-changed.ts';
import { githubWebhookFromEnv } from '../../../functions/github-webhook.ts';
import { CONFIG_TTL_MS, configFromSsm, secretFromSsm } from '../../../functions/runtime/env.ts';
import type { Stamped } from '../../../ports/events.ts';
import { delivery, pushToMain, SECRET } from '../../github/deliveries.ts';
import { type MotoServer, skipWithout, startMoto, withAwsTimes } from '../../helpers/aws-tools.ts';
import { eventually } from '../../helpers/cli.ts';
import { configWith, memoryBranchHeads } from '../../helpers/fixtures.ts';
import { cdTarget, deployRequest, gate } from './helpers.ts';

const SKIP = skipWithout('moto_server', 'the AWS adapter suite against moto (test/adapters/aws/moto.test.ts)');
/** moto's default account: what any credentials of ours act in. */
const ACCOUNT = '123456789012';
const OTHER_ACCOUNT = '444455556666';

let moto: MotoServer;

/** The project's client cache, every client pointed at moto; credentials only where no role gives them. */
function motoClients(): AwsClients {
  const at = <C extends { region: string; credentials?: unknown }>(config: C) => ({
    ...config,
    endpoint: moto.endpoint,
    credentials: config.credentials ?? moto.client(config.region).credentials,
  });
  const factories: ClientFactories = {
    codedeploy: (config) => withAwsTimes(new CodeDeployClient(at(config))),
    cloudwatch: (config) => new CloudWatchClient(at(config)),
    sns: (config) => new SNSClient(at(config)),
    lambda: (config) => new LambdaClient(at(config)),
    sts: (config) => new STSClient(at(config)),
  };
  return new AwsClients({ factories });
}

beforeAll(async () => {
  if (SKIP) return;
  moto = await startMoto();
  // Step Functions executes the state machines (task tokens are real), calling back into moto.
  await moto.motoApi('/moto-api/config', { stepfunctions: { execute_state_machine: true } });
}, 120_000);
afterAll(async () => {
  if (process.env.FLOTILLA_MOTO_LOG) console.log(moto?.output());
  await moto?.close();
});

describe.skipIf(SKIP)('CodeDeployDeployer on moto', () => {
  const region = 'eu-west-1';
  let codedeploy: CodeDeployClient;

  beforeAll(async () => {
    codedeploy = withAwsTimes(new CodeDeployClient(moto.client(region)));
    for (const [application, computePlatform] of [
      ['shop', 'Server'],
      ['shop-fn', 'Lambda'],
    ] as const) {
      await codedeploy.send(new CreateApplicationCommand({ applicationName: application, computePlatform }));
      await codedeploy.send(
        new CreateDeploymentGroupCommand({
          applicationName: application,
          deploymentGroupName: `${application}-prod`,
          serviceRoleArn: `arn:aws:iam::${ACCOUNT}:role/codedeploy`,
        }),
      );
    }
  });

  it('creates a deployment of an S3 bundle that CodeDeploy reports back as sent, and follows it', async () => {
    const deployer = new CodeDeployDeployer({ clients: motoClients() });
    const target = cdTarget({ awsRegion: region, application: 'shop', deploymentGroup: 'shop-prod' });
    const artifact = 's3://builds-eu-west-1/shop/1.1.0.tgz?version=v7&etag=abc';
    const { deploymentId } = await deployer.startDeployment(
      deployRequest({ target, revision: { version: '1.1.0', artifact } }),
    );
    expect(deploymentId).toMatch(/\S/);
    // Not terminal yet (moto leaves it Created): the port says InProgress, never Succeeded.
    expect(await deployer.getDeployment({ deploymentId, region: 'eu-west', target })).toEqual({ status: 'InProgress' });
    const info = await codedeploy.send(new GetDeploymentCommand({ deploymentId }));
    expect(info.deploymentInfo?.revision).toEqual({
      revisionType: 'S3',
      s3Location: { bucket: 'builds-eu-west-1', key: 'shop/1.1.0.tgz', bundleType: 'tgz', version: 'v7', eTag: 'abc' },
    });
    expect(info.deploymentInfo?.description).toBe('flotilla shop 1.1.0 shop-1.1.0-r1 deploy');
  });

  it('sends AppSpec content with its sha256 to a Lambda group', async () => {
    const deployer = new CodeDeployDeployer({ clients: motoClients() });
    const target = cdTarget({
      awsRegion: region,
      application: 'shop-fn',
      deploymentGroup: 'shop-fn-prod',
      platform: 'Lambda',
    });
    const content = 'version: 0.0\nResources: []\n';
    const { deploymentId } = await deployer.startDeployment(
      deployRequest({ target, revision: { version: '1.2.0', artifact: `appspec:${content}` } }),
    );
    const info = await codedeploy.send(new GetDeploymentCommand({ deploymentId }));
    expect(info.deploymentInfo?.revision?.revisionType).toBe('AppSpecContent');
    expect(info.deploymentInfo?.revision?.appSpecContent?.content).toBe(content);
    expect(info.deploymentInfo?.revision?.appSpecContent?.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('reads a group with no successful deployment as having nothing to roll back to', async () => {
    const deployer = new CodeDeployDeployer({ clients: motoClients() });
    const target = cdTarget({ awsRegion: region, application: 'shop', deploymentGroup: 'shop-prod' });
    expect(await deployer.currentRevision('eu-west', target)).toBeNull();
  });

  it("turns CodeDeploy's DeploymentDoesNotExistException into DeploymentNotFound", async () => {
    const deployer = new CodeDeployDeployer({ clients: motoClients() });
    const target = cdTarget({ awsRegion: region, application: 'shop', deploymentGroup: 'shop-prod' });
    await expect(
      deployer.getDeployment({ deploymentId: 'd-NOSUCH000', region: 'eu-west', target }),
    ).rejects.toMatchObject({ name: DeploymentNotFound });
  });

  it('the deployment-changed handler leaves a child waiting on a deployment CodeDeploy has not finished, and fails one CodeDeploy does not know', async () => {
    const dynamo = await startEmbeddedDynamo({});
    try {
      await createLedgerTable(dynamo.client, 'moto-waits');
      const ledger = new DynamoDbLedger({ client: dynamo.doc, tableName: 'moto-waits' });
      const deployer = new CodeDeployDeployer({ clients: motoClients() });
      const target = cdTarget({ awsRegion: region, application: 'shop', deploymentGroup: 'shop-prod' });
      const calls: string[] = [];
      const callbacks = {
        async succeed(token: string) {
          calls.push(`success ${token}`);
          return 'woken' as const;
        },
        async fail(token: string, error: string) {
          calls.push(`failure ${token} ${error}`);
          return 'woken' as const;
        },
      };
      const wait = (deploymentId: string, token: string) =>
        ledger.putDeployWait({
          deploymentId,
          token,
          service: 'shop',
          releaseId: 'shop-1.1.0-r1',
          region: 'eu-west',
          target,
          deploy: { pollSeconds: 60, maxPollSeconds: 900 },
          handle: { deploymentId, status: 'InProgress', waitSeconds: 60, polls: 0, startedAt: 0 },
          at: new Date().toISOString(),
        });
      const changed = createDeploymentChanged({ ledger, deployer, now: Date.now, callbacks });
      const event = (deploymentId: string, state: string) => ({
        'detail-type': DEPLOYMENT_STATE_CHANGE,
        region,
        detail: { deploymentId, state, application: 'shop', deploymentGroup: 'shop-prod' },
      });
      const { deploymentId } = await deployer.startDeployment(deployRequest({ target }));
      await wait(deploymentId, 'token-1');
      // moto leaves it Created: whatever the event's state says, GetDeployment says it is not over.
      expect(await changed(event(deploymentId, 'SUCCESS'))).toEqual({ deploymentId, kind: 'waiting' });
      expect(await ledger.getDeployWait(deploymentId)).toMatchObject({ token: 'token-1' });
      await wait('d-NOSUCH000', 'token-2');
      expect(await changed(event('d-NOSUCH000', 'FAILURE'))).toEqual({
        deploymentId: 'd-NOSUCH000',
        kind: 'lost',
        woke: 'woken',
      });
      expect(calls).toEqual(['failure token-2 DeploymentNotFound']);
      expect(await ledger.getDeployWait('d-NOSUCH000')).toBeUndefined();
      // Someone else's deployment: nobody waits on it, nothing is read or woken.
      expect(await changed(event('d-OTHER0000', 'SUCCESS'))).toEqual({
        deploymentId: 'd-OTHER0000',
        kind: 'not-waited',
      });
    } finally {
      await dynamo.close();
    }
  });

  it("passes an unknown deployment group through with AWS's own error name (terminal, not retried)", async () => {
    const deployer = new CodeDeployDeployer({ clients: motoClients() });
    const target = cdTarget({ awsRegion: region, application: 'shop', deploymentGroup: 'no-such-group' });
    await expect(deployer.startDeployment(deployRequest({ target }))).rejects.toMatchObject({
      name: 'DeploymentGroupDoesNotExistException',
    });
  });

  it('reaches a group in another account through the assumed role (STS AssumeRole), and only there', async () => {
    const roleArn = `arn:aws:iam::${OTHER_ACCOUNT}:role/flotilla-deployer-shop`;
    const clients = motoClients();
    // The other account's own group, made with the role's credentials as its owner would.
    const theirs = clients.codedeploy('ap-southeast-2', roleArn);
    await theirs.send(new CreateApplicationCommand({ applicationName: 'shop-au', computePlatform: 'Server' }));
    await theirs.send(
      new CreateDeploymentGroupCommand({
        applicationName: 'shop-au',
        deploymentGroupName: 'shop-au-prod',
        serviceRoleArn: `arn:aws:iam::${OTHER_ACCOUNT}:role/codedeploy`,
      }),
    );
    const deployer = new CodeDeployDeployer({ clients });
    const target = cdTarget({ awsRegion: 'ap-southeast-2', application: 'shop-au', deploymentGroup: 'shop-au-prod' });
    await expect(deployer.startDeployment(deployRequest({ target: { ...target, roleArn } }))).resolves.toMatchObject({
      deploymentId: expect.any(String),
    });
    // Without the role the call lands in the stack's own account, which has no such application.
    await expect(deployer.startDeployment(deployRequest({ target }))).rejects.toMatchObject({
      name: 'ApplicationDoesNotExistException',
    });
  });
});

describe.skipIf(SKIP)('rollbacks on moto: Lambda aliases and AppSpec files in S3', () => {
  const region = 'eu-west-1';
  const bucket = 'specs-eu-west-1';
  let codedeploy: CodeDeployClient;
  let s3: S3Client;
  /** The AppSpec of the Lambda region's last good deployment: shop-api:<alias> from 1 to 2. */
  const lastGood = (alias: string) =>
    [
      'version: 0.0',
      'Resources:',
      '  - shopApi:',
      '      Type: AWS::Lambda::Function',
      '      Properties:',
      '        Name: shop-api',
      `        Alias: ${alias}`,
      '        CurrentVersion: 1',
      '        TargetVersion: 2',
      '',
    ].join('\n');
  const lambdaTarget = cdTarget({
    awsRegion: region,
    application: 'shop-api',
    deploymentGroup: 'shop-api-prod',
    platform: 'Lambda',
  });
  const ecsTarget = cdTarget({
    awsRegion: region,
    application: 'shop-svc',
    deploymentGroup: 'shop-svc-prod',
    platform: 'ECS',
  });
  /** S3 reads go to moto, path-style (a bucket name as a host name of 127.0.0.1 would not resolve). */
  const rollbackDeployer = () => {
    const clients = motoClients();
    return new CodeDeployDeployer({
      clients,
      lambdaRollback: new LambdaRollbacks({ clients, s3Endpoint: () => moto.endpoint }),
    });
  };
  const sentAppSpec = async (deploymentId: string) => {
    const info = await codedeploy.send(new GetDeploymentCommand({ deploymentId }));
    expect(info.deploymentInfo?.revision?.revisionType).toBe('AppSpecContent');
    return JSON.parse(info.deploymentInfo?.revision?.appSpecContent?.content ?? 'null');
  };

  beforeAll(async () => {
    if (SKIP) return;
    codedeploy = withAwsTimes(new CodeDeployClient(moto.client(region)));
    s3 = new S3Client({ ...moto.client(region), forcePathStyle: true });
    const iam = new IAMClient(moto.client('us-east-1'));
    const role = await iam.send(
      new CreateRoleCommand({
        RoleName: 'shop-api',
        AssumeRolePolicyDocument: JSON.stringify({
          Version: '2012-10-17',
          Statement: [{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }],
        }),
      }),
    );
    const lambda = new LambdaClient(moto.client(region));
    // Versions 1, 2 and 3 of shop-api. `live` serves 3: the version a failed release left there.
    // The smallest zip there is: an end-of-central-directory record and nothing else.
    const emptyZip = Buffer.concat([Buffer.from('PK\x05\x06', 'latin1'), Buffer.alloc(18)]);
    await lambda.send(
      new CreateFunctionCommand({
        FunctionName: 'shop-api',
        Runtime: 'nodejs22.x',
        Role: role.Role?.Arn,
        Handler: 'index.handler',
        Code: { ZipFile: emptyZip },
        Publish: true,
      }),
    );
    for (const build of ['2', '3']) {
      await lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'shop-api', Description: build }));
      await lambda.send(new PublishVersionCommand({ FunctionName: 'shop-api' }));
    }
    await lambda.send(new CreateAliasCommand({ FunctionName: 'shop-api', Name: 'live', FunctionVersion: '3' }));
    await lambda.send(new CreateAliasCommand({ FunctionName: 'shop-api', Name: 'stable', FunctionVersion: '2' }));
    for (const [application, computePlatform] of [
      ['shop-api', 'Lambda'],
      ['shop-svc', 'ECS'],
    ] as const) {
      await codedeploy.send(new CreateApplicationCommand({ applicationName: application, computePlatform }));
      await codedeploy.send(
        new CreateDeploymentGroupCommand({
          applicationName: application,
          deploymentGroupName: `${application}-prod`,
          serviceRoleArn: `arn:aws:iam::${ACCOUNT}:role/codedeploy`,
        }),
      );
    }
    await s3.send(
      new CreateBucketCommand({ Bucket: bucket, CreateBucketConfiguration: { LocationConstraint: region } }),
    );
    await s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
  });

  it("rolls a Lambda region back from the alias's live version (GetAlias) to the last good one", async () => {
    const deployer = rollbackDeployer();
    const { deploymentId } = await deployer.startDeployment(
      deployRequest({
        target: lambdaTarget,
        purpose: 'rollback',
        revision: { version: '1.0.0', artifact: `appspec:${lastGood('live')}` },
      }),
    );
    expect(await sentAppSpec(deploymentId)).toEqual({
      version: '0.0',
      Resources: [
        {
          shopApi: {
            Type: 'AWS::Lambda::Function',
            Properties: { Name: 'shop-api', Alias: 'live', CurrentVersion: '3', TargetVersion: '2' },
          },
        },
      ],
    });
  });

  it('reads a last good AppSpec kept in S3 at its recorded object version, and rolls back from the live version', async () => {
    const first = await s3.send(
      new PutObjectCommand({ Bucket: bucket, Key: 'shop-api/appspec.yaml', Body: lastGood('live') }),
    );
    // A later build's AppSpec overwrites the key: the rollback must read the recorded version, not this.
    await s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: 'shop-api/appspec.yaml',
        Body: lastGood('live').replace('TargetVersion: 2', 'TargetVersion: 3'),
      }),
    );
    expect(first.VersionId).toMatch(/\S/);
    const deployer = rollbackDeployer();
    const { deploymentId } = await deployer.startDeployment(
      deployRequest({
        target: lambdaTarget,
        releaseId: 'shop-1.1.0-r2',
        purpose: 'rollback',
        revision: { version: '1.0.0', artifact: `s3://${bucket}/shop-api/appspec.yaml?version=${first.VersionId}` },
      }),
    );
    expect((await sentAppSpec(deploymentId)).Resources[0].shopApi.Properties).toEqual({
      Name: 'shop-api',
      Alias: 'live',
      CurrentVersion: '3',
      TargetVersion: '2',
    });
  });

  it('signs its S3 read as S3 verifies it: moto with authentication on accepts it, and refuses a wrong secret', async () => {
    // A key with a space and a version id: both are in what is signed (path and query).
    const key = 'shop api/appspec.yaml';
    const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: lastGood('live') }));
    const iam = new IAMClient(moto.client('us-east-1'));
    await iam.send(new CreateUserCommand({ UserName: 'flotilla-reader' }));
    await iam.send(
      new PutUserPolicyCommand({
        UserName: 'flotilla-reader',
        PolicyName: 'rollback',
        PolicyDocument: JSON.stringify({
          Version: '2012-10-17',
          Statement: [
            { Effect: 'Allow', Action: ['s3:GetObject', 's3:GetObjectVersion', 'lambda:GetAlias'], Resource: '*' },
          ],
        }),
      }),
    );
    const made = await iam.send(new CreateAccessKeyCommand({ UserName: 'flotilla-reader' }));
    const signedWith = (secretAccessKey: string) => {
      const credentials = { accessKeyId: made.AccessKey?.AccessKeyId ?? '', secretAccessKey };
      const clients = new AwsClients({
        factories: {
          codedeploy: (config) =>
            withAwsTimes(new CodeDeployClient({ ...config, endpoint: moto.endpoint, credentials })),
          lambda: (config) => new LambdaClient({ ...config, endpoint: moto.endpoint, credentials }),
        },
      });
      return new LambdaRollbacks({ clients, s3Endpoint: () => moto.endpoint });
    };
    const lastGoodFile = {
      revisionType: 'S3' as const,
      s3Location: { bucket, key, bundleType: 'YAML' as const, version: put.VersionId },
    };
    const authOn = (count: string) =>
      fetch(`${moto.endpoint}/moto-api/reset-auth`, { method: 'POST', body: count }).then((r) => r.text());
    await authOn('0');
    try {
      const good = await signedWith(made.AccessKey?.SecretAccessKey ?? '').revision(lambdaTarget, lastGoodFile, key);
      expect(good.kind).toBe('Deploy');
      await expect(signedWith('not-the-secret').revision(lambdaTarget, lastGoodFile, key)).rejects.toMatchObject({
        name: 'SignatureDoesNotMatch',
      });
    } finally {
      await authOn('inf');
    }
  });

  it('deploys nothing when the alias already serves the last good version', async () => {
    const deployer = rollbackDeployer();
    const before = await codedeploy.send(
      new ListDeploymentsCommand({ applicationName: 'shop-api', deploymentGroupName: 'shop-api-prod' }),
    );
    const { deploymentId } = await deployer.startDeployment(
      deployRequest({
        target: lambdaTarget,
        releaseId: 'shop-1.1.0-r3',
        purpose: 'rollback',
        revision: { version: '1.0.0', artifact: `appspec:${lastGood('stable')}` },
      }),
    );
    expect(deploymentId.startsWith(ALREADY_LIVE_PREFIX)).toBe(true);
    expect(await deployer.getDeployment({ deploymentId, region: 'eu-west', target: lambdaTarget })).toEqual({
      status: 'Succeeded',
    });
    const after = await codedeploy.send(
      new ListDeploymentsCommand({ applicationName: 'shop-api', deploymentGroupName: 'shop-api-prod' }),
    );
    expect(after.deployments).toEqual(before.deployments);
  });

  it("passes Lambda's own error for an alias that does not exist, and creates no deployment", async () => {
    const deployer = rollbackDeployer();
    await expect(
      deployer.startDeployment(
        deployRequest({
          target: lambdaTarget,
          releaseId: 'shop-1.1.0-r4',
          purpose: 'rollback',
          revision: { version: '1.0.0', artifact: `appspec:${lastGood('gone')}` },
        }),
      ),
    ).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
  });

  it('redeploys an ECS AppSpec file in S3 as recorded: an S3 revision of bundle type YAML', async () => {
    const deployer = rollbackDeployer();
    const artifact = `s3://${bucket}/shop-svc/appspec.yaml?version=v9`;
    const { deploymentId } = await deployer.startDeployment(
      deployRequest({ target: ecsTarget, purpose: 'rollback', revision: { version: '1.0.0', artifact } }),
    );
    const info = await codedeploy.send(new GetDeploymentCommand({ deploymentId }));
    expect(info.deploymentInfo?.revision).toEqual({
      revisionType: 'S3',
      s3Location: { bucket, key: 'shop-svc/appspec.yaml', bundleType: 'YAML', version: 'v9' },
    });
  });
});

describe.skipIf(SKIP)('CloudWatchProber on moto', () => {
  const region = 'eu-west-1';
  let cloudwatch: CloudWatchClient;
  const alarm = (name: string) =>
    new PutMetricAlarmCommand({
      AlarmName: name,
      Namespace: 'shop',
      MetricName: '5xx',
      Statistic: 'Sum',
      Period: 60,
      EvaluationPeriods: 1,
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'breaching',
    });
  const setState = (name: string, state: 'OK' | 'ALARM' | 'INSUFFICIENT_DATA', reason: string) =>
    cloudwatch.send(new SetAlarmStateCommand({ AlarmName: name, StateValue: state, StateReason: reason }));
  const probe = (target: ReturnType<typeof cdTarget>, signals?: 'immediate') =>
    new CloudWatchProber({ clients: motoClients() }).probe({
      region: 'eu-west',
      target,
      expectedVersion: '1.1.0',
      gate: gate(),
      count: 1,
      ...(signals ? { signals } : {}),
    });

  beforeAll(async () => {
    cloudwatch = new CloudWatchClient(moto.client(region));
    for (const name of ['shop-eu-5xx', 'shop-eu-latency-p99', 'shop-eu-latency-p50'])
      await cloudwatch.send(alarm(name));
    // A second named alarm (moto 5.2 has no PutCompositeAlarm: composites are covered with the
    // SDK mocked, in cloudwatch-prober.test.ts).
    await cloudwatch.send(alarm('shop-eu-health'));
  });

  it('reads an alarm in INSUFFICIENT_DATA as missing data, never a pass', async () => {
    await setState('shop-eu-5xx', 'INSUFFICIENT_DATA', 'no datapoints');
    const samples = await probe(cdTarget({ awsRegion: region, alarms: { names: ['shop-eu-5xx'] } }));
    expect(samples).toEqual([{ kind: 'missing', message: 'alarm shop-eu-5xx has INSUFFICIENT_DATA' }]);
  });

  it('follows set-alarm-state: OK passes, ALARM fails with its reason, for names and prefixes', async () => {
    const target = cdTarget({
      awsRegion: region,
      alarms: { names: ['shop-eu-5xx', 'shop-eu-health'], prefix: 'shop-eu-latency-' },
    });
    for (const name of ['shop-eu-5xx', 'shop-eu-health', 'shop-eu-latency-p99', 'shop-eu-latency-p50']) {
      await setState(name, 'OK', 'fine');
    }
    expect(await probe(target)).toEqual(Array.from({ length: 4 }, () => ({ kind: 'ok', version: '1.1.0' })));

    await setState('shop-eu-latency-p99', 'ALARM', 'p99 over 800 ms');
    expect(await probe(target)).toEqual([
      { kind: 'ok', version: '1.1.0' },
      { kind: 'ok', version: '1.1.0' },
      { kind: 'ok', version: '1.1.0' },
      { kind: 'error', message: 'alarm shop-eu-latency-p99 is ALARM: p99 over 800 ms' },
    ]);
    await setState('shop-eu-health', 'ALARM', 'health fired');
    expect(await probe(target)).toContainEqual({
      kind: 'error',
      message: 'alarm shop-eu-health is ALARM: health fired',
    });
    // Right after a rollback, lagging alarm signals are left out.
    expect(await probe(target, 'immediate')).toEqual([]);
  });

  it('reads an alarm name that does not exist, or a prefix matching nothing, as missing', async () => {
    const samples = await probe(
      cdTarget({ awsRegion: region, alarms: { names: ['shop-eu-typo'], prefix: 'nothing-' } }),
    );
    expect(samples).toEqual([
      { kind: 'missing', message: `alarm shop-eu-typo does not exist in ${region}` },
      { kind: 'missing', message: `no alarm in ${region} has a name starting with "nothing-"` },
    ]);
  });

  it("asks the target's own region: an alarm of the same name elsewhere is not seen", async () => {
    const samples = await probe(cdTarget({ awsRegion: 'us-east-1', alarms: { names: ['shop-eu-5xx'] } }));
    expect(samples).toEqual([{ kind: 'missing', message: 'alarm shop-eu-5xx does not exist in us-east-1' }]);
  });

  it('asks for more than 100 named alarms in chunks DescribeAlarms accepts', async () => {
    const names = Array.from({ length: 105 }, (_, i) => `bulk-${String(i).padStart(3, '0')}`);
    for (const name of names) await cloudwatch.send(alarm(name));
    await setState('bulk-104', 'ALARM', 'the last one');
    const samples = await probe(cdTarget({ awsRegion: region, alarms: { names } }));
    expect(samples).toHaveLength(105);
    expect(samples.at(-1)).toEqual({ kind: 'error', message: 'alarm bulk-104 is ALARM: the last one' });
    expect(samples.filter((s) => s.kind === 'ok')).toHaveLength(104);
  });
});

describe.skipIf(SKIP)('SnsEventSink on moto', () => {
  const region = 'eu-west-1';
  let sns: SNSClient;
  let receiver: Server;
  const received: { path: string; body: Record<string, string> }[] = [];

  beforeAll(async () => {
    sns = new SNSClient(moto.client(region));
    receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (d) => {
        body += d;
      });
      req.on('end', () => {
        received.push({ path: req.url ?? '', body: JSON.parse(body) });
        res.end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  });
  afterAll(async () => {
    await new Promise((resolve) => receiver?.close(resolve));
  });

  const finished: Stamped = {
    kind: 'release-finished',
    service: 'shop',
    releaseId: 'shop-1.1.0-r1',
    at: '2026-03-01T12:00:00.000Z',
    outcome: {
      releaseId: 'shop-1.1.0-r1',
      service: 'shop',
      version: '1.1.0',
      status: 'ROLLED_BACK',
      reason: 'wave 2 gate failed',
      regions: [{ region: 'eu-west', version: '1.0.0', phase: 'rolled-back' }],
    },
  };

  it('publishes a notable event that reaches subscribers by its attributes (filter policies), with subject and message', async () => {
    const { TopicArn } = await sns.send(new CreateTopicCommand({ Name: 'flotilla-test-alerts' }));
    const { port } = receiver.address() as { port: number };
    // Two subscribers that filter on the status attribute: only the matching one is sent the event.
    for (const status of ['ROLLED_BACK', 'SUCCEEDED']) {
      await sns.send(
        new SubscribeCommand({
          TopicArn,
          Protocol: 'http',
          Endpoint: `http://127.0.0.1:${port}/${status}`,
          Attributes: { FilterPolicy: JSON.stringify({ kind: ['release-finished'], status: [status] }) },
        }),
      );
    }
    const failures: unknown[] = [];
    const sink = new SnsEventSink({ client: sns, topicArn: TopicArn as string, onError: (e) => failures.push(e) });
    await sink.emit(finished);
    expect(failures).toEqual([]);
    const notification = await eventually(
      'the SNS notification',
      async () => received.find((m) => m.body.Type === 'Notification'),
      20_000,
    );
    expect(notification?.path).toBe('/ROLLED_BACK');
    expect(notification?.body).toMatchObject({ TopicArn, Subject: 'shop 1.1.0: ROLLED_BACK' });
    expect(JSON.parse(notification?.body.Message as string)).toEqual(finished);
    // A progress event is not notable: nothing is published for it.
    await sink.emit({ ...finished, kind: 'wave-started', wave: 0, name: 'canary', regions: ['eu-west'] } as Stamped);
    await sink.emit(finished);
    await eventually('the second notification', async () =>
      received.filter((m) => m.body.Type === 'Notification').length >= 2 ? true : undefined,
    );
    expect(received.filter((m) => m.body.Type === 'Notification').map((m) => m.path)).toEqual([
      '/ROLLED_BACK',
      '/ROLLED_BACK',
    ]);
  });

  it("reports SNS's NotFound for a topic that does not exist, and does not throw", async () => {
    const failures: unknown[] = [];
    const sink = new SnsEventSink({
      client: sns,
      topicArn: `arn:aws:sns:${region}:${ACCOUNT}:no-such-topic`,
      onError: (e) => failures.push(e),
    });
    await expect(sink.emit(finished)).resolves.toBeUndefined();
    expect(failures).toHaveLength(1);
    expect((failures[0] as Error).name).toMatch(/^NotFound/);
  });
});

describe.skipIf(SKIP)('SSM secrets on moto', () => {
  it('reads a SecureString decrypted, once per container', async () => {
    const ssm = new SSMClient(moto.client('us-east-1'));
    await ssm.send(
      new PutParameterCommand({
        Name: '/flotilla/test-secret',
        Type: 'SecureString',
        Value: 's3cr3t',
        Overwrite: true,
      }),
    );
    const secret = secretFromSsm(ssm, '/flotilla/test-secret');
    expect(await secret()).toBe('s3cr3t');
    await ssm.send(
      new PutParameterCommand({
        Name: '/flotilla/test-secret',
        Type: 'SecureString',
        Value: 'rotated',
        Overwrite: true,
      }),
    );
    expect(await secret()).toBe('s3cr3t');
  });

  it("fails with SSM's ParameterNotFound for a missing parameter, and reads it once it exists", async () => {
    const ssm = new SSMClient(moto.client('us-east-1'));
    const secret = secretFromSsm(ssm, '/flotilla/not-yet');
    await expect(secret()).rejects.toMatchObject({ name: 'ParameterNotFound' });
    await ssm.send(new PutParameterCommand({ Name: '/flotilla/not-yet', Type: 'SecureString', Value: 'now' }));
    expect(await secret()).toBe('now');
  });
});

describe.skipIf(SKIP)('the GitHub webhook with its config in SSM, on moto', () => {
  // Its own region: moto's Step Functions quirk (see the task-token suite below).
  const region = 'ap-south-1';
  const CONFIG_PARAM = '/flotilla/release-config';
  const config = configWith([['us-east-1'], ['eu-west-1', 'ap-southeast-2']]);
  let ssm: SSMClient;
  let sfn: SFNClient;

  beforeAll(async () => {
    ssm = new SSMClient(moto.client(region));
    sfn = new SFNClient(moto.client(region));
    await ssm.send(
      new PutParameterCommand({ Name: '/flotilla/github-webhook-secret', Type: 'SecureString', Value: SECRET }),
    );
    await ssm.send(new PutParameterCommand({ Name: CONFIG_PARAM, Type: 'String', Value: JSON.stringify(config) }));
  });

  it('starts the release of a pushed commit with the config read from the parameter FLOTILLA_CONFIG_PARAM names', async () => {
    const created = await sfn.send(
      new CreateStateMachineCommand({
        name: 'flotilla-test-webhook',
        definition: JSON.stringify({ StartAt: 'Done', States: { Done: { Type: 'Succeed' } } }),
        roleArn: `arn:aws:iam::${ACCOUNT}:role/flotilla-test`,
      }),
    );
    const env = {
      FLOTILLA_GITHUB_SECRET_PARAM: '/flotilla/github-webhook-secret',
      FLOTILLA_RELEASE_STATE_MACHINE_ARN: created.stateMachineArn as string,
      FLOTILLA_ARTIFACT_TEMPLATE: 's3://builds/shop/{commit}.zip',
      FLOTILLA_CONFIG_PARAM: CONFIG_PARAM,
      FLOTILLA_BRANCH: 'main',
    };
    const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
    Object.assign(process.env, env);
    try {
      const handle = githubWebhookFromEnv({ ssm, sfn, ledger: memoryBranchHeads() });
      const push = pushToMain();
      const response = await handle(delivery(push));
      expect(response.statusCode, response.body).toBe(202);
      const { releaseId } = JSON.parse(response.body as string);
      const executionArn = `${(created.stateMachineArn as string).replace(':stateMachine:', ':execution:')}:${releaseId}`;
      const started = await sfn.send(new DescribeExecutionCommand({ executionArn }));
      expect(JSON.parse(started.input ?? '{}')).toMatchObject({
        config,
        owner: 'github',
        version: push.after.slice(0, 12),
      });
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });

  it('reads an updated parameter after a minute, and a broken one not at all (MisconfiguredFunction, read again next time)', async () => {
    let now = 1_000_000;
    const saved = process.env.FLOTILLA_CONFIG_PARAM;
    process.env.FLOTILLA_CONFIG_PARAM = CONFIG_PARAM;
    try {
      const load = configFromSsm(ssm, () => now);
      expect((await load()).regions).toHaveLength(3);
      const smaller = configWith([['us-east-1']]);
      await ssm.send(
        new PutParameterCommand({
          Name: CONFIG_PARAM,
          Type: 'String',
          Value: JSON.stringify(smaller),
          Overwrite: true,
        }),
      );
      now += CONFIG_TTL_MS - 1;
      expect((await load()).regions).toHaveLength(3);
      now += 1;
      expect((await load()).regions).toHaveLength(1);
      now += CONFIG_TTL_MS;
      await ssm.send(
        new PutParameterCommand({ Name: CONFIG_PARAM, Type: 'String', Value: '{"service":', Overwrite: true }),
      );
      await expect(load()).rejects.toMatchObject({
        name: 'MisconfiguredFunction',
        message: expect.stringContaining('not JSON'),
      });
      await ssm.send(
        new PutParameterCommand({ Name: CONFIG_PARAM, Type: 'String', Value: JSON.stringify(config), Overwrite: true }),
      );
      expect((await load()).regions).toHaveLength(3);
    } finally {
      if (saved === undefined) delete process.env.FLOTILLA_CONFIG_PARAM;
      else process.env.FLOTILLA_CONFIG_PARAM = saved;
    }
  });

  it("names SSM's ParameterNotFound when the parameter does not exist", async () => {
    const saved = process.env.FLOTILLA_CONFIG_PARAM;
    process.env.FLOTILLA_CONFIG_PARAM = '/flotilla/no-such-config';
    try {
      await expect(configFromSsm(ssm)()).rejects.toMatchObject({
        name: 'MisconfiguredFunction',
        message: expect.stringContaining('ParameterNotFound'),
      });
    } finally {
      if (saved === undefined) delete process.env.FLOTILLA_CONFIG_PARAM;
      else process.env.FLOTILLA_CONFIG_PARAM = saved;
    }
  });
});

describe.skipIf(SKIP)('Step Functions task tokens on moto', () => {
  /**
   * A region per hold: moto 5.2 deep-copies a machine's whole regional backend when it starts an
   * execution, and fails once any execution has run there (its locks cannot be copied).
   */
  const REGIONS = ['us-east-2', 'us-west-1', 'us-west-2', 'ca-central-1', 'eu-central-1', 'eu-north-1'];
  let n = 0;
  const intent = (verb: Intent['verb']): Intent => ({
    service: 'shop',
    releaseId: 'shop-1.1.0',
    verb,
    actor: 'ana@example.com',
    reason: 'graphs look fine',
    at: '2026-03-01T12:00:00.000Z',
    id: `i-${verb}`,
  });

  /**
   * A hold as the release machine has one: a task that waits for its token (handed here to SNS,
   * which moto's interpreter can call), with a heartbeat.
   */
  async function holdMachine(sfn: SFNClient, region: string): Promise<string> {
    const sns = new SNSClient(moto.client(region));
    const { TopicArn } = await sns.send(new CreateTopicCommand({ Name: 'flotilla-test-holds' }));
    const definition = {
      StartAt: 'Hold',
      States: {
        Hold: {
          Type: 'Task',
          Resource: 'arn:aws:states:::sns:publish.waitForTaskToken',
          Parameters: { TopicArn, 'Message.$': 'States.JsonToString($$.Task)' },
          TimeoutSeconds: 300,
          HeartbeatSeconds: 120,
          End: true,
        },
      },
    };
    const created = await sfn.send(
      new CreateStateMachineCommand({
        name: 'flotilla-test-release',
        definition: JSON.stringify(definition),
        roleArn: `arn:aws:iam::${ACCOUNT}:role/flotilla-test`,
      }),
    );
    return created.stateMachineArn as string;
  }

  /** Starts a hold through the project's release starter, and reads its task token from the history. */
  async function hold(): Promise<{ sfn: SFNClient; stateMachineArn: string; executionArn: string; token: string }> {
    const region = REGIONS[n] as string;
    n += 1;
    const sfn = new SFNClient(moto.client(region));
    const stateMachineArn = await holdMachine(sfn, region);
    const starter = new StepFunctionsReleaseStarter(sfn, stateMachineArn);
    const started = await starter.start({
      releaseId: `shop-1.1.${n}`,
      version: `1.1.${n}`,
      artifact: 's3://builds/shop.zip',
      config: configWith([['eu-west']]),
      owner: 'flotilla-cli',
    });
    expect(started.executionArn).toBe(`${stateMachineArn.replace(':stateMachine:', ':execution:')}:shop-1.1.${n}`);
    const token = await eventually(
      "the hold's task token",
      async () => {
        const { events = [] } = await sfn.send(new GetExecutionHistoryCommand({ executionArn: started.executionArn }));
        const scheduled = events.find((e) => e.type === 'TaskScheduled')?.taskScheduledEventDetails?.parameters;
        if (!scheduled || !events.some((e) => e.type === 'TaskSubmitted')) return undefined;
        return JSON.parse(JSON.parse(scheduled).Message).Token as string;
      },
      30_000,
    );
    return { sfn, stateMachineArn, executionArn: started.executionArn as string, token };
  }
  const execution = (sfn: SFNClient, executionArn: string) => sfn.send(new DescribeExecutionCommand({ executionArn }));

  it('promote wakes the hold with SendTaskSuccess: the execution succeeds with the verb as output', async () => {
    const { sfn, executionArn, token } = await hold();
    // A heartbeat on a live token is accepted (the fallback re-check keeps a long wait alive this way).
    await expect(sfn.send(new SendTaskHeartbeatCommand({ taskToken: token }))).resolves.toBeDefined();
    const waker = new StepFunctionsHoldWaker(sfn);
    expect(await waker.wake({ token, reason: 'bake', at: '' }, intent('promote'))).toBe('woken');
    const done = await eventually(
      'the execution to end',
      async () => {
        const out = await execution(sfn, executionArn);
        return out.status === 'RUNNING' ? undefined : out;
      },
      30_000,
    );
    expect(done?.status).toBe('SUCCEEDED');
    expect(JSON.parse(done?.output ?? '{}')).toEqual({
      verb: 'promote',
      actor: 'ana@example.com',
      reason: 'graphs look fine',
    });
    // The token is used up: waking again finds nothing (InvalidToken), which is not an error.
    expect(await waker.wake({ token, reason: 'bake', at: '' }, intent('promote'))).toBe('gone');
    await expect(sfn.send(new SendTaskHeartbeatCommand({ taskToken: token }))).rejects.toMatchObject({
      name: 'InvalidToken',
    });
  });

  it('abort fails the hold with SendTaskFailure and error ReleaseAborted, naming who and why', async () => {
    const { sfn, executionArn, token } = await hold();
    expect(await new StepFunctionsHoldWaker(sfn).wake({ token, reason: 'bake', at: '' }, intent('abort'))).toBe(
      'woken',
    );
    const done = await eventually(
      'the execution to end',
      async () => {
        const out = await execution(sfn, executionArn);
        return out.status === 'RUNNING' ? undefined : out;
      },
      30_000,
    );
    expect(done).toMatchObject({ status: 'FAILED', error: 'ReleaseAborted' });
    // The cause (who and why) is checked with the SDK mocked: moto 5.2 drops a task failure's cause.
  });

  it('starting the same release again with another input is refused with ExecutionAlreadyExists', async () => {
    const { sfn, stateMachineArn, executionArn } = await hold();
    const name = executionArn.split(':').at(-1) as string;
    await expect(
      sfn.send(new StartExecutionCommand({ stateMachineArn, name, input: JSON.stringify({ other: true }) })),
    ).rejects.toMatchObject({ name: 'ExecutionAlreadyExists' });
    await sfn.send(new StopExecutionCommand({ executionArn }));
  });
});
