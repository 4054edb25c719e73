/** An error thrown by the source (a heartbeat during a rebalance): it goes back to the source as is. */
export class SourceInterrupt extends Error {
  override readonly name = 'SourceInterrupt';
  constructor(readonly original: unknown) {
    super('the source interrupted the batch', { cause: original });
  }
}

/** Heartbeats through `beat`; an error (a rebalance) is wrapped so no stage mistakes it for its own. */
export async function heartbeatOf(beat: () => Promise<void>): Promise<void> {
  try {
    await beat();
  } catch (e) {
    throw new SourceInterrupt(e);
  }
}
