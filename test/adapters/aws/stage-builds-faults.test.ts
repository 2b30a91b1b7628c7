/**
 * Staging a Lambda version where moto cannot go (adapters/aws/revision-stager.ts): Lambda's own
 * guards refusing a concurrent change, an update still in progress, a publish that returns an
 * existing version, an alias serving a version by weight. At the SDK boundary (aws-sdk-client-mock).
 */
import {
  DeleteFunctionCommand,
  GetFunctionConfigurationCommand,
  LambdaClient,
  ListAliasesCommand,
  PublishVersionCommand,
  UpdateFunctionCodeCommand,
} from '@aws-sdk/client-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AwsRevisionStager, publishedDescription } from '../../../adapters/aws/revision-stager.ts';
import { cdTarget } from './helpers.ts';

const lambda = mockClient(LambdaClient);
const ARN = 'arn:aws:lambda:eu-west-1:111122223333:function:shop';
const target = cdTarget({ platform: 'Lambda' });
const artifact =
  'appspec:{"version":"0.0","Resources":[{"shop":{"Type":"AWS::Lambda::Function","Properties":{"Name":"shop","Alias":"live","TargetVersion":"s3://shop-builds-eu-west-1/shop/1.4.0.zip"}}}]}';
const request = (stageId?: string) => ({
  service: 'shop',
  releaseId: 'shop-1.4.0',
  region: 'eu-west-1',
  target,
  revision: { version: '1.4.0', artifact },
  ...(stageId ? { stageId } : {}),
});
const unused = () => {
  throw new Error('no S3 call expected');
};
const stager = () =>
  new AwsRevisionStager({
    s3: { head: unused, getText: unused, copy: unused, delete: unused },
    lambda: () => new LambdaClient({ region: 'eu-west-1' }),
    sleep: async () => {},
  });

beforeEach(() => {
  lambda.reset();
  lambda
    .on(GetFunctionConfigurationCommand)
    .resolves({ RevisionId: 'rev-0', CodeSha256: 'old', LastUpdateStatus: 'Successful' });
  lambda
    .on(UpdateFunctionCodeCommand)
    .resolves({ RevisionId: 'rev-1', CodeSha256: 'new', LastUpdateStatus: 'InProgress' });
});

afterEach(() => {
  lambda.reset();
});

