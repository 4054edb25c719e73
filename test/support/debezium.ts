/** Builders of Debezium change event values (JSON converter, no schema) for tests. */
export interface EventOptions {
  readonly schema?: string;
  readonly table?: string;
  readonly before?: Record<string, unknown> | null;
  readonly after?: Record<string, unknown> | null;
}

export function changeEvent(op: 'c' | 'u' | 'd' | 'r' | 't', o: EventOptions = {}): Record<string, unknown> {
  return {
    before: o.before ?? null,
    after: o.after ?? null,
    source: {
      version: '3.5.2.Final',
      connector: 'postgresql',
      name: 'shop',
      ts_ms: Date.now(),
      snapshot: op === 'r' ? 'true' : 'false',
      db: 'app',
      schema: o.schema ?? 'inventory',
      table: o.table ?? 'customers',
      txId: 1,
      lsn: 1,
    },
    transaction: null,
    op,
    ts_ms: Date.now(),
  };
}

export function customerCreate(id: number, email: string): Record<string, unknown> {
  return changeEvent('c', { after: { id, first_name: 'F', last_name: 'L', email } });
}
