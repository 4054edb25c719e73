import type { Logger } from 'pino';
import { recordRef, type SourceRecord } from '../../domain/types.js';
import type { Stats } from '../../telemetry/stats.js';
import type { SourceBatch } from '../source/source.js';
import type { DeadLetterSink } from './dead-letter.js';
import type { PoisonRecordError } from './poison.js';

/**
 * A poison record: park it in the dead-letter topic and go on, stop before it, or (replays,
 * which re-read records the live worker already dead-lettered) count it and go on.
 */
export type OnError = 'dlq' | 'fail' | 'skip';

/**
 * Runs a dead-letter produce until the topic has it (the worker's retry: backoff, heartbeats,
 * the `dead-letter` readiness reason); rethrows a fatal DeadLetterError.
 */
export type DeadLetterRetry = (op: () => Promise<void>, batch: SourceBatch) => Promise<void>;

export interface PoisonPolicyDeps {
  readonly logger: Logger;
  readonly stats: Stats;
  /** Required with 'dlq'. */
  readonly deadLetter?: DeadLetterSink;
  readonly retry: DeadLetterRetry;
}

/** A poison record of a batch. */
export interface Poisoned {
  readonly record: SourceRecord;
  readonly poison: PoisonRecordError;
}

/** The poison policy stage: what happens to the records of a batch the pipeline cannot handle. */
export class PoisonPolicy {
  constructor(private readonly onError: OnError, private readonly deps: PoisonPolicyDeps) {
    if (onError === 'dlq' && !deps.deadLetter) throw new Error('--on-error dlq needs a dead-letter sink');
  }

  /**
   * Deals with a batch's poison records (in offset order). Returns the record the worker must stop
   * before ('fail'), or undefined when every one was dealt with: parked ('dlq', all of them with
   * one retried produce) or skipped ('skip').
   */
  async handle(poisoned: readonly Poisoned[], batch: SourceBatch): Promise<Poisoned | undefined> {
    if (poisoned.length === 0) return undefined;
    const { logger, stats } = this.deps;
    if (this.onError === 'fail') {
      stats.inc('poison_records', { code: poisoned[0]!.poison.code });
      return poisoned[0];
    }
    for (const { poison } of poisoned) stats.inc('poison_records', { code: poison.code });
    if (this.onError === 'skip') {
      for (const { record, poison } of poisoned) logger.warn({ at: recordRef(record), code: poison.code }, 'poison record skipped');
      return undefined;
    }
    const dlq = this.deps.deadLetter!;
    const letters = poisoned.map(({ record, poison }) => {
      const stack = poison.cause instanceof Error ? poison.cause.stack : undefined;
      return { record, why: { code: poison.code, message: poison.message, ...(stack ? { stack } : {}) } };
    });
    await this.deps.retry(() => dlq.send(letters), batch);
    for (const { record, poison } of poisoned) logger.warn({ at: recordRef(record), code: poison.code, err: poison }, 'poison record dead-lettered');
    return undefined;
  }
}
