import { describe, expect, it } from 'vitest';
import {
  type ArtifactRequest,
  artifactProblem,
  buildToMake,
  formatArtifactProblems,
  resolveArtifacts,
} from '../../core/artifacts.ts';
import type { CodeDeployTarget, FlotillaConfig, RegionTarget } from '../../core/config.ts';
import { planRelease } from '../../core/plan.ts';
import { createPlanRelease } from '../../functions/plan-release.ts';
import { configWith } from '../helpers/fixtures.ts';

const cd = (awsRegion: string, platform: CodeDeployTarget['platform']): CodeDeployTarget => ({
  kind: 'codedeploy',
  awsRegion,
  application: 'shop',
  deploymentGroup: `shop-${awsRegion}`,
  platform,
  alarms: { names: [] },
});

const config = (targets: Record<string, RegionTarget>): Pick<FlotillaConfig, 'regions'> => ({
  regions: Object.entries(targets).map(([name, target]) => ({ name, target })),
});

const resolve = (targets: Record<string, RegionTarget>, request: ArtifactRequest) =>
  resolveArtifacts(config(targets), '1.4.0', request);

const artifacts = (result: ReturnType<typeof resolveArtifacts>) => {
  if (!result.ok) throw new Error(JSON.stringify(result.problems));
  return Object.fromEntries([...result.revisions].map(([region, r]) => [region, r]));
};

const problems = (result: ReturnType<typeof resolveArtifacts>) => (result.ok ? [] : result.problems);

const ecsAppSpec = (arn: string) =>
  `appspec:version: 0.0\nResources:\n  - TargetService:\n      Type: AWS::ECS::Service\n      Properties:\n        TaskDefinition: "${arn}"\n        LoadBalancerInfo: { ContainerName: web, ContainerPort: 80 }\n`;
const lambdaAppSpec = (name: string, target = '7') =>
  `appspec:version: 0.0\nResources:\n  - shop:\n      Type: AWS::Lambda::Function\n      Properties: { Name: ${name}, Alias: live, CurrentVersion: "6", TargetVersion: "${target}" }\n`;

