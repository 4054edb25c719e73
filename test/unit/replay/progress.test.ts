import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ProgressBar, ProgressLog, progressLine, progressReporter, type TerminalLike } from '../../../src/replay/progress.js';
import { memoryLogger } from '../../support/fakes.js';

class FakeTerminal implements TerminalLike {
  written = '';
  constructor(readonly isTTY: boolean, readonly columns = 100) {}
  write(text: string): boolean {
    this.written += text;
    return true;
  }
}

const half = { records: 5_000, planned: 10_000, seconds: 5, partitionsDone: 2, partitions: 4 };

describe('replay progress', () => {
  it('on a terminal: a bar redrawn in place with records, rate, ETA and partitions done; completed at the end', () => {
    const tty = new FakeTerminal(true);
    const reporter = progressReporter(tty, memoryLogger().logger);
    assert.ok(reporter instanceof ProgressBar);
    reporter.update(half);
    assert.match(tty.written, /^\r\x1b\[2K\[#+-+\] {2}50% 5,000\/10,000 records {2}1,000\/s {2}ETA 5s {2}partitions 2\/4$/);
    reporter.finish({ ...half, records: 10_000, partitionsDone: 4, seconds: 9.6 });
    assert.match(tty.written, /\r\x1b\[2K\[#+\] 100% 10,000\/10,000 records {2}1,042\/s {2}in 10s {2}partitions 4\/4\n$/);
    assert.equal(reporter.everyMs, 200);
  });

  it('off a terminal: log lines as before, nothing drawn', () => {
    const pipe = new FakeTerminal(false);
    const { logger, lines } = memoryLogger();
    const reporter = progressReporter(pipe, logger);
    assert.ok(reporter instanceof ProgressLog);
    reporter.update(half);
    reporter.finish(half);
    assert.equal(pipe.written, '');
    const line = lines.find((l) => l['msg'] === 'replay progress');
    assert.deepEqual(
      { records: line?.['records'], plannedRecords: line?.['plannedRecords'], ratePerSecond: line?.['ratePerSecond'], etaSeconds: line?.['etaSeconds'], partitionsLeft: line?.['partitionsLeft'] },
      { records: 5_000, plannedRecords: 10_000, ratePerSecond: 1_000, etaSeconds: 5, partitionsLeft: 2 },
    );
    assert.equal(reporter.everyMs, 5_000);
  });

  it('the bar fits the terminal; no rate yet shows an unknown ETA', () => {
    const line = progressLine({ records: 0, planned: 100, seconds: 0, partitionsDone: 0, partitions: 1 }, 60);
    assert.ok(line.length <= 60, line);
    assert.match(line, /ETA \?/);
    assert.match(progressLine({ ...half, seconds: 1, records: 1, planned: 7_200 }, 80), /ETA 1h59m/);
  });
});
