import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { lambdaAppSpecTarget, lambdaRollbackAppSpec, stagedAppSpec } from '../../core/appspec.ts';

/** The AppSpec of the region's last good deployment: it shifted shop-api:live from 6 to 7. */
const lastGood = parse(`version: 0.0
Resources:
  - shopApi:
      Type: AWS::Lambda::Function
      Properties:
        Name: shop-api
        Alias: live
        CurrentVersion: 6
        TargetVersion: 7
Hooks:
  - BeforeAllowTraffic: shop-api-smoke
`);

describe('lambdaAppSpecTarget', () => {
  it('reads the function, alias and versions (numbers in YAML read as version strings)', () => {
    expect(lambdaAppSpecTarget(lastGood)).toEqual({
      kind: 'Function',
      resource: 'shopApi',
      functionName: 'shop-api',
      alias: 'live',
      currentVersion: '6',
      targetVersion: '7',
    });
  });

  it.each([
    [null, /not a YAML or JSON object/],
    [{ version: '0.0' }, /no Resources/],
    [{ Resources: [{ a: {} }, { b: {} }] }, /exactly one function; this one has 2/],
    [{ Resources: [{ svc: { Type: 'AWS::ECS::Service', Properties: {} } }] }, /not of Type AWS::Lambda::Function/],
    [
      { Resources: [{ f: { Type: 'AWS::Lambda::Function', Properties: { Alias: 'live', TargetVersion: '2' } } }] },
      /no Properties.Name/,
    ],
    [
      { Resources: [{ f: { Type: 'AWS::Lambda::Function', Properties: { Name: 'f', TargetVersion: '2' } } }] },
      /no Properties.Alias/,
    ],
    [
      { Resources: [{ f: { Type: 'AWS::Lambda::Function', Properties: { Name: 'f', Alias: 'live' } } }] },
      /no Properties.TargetVersion/,
    ],
  ])('refuses %j', (doc, message) => {
    expect(lambdaAppSpecTarget(doc)).toEqual({ kind: 'Invalid', message: expect.stringMatching(message) });
  });
});

describe('lambdaRollbackAppSpec', () => {
  it('shifts from the live version to the last good one, keeping function, alias and hooks', () => {
    // A failed release had moved the alias to 9; the recorded AppSpec still says 6 -> 7.
    const decision = lambdaRollbackAppSpec(lastGood, '9');
    expect(decision).toEqual({
      kind: 'Deploy',
      from: '9',
      to: '7',
      appSpec: {
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
      },
    });
    // The recorded AppSpec is left as it was.
    expect(lastGood.Resources[0].shopApi.Properties.CurrentVersion).toBe(6);
  });

  it('writes a CurrentVersion even when the last good AppSpec had none', () => {
    const doc = {
      version: '0.0',
      Resources: [{ f: { Type: 'AWS::Lambda::Function', Properties: { Name: 'f', Alias: 'a', TargetVersion: '3' } } }],
    };
    expect(lambdaRollbackAppSpec(doc, '4')).toMatchObject({
      kind: 'Deploy',
      appSpec: { Resources: [{ f: { Properties: { CurrentVersion: '4', TargetVersion: '3' } } }] },
    });
  });

  it('has nothing to shift when the alias already serves the last good version', () => {
    expect(lambdaRollbackAppSpec(lastGood, '7')).toEqual({ kind: 'AlreadyLive', version: '7' });
  });

  it('refuses an AppSpec it cannot read, and an alias with no version', () => {
    expect(lambdaRollbackAppSpec({ Resources: [] }, '3')).toMatchObject({ kind: 'Invalid' });
    expect(lambdaRollbackAppSpec(lastGood, '')).toEqual({
      kind: 'Invalid',
      message: 'the alias live has no live version',
    });
  });
});

describe('stagedAppSpec', () => {
  const ecs = parse(
    'version: 0.0\nResources:\n  - TargetService:\n      Type: AWS::ECS::Service\n      Properties:\n        TaskDefinition: s3://b/td.json\n        LoadBalancerInfo: { ContainerName: web, ContainerPort: 80 }\n',
  );
  const lambda = parse(
    'version: 0.0\nResources:\n  - shop:\n      Type: AWS::Lambda::Function\n      Properties: { Name: shop, Alias: live, TargetVersion: s3://b/code.zip }\n',
  );
  const arn = 'arn:aws:ecs:eu-west-1:111122223333:task-definition/shop:14';

  it('names the registered task definition instead of its document, keeping the rest', () => {
    expect(stagedAppSpec(ecs, { kind: 'TaskDefinition', arn })).toEqual({
      kind: 'Deploy',
      appSpec: {
        version: '0.0',
        Resources: [
          {
            TargetService: {
              Type: 'AWS::ECS::Service',
              Properties: { TaskDefinition: arn, LoadBalancerInfo: { ContainerName: 'web', ContainerPort: 80 } },
            },
          },
        ],
      },
    });
  });

  it('refuses an ECS AppSpec that names no TaskDefinition to put the ARN in', () => {
    expect(
      stagedAppSpec(parse('version: 0.0\nResources:\n  - s: { Properties: {} }\n'), { kind: 'TaskDefinition', arn }),
    ).toEqual({
      kind: 'Invalid',
      message: 'the ECS AppSpec names 0 TaskDefinition properties; it must name one',
    });
  });

  it('shifts a Lambda alias from the version it serves now to the published one', () => {
    const out = stagedAppSpec(lambda, { kind: 'LambdaVersion', version: '9', liveVersion: '4' });
    expect(out.kind === 'Deploy' && out.appSpec.Resources).toEqual([
      {
        shop: {
          Type: 'AWS::Lambda::Function',
          Properties: { Name: 'shop', Alias: 'live', CurrentVersion: '4', TargetVersion: '9' },
        },
      },
    ]);
  });

  it('deploys nothing when the alias already serves the published version', () => {
    expect(stagedAppSpec(lambda, { kind: 'LambdaVersion', version: '9', liveVersion: '9' })).toEqual({
      kind: 'AlreadyLive',
      version: '9',
    });
  });
});
