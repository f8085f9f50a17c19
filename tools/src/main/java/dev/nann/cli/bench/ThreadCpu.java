package dev.nann.cli.bench;

import dev.nann.engine.RetrievalEngine;
import dev.nann.scorer.MicroBatchingScorer;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadInfo;
import java.lang.management.ThreadMXBean;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * CPU time of the serving bench's one process split by what its threads do: the engine's walkers,
 * micro-batching's score dispatcher (when on), the Kafka broker, the Kafka clients' network threads,
 * the job's task threads, the load generator, the other Java threads, and what no Java thread
 * accounts for (the JIT's and the collector's threads, RocksDB's background threads, threads that
 * ended meanwhile). Threads are told apart by their names, as Kafka and Flink give them.
 */
final class ThreadCpu {
  private ThreadCpu() {}

  /** The roles, in the order reports list them. */
  static final String WALKERS = "walkers";
  static final String SCORE_BATCHER = "score_batcher";
  static final String KAFKA_BROKER = "kafka_broker";
  static final String KAFKA_CLIENTS = "kafka_clients";
  static final String JOB_TASKS = "job_tasks";
  static final String LOAD_GENERATOR = "load_generator";
  static final String OTHER_THREADS = "other_threads";
  static final String NOT_JAVA_THREADS = "jit_gc_native";

  private static final Pattern FLINK_TASK = Pattern.compile(".*\\(\\d+/\\d+\\)#\\d+.*");

  /** The role of a thread by its name; {@code loadThread} is a thread of the load generator's own. */
  static String role(String name, boolean loadThread) {
    if (name.startsWith(RetrievalEngine.WALKER_THREAD_PREFIX)) {
      return WALKERS;
    }
    if (name.equals(MicroBatchingScorer.DISPATCHER_THREAD_NAME)) {
      return SCORE_BATCHER;   // micro-batching: the score calls run here instead of on the walkers
    }
    if (loadThread || name.startsWith("bench-")) {
      return LOAD_GENERATOR;
    }
    if (name.startsWith("kafka-producer-network-thread") || name.startsWith("kafka-coordinator-heartbeat-thread")
        || name.startsWith("kafka-admin-client-thread") || name.startsWith("consumer_background_thread")
        || name.startsWith("nann-client")) {
      return KAFKA_CLIENTS;
    }
    if (name.startsWith("data-plane-kafka") || name.startsWith("kafka-") || name.startsWith("quorum-controller")
        || name.startsWith("group-coordinator") || name.startsWith("ExpirationReaper")) {
      return KAFKA_BROKER;
    }
    if (FLINK_TASK.matcher(name).matches() || name.startsWith("Source Data Fetcher")) {
      return JOB_TASKS;
    }
    return OTHER_THREADS;
  }

  /**
   * CPU nanoseconds so far by role (every role present); the calling thread counts as the load
   * generator's (the bench reads the answers on it).
   */
  static Map<String, Long> snapshot(long processCpuNanos) {
    ThreadMXBean mx = ManagementFactory.getThreadMXBean();
    Map<String, Long> byRole = new LinkedHashMap<>();
    for (String r : new String[] {WALKERS, SCORE_BATCHER, KAFKA_BROKER, KAFKA_CLIENTS, JOB_TASKS, LOAD_GENERATOR, OTHER_THREADS}) {
      byRole.put(r, 0L);
    }
    long self = Thread.currentThread().getId();
    long javaThreads = 0;
    for (ThreadInfo t : mx.getThreadInfo(mx.getAllThreadIds(), 0)) {   // names, no stacks
      if (t == null) {
        continue;
      }
      long cpu = Math.max(0, mx.getThreadCpuTime(t.getThreadId()));   // -1 for a thread that ended meanwhile
      javaThreads += cpu;
      byRole.merge(role(t.getThreadName(), t.getThreadId() == self), cpu, Long::sum);
    }
    byRole.put(NOT_JAVA_THREADS, Math.max(0, processCpuNanos - javaThreads));
    return byRole;
  }

  /**
   * Counts {@code nanos} of a thread that ended before {@code snapshot} was taken under {@code role}:
   * a snapshot sees live threads only, so an ended thread's CPU was in the remainder no Java thread
   * accounts for.
   */
  static void moveEnded(Map<String, Long> snapshot, String role, long nanos) {
    long moved = Math.min(Math.max(0, nanos), snapshot.get(NOT_JAVA_THREADS));
    snapshot.merge(role, moved, Long::sum);
    snapshot.merge(NOT_JAVA_THREADS, -moved, Long::sum);
  }

  /** Milliseconds a request by role between two snapshots. */
  static Map<String, Double> perRequest(Map<String, Long> before, Map<String, Long> after, int requests) {
    Map<String, Double> out = new LinkedHashMap<>();
    after.forEach((role, nanos) -> out.put(role, (nanos - before.getOrDefault(role, 0L)) / 1e6 / Math.max(1, requests)));
    return out;
  }
}
