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

/** Runs a dead-letter produce until the topic has it (the worker's retry: backoff, heartbeats). */
export type DeadLetterRetry = (op: () => Promise<void>, batch: SourceBatch) => Promise<void>;

export interface PoisonPolicyDeps {
  readonly logger: Logger;
  readonly stats: Stats;
  /** Required with 'dlq'. */
  readonly deadLetter?: DeadLetterSink;
  readonly retry: DeadLetterRetry;
}

/** The poison policy stage: what happens to a record the pipeline cannot handle. */
export class PoisonPolicy {
  constructor(private readonly onError: OnError, private readonly deps: PoisonPolicyDeps) {
    if (onError === 'dlq' && !deps.deadLetter) throw new Error('--on-error dlq needs a dead-letter sink');
  }

  /** 'continue': the record is dealt with (parked or skipped); 'stop': the worker stops before it. */
  async handle(record: SourceRecord, poison: PoisonRecordError, batch: SourceBatch): Promise<'continue' | 'stop'> {
    const { logger, stats } = this.deps;
    stats.inc('poison_records', { code: poison.code });
    if (this.onError === 'skip') {
      logger.warn({ at: recordRef(record), code: poison.code }, 'poison record skipped');
      return 'continue';
    }
    if (this.onError === 'fail') return 'stop';
    const dlq = this.deps.deadLetter!;
    const stack = poison.cause instanceof Error ? poison.cause.stack : undefined;
    await this.deps.retry(() => dlq.send(record, { code: poison.code, message: poison.message, ...(stack ? { stack } : {}) }), batch);
    logger.warn({ at: recordRef(record), code: poison.code, err: poison }, 'poison record dead-lettered');
    return 'continue';
  }
}
