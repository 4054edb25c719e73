import { spawn } from 'node:child_process';
import { stopProcess } from './processes.js';
import { startKafka } from './stack/kafka.js';

export interface KafkaBroker {
  /** Which broker this is: librdkafka's mock cluster, or Apache Kafka (test/support/stack/kafka.ts). */
  readonly kind: BrokerKind;
  readonly brokers: string[];
  /** SIGSTOP: every broker of the mock cluster stops answering (connections hang, nothing is lost). */
  freeze(): void;
  /** SIGCONT after freeze(). */
  thaw(): void;
  stop(): Promise<void>;
}

export type BrokerKind = 'mock' | 'real';

/** CDCI_TEST_BROKER=real|mock overrides a test file's choice (to compare both on one file). */
export function brokerKind(preferred: BrokerKind): BrokerKind {
  const env = process.env['CDCI_TEST_BROKER'];
  return env === 'real' || env === 'mock' ? env : preferred;
}

/**
 * A Kafka broker for a test file: the real one (Apache Kafka, KRaft, one node; topics auto-created
 * with 4 partitions like the mock's, so the same tests run on both) or librdkafka's mock cluster.
 */
export async function startKafkaBroker(preferred: BrokerKind = 'mock'): Promise<KafkaBroker> {
  if (brokerKind(preferred) === 'mock') return startMockBroker();
  const kafka = await startKafka({ autoCreateTopics: true, numPartitions: 4 });
  return {
    kind: 'real',
    brokers: [...kafka.brokers],
    freeze: () => kafka.nodes.forEach((n) => n.freeze()),
    thaw: () => kafka.nodes.forEach((n) => n.thaw()),
    stop: () => kafka.stop(),
  };
}

/**
 * librdkafka's Kafka-protocol mock cluster, hosted by kcat. It auto-creates topics (4 partitions),
 * does not support CreateTopics, and keeps about 5 MiB per partition. Its debug log (needed to
 * learn the ports) runs forever, so stderr is drained for the life of the process.
 */
async function startMockBroker(): Promise<KafkaBroker> {
  const child = spawn('kcat', ['-b', 'localhost:1', '-C', '-t', 'keepalive', '-X', 'test.mock.num.brokers=3', '-d', 'mock', '-q'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const brokers = await new Promise<string[]>((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error('kcat mock cluster did not print bootstrap.servers within 10 s')), 10_000);
    child.once('error', (e) => reject(new Error(`cannot start kcat (apt-get install kcat): ${e.message}`)));
    child.once('exit', (code) => reject(new Error(`kcat exited with ${code} before the mock cluster was up`)));
    child.stderr.on('data', (chunk: Buffer) => {
      seen += chunk.toString('utf8');
      const m = /bootstrap\.servers=(\S+)/.exec(seen);
      if (m) {
        clearTimeout(timer);
        seen = '';
        resolve(m[1]!.split(','));
      } else if (seen.length > 1_000_000) {
        seen = seen.slice(-10_000);
      }
    });
  });
  child.stderr.removeAllListeners('data');
  child.stderr.resume(); // keep draining the debug log so the pipe never fills
  return {
    kind: 'mock',
    brokers,
    freeze: () => void child.kill('SIGSTOP'),
    thaw: () => void child.kill('SIGCONT'),
    stop: async () => {
      child.kill('SIGCONT');
      await stopProcess(child, 'SIGTERM', 3_000);
    },
  };
}
