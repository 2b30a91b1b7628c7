/**
 * `flotilla validate` on a config with one mapping of 32,000 keys: the yaml package's own
 * duplicate-key check took 14 s on it (quadratic); config/load.ts checks in one pass. Times
 * parseConfig itself (what validate runs), and the same at 16,000 keys: linear keeps the ratio near 2.
 */
import { parseConfig } from '../config/load.ts';

function configWithEnvKeys(keys: number): string {
  const env = Array.from({ length: keys }, (_, i) => `        K${i}: v`).join('\n');
  return `service: shop
regions:
  - name: us-east-1
    target:
      kind: local-process
      port: 7101
      command: [node, server.js]
      env:
${env}
waves:
  - name: canary
    regions: [us-east-1]
`;
}

/** CPU milliseconds (user + system) of one parse: on a shared machine wall time says more about the neighbours. */
function timeParse(text: string): number {
  const start = process.cpuUsage();
  parseConfig(text);
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000;
}

/** Median CPU milliseconds of parseConfig at 32,000 keys, and its ratio to 16,000 keys. */
export function validateFigures(runs: number): { validate_32k_keys_ms: number; validate_keys_ratio: number } {
  const big = configWithEnvKeys(32_000);
  const half = configWithEnvKeys(16_000);
  timeParse(half); // warm-up
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1] as number;
  const bigMs = median(Array.from({ length: runs }, () => timeParse(big)));
  const halfMs = median(Array.from({ length: runs }, () => timeParse(half)));
  return {
    validate_32k_keys_ms: Math.round(bigMs),
    validate_keys_ratio: Math.round((bigMs / halfMs) * 100) / 100,
  };
}

if (import.meta.main) process.stdout.write(`${JSON.stringify(validateFigures(3))}\n`);
