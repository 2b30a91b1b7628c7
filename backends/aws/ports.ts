/**
 * Port builders for the Lambda handlers on AWS, one per port so each bundle carries only the
 * SDK clients its handler uses. Clients are made once per container.
 */
import { SNSClient } from '@aws-sdk/client-sns';
import { AwsClients } from '../../adapters/aws/clients.ts';
import { CloudWatchProber } from '../../adapters/aws/cloudwatch-prober.ts';
import { CodeDeployDeployer } from '../../adapters/aws/codedeploy-deployer.ts';
import { SnsEventSink } from '../../adapters/aws/sns-events.ts';
import type { EventSink } from '../../ports/events.ts';
import type { HealthProber } from '../../ports/health-prober.ts';
import type { RegionDeployer } from '../../ports/region-deployer.ts';
import { requireEnv } from './lambda.ts';

let clients: AwsClients | undefined;
const awsClients = () => {
  clients ??= new AwsClients();
  return clients;
};

/** CodeDeploy in each target's region, through the target's role when it names one. */
export function deployerFromEnv(): RegionDeployer {
  return new CodeDeployDeployer({ clients: awsClients() });
}

/** CloudWatch alarms (and health URLs) of each target's region. */
export function proberFromEnv(): HealthProber {
  return new CloudWatchProber({ clients: awsClients() });
}

/** Notable release events to the stack's SNS topic (FLOTILLA_TOPIC_ARN), for the notifier. */
export function eventsFromEnv(): EventSink {
  return new SnsEventSink({ client: new SNSClient({}), topicArn: requireEnv('FLOTILLA_TOPIC_ARN') });
}
