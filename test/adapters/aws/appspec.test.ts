/**
 * The new-host launchers' AppSpec reader: JSON parsed, YAML scanned (no YAML parser in StartBake's
 * bundle). Both spellings of the same AppSpec read alike.
 */
import { describe, expect, it } from 'vitest';
import { ecsTaskSpec, lambdaTargetVersion } from '../../../adapters/aws/appspec.ts';

const ECS_YAML = `appspec:version: 0.0
Resources:
  - TargetService:
      Type: AWS::ECS::Service
      Properties:
        TaskDefinition: "arn:aws:ecs:eu-west-1:123456789012:task-definition/shop:8"
        LoadBalancerInfo:
          ContainerName: "web"
          ContainerPort: 8080
        PlatformVersion: "1.4.0"
        NetworkConfiguration:
          AwsvpcConfiguration:
            Subnets:
              - subnet-1
              - "subnet-2"
            SecurityGroups: [sg-1, 'sg-2']
            AssignPublicIp: DISABLED
`;

const expected = {
  taskDefinition: 'arn:aws:ecs:eu-west-1:123456789012:task-definition/shop:8',
  containerName: 'web',
  containerPort: 8080,
  platformVersion: '1.4.0',
  subnets: ['subnet-1', 'subnet-2'],
  securityGroups: ['sg-1', 'sg-2'],
  assignPublicIp: 'DISABLED',
};

describe('ecsTaskSpec', () => {
  it('reads a YAML AppSpec (block and flow lists, quoted or not) as its JSON twin', () => {
    expect(ecsTaskSpec(ECS_YAML)).toEqual(expected);
    const json = {
      version: 0.0,
      Resources: [
        {
          TargetService: {
            Type: 'AWS::ECS::Service',
            Properties: {
              TaskDefinition: expected.taskDefinition,
              LoadBalancerInfo: { ContainerName: 'web', ContainerPort: 8080 },
              PlatformVersion: '1.4.0',
              NetworkConfiguration: {
                AwsvpcConfiguration: {
                  Subnets: expected.subnets,
                  SecurityGroups: expected.securityGroups,
                  AssignPublicIp: 'DISABLED',
                },
              },
            },
          },
        },
      ],
    };
    expect(ecsTaskSpec(`appspec:${JSON.stringify(json)}`)).toEqual(expected);
  });

  it('leaves out what a minimal AppSpec does not say, and refuses one with no task definition or bad JSON', () => {
    expect(ecsTaskSpec('appspec:Resources:\n  - s:\n      Properties:\n        TaskDefinition: td:1\n')).toEqual({
      taskDefinition: 'td:1',
      subnets: [],
      securityGroups: [],
    });
    expect(() => ecsTaskSpec('appspec:Resources: []')).toThrow('the ECS AppSpec names no TaskDefinition');
    expect(() => ecsTaskSpec('appspec:{"Resources": [')).toThrow(/not YAML or JSON/);
  });
});

describe('lambdaTargetVersion', () => {
  it('reads the function and its target version from YAML or JSON', () => {
    const yaml =
      'appspec:Resources:\n  - f:\n      Properties:\n        Name: shop-api\n        Alias: live\n        CurrentVersion: "6"\n        TargetVersion: "7"\n';
    expect(lambdaTargetVersion(yaml)).toEqual({ functionName: 'shop-api', version: '7' });
    expect(
      lambdaTargetVersion('appspec:{"Resources":[{"f":{"Properties":{"Name":"shop-api","TargetVersion":7}}}]}'),
    ).toEqual({ functionName: 'shop-api', version: '7' });
  });
});
