/**
 * SDK clients for the AWS adapters, one per (service, AWS region, role): created on first use and
 * kept for the life of the Lambda container. With a role, the client's credentials come from STS
 * AssumeRole (session `flotilla-<region>`), cached and refreshed 5 minutes before they expire.
 *
 * Retries: every client is built with `maxAttempts: 2` (one SDK retry at most). Back-off belongs to
 * the state machine's Retry on AwsThrottled / DeploymentGroupBusy, which can wait minutes without
 * paying for a Lambda that sleeps; SDK retries inside a Lambda cannot.
 *
 * Bundles: `AwsClientCache` makes clients only with the factories it is given, so a Lambda bundle
 * built from it (functions/runtime/ports.ts) carries only the SDK clients its handler uses. `AwsClients`
 * adds every default factory: handy in tests and scripts, but it pulls every client into a bundle.
 */
import { CloudWatchClient, type CloudWatchClientConfig } from '@aws-sdk/client-cloudwatch';
import { CodeDeployClient, type CodeDeployClientConfig } from '@aws-sdk/client-codedeploy';
import type { ECSClient, ECSClientConfig } from '@aws-sdk/client-ecs';
import { LambdaClient, type LambdaClientConfig } from '@aws-sdk/client-lambda';
import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { SNSClient, type SNSClientConfig } from '@aws-sdk/client-sns';
import { AssumeRoleCommand, STSClient, type STSClientConfig } from '@aws-sdk/client-sts';
import { awsCall } from './errors.ts';

/** The credential shape every SDK v3 client accepts (AwsCredentialIdentity). */
export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  expiration?: Date;
}

export type CredentialProvider = () => Promise<AwsCredentials>;

/** Per-service client settings the cache passes to a factory. */
export interface ClientSettings {
  region: string;
  maxAttempts: number;
  credentials?: CredentialProvider;
}

/** How clients are made; tests hand in their own (or let aws-sdk-client-mock intercept the defaults). */
export interface ClientFactories {
  codedeploy: (config: CodeDeployClientConfig & ClientSettings) => CodeDeployClient;
  cloudwatch: (config: CloudWatchClientConfig & ClientSettings) => CloudWatchClient;
  sns: (config: SNSClientConfig & ClientSettings) => SNSClient;
  /** A Lambda rollback reads the alias it shifts back (GetAlias). */
  lambda: (config: LambdaClientConfig & ClientSettings) => LambdaClient;
  /** STS clients carry the function's own credentials: they are what assumes the roles. */
  sts: (config: STSClientConfig & ClientSettings) => STSClient;
  /** Staging ahead (adapters/aws/revision-stager.ts): bundles copied between regions' buckets. */
  s3?: (config: S3ClientConfig & ClientSettings) => S3Client;
  /** One-off ECS tasks of the new-host gate (adapters/aws/ecs-new-host.ts) and task definitions staging registers (and cleans up); no default: only those bundles carry it. */
  ecs?: (config: ECSClientConfig & ClientSettings) => ECSClient;
}

export const defaultClientFactories: ClientFactories = {
  codedeploy: (config) => new CodeDeployClient(config),
  cloudwatch: (config) => new CloudWatchClient(config),
  sns: (config) => new SNSClient(config),
  lambda: (config) => new LambdaClient(config),
  sts: (config) => new STSClient(config),
  s3: (config) => new S3Client(config),
};

export type AwsService = keyof ClientFactories;
type ClientOf<S extends AwsService> = ReturnType<NonNullable<ClientFactories[S]>>;

/** Refresh assumed-role credentials this long before they expire. */
export const REFRESH_BEFORE_EXPIRY_MS = 5 * 60 * 1000;

/** See the top comment: the state machine owns back-off, so the SDK retries once at most. */
export const SDK_MAX_ATTEMPTS = 2;

export interface AwsClientCacheOptions {
  /** How clients are made, per service; a service without a factory cannot be used. */
  factories: Partial<ClientFactories>;
  /** Milliseconds since the epoch; injected so tests can move past an expiry. */
  now?: () => number;
  /** AssumeRole DurationSeconds; STS's default (3600) when absent. */
  sessionSeconds?: number;
}

export type AwsClientsOptions = Partial<AwsClientCacheOptions>;

/** The cache, with only the client factories it was given (see the top comment: bundles). */
export class AwsClientCache {
  #factories: Partial<ClientFactories>;
  readonly #now: () => number;
  readonly #sessionSeconds: number | undefined;
  readonly #clients = new Map<string, unknown>();
  readonly #credentials = new Map<string, CredentialProvider>();

  constructor(options: AwsClientCacheOptions) {
    this.#factories = { ...options.factories };
    this.#now = options.now ?? Date.now;
    this.#sessionSeconds = options.sessionSeconds;
  }

  /** Adds factories for services this cache has none for yet (a service's clients stay as first made). */
  provide(factories: Partial<ClientFactories>): this {
    this.#factories = { ...factories, ...this.#factories };
    return this;
  }

