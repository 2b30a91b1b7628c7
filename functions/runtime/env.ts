/**
 * Settings a Lambda reads from its environment (serverless.yml sets them): the release config and
 * secrets kept in SSM. Shared by the webhook and Slack handlers.
 */
import { GetParameterCommand, type SSMClient } from '@aws-sdk/client-ssm';
import type { FlotillaConfig } from '../../config/types.ts';
import { formatProblems, validateConfig } from '../../config/validate.ts';

export function misconfigured(message: string): Error {
  const error = new Error(message);
  error.name = 'MisconfiguredFunction';
  return error;
}

/** The release config from FLOTILLA_CONFIG_JSON (the config as a JSON string), validated. */
export function configFromEnv(): FlotillaConfig {
  const text = process.env.FLOTILLA_CONFIG_JSON;
  if (!text) {
    throw misconfigured(
      'environment variable FLOTILLA_CONFIG_JSON is not set: it holds the release config (flotilla.yml) as JSON',
    );
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw misconfigured(`FLOTILLA_CONFIG_JSON is not JSON: ${(error as Error).message}`);
  }
  const parsed = validateConfig(data);
  if (!parsed.ok)
    throw misconfigured(`FLOTILLA_CONFIG_JSON is not a valid config:\n${formatProblems(parsed.problems)}`);
  return parsed.config;
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
