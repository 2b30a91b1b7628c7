/**
 * The deployer of the one handler that starts deployments (StartRegionDeploy): CodeDeploy, plus
 * what a Lambda rollback reads (the alias, with Lambda GetAlias; a last good AppSpec kept in S3)
 * and a staged region's AppSpec naming what StageAhead made there (the alias read the same way).
 * Its own module, so no other bundle carries the Lambda client or the YAML parser.
 */
import { CodeDeployClient } from '@aws-sdk/client-codedeploy';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { CodeDeployDeployer } from '../../adapters/aws/codedeploy-deployer.ts';
import { LambdaRollbacks } from '../../adapters/aws/lambda-rollback.ts';
import { StagedRevisions } from '../../adapters/aws/staged-appspec.ts';
import type { RegionDeployer } from '../../ports/region-deployer.ts';
import { awsClients } from './ports.ts';

export function deployStarterFromEnv(): RegionDeployer {
  const clients = awsClients({
    codedeploy: (config) => new CodeDeployClient(config),
    lambda: (config) => new LambdaClient(config),
  });
  return new CodeDeployDeployer({
    clients,
    lambdaRollback: new LambdaRollbacks({ clients }),
    // What StageAhead made in the region (its stage id comes with the task): no ECS client here.
    staged: new StagedRevisions({ clients }),
  });
}