  codedeploy(awsRegion: string, roleArn?: string): CodeDeployClient {
    return this.client('codedeploy', awsRegion, roleArn);
  }

  cloudwatch(awsRegion: string, roleArn?: string): CloudWatchClient {
    return this.client('cloudwatch', awsRegion, roleArn);
  }

  sns(awsRegion: string, roleArn?: string): SNSClient {
    return this.client('sns', awsRegion, roleArn);
  }

  lambda(awsRegion: string, roleArn?: string): LambdaClient {
    return this.client('lambda', awsRegion, roleArn);
  }

  s3(awsRegion: string, roleArn?: string): S3Client {
    return this.client('s3', awsRegion, roleArn);
  }

  ecs(awsRegion: string, roleArn?: string): ECSClient {
    return this.client('ecs', awsRegion, roleArn);
  }

  /** The cached client for (service, region, role), made on first use. */
  client<S extends AwsService>(service: S, awsRegion: string, roleArn?: string): ClientOf<S> {
    const key = `${service}|${awsRegion}|${roleArn ?? ''}`;
    const cached = this.#clients.get(key);
    if (cached !== undefined) return cached as ClientOf<S>;
    const settings: ClientSettings = {
      region: awsRegion,
      maxAttempts: SDK_MAX_ATTEMPTS,
      ...(roleArn !== undefined && service !== 'sts' ? { credentials: this.credentials(awsRegion, roleArn) } : {}),
    };
    const factory = this.#factories[service] as ((config: ClientSettings) => ClientOf<S>) | undefined;
    if (factory === undefined) throw new Error(`no ${service} client factory was provided to this AwsClientCache`);
    const made = factory(settings);
    this.#clients.set(key, made);
    return made;
  }

  /**
   * The assumed-role credential provider for (region, role): shared by every service's client in
   * that region, so one AssumeRole serves CodeDeploy and CloudWatch alike.
   */
  credentials(awsRegion: string, roleArn: string): CredentialProvider {
    const key = `${awsRegion}|${roleArn}`;
    let provider = this.#credentials.get(key);
    if (provider === undefined) {
      provider = assumeRoleProvider({
        sts: this.client('sts', awsRegion),
        roleArn,
        sessionName: sessionNameFor(awsRegion),
        now: this.#now,
        ...(this.#sessionSeconds !== undefined ? { durationSeconds: this.#sessionSeconds } : {}),
      });
      this.#credentials.set(key, provider);
    }
    return provider;
  }
}

/** The cache with every default factory (any given ones win): every SDK client, for tests and scripts. */
export class AwsClients extends AwsClientCache {
  constructor(options: AwsClientsOptions = {}) {
    super({ ...options, factories: { ...defaultClientFactories, ...options.factories } });
  }
}

/** `flotilla-<region>`, within AssumeRole's RoleSessionName rules: 2–64 chars of [\w+=,.@-]. */
export function sessionNameFor(region: string): string {
  return `flotilla-${region}`.replace(/[^\w+=,.@-]/g, '-').slice(0, 64);
}

export interface AssumeRoleProviderOptions {
  sts: STSClient;
  roleArn: string;
  sessionName: string;
  now: () => number;
  durationSeconds?: number;
}

/**
 * Credentials from STS AssumeRole, cached until REFRESH_BEFORE_EXPIRY_MS before their Expiration.
 * Concurrent callers share one in-flight AssumeRole; a failed one is not cached.
 */
export function assumeRoleProvider(options: AssumeRoleProviderOptions): CredentialProvider {
  const { sts, roleArn, sessionName, now } = options;
  let current: AwsCredentials | undefined;
  let inFlight: Promise<AwsCredentials> | undefined;

  const fresh = (credentials: AwsCredentials | undefined): credentials is AwsCredentials =>
    credentials?.expiration !== undefined && now() < credentials.expiration.getTime() - REFRESH_BEFORE_EXPIRY_MS;

  const assume = async (): Promise<AwsCredentials> => {
    const out = await awsCall(`STS AssumeRole ${roleArn}`, () =>
      sts.send(
        new AssumeRoleCommand({
          RoleArn: roleArn,
          RoleSessionName: sessionName,
          ...(options.durationSeconds !== undefined ? { DurationSeconds: options.durationSeconds } : {}),
        }),
      ),
    );
    const c = out.Credentials;
    if (!c?.AccessKeyId || !c.SecretAccessKey || !c.SessionToken || !c.Expiration) {
      throw new Error(`STS AssumeRole ${roleArn} returned no complete credentials`);
    }
    return {
      accessKeyId: c.AccessKeyId,
      secretAccessKey: c.SecretAccessKey,
      sessionToken: c.SessionToken,
      expiration: new Date(c.Expiration),
    };
  };

  return async () => {
    if (fresh(current)) return current;
    inFlight ??= assume().then(
      (credentials) => {
        current = credentials;
        inFlight = undefined;
        return credentials;
      },
      (error: unknown) => {
        inFlight = undefined;
        throw error;
      },
    );
    return inFlight;
  };
}
