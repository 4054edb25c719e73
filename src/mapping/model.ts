import type { ChangeOp, ReplicaIdentityKind } from '../domain/types.js';
import type { TablePattern } from './table-pattern.js';
import type { Template } from './template.js';

/** Where a mapping element was written, for messages that point at the file. */
export interface SourcePos {
  readonly file: string;
  readonly line: number;
  readonly col: number;
}

/** What a mapping invalidates: cache keys, tag sets (members + set) and namespace version counters. */
export interface Targets {
  readonly keys: readonly Template[];
  readonly tags: readonly Template[];
  readonly versions: readonly Template[];
}

export interface Mapping extends Targets {
  readonly name: string;
  /** `schema.table`, possibly with globs (`tenant_*.orders`). */
  readonly table: TablePattern;
  /** Operations that fire this mapping (default c, u, d, t). */
  readonly ops: ReadonlySet<ChangeOp>;
  /** An update fires only when one of these columns changed (when before is known). */
  readonly whenChanged: readonly string[] | undefined;
  /** Overrides the global second-delete delay; 0 turns it off for this mapping. */
  readonly secondDeleteDelayMs: number | undefined;
  /** What a truncate invalidates besides the column-free templates above. */
  readonly onTruncate: Targets | undefined;
  /**
   * The table's REPLICA IDENTITY as the mapping declares it (`replica_identity`), for deletes whose
   * before image alone cannot tell (src/mapping/replica-identity.ts); undefined = not declared.
   */
  readonly replicaIdentity: ReplicaIdentityKind | undefined;
  /**
   * The column whose value identifies a row version (a version counter, an updated-at, or Postgres'
   * `xmin`): the cache client records it in the envelope of every value it fills. Unused by the worker.
   */
  readonly versionColumn?: string;
  readonly pos: SourcePos;
}

export type Severity = 'error' | 'warning';

export interface Problem extends SourcePos {
  readonly severity: Severity;
  readonly message: string;
}

export function formatProblem(p: Problem): string {
  return `${p.file}:${p.line}:${p.col} ${p.severity === 'warning' ? 'warning: ' : ''}${p.message}`;
}
