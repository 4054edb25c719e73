import type { Logger } from 'pino';

export type WorkerState = 'initialized' | 'starting' | 'running' | 'draining' | 'stopped' | 'failed';

const NEXT: Readonly<Record<WorkerState, readonly WorkerState[]>> = {
  initialized: ['starting', 'stopped', 'failed'],
  starting: ['running', 'draining', 'failed'],
  running: ['draining', 'failed'],
  draining: ['stopped', 'failed'],
  stopped: [],
  failed: [],
};

/** The worker's state machine; every transition is logged once. */
export class Lifecycle {
  #state: WorkerState = 'initialized';

  constructor(private readonly logger: Logger) {}

  get state(): WorkerState {
    return this.#state;
  }

  /** Moves to `to` when allowed; returns false (and stays) otherwise. */
  to(to: WorkerState, fields: Record<string, unknown> = {}): boolean {
    if (!NEXT[this.#state].includes(to)) return false;
    const from = this.#state;
    this.#state = to;
    const log = to === 'failed' ? this.logger.error.bind(this.logger) : this.logger.info.bind(this.logger);
    log({ ...fields, from, to }, `worker ${to}`);
    return true;
  }
}
