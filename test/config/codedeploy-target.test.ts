import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../config/load.ts';

const config = (target: string, aws = '') => `
service: shop
regions:
  - name: eu-west-1
    target: ${target}
waves:
  - regions: [eu-west-1]
${aws}`;

describe('a CodeDeploy region target', () => {
  it('parses, with alarms defaulting to none', () => {
    const result = parseConfig(
      config(
        '{ kind: codedeploy, awsRegion: eu-west-1, application: shop, deploymentGroup: shop-prod, platform: Lambda, healthUrl: "https://shop.example.com/health" }',
        'aws: { region: eu-west-1, stateMachineArn: "arn:aws:states:eu-west-1:123456789012:stateMachine:flotilla-prod-release", table: flotilla-prod-ledger }',
      ),
    );
    expect(result.ok).toBe(true);
    expect(result.ok && result.config.regions[0]?.target).toMatchObject({ kind: 'codedeploy', alarms: { names: [] } });
    expect(result.ok && result.config.aws?.table).toBe('flotilla-prod-ledger');
  });

  it('reports every bad field of the target with its path', () => {
    const result = parseConfig(
      config(
        '{ kind: codedeploy, awsRegion: eu-wset, application: shop, deploymentGroup: g, platform: Fargate, roleArn: nope, port: 1 }',
      ),
    );
    expect(result.ok).toBe(false);
    const paths = result.ok ? [] : result.problems.map((p) => p.path).sort();
    expect(paths).toEqual([
      'regions[0].target.awsRegion',
      'regions[0].target.platform',
      'regions[0].target.port',
      'regions[0].target.roleArn',
    ]);
  });

  it('suggests the right key across target kinds', () => {
    const result = parseConfig(
      config('{ kind: codedeploy, awsRegion: eu-west-1, application: shop, deploymentGrop: g, platform: ECS }'),
    );
    const problems = result.ok ? [] : result.problems;
    expect(problems).toContainEqual({
      path: 'regions[0].target.deploymentGrop',
      message: 'unknown key (did you mean "deploymentGroup"?)',
    });
  });
});
