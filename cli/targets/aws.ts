/** The release target on AWS: Step Functions executions followed through the DynamoDB ledger. */
import type { FlotillaConfig } from '../../config/types.ts';
import type { EventSink } from '../../ports/events.ts';
import type { Context } from '../context.ts';
import { UsageError } from '../exit-codes.ts';
import { warn } from '../output.ts';
import { type ReleaseTarget, runningOutcome } from './types.ts';

export async function awsTarget(ctx: Context, config: FlotillaConfig): Promise<ReleaseTarget> {
  const settings = config.aws;
  if (!settings) {
    throw new UsageError(
      `${ctx.configPath()} has no aws: section (region, stateMachineArn, table of the deployed stack)`,
    );
  }
  const { AwsCliBackend, consoleUrl } = await import('../../backends/aws/cli.ts');
  const open = (events?: EventSink) => new AwsCliBackend({ config, settings, ...(events ? { events } : {}) });
  return {
    kind: 'aws',
    async release(request) {
      const attempt = ctx.attempt();
      const aws = open(ctx.progress());
      const started = await aws.start({ ...request, attempt });
      if (!ctx.json) warn(`started ${started.releaseId}: ${started.consoleUrl}`);
      if (!ctx.wait) return runningOutcome(started.releaseId, config.service, request.version, started.consoleUrl);
      return aws.follow(started.releaseId);
    },
    async rollback(releaseId, person) {
      const aws = open(ctx.progress());
      const started = await aws.rollback(releaseId, person);
      if (!ctx.json) warn(`started ${started.releaseId}: ${started.consoleUrl}`);
      if (!ctx.wait) return runningOutcome(started.releaseId, config.service, '', started.consoleUrl);
      return aws.follow(started.releaseId);
    },
    intent: (body) => open().intent(body),
    watch: (releaseId) => open(ctx.progress()).follow(releaseId),
    unlock: (person) => open().unlock(person),
    async reads() {
      const aws = open();
      const { ledgerReads } = await import('./ledger-reads.ts');
      return {
        ...(await ledgerReads(aws.ledger, config)),
        async execution(releaseId) {
          const { status } = await aws.describe(releaseId);
          return { status, consoleUrl: consoleUrl(aws.executionArn(releaseId)) };
        },
        async close() {},
      };
    },
  };
}