describe('resolveArtifacts', () => {
  it('fills {awsRegion} and {region} in for each region, so each gets a bundle in its own bucket', () => {
    const out = resolve(
      { use1: cd('us-east-1', 'Server'), euw1: cd('eu-west-1', 'Server') },
      { artifact: 's3://shop-builds-{awsRegion}/shop/{region}/1.4.0.zip' },
    );
    expect(artifacts(out)).toEqual({
      use1: { version: '1.4.0', artifact: 's3://shop-builds-us-east-1/shop/use1/1.4.0.zip' },
      euw1: { version: '1.4.0', artifact: 's3://shop-builds-eu-west-1/shop/euw1/1.4.0.zip' },
    });
  });

  it('fills templates inside AppSpec content: one ECS AppSpec names each region its own task definition', () => {
    const out = resolve(
      { use1: cd('us-east-1', 'ECS'), aps2: cd('ap-southeast-2', 'ECS') },
      { artifact: ecsAppSpec('arn:aws:ecs:{awsRegion}:111122223333:task-definition/shop:12') },
    );
    expect(artifacts(out).aps2?.artifact).toContain('arn:aws:ecs:ap-southeast-2:111122223333:task-definition/shop:12');
  });

  it('takes a region from the map over the default, and a map alone when it names every region', () => {
    const targets = { use1: cd('us-east-1', 'Server'), euw1: cd('eu-west-1', 'Server') };
    const mixed = resolve(targets, {
      artifact: 's3://shop-builds-{awsRegion}/shop/1.4.0.zip',
      artifacts: { euw1: 's3://eu-archive/shop/1.4.0.tgz' },
    });
    expect(artifacts(mixed).euw1?.artifact).toBe('s3://eu-archive/shop/1.4.0.tgz');
    expect(artifacts(mixed).use1?.artifact).toBe('s3://shop-builds-us-east-1/shop/1.4.0.zip');
    const mapOnly = resolve(targets, {
      artifact: '',
      artifacts: { use1: 's3://a-bucket/shop.zip', euw1: 's3://b-bucket/shop.zip' },
    });
    expect(Object.keys(artifacts(mapOnly))).toEqual(['use1', 'euw1']);
  });

  it('lists every problem at once, each naming its region', () => {
    const out = resolve(
      { use1: cd('us-east-1', 'Server'), euw1: cd('eu-west-1', 'Lambda'), local: localTarget() },
      { artifact: '', artifacts: { use1: 's3://b/shop.rar', nowhere: 's3://b/x.zip', local: '/builds/{awsRegion}' } },
    );
    expect(problems(out)).toEqual([
      { region: 'nowhere', message: '--artifacts names a region the config does not have' },
      { region: 'use1', message: expect.stringContaining('must end in .zip, .tar, .tar.gz or .tgz') },
      { region: 'euw1', message: expect.stringContaining('no artifact') },
      { region: 'local', message: expect.stringContaining('names {awsRegion}, but local is a local-process region') },
    ]);
  });

  it('refuses one S3 bundle for Server groups in different AWS regions: a bucket lives in one', () => {
    const out = resolve(
      { use1: cd('us-east-1', 'Server'), euw1: cd('eu-west-1', 'Server'), use1b: cd('us-east-1', 'Server') },
      { artifact: 's3://shop-builds/shop/1.4.0.zip' },
    );
    expect(problems(out)).toEqual([
      { region: 'use1, euw1, use1b', message: expect.stringContaining('us-east-1, eu-west-1') },
    ]);
    // Two groups of one AWS region may share it.
    expect(
      resolve(
        { a: cd('us-east-1', 'Server'), b: cd('us-east-1', 'Server') },
        { artifact: 's3://shop-builds/shop/1.4.0.zip' },
      ).ok,
    ).toBe(true);
  });

  it('with --copy-from, marks every Server region whose bundle is not the source itself as one to copy into', () => {
    const out = resolve(
      { use1: cd('us-east-1', 'Server'), euw1: cd('eu-west-1', 'Server') },
      {
        artifact: 's3://shop-builds-{awsRegion}/shop/1.4.0.zip',
        copyFrom: 's3://shop-builds-us-east-1/shop/1.4.0.zip',
      },
    );
    expect(artifacts(out)).toEqual({
      use1: { version: '1.4.0', artifact: 's3://shop-builds-us-east-1/shop/1.4.0.zip' },
      euw1: {
        version: '1.4.0',
        artifact: 's3://shop-builds-eu-west-1/shop/1.4.0.zip',
        copyFrom: 's3://shop-builds-us-east-1/shop/1.4.0.zip',
      },
    });
    expect(problems(resolve({ l: localTarget() }, { artifact: '/b', copyFrom: 's3://x/y.zip' }))).toEqual([
      {
        region: '--copy-from',
        message: expect.stringContaining('no region of the config is a CodeDeploy Server group'),
      },
    ]);
    expect(
      problems(resolve({ a: cd('us-east-1', 'Server') }, { artifact: 's3://x/y.zip', copyFrom: '/tmp/x' })),
    ).toEqual([{ region: '--copy-from', message: expect.stringContaining('is not an S3 bundle') }]);
  });

  it('gives planRelease each region its own revision, kept in the plan', () => {
    const base = configWith([['us-east-1'], ['eu-west-1']]);
    const resolved = resolveArtifacts(base, '2.0.0', { artifact: '/builds/{region}' });
    if (!resolved.ok) throw new Error('unexpected');
    const plan = planRelease({
      config: base,
      releaseId: 'r1',
      version: '2.0.0',
      artifact: '/builds/{region}',
      regionStateMachineArn: 'arn',
      owner: 't',
      revisions: resolved.revisions,
    });
    expect(plan.waves.flatMap((w) => w.regions.map((t) => t.revision?.artifact))).toEqual([
      '/builds/us-east-1',
      '/builds/eu-west-1',
    ]);
  });
});

