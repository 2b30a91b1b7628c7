/**
 * The ECS service (and its cluster) a CodeDeploy ECS deployment group deploys: GetDeploymentGroup's
 * first `ecsServices` entry. Apart from adapters/aws/ecs-new-host.ts so that the functions that
 * only probe and stop a new host's task carry no CodeDeploy client.
 */
import { type CodeDeployClient, GetDeploymentGroupCommand } from '@aws-sdk/client-codedeploy';
import type { CodeDeployTarget } from '../../config/types.ts';

export interface EcsServiceRef {
  clusterName: string;
  serviceName: string;
}

export type EcsServiceOf = (target: CodeDeployTarget) => Promise<EcsServiceRef | null>;

export function ecsServiceOfGroup(codedeploy: (awsRegion: string, roleArn?: string) => CodeDeployClient): EcsServiceOf {
  return async (target) => {
    const group = await codedeploy(target.awsRegion, target.roleArn).send(
      new GetDeploymentGroupCommand({
        applicationName: target.application,
        deploymentGroupName: target.deploymentGroup,
      }),
    );
    const service = group.deploymentGroupInfo?.ecsServices?.[0];
    if (!service?.clusterName || !service.serviceName) return null;
    return { clusterName: service.clusterName, serviceName: service.serviceName };
  };
}