describe('staging a Lambda version at the SDK boundary', () => {
  it('guards the update with the RevisionId it read and the publish with the code and revision the update left', async () => {
    lambda
      .on(GetFunctionConfigurationCommand)
      .resolvesOnce({ RevisionId: 'rev-0', CodeSha256: 'old', LastUpdateStatus: 'Successful' })
      .resolvesOnce({ RevisionId: 'rev-1', CodeSha256: 'new', LastUpdateStatus: 'InProgress' })
      .resolvesOnce({ RevisionId: 'rev-2', CodeSha256: 'new', LastUpdateStatus: 'Successful' });
    lambda
      .on(PublishVersionCommand)
      .resolves({ Version: '7', FunctionArn: `${ARN}:7`, Description: publishedDescription('shop-1.4.0') });
    expect(await stager().startStaging(request())).toEqual({ stageId: `published:${ARN}:7` });
    expect(lambda.commandCalls(UpdateFunctionCodeCommand)[0]?.args[0].input).toEqual({
      FunctionName: 'shop',
      S3Bucket: 'shop-builds-eu-west-1',
      S3Key: 'shop/1.4.0.zip',
      Publish: false,
      RevisionId: 'rev-0',
    });
    expect(lambda.commandCalls(PublishVersionCommand)[0]?.args[0].input).toEqual({
      FunctionName: 'shop',
      CodeSha256: 'new',
      RevisionId: 'rev-2',
      Description: 'flotilla-staged-for shop-1.4.0',
    });
  });

  it('fails the staging when a concurrent change makes Lambda refuse the publish, naming why', async () => {
    lambda
      .on(GetFunctionConfigurationCommand)
      .resolves({ RevisionId: 'r', CodeSha256: 'new', LastUpdateStatus: 'Successful' });
    lambda.on(PublishVersionCommand).rejects(
      Object.assign(new Error('The Revision Id provided does not match the latest Revision Id.'), {
        name: 'PreconditionFailedException',
      }),
    );
    const { stageId } = await stager().startStaging(request());
    expect(stageId).toBe(
      'failed:Lambda shop in eu-west-1: PublishVersion refused (PreconditionFailedException): The Revision Id provided does not match the latest Revision Id.',
    );
    expect(await stager().awaitStaging({ region: 'eu-west-1', target, stageId })).toMatchObject({ status: 'Failed' });
  });

  it('publishes nothing when the code changed again before the update settled', async () => {
    lambda
      .on(GetFunctionConfigurationCommand)
      .resolvesOnce({ RevisionId: 'rev-0', CodeSha256: 'old', LastUpdateStatus: 'Successful' })
      .resolvesOnce({ RevisionId: 'rev-9', CodeSha256: 'someone-elses', LastUpdateStatus: 'Successful' });
    const { stageId } = await stager().startStaging(request());
    expect(stageId).toBe(
      'failed:Lambda shop in eu-west-1: its code changed while s3://shop-builds-eu-west-1/shop/1.4.0.zip was being staged; not published',
    );
    expect(lambda.commandCalls(PublishVersionCommand)).toHaveLength(0);
  });

  it('records a version Lambda already had (code unchanged) as found, and never deletes it', async () => {
    lambda
      .on(GetFunctionConfigurationCommand)
      .resolves({ RevisionId: 'r', CodeSha256: 'new', LastUpdateStatus: 'Successful' });
    lambda
      .on(PublishVersionCommand)
      .resolves({ Version: '6', FunctionArn: `${ARN}:6`, Description: 'published by CI' });
    const { stageId } = await stager().startStaging(request());
    expect(stageId).toBe(`found:${ARN}:6`);
    await stager().removeStaged(request(stageId));
    expect(lambda.commandCalls(DeleteFunctionCommand)).toHaveLength(0);
  });

  it('keeps a version an alias serves by weight, on any page of aliases', async () => {
    lambda.on(GetFunctionConfigurationCommand).resolves({ Description: publishedDescription('shop-1.4.0') });
    lambda
      .on(ListAliasesCommand)
      .resolvesOnce({ Aliases: [{ Name: 'live', FunctionVersion: '6' }], NextMarker: 'm' })
      .resolvesOnce({
        Aliases: [{ Name: 'canary', FunctionVersion: '6', RoutingConfig: { AdditionalVersionWeights: { '7': 0.1 } } }],
      });
    await stager().removeStaged(request(`published:${ARN}:7`));
    expect(lambda.commandCalls(ListAliasesCommand)[1]?.args[0].input).toMatchObject({ Marker: 'm' });
    expect(lambda.commandCalls(DeleteFunctionCommand)).toHaveLength(0);
  });

  it('deletes a version its release published once no alias serves it; one already gone is no error', async () => {
    lambda
      .on(GetFunctionConfigurationCommand)
      .resolvesOnce({ Description: publishedDescription('shop-1.4.0') })
      .rejectsOnce(Object.assign(new Error('gone'), { name: 'ResourceNotFoundException' }));
    lambda.on(ListAliasesCommand).resolves({ Aliases: [{ Name: 'live', FunctionVersion: '6' }] });
    await stager().removeStaged(request(`published:${ARN}:7`));
    expect(lambda.commandCalls(DeleteFunctionCommand)[0]?.args[0].input).toEqual({ FunctionName: ARN, Qualifier: '7' });
    await expect(stager().removeStaged(request(`published:${ARN}:7`))).resolves.toBeUndefined();
    expect(lambda.commandCalls(DeleteFunctionCommand)).toHaveLength(1);
  });
});