describe('artifactProblem', () => {
  it.each<[string, string, RegionTarget, RegExp | undefined]>([
    ['Server: an S3 bundle in a bucket of its region', 's3://b-us-east-1/k.zip', cd('us-east-1', 'Server'), undefined],
    ['Server: a GitHub revision', 'github:acme/shop@0123abc', cd('us-east-1', 'Server'), undefined],
    [
      'Server: a bucket named for another region',
      's3://shop-builds-us-east-1/k.zip',
      cd('eu-west-1', 'Server'),
      /named for us-east-1, but the group is in eu-west-1/,
    ],
    [
      'Server: AppSpec content',
      'appspec:version: 0.0',
      cd('us-east-1', 'Server'),
      /only be deployed to a Lambda or ECS/,
    ],
    ['Server: a local path', '/builds/shop', cd('us-east-1', 'Server'), /is not an S3 bundle/],
    [
      'ECS: a task definition of its region',
      ecsAppSpec('arn:aws:ecs:eu-west-1:111122223333:task-definition/shop:12'),
      cd('eu-west-1', 'ECS'),
      undefined,
    ],
    [
      'ECS: a task definition of another region',
      ecsAppSpec('arn:aws:ecs:us-east-1:111122223333:task-definition/shop:12'),
      cd('eu-west-1', 'ECS'),
      /is in us-east-1, but the group is in eu-west-1/,
    ],
    ['ECS: a family name, not an ARN', ecsAppSpec('shop:12'), cd('eu-west-1', 'ECS'), /not a task definition ARN/],
    ['ECS: no task definition at all', 'appspec:version: 0.0\n', cd('eu-west-1', 'ECS'), /names no TaskDefinition/],
    ['ECS: an S3 bundle', 's3://b/k.zip', cd('eu-west-1', 'ECS'), /needs an AppSpec/],
    ['Lambda: a function by name', lambdaAppSpec('shop'), cd('eu-west-1', 'Lambda'), undefined],
    [
      'Lambda: a function ARN of its region',
      lambdaAppSpec('arn:aws:lambda:eu-west-1:111122223333:function:shop'),
      cd('eu-west-1', 'Lambda'),
      undefined,
    ],
    [
      'Lambda: a function ARN of another region',
      lambdaAppSpec('arn:aws:lambda:us-west-2:111122223333:function:shop'),
      cd('eu-west-1', 'Lambda'),
      /is in us-west-2, but the group is in eu-west-1/,
    ],
    [
      'Lambda: a TargetVersion that is no version number',
      lambdaAppSpec('shop', '$LATEST'),
      cd('eu-west-1', 'Lambda'),
      /TargetVersion \$LATEST is not a published version number/,
    ],
    [
      'ECS: a task-definition document to register, in a bucket of its region',
      ecsAppSpec('s3://shop-builds-eu-west-1/shop/1.4.0/taskdef.json'),
      cd('eu-west-1', 'ECS'),
      undefined,
    ],
    [
      'ECS: a task-definition document in a bucket named for another region',
      ecsAppSpec('s3://shop-builds-us-east-1/shop/1.4.0/taskdef.json'),
      cd('eu-west-1', 'ECS'),
      /TaskDefinition s3:\/\/shop-builds-us-east-1\/shop\/1\.4\.0\/taskdef\.json: bucket shop-builds-us-east-1 is named for us-east-1, but the group is in eu-west-1/,
    ],
    [
      'ECS: a task-definition document that is not JSON',
      ecsAppSpec('s3://shop-builds-eu-west-1/shop/taskdef.yaml'),
      cd('eu-west-1', 'ECS'),
      /is not a task-definition document in S3 \(s3:\/\/bucket\/key\.json\)/,
    ],
    [
      'ECS: a document to register beside a second TaskDefinition',
      `${ecsAppSpec('s3://shop-builds-eu-west-1/shop/taskdef.json')}  - Other:\n      Properties:\n        TaskDefinition: "arn:aws:ecs:eu-west-1:111122223333:task-definition/shop:1"\n`,
      cd('eu-west-1', 'ECS'),
      /more than one TaskDefinition/,
    ],
    [
      'Lambda: a code zip to publish, in a bucket of its region',
      lambdaAppSpec('shop', 's3://shop-builds-eu-west-1/shop/1.4.0.zip'),
      cd('eu-west-1', 'Lambda'),
      undefined,
    ],
    [
      'Lambda: a code zip in a bucket named for another region',
      lambdaAppSpec('shop', 's3://shop-builds-us-west-2/shop/1.4.0.zip'),
      cd('eu-west-1', 'Lambda'),
      /bucket shop-builds-us-west-2 is named for us-west-2, but the group is in eu-west-1: staging reads the code zip from a bucket of the group's region/,
    ],
    [
      'Lambda: code to publish that is no zip',
      lambdaAppSpec('shop', 's3://shop-builds-eu-west-1/shop/1.4.0.tgz'),
      cd('eu-west-1', 'Lambda'),
      /TargetVersion s3:\/\/shop-builds-eu-west-1\/shop\/1\.4\.0\.tgz is not a code zip in S3/,
    ],
    ['local: an absolute build directory', '/builds/shop', localTarget(), undefined],
    ['local: an S3 bundle', 's3://b/k.zip', localTarget(), /a local region needs a build directory/],
  ])('%s', (_what, artifact, target, expected) => {
    const problem = artifactProblem(artifact, target);
    if (expected === undefined) expect(problem).toBeUndefined();
    else expect(problem).toMatch(expected);
  });
});

