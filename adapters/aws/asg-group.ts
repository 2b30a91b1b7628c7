/**
 * The Auto Scaling group a CodeDeploy Server deployment group deploys to: GetDeploymentGroup's first
 * `autoScalingGroups[].name` (https://docs.aws.amazon.com/codedeploy/latest/APIReference/API_AutoScalingGroup.html).
 * Apart from adapters/aws/asg-new-host.ts so that the functions that only probe and stop a new host
 * carry no CodeDeploy client. None: the group deploys to EC2 tag filters or on-premises instances.
 */
import { type CodeDeployClient, GetDeploymentGroupCommand } from '@aws-sdk/client-codedeploy';
import type { CodeDeployTarget } from '../../config/types.ts';

export type AutoScalingGroupOf = (target: CodeDeployTarget) => Promise<string | null>;

export function autoScalingGroupOfGroup(
  codedeploy: (awsRegion: string, roleArn?: string) => CodeDeployClient,
): AutoScalingGroupOf {
  return async (target) => {
    const group = await codedeploy(target.awsRegion, target.roleArn).send(
      new GetDeploymentGroupCommand({
        applicationName: target.application,
        deploymentGroupName: target.deploymentGroup,
      }),
    );
    return group.deploymentGroupInfo?.autoScalingGroups?.find((g) => g.name)?.name ?? null;
  };
}
