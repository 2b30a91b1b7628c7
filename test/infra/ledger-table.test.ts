import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { LEDGER_TTL_ATTRIBUTE, ledgerTableDefinition } from '../../adapters/dynamodb/ledger.ts';

describe('infra/ledger-table.yml', () => {
  it('declares the same keys and index as the table the code creates locally', () => {
    const doc = parse(readFileSync(new URL('../../infra/ledger-table.yml', import.meta.url), 'utf8'));
    const props = doc.Resources.LedgerTable.Properties;
    const code = ledgerTableDefinition('x');
    expect(props.BillingMode).toBe(code.BillingMode);
    expect(props.AttributeDefinitions).toEqual(code.AttributeDefinitions);
    expect(props.KeySchema).toEqual(code.KeySchema);
    expect(props.LocalSecondaryIndexes).toEqual(code.LocalSecondaryIndexes);
  });

  it('expires one-time claims on the attribute the code writes', () => {
    const doc = parse(readFileSync(new URL('../../infra/ledger-table.yml', import.meta.url), 'utf8'));
    expect(doc.Resources.LedgerTable.Properties.TimeToLiveSpecification).toEqual({
      AttributeName: LEDGER_TTL_ATTRIBUTE,
      Enabled: true,
    });
  });
});