function localTarget(): RegionTarget {
  return { kind: 'local-process', port: 7101, command: ['node', 'server.js'], env: {}, faults: [] };
}

describe('buildToMake', () => {
  it('says what staging makes: a task definition from a document, a version from a zip; nothing for ARNs and numbers', () => {
    expect(buildToMake(ecsAppSpec('s3://b-eu-west-1/td.json'), cd('eu-west-1', 'ECS'))).toEqual({
      kind: 'TaskDefinition',
      document: 's3://b-eu-west-1/td.json',
    });
    expect(buildToMake(lambdaAppSpec('shop', 's3://b/code.zip'), cd('eu-west-1', 'Lambda'))).toEqual({
      kind: 'LambdaVersion',
      code: 's3://b/code.zip',
    });
    expect(
      buildToMake(ecsAppSpec('arn:aws:ecs:eu-west-1:111122223333:task-definition/shop:12'), cd('eu-west-1', 'ECS')),
    ).toBeUndefined();
    expect(buildToMake(lambdaAppSpec('shop'), cd('eu-west-1', 'Lambda'))).toBeUndefined();
    expect(buildToMake('s3://b/k.zip', cd('eu-west-1', 'Server'))).toBeUndefined();
  });

  it('reports every region whose staged build cannot serve it, one line each, before anything runs', () => {
    const result = resolve(
      { euw1: cd('eu-west-1', 'Lambda'), apse2: cd('ap-southeast-2', 'Lambda'), use1: cd('us-east-1', 'Lambda') },
      {
        artifact: lambdaAppSpec('shop', 's3://shop-builds-{awsRegion}/shop/1.4.0.zip'),
        artifacts: { apse2: lambdaAppSpec('shop', 's3://shop-builds-eu-west-1/shop/1.4.0.zip') },
      },
    );
    expect(formatArtifactProblems(problems(result))).toBe(
      "apse2: TargetVersion s3://shop-builds-eu-west-1/shop/1.4.0.zip: bucket shop-builds-eu-west-1 is named for eu-west-1, but the group is in ap-southeast-2: staging reads the code zip from a bucket of the group's region (use {awsRegion} or --artifacts)",
    );
  });
});

describe('PlanRelease', () => {
  it('refuses a build its region cannot run before it touches the ledger (anything may start the machine)', async () => {
    const touched: string[] = [];
    const ledger = new Proxy(
      {},
      {
        get: (_t, name) => () => {
          touched.push(String(name));
          throw new Error('the ledger was used');
        },
      },
    );
    const plan = createPlanRelease({
      ledger: ledger as never,
      events: { emit: () => {} },
      now: () => 0,
      regionStateMachineArn: 'arn:region',
    });
    await expect(
      plan({
        releaseId: 'shop-x',
        version: '1.0.0',
        artifact: '/b',
        artifacts: { 'eu-west-1': 's3://b/k.zip' },
        config: configWith([['us-east-1'], ['eu-west-1']]),
        owner: 'me',
      }),
    ).rejects.toMatchObject({
      name: 'InvalidInput',
      message: expect.stringContaining(
        'eu-west-1: s3://b/k.zip is an AWS artifact; a local region needs a build directory',
      ),
    });
    expect(touched).toEqual([]);
  });
});
