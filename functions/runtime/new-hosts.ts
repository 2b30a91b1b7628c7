/**
 * The new-host gate's ports on AWS (adapters/aws/new-hosts.ts), apart from functions/runtime/ports.ts
 * so that only the handlers that start, probe or sweep new hosts carry the ECS client (and the
 * AppSpec reader) in their bundles. Auto Scaling and EC2 (a Server group's new host) are signed
 * Query requests with the credentials the region's ECS client has (its role's, or the function's
 * own): neither SDK client is in any bundle (adapters/aws/signed-query.ts).
 */
import { CodeDeployClient } from '@aws-sdk/client-codedeploy';
import { ECSClient } from '@aws-sdk/client-ecs';
import { autoScalingGroupOfGroup } from '../../adapters/aws/asg-group.ts';
import { AsgScaleOut } from '../../adapters/aws/asg-new-host.ts';
import type { AwsClientCache } from '../../adapters/aws/clients.ts';
import { EcsOneOffTask } from '../../adapters/aws/ecs-new-host.ts';
import { ecsServiceOfGroup } from '../../adapters/aws/ecs-service.ts';
import { signedInvoke } from '../../adapters/aws/lambda-invoke.ts';
import { LambdaColdInvoke } from '../../adapters/aws/lambda-new-host.ts';
import { AwsNewHosts } from '../../adapters/aws/new-hosts.ts';
import { type QueryApi, queryEndpoints, signedQuery } from '../../adapters/aws/signed-query.ts';
import type { HealthProber } from '../../ports/health-prober.ts';
import type { NewHostLauncher } from '../../ports/new-host.ts';
import { awsClients } from './ports.ts';

/** Auto Scaling and EC2 calls signed with the region's ECS client's credentials, to the endpoints the SDK would use. */
const queryWith = (clients: AwsClientCache): QueryApi =>
  signedQuery({
    credentials: (awsRegion, roleArn) => clients.ecs(awsRegion, roleArn).config.credentials(),
    endpoint: queryEndpoints(process.env),
  });

/**
 * The new-host gate on AWS (adapters/aws/new-hosts.ts), three ways, so each bundle carries only
 * the SDK clients its handler uses. StartBake launches: RunTask of an ECS group's new task
 * definition (ECS, and CodeDeploy to find the group's service) or a cold invocation of a Lambda
 * group's new version (a signed Invoke, no Lambda client), or one more instance of a Server group's
 * Auto Scaling group (CodeDeploy finds the group; SetDesiredCapacity), then probes and, if the gate
 * is done at once, stops it.
 */
export function newHostLauncherFromEnv(prober: HealthProber): NewHostLauncher {
  const clients = awsClients({
    ecs: (config) => new ECSClient(config),
    codedeploy: (config) => new CodeDeployClient(config),
  });
  // Invoke is signed with the credentials the region's ECS client has (its role's, or the function's
  // own): no Lambda client in this bundle (adapters/aws/lambda-invoke.ts).
  const invoke = (roleArn: string | undefined) =>
    signedInvoke({ credentials: (awsRegion) => clients.ecs(awsRegion, roleArn).config.credentials() });
  return new AwsNewHosts({
    ecs: new EcsOneOffTask(
      {
        ecs: (awsRegion, roleArn) => clients.ecs(awsRegion, roleArn),
        serviceOf: ecsServiceOfGroup((awsRegion, roleArn) => clients.codedeploy(awsRegion, roleArn)),
      },
      { prober },
    ),
    lambda: new LambdaColdInvoke(({ roleArn, ...call }) => invoke(roleArn)(call)),
    server: new AsgScaleOut(
      {
        query: queryWith(clients),
        groupOf: autoScalingGroupOfGroup((awsRegion, roleArn) => clients.codedeploy(awsRegion, roleArn)),
      },
      { prober },
    ),
  });
}

/**
 * CheckGate and ProbeBakes: DescribeTasks (ECS) or the Auto Scaling group and the tagged instance
 * (Server), then the health URL on the task or instance through `prober`; StopTask or
 * TerminateInstanceInAutoScalingGroup once the gate is done.
 */
export function newHostProberFromEnv(prober: HealthProber): NewHostLauncher {
  const clients = awsClients({ ecs: (config) => new ECSClient(config) });
  return new AwsNewHosts({
    ecs: new EcsOneOffTask({ ecs: (awsRegion, roleArn) => clients.ecs(awsRegion, roleArn) }, { prober }),
    server: new AsgScaleOut({ query: queryWith(clients) }, { prober }),
  });
}

/**
 * FinishRelease and ExecutionEnded: whatever new host a release left (ListTasks, DescribeTasks,
 * StopTask in the clusters of its ECS groups; DescribeInstances by its tag and
 * TerminateInstanceInAutoScalingGroup in its Server groups' Auto Scaling groups; both groups found
 * with CodeDeploy GetDeploymentGroup).
 */
export function newHostSweeperFromEnv(): NewHostLauncher {
  const clients = awsClients({
    ecs: (config) => new ECSClient(config),
    codedeploy: (config) => new CodeDeployClient(config),
  });
  return new AwsNewHosts({
    ecs: new EcsOneOffTask(
      {
        ecs: (awsRegion, roleArn) => clients.ecs(awsRegion, roleArn),
        serviceOf: ecsServiceOfGroup((awsRegion, roleArn) => clients.codedeploy(awsRegion, roleArn)),
      },
      {},
    ),
    server: new AsgScaleOut(
      {
        query: queryWith(clients),
        groupOf: autoScalingGroupOfGroup((awsRegion, roleArn) => clients.codedeploy(awsRegion, roleArn)),
      },
      {},
    ),
  });
}
