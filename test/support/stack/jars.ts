import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../paths.js';

export type JarModule = 'kafka' | 'connect' | 'debezium-postgres';

/** Where stack/fetch-jars.sh puts the jars (STACK_JARS_DIR, else .stack/jars in the repository). */
export function jarsDir(): string {
  return process.env['STACK_JARS_DIR'] ?? join(repoRoot(), '.stack', 'jars');
}

let fetched = false;

/**
 * The folder of a module's jars, fetched with Maven on first use (stack/fetch-jars.sh, once per
 * POM change; later runs are offline).
 */
export function jarFolder(module: JarModule): string {
  if (!fetched) {
    execFileSync('bash', [join(repoRoot(), 'stack', 'fetch-jars.sh')], { stdio: ['ignore', 'inherit', 'inherit'], timeout: 20 * 60_000 });
    fetched = true;
  }
  const dir = join(jarsDir(), module);
  if (!existsSync(dir)) throw new Error(`no jars in ${dir}: run bash stack/fetch-jars.sh`);
  return dir;
}

/** A java classpath of every jar in the module's folder. */
export function classpath(module: JarModule): string {
  return join(jarFolder(module), '*');
}

/** The java binary: $JAVA_HOME/bin/java, else java on PATH. */
export function javaBin(): string {
  const home = process.env['JAVA_HOME'];
  if (home && existsSync(join(home, 'bin', 'java'))) return join(home, 'bin', 'java');
  return 'java';
}

/** Why the real stack cannot run here, or undefined when it can. */
export function stackUnavailable(): string | undefined {
  try {
    execFileSync(javaBin(), ['-version'], { stdio: 'ignore', timeout: 20_000 });
  } catch {
    return 'no Java (JDK 17+) found: apt-get install openjdk-17-jdk-headless, or set JAVA_HOME';
  }
  if (!existsSync(join(jarsDir(), '.stamp'))) {
    try {
      execFileSync('mvn', ['-v'], { stdio: 'ignore', timeout: 30_000 });
    } catch {
      return `no stack jars in ${jarsDir()} and no Maven to fetch them: apt-get install maven`;
    }
  }
  return undefined;
}

/** JVM options every stack JVM gets: a small heap (the box runs Kafka, Connect, Postgres and the tests). */
export function jvmOptions(heapMb: number, log4jConfig: string, logsDir: string): string[] {
  return [
    `-Xms${Math.min(128, heapMb)}m`,
    `-Xmx${heapMb}m`,
    '-XX:+UseSerialGC',
    '-XX:+ExitOnOutOfMemoryError',
    '-Djava.awt.headless=true',
    `-Dlog4j2.configurationFile=${log4jConfig}`,
    `-Dkafka.logs.dir=${logsDir}`,
  ];
}

/** A Log4j2 configuration writing INFO and above to one file. */
export function log4jProperties(file: string, level = 'INFO'): string {
  return [
    'status = warn',
    'appender.file.type = File',
    'appender.file.name = file',
    `appender.file.fileName = ${file}`,
    'appender.file.layout.type = PatternLayout',
    'appender.file.layout.pattern = [%d] %p %m (%c)%n',
    `rootLogger.level = ${level}`,
    'rootLogger.appenderRefs = file',
    'rootLogger.appenderRef.file.ref = file',
    // Per-request noise that fills the log without telling anything about a failure.
    'logger.reqs.name = kafka.request.logger',
    'logger.reqs.level = WARN',
    'logger.cleaner.name = kafka.log.LogCleaner',
    'logger.cleaner.level = INFO',
    '',
  ].join('\n');
}
