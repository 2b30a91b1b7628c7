import { it } from 'vitest';
import { parseConfig, configJsonSchema, formatProblems } from '../../config/load.ts';
it('smoke', () => {
  const text = `service: shop
regions:
  - name: us-east-1
    target: { kind: local-process, port: 7101, command: [node, server.js] }
  - name: eu-west-1
    target: { kind: local-process, port: 7102, command: [node, server.js] }
waves:
  - name: canary
    regions: [us-east-1]
  - name: wave-2
    regions: [eu-west-1, us-east-1]
    bakeSeconds: -5
  - name: x
    regions: []
gate:
  probez: 3
`;
  const r = parseConfig(text);
  console.log(r.ok ? JSON.stringify(r.config, null, 1) : formatProblems(r.problems));
  const r2 = parseConfig(text.replace('probez: 3', 'probes: 3\n  minSamples: 100\n  bad: [').replace('-5', '5'), 'f.yml');
  console.log(r2.ok ? 'ok' : formatProblems(r2.problems));
  const r3 = parseConfig(text.replace('  probez: 3', '  minSamples: 100\ndeploy: {pollSeconds: 5, maxPollSeconds: 2}\npolicy: {x: 1}').replace('-5', '5').replace('[eu-west-1, us-east-1]', '[eu-wset-1]').replace('regions: []','regions: [eu-west-1]').replace('name: x\n','').replace('kind: local-process, port: 7102', 'kind: local, port: 7102.5, env: {A: 1}').replace('shop', 'Shop'));
  console.log(r3.ok ? 'ok' : formatProblems(r3.problems));
  const r4 = parseConfig('service: shop\nregions:\n  - name: us-east-1\n    target: { kind: local-process, port: 7101, command: [node] }\nwaves: [{regions: [us-east-1]}]\n');
  console.log(JSON.stringify(r4, null, 1));
  console.log(JSON.stringify(configJsonSchema()).slice(0, 3000));
});
