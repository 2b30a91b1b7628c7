/**
 * The revision a staged region deploys (CodeDeployDeployer's `staged`): its AppSpec content,
 * parsed, with what StageAhead made in that region (the stage id its release record keeps,
 * adapters/aws/stage-id.ts) in place of where it was made from, decided by core/appspec.ts
 * `stagedAppSpec`, sent as JSON AppSpec content. For a Lambda region the alias's live version is
 * read at deploy time (Lambda GetAlias), the version the deployment shifts from. Only the handler
 * that starts deployments carries it (the YAML parser and the Lambda client are already there for
 * rollbacks); it needs no ECS client and no ledger: the stage id comes with the region's task.
 */
import type { RevisionLocation } from '@aws-sdk/client-codedeploy';
import { GetAliasCommand } from '@aws-sdk/client-lambda';
import { parse as parseYaml } from 'yaml';
import type { CodeDeployTarget } from '../../config/types.ts';
import { lambdaAppSpecTarget, stagedAppSpec } from '../../core/appspec.ts';
import type { AwsClientCache } from './clients.ts';
import { invalid, type StagedRevisionSource, sha256 } from './codedeploy-deployer.ts';
import { awsCall, errorMessage, InvalidRevision, namedError } from './errors.ts';
import { stagedMade } from './stage-id.ts';

export class StagedRevisions implements StagedRevisionSource {
  readonly #clients: AwsClientCache;

  constructor(options: { clients: AwsClientCache }) {
    this.#clients = options.clients;
  }

  async revision(
    target: CodeDeployTarget,
    region: string,
    artifact: string,
    stageId: string | undefined,
  ): Promise<{ kind: 'Deploy'; revision: RevisionLocation } | { kind: 'AlreadyLive'; version: string }> {
    const made = stagedMade(stageId);
    const expected = target.platform === 'ECS' ? 'TaskDefinition' : 'LambdaVersion';
    if (made?.kind !== expected) {
      // EnterWave blocks such a region before its wave (core/staging.ts); this is the last guard.
      throw namedError(
        InvalidRevision,
        `${region}: its AppSpec names a build only staging makes, and none was staged there (${stageId ?? 'no staging'})`,
      );
    }
    let doc: unknown;
    try {
      doc = parseYaml(artifact.slice('appspec:'.length));
    } catch (error) {
      throw namedError(InvalidRevision, `${region}: the AppSpec is not YAML or JSON: ${errorMessage(error)}`, error);
    }
    let decision: ReturnType<typeof stagedAppSpec>;
    if (made.kind === 'TaskDefinition') {
      decision = stagedAppSpec(doc, { kind: 'TaskDefinition', arn: made.arn });
    } else {
      const fn = lambdaAppSpecTarget(doc);
      if (fn.kind === 'Invalid') throw invalid(`${region}: ${fn.message}`);
      const lambda = this.#clients.lambda(target.awsRegion, target.roleArn);
      const alias = await awsCall(`Lambda GetAlias ${fn.functionName}:${fn.alias} in ${target.awsRegion}`, () =>
        lambda.send(new GetAliasCommand({ FunctionName: fn.functionName, Name: fn.alias })),
      );
      decision = stagedAppSpec(doc, {
        kind: 'LambdaVersion',
        version: made.version,
        liveVersion: alias.FunctionVersion ?? '',
      });
    }
    if (decision.kind === 'Invalid') throw invalid(`${region}: ${decision.message}`);
    if (decision.kind === 'AlreadyLive') return decision;
    const json = JSON.stringify(decision.appSpec);
    return {
      kind: 'Deploy',
      revision: { revisionType: 'AppSpecContent', appSpecContent: { content: json, sha256: sha256(json) } },
    };
  }
}
