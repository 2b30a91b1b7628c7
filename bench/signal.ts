/**
 * signal_to_rollback_ms: a health signal turning bad during a bake, to the rollback starting. On
 * AWS the signal is a CloudWatch "Alarm State Change" event; here it goes through the same handler
 * (functions/alarm-changed.ts) and the AWS adapter (StepFunctionsTaskCallbacks, whose
 * SendTaskFailure reaches the local engine's waiting task) while the real release ASL bakes on the
 * local engine. The parent has no Wait state left: nothing in it polls.
 */

import type { SendTaskFailureCommand, SendTaskSuccessCommand, SFNClient } from '@aws-sdk/client-sfn';
import { StepFunctionsTaskCallbacks } from '../adapters/aws/step-functions.ts';
import { createLedgerTable, DynamoDbLedger } from '../adapters/dynamodb/ledger.ts';
import { LocalTaskTokens } from '../adapters/local/task-tokens.ts';
import { startEmbeddedDynamo } from '../backends/local/dynalite-server.ts';
import { LocalEngine, loadDefinition, localArn } from '../backends/local/engine.ts';
import { createAlarmChanged } from '../functions/alarm-changed.ts';
import type { Deps } from '../functions/deps.ts';
import { functionFactories } from '../functions/index.ts';
import { SIMULATED_APPSPEC } from './fleet.ts';
import { awsDefaults, scenarioConfig } from './history.ts';

export async function signalToRollbackMs(): Promise<number> {
  const dynamo = await startEmbeddedDynamo({});
  try {
    await createLedgerTable(dynamo.client, 'signal');
    const ledger = new DynamoDbLedger({ client: dynamo.doc, tableName: 'signal' });
    const tokens = new LocalTaskTokens();
    // The AWS adapter, with Step Functions' task-token calls answered by the local engine.
    const sfn = {
      async send(command: SendTaskFailureCommand | SendTaskSuccessCommand) {
        const input = command.input as { taskToken: string; error?: string; cause?: string; output?: string };
        if ('output' in input) await tokens.succeed(input.taskToken, JSON.parse(input.output ?? '{}'));
        else await tokens.fail(input.taskToken, input.error ?? 'Error', input.cause ?? '');
        return {};
      },
    } as unknown as SFNClient;
    const callbacks = new StepFunctionsTaskCallbacks(sfn);
    let rollbackAt: number | undefined;
    const events = {
      emit(e: { kind: string }) {
        if (e.kind === 'rollback-started') rollbackAt ??= performance.now();
      },
    };
    const deps: Deps = {
      ledger,
      deployer: {
        startDeployment: async () => ({ deploymentId: 'd' }),
        getDeployment: async () => ({ status: 'Succeeded' }),
        currentRevision: async () => null,
        stopDeployment: async () => {},
      },
      prober: { probe: async () => [{ kind: 'ok' }] },
      events,
      now: Date.now,
      regionStateMachineArn: localArn('region'),
      waitForToken: (token, signal) => tokens.wait(token, signal),
      callbacks,
    };
    const functions = Object.fromEntries(Object.entries(functionFactories).map(([n, make]) => [n, make(deps)]));
    const engine = new LocalEngine({ functions, retryIntervalMs: 10 });
    engine.register('region', loadDefinition('region'));
    const release = engine.register('release', loadDefinition('release'));
    const config = scenarioConfig({
      regions: 2,
      waves: [1, 1],
      deployMinutes: 0,
      bakeMinutes: 60,
      ...awsDefaults,
      pollSeconds: 1,
      maxPollSeconds: 1,
    });
    const run = engine.run(release, {
      releaseId: 'signal-1',
      version: '1.0.0',
      artifact: SIMULATED_APPSPEC,
      config,
      owner: 'bench',
    } as never);
    run.catch(() => {});
    const deadline = Date.now() + 60_000;
    while ((await ledger.listBakes()).length === 0) {
      if (Date.now() > deadline) throw new Error('the release never started baking');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const alarm = createAlarmChanged({ ledger, events, now: Date.now, callbacks });
    const signalAt = performance.now();
    await alarm({
      'detail-type': 'CloudWatch Alarm State Change',
      region: 'us-east-1',
      detail: { alarmName: 'region-01-errors', state: { value: 'ALARM', reason: 'bench' } },
    });
    await run.then(
      () => {
        throw new Error('the release succeeded: the alarm did not roll it back');
      },
      () => {},
    );
    if (rollbackAt === undefined) throw new Error('no rollback started');
    return Math.round(rollbackAt - signalAt);
  } finally {
    await dynamo.close();
  }
}
