/**
 * Port builders for the Lambda handlers on AWS, one per port so each bundle carries only the
 * SDK clients its handler uses. Clients are made once per container.
 *
 * The client cache is built with the factories of the ports a handler actually builds (never the
 * all-clients defaults of `AwsClients`): a deploy-only bundle has no CloudWatch, a gate bundle no
 * CodeDeploy. STS comes along for regions reached through an assumed role.
 */
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { CodeDeployClient } from '@aws-sdk/client-codedeploy';
import { ECSClient } from '@aws-sdk/client-ecs';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SNSClient } from '@aws-sdk/client-sns';
import { STSClient } from '@aws-sdk/client-sts';
import { AwsClientCache, type ClientFactories } from '../../adapters/aws/clients.ts';
import { CloudWatchProber } from '../../adapters/aws/cloudwatch-prober.ts';
import { CodeDeployDeployer } from '../../adapters/aws/codedeploy-deployer.ts';
import { AwsRevisionStager } from '../../adapters/aws/revision-stager.ts';
import { SignedS3 } from '../../adapters/aws/signed-s3.ts';
import { SnsEventSink } from '../../adapters/aws/sns-events.ts';
import { StepFunctionsTaskCallbacks } from '../../adapters/aws/step-functions.ts';
import type { EventSink } from '../../ports/events.ts';
import type { HealthProber } from '../../ports/health-prober.ts';
import type { RegionDeployer } from '../../ports/region-deployer.ts';
import type { TaskCallbacks } from '../../ports/task-callbacks.ts';
import { requireEnv } from './lambda.ts';

let clients: AwsClientCache | undefined;
/** The container's one cache (so one AssumeRole per region and role serves every port), given `factories` too. */
export const awsClients = (factories: Partial<ClientFactories>): AwsClientCache => {
  clients ??= new AwsClientCache({ factories: { sts: (config) => new STSClient(config) } });
  return clients.provide(factories);
};

/** CodeDeploy in each target's region, through the target's role when it names one. */
export function deployerFromEnv(): RegionDeployer {
  return new CodeDeployDeployer({ clients: awsClients({ codedeploy: (config) => new CodeDeployClient(config) }) });
}

// --- staging ahead (StageAhead, UnstageRelease) ---
/**
 * Staging ahead on AWS: ECS (task definitions) and Lambda (versions) clients in each target's
 * region, through the target's role when it names one, and S3 through signed requests with the
 * Lambda client's credentials (adapters/aws/signed-s3.ts: the S3 client would take these bundles
 * past 600 KiB); no CodeDeploy client in those bundles.
 */
export function stagerFromEnv(): AwsRevisionStager {
  const clients = awsClients({
    ecs: (config) => new ECSClient(config),
    lambda: (config) => new LambdaClient(config),
  });
  return new AwsRevisionStager({
    s3: new SignedS3({ credentials: (awsRegion, roleArn) => clients.lambda(awsRegion, roleArn).config.credentials() }),
    ecs: (awsRegion, roleArn) => clients.ecs(awsRegion, roleArn),
    lambda: (awsRegion, roleArn) => clients.lambda(awsRegion, roleArn),
  });
}
// --- end staging ahead ---

/** CloudWatch alarms (and health URLs) of each target's region. */
export function proberFromEnv(): HealthProber {
  return new CloudWatchProber({ clients: awsClients({ cloudwatch: (config) => new CloudWatchClient(config) }) });
}

/** Notable release events to the stack's SNS topic (FLOTILLA_TOPIC_ARN), for the notifier. */
export function eventsFromEnv(): EventSink {
  return new SnsEventSink({ client: new SNSClient({}), topicArn: requireEnv('FLOTILLA_TOPIC_ARN') });
}

/** SendTaskSuccess / SendTaskFailure to the stack's own state machines (their region: the function's). */
export function callbacksFromEnv(): TaskCallbacks {
  return new StepFunctionsTaskCallbacks(new SFNClient({}));
}
