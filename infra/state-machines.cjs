/**
 * The state machines osls deploys, made from the SAME state-machines/*.asl.json files the local
 * engine runs: each placeholder Lambda ARN (a Task's Resource, or a `lambda:invoke` FunctionName)
 *   arn:aws:lambda:us-east-1:123456789012:function:flotilla-<name>
 * becomes {"Fn::GetAtt": ["<Name>LambdaFunction", "Arn"]}, the function serverless.yml declares for
 * functions/<name>.ts (key `<name>` in camelCase). Nothing else changes. serverless-step-functions
 * then turns each GetAtt into a Fn::Sub parameter of the DefinitionString.
 *
 * serverless.yml reads this module with ${file(./infra/state-machines.cjs):<export>}; osls calls
 * an exported function and uses what it returns.
 */
'use strict';

const { existsSync, readFileSync } = require('node:fs');
const path = require('node:path');

const ROOT = path.join(__dirname, '..');
const PLACEHOLDER = /^arn:aws:lambda:us-east-1:123456789012:function:flotilla-([a-z0-9-]+)$/;
const ANY_LAMBDA = /^arn:aws[a-z-]*:lambda:/;

/** `plan-release` → `planRelease`: the function's key in serverless.yml. */
function functionKey(name) {
  return name.replace(/-([a-z0-9])/g, (_, c) => c.toUpperCase());
}

/** `plan-release` → `PlanReleaseLambdaFunction`: the logical id osls gives that function. */
function lambdaLogicalId(name) {
  const key = functionKey(name);
  return `${key.charAt(0).toUpperCase()}${key.slice(1)}LambdaFunction`;
}

function readAsl(machine) {
  return JSON.parse(readFileSync(path.join(ROOT, 'state-machines', `${machine}.asl.json`), 'utf8'));
}

/** A deep copy of `node` with every placeholder Task Resource replaced; `used` collects the function names. */
function substitute(node, used) {
  if (Array.isArray(node)) return node.map((item) => substitute(item, used));
  if (node === null || typeof node !== 'object') return node;
  const out = {};
  for (const [key, value] of Object.entries(node)) {
    // A Task's Resource, or the FunctionName of a `lambda:invoke` integration (the hold's `.waitForTaskToken`).
    if ((key === 'Resource' || key === 'FunctionName') && typeof value === 'string' && ANY_LAMBDA.test(value)) {
      const name = PLACEHOLDER.exec(value)?.[1];
      if (name === undefined) throw new Error(`Lambda resource ${value} is not a flotilla placeholder ARN`);
      if (!existsSync(path.join(ROOT, 'functions', `${name}.ts`))) {
        throw new Error(`${value} names functions/${name}.ts, which does not exist`);
      }
      used.add(name);
      out[key] = { 'Fn::GetAtt': [lambdaLogicalId(name), 'Arn'] };
    } else {
      out[key] = substitute(value, used);
    }
  }
  return out;
}

/** The definition serverless-step-functions gets, and the function names (file names) it calls. */
function resolve(machine) {
  const used = new Set();
  const definition = substitute(readAsl(machine), used);
  return { definition, functions: [...used].sort() };
}

/** IAM resources for lambda:InvokeFunction: exactly the functions the machine's Task states name. */
function invokeResources(machine) {
  return resolve(machine).functions.map((name) => ({ 'Fn::GetAtt': [lambdaLogicalId(name), 'Arn'] }));
}

module.exports = {
  functionKey,
  lambdaLogicalId,
  resolve,
  release: () => resolve('release').definition,
  region: () => resolve('region').definition,
  releaseInvokeResources: () => invokeResources('release'),
  regionInvokeResources: () => invokeResources('region'),
};
