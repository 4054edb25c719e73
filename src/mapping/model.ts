import type { Template } from './template.js';

/** Where a mapping element was written, for messages that point at the file. */
export interface SourcePos {
  readonly file: string;
  readonly line: number;
  readonly col: number;
}

export interface Mapping {
  readonly name: string;
  /** `schema.table` */
  readonly table: string;
  readonly keys: readonly Template[];
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
