import type { Ledger } from '../../ports/ledger.ts';

/** The ledger, counting the calls made to each of its methods. */
export function counted(ledger: Ledger): { ledger: Ledger; calls: Map<string, number> } {
  const calls = new Map<string, number>();
  const proxy = new Proxy(ledger, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        calls.set(String(key), (calls.get(String(key)) ?? 0) + 1);
        return value.apply(target, args);
      };
    },
  });
  return { ledger: proxy, calls };
}
