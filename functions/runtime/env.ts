/**
 * Settings a Lambda reads through its environment (serverless.yml sets them): the release config
 * and the secrets, both kept in SSM Parameter Store. Shared by the webhook and Slack handlers.
 */
import { GetParameterCommand, type SSMClient } from '@aws-sdk/client-ssm';
import type { FlotillaConfig } from '../../config/types.ts';
import { formatProblems, validateConfig } from '../../config/validate.ts';

export function misconfigured(message: string): Error {
  const error = new Error(message);
  error.name = 'MisconfiguredFunction';
  return error;
}

/** How long a container keeps the release config it read before reading the parameter again. */
export const CONFIG_TTL_MS = 60_000;

/**
 * The release config (flotilla.yml as JSON) from the SSM parameter FLOTILLA_CONFIG_PARAM names,
 * validated. Not an environment variable: a Lambda's environment is at most 4 KB in all, which a
 * config passes at about a dozen regions; a String parameter holds 4 KB, an Advanced one 8 KB.
 * Read when first needed and kept for CONFIG_TTL_MS, so an updated parameter applies within a
 * minute; a missing setting, a failed read or a config that does not validate is kept for no
 * time at all (the next request reads again) and throws MisconfiguredFunction naming the cause.
 */
export function configFromSsm(
  ssm: Pick<SSMClient, 'send'>,
  now: () => number = Date.now,
): () => Promise<FlotillaConfig> {
  let cached: { config: Promise<FlotillaConfig>; until: number } | undefined;
  return () => {
    if (cached && now() < cached.until) return cached.config;
    const loading = Promise.resolve().then(async () => {
      const name = process.env.FLOTILLA_CONFIG_PARAM;
      if (!name) {
        throw misconfigured(
          'environment variable FLOTILLA_CONFIG_PARAM is not set: it names the SSM parameter that holds the release config (flotilla.yml) as JSON',
        );
      }
      let text: string | undefined;
      try {
        const out = await ssm.send(new GetParameterCommand({ Name: name, WithDecryption: true }));
        text = out.Parameter?.Value;
      } catch (error) {
        const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
        throw misconfigured(`could not read the release config from SSM parameter ${name} (${reason})`);
      }
      if (!text) throw misconfigured(`SSM parameter ${name} (the release config) has no value`);
      let data: unknown;
      try {
        data = JSON.parse(text);
      } catch (error) {
        throw misconfigured(`SSM parameter ${name} is not JSON: ${(error as Error).message}`);
      }
      const parsed = validateConfig(data);
      if (!parsed.ok) {
        throw misconfigured(`SSM parameter ${name} is not a valid config:\n${formatProblems(parsed.problems)}`);
      }
      return parsed.config;
    });
    const entry = { config: loading, until: now() + CONFIG_TTL_MS };
    cached = entry;
    loading.catch(() => {
      if (cached === entry) cached = undefined;
    });
    return loading;
  };
}

/**
 * A secret from SSM Parameter Store (a SecureString, decrypted), fetched once per
 * container; a failed fetch is tried again on the next delivery.
 */
export function secretFromSsm(ssm: SSMClient, name: string): () => Promise<string> {
  let cached: Promise<string> | undefined;
  return () => {
    if (cached) return cached;
    const fetching = ssm.send(new GetParameterCommand({ Name: name, WithDecryption: true })).then((out) => {
      const value = out.Parameter?.Value;
      if (!value) throw misconfigured(`SSM parameter ${name} has no value`);
      return value;
    });
    cached = fetching;
    fetching.catch(() => {
      if (cached === fetching) cached = undefined;
    });
    return fetching;
  };
}
