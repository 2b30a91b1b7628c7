/**
 * The revision that rolls a Lambda region back (CodeDeployDeployer's `lambdaRollback`). The region's
 * last good AppSpec (inline, or a file in S3) is parsed, the alias it shifts is read with Lambda
 * GetAlias in the target's region (through its role), and core/appspec.ts writes the AppSpec that
 * shifts from the alias's live version to the last good one, sent as JSON AppSpec content.
 *
 * The AppSpec file is fetched from S3 with one SigV4-signed GET (the signer every SDK client already
 * carries, with the Lambda client's credentials: the same role), not with the S3 client: that
 * client would add ~140 KB to the bundle of the handler that starts deployments, past its limit
 * (test/infra/package.test.ts). Needs lambda:GetAlias, and s3:GetObject (s3:GetObjectVersion for a
 * recorded object version) on the AppSpec's bucket.
 */
import type { RevisionLocation } from '@aws-sdk/client-codedeploy';
import { GetAliasCommand } from '@aws-sdk/client-lambda';
import { SignatureV4 } from '@smithy/signature-v4';
import { parse as parseYaml } from 'yaml';
import type { CodeDeployTarget } from '../../config/types.ts';
import { lambdaAppSpecTarget, lambdaRollbackAppSpec } from '../../core/appspec.ts';
import type { AwsClientCache } from './clients.ts';
import { invalid, type LambdaRollbackSource, sha256, short } from './codedeploy-deployer.ts';
import { awsCall, errorMessage, InvalidRevision, namedError } from './errors.ts';
import { Sha256 } from './sha256.ts';

export interface LambdaRollbacksOptions {
  clients: AwsClientCache;
  /** S3's endpoint for an AWS region (tests: a local server, path-style). Default: the regional endpoint. */
  s3Endpoint?: (awsRegion: string) => string;
  fetch?: typeof fetch;
}

export class LambdaRollbacks implements LambdaRollbackSource {
  readonly #clients: AwsClientCache;
  readonly #s3Endpoint: (awsRegion: string) => string;
  readonly #fetch: typeof fetch;

  constructor(options: LambdaRollbacksOptions) {
    this.#clients = options.clients;
    this.#s3Endpoint = options.s3Endpoint ?? ((awsRegion) => `https://s3.${awsRegion}.amazonaws.com`);
    this.#fetch = options.fetch ?? fetch;
  }

  async revision(
    target: CodeDeployTarget,
    lastGood: RevisionLocation,
    artifact: string,
  ): Promise<{ kind: 'Deploy'; revision: RevisionLocation } | { kind: 'AlreadyLive'; version: string }> {
    const content = await this.#appSpecText(target, lastGood, artifact);
    let doc: unknown;
    try {
      doc = parseYaml(content); // YAML is a superset of JSON: either form of AppSpec parses
    } catch (error) {
      throw namedError(
        InvalidRevision,
        `cannot roll back to ${short(artifact)}: its AppSpec is not YAML or JSON: ${errorMessage(error)}`,
        error,
      );
    }
    const fn = lambdaAppSpecTarget(doc);
    if (fn.kind === 'Invalid') throw invalid(`cannot roll back to ${short(artifact)}: ${fn.message}`);
    const lambda = this.#clients.lambda(target.awsRegion, target.roleArn);
    const alias = await awsCall(`Lambda GetAlias ${fn.functionName}:${fn.alias} in ${target.awsRegion}`, () =>
      lambda.send(new GetAliasCommand({ FunctionName: fn.functionName, Name: fn.alias })),
    );
    const decision = lambdaRollbackAppSpec(doc, alias.FunctionVersion ?? '');
    if (decision.kind === 'Invalid') throw invalid(`cannot roll back to ${short(artifact)}: ${decision.message}`);
    if (decision.kind === 'AlreadyLive') return decision;
    const json = JSON.stringify(decision.appSpec);
    return {
      kind: 'Deploy',
      revision: { revisionType: 'AppSpecContent', appSpecContent: { content: json, sha256: sha256(json) } },
    };
  }

  /** The last good AppSpec's text: inline, or the S3 object at the recorded version (and ETag). */
  async #appSpecText(target: CodeDeployTarget, revision: RevisionLocation, artifact: string): Promise<string> {
    if (revision.revisionType === 'AppSpecContent') return revision.appSpecContent?.content ?? '';
    if (revision.revisionType === 'String') return revision.string?.content ?? '';
    const s3 = revision.s3Location;
    if (revision.revisionType !== 'S3' || !s3?.bucket || !s3.key) {
      throw invalid(`cannot roll back to ${short(artifact)}: a Lambda rollback needs an AppSpec`);
    }
    const where = `S3 GetObject s3://${s3.bucket}/${s3.key} in ${target.awsRegion}`;
    const lambda = this.#clients.lambda(target.awsRegion, target.roleArn);
    const credentials = await lambda.config.credentials();
    const base = new URL(this.#s3Endpoint(target.awsRegion));
    const path = `${base.pathname.replace(/\/$/, '')}/${encodeURIComponent(s3.bucket)}/${s3.key
      .split('/')
      .map(encodeURIComponent)
      .join('/')}`;
    const query: Record<string, string> = s3.version ? { versionId: s3.version } : {};
    const signer = new SignatureV4({
      service: 's3',
      region: target.awsRegion,
      credentials,
      sha256: Sha256,
      uriEscapePath: false, // S3 signs the path as sent, not encoded twice
      applyChecksum: false,
    });
    const signed = await signer.sign({
      method: 'GET',
      protocol: base.protocol,
      hostname: base.hostname,
      ...(base.port ? { port: Number(base.port) } : {}),
      path,
      query,
      headers: {
        host: base.host,
        'x-amz-content-sha256': 'UNSIGNED-PAYLOAD',
        ...(s3.eTag ? { 'if-match': s3.eTag } : {}),
      },
    });
    const url = new URL(`${base.protocol}//${base.host}${path}`);
    for (const [name, value] of Object.entries(query)) url.searchParams.set(name, value);
    const response = await awsCall(where, () =>
      this.#fetch(url, { method: 'GET', headers: signed.headers as Record<string, string> }),
    );
    const body = await response.text();
    if (!response.ok) {
      // S3's errors are XML: <Error><Code>NoSuchKey</Code><Message>…</Message></Error>.
      const code = /<Code>([^<]+)<\/Code>/.exec(body)?.[1] ?? `S3Http${response.status}`;
      const message = /<Message>([^<]*)<\/Message>/.exec(body)?.[1] ?? body.slice(0, 200);
      throw namedError(code, `${where}: HTTP ${response.status} ${code}: ${message}`);
    }
    return body;
  }
}
