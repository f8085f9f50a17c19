package dev.nann.cli.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nann.engine.RetrievalEngine;
import org.junit.jupiter.api.Test;

class LoadDriverTest {
  private static volatile long sink;

  /** Keeps this thread busy for {@code millis} of wall time. */
  private static void spin(long millis) {
    long end = System.nanoTime() + millis * 1_000_000L;
    long x = 0;
    while (System.nanoTime() < end) {
      x += x * 31 + 7;
    }
    sink = x;
  }

  /** A thread that burns about {@code millis} of CPU under {@code name}. */
  private static void burn(String name, long millis) throws InterruptedException {
    Thread t = new Thread(() -> spin(millis), name);
    t.start();
    t.join();
  }

  /**
   * A thread that spins about {@code millis} of wall time and then stays alive until closed: the
   * JVM's per-thread clocks count live threads only.
   */
  private static final class HeldSpinner implements AutoCloseable {
    private final Object gate = new Object();
    private final Thread thread;

    HeldSpinner(String name, long millis) {
      thread = new Thread(() -> {
        spin(millis);
        synchronized (gate) {
          try {
            gate.wait(10_000);
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
        }
      }, name);
      thread.start();
    }

    /** Waits until the spinning is over and the thread holds. */
    void awaitSpun() throws InterruptedException {
      while (thread.getState() != Thread.State.TIMED_WAITING) {
        Thread.sleep(10);
      }
    }

    @Override
    public void close() throws InterruptedException {
      synchronized (gate) {
        gate.notifyAll();
      }
      thread.join();
    }
  }

  @Test
  void walkerCpuCountsTheEnginesWalkerThreadsAndNoOthers() throws Exception {
    long before = ThreadCpu.snapshot(LoadDriver.processCpuNanos()).get(ThreadCpu.WALKERS);
    long walkerNanos;
    try (HeldSpinner walker = new HeldSpinner(RetrievalEngine.WALKER_THREAD_PREFIX + "test", 200)) {
      burn("not-a-walker", 300);
      walker.awaitSpun();
      walkerNanos = ThreadCpu.snapshot(LoadDriver.processCpuNanos()).get(ThreadCpu.WALKERS) - before;
    }
    // the walker spun 200 ms of wall time; on a busy 2-core machine it may have had less CPU, never 300 ms more
    assertTrue(walkerNanos > 20_000_000L && walkerNanos < 290_000_000L,
        "the walker's ~200 ms and not the other thread's 300 ms: " + walkerNanos / 1e6 + " ms");
  }

  @Test
  void threadRolesFollowTheNamesKafkaAndFlinkGiveTheirThreads() {
    String[][] cases = {
        {RetrievalEngine.WALKER_THREAD_PREFIX + "0", ThreadCpu.WALKERS},
        {dev.nann.scorer.MicroBatchingScorer.DISPATCHER_THREAD_NAME, ThreadCpu.SCORE_BATCHER},
        {"data-plane-kafka-request-handler-1", ThreadCpu.KAFKA_BROKER},
        {"data-plane-kafka-network-thread-1-ListenerName(PLAINTEXT)-PLAINTEXT-0", ThreadCpu.KAFKA_BROKER},
        {"kafka-1-raft-io-thread", ThreadCpu.KAFKA_BROKER},
        {"quorum-controller-1-event-handler", ThreadCpu.KAFKA_BROKER},
        {"kafka-producer-network-thread | producer-3", ThreadCpu.KAFKA_CLIENTS},
        {"nann-client-answers", ThreadCpu.KAFKA_CLIENTS},
        {"kafka-admin-client-thread | adminclient-1", ThreadCpu.KAFKA_CLIENTS},
        {"Source: requests (1/1)#0", ThreadCpu.JOB_TASKS},
        {"user state + enrichment -> retrieval -> router -> Sink: responses (1/1)#0", ThreadCpu.JOB_TASKS},
        {"Source Data Fetcher for Source: requests (1/1)#0", ThreadCpu.JOB_TASKS},
        {"bench-sender", ThreadCpu.LOAD_GENERATOR},
        {"flink-pekko.actor.default-dispatcher-5", ThreadCpu.OTHER_THREADS},
    };
    for (String[] c : cases) {
      assertEquals(c[1], ThreadCpu.role(c[0], false), c[0]);
    }
    assertEquals(ThreadCpu.LOAD_GENERATOR, ThreadCpu.role("main", true), "the thread that reads the answers");
  }

  @Test
  void threadCpuCountsALiveThreadUnderItsRole() throws Exception {
    java.util.Map<String, Long> before = ThreadCpu.snapshot(LoadDriver.processCpuNanos());
    java.util.Map<String, Double> ms;
    try (HeldSpinner broker = new HeldSpinner("data-plane-kafka-request-handler-test", 200)) {
      broker.awaitSpun();
      ms = ThreadCpu.perRequest(before, ThreadCpu.snapshot(LoadDriver.processCpuNanos()), 1);
    }
    assertTrue(ms.get(ThreadCpu.KAFKA_BROKER) > 20 && ms.get(ThreadCpu.KAFKA_BROKER) < 290,
        "the broker-named thread's ~200 ms: " + ms);
    assertTrue(ms.get(ThreadCpu.WALKERS) < 20, "no walker ran: " + ms);
  }
  /** The engine's CPU a request is its walkers' and, with micro-batching, its score dispatcher's, where merged calls run. */
  @Test
  void theEnginesCpuIsItsWalkersAndItsScoreDispatchers() {
    java.util.Map<String, Double> separate = java.util.Map.of(ThreadCpu.WALKERS, 4.0, ThreadCpu.KAFKA_BROKER, 0.8);
    java.util.Map<String, Double> merged = java.util.Map.of(ThreadCpu.WALKERS, 1.2, ThreadCpu.SCORE_BATCHER, 4.6,
        ThreadCpu.KAFKA_BROKER, 0.8);
    assertEquals(4.0, step(separate).engineCpuMillisPerRequest(), 1e-9, "the broker's share is not the engine's");
    assertEquals(5.8, step(merged).engineCpuMillisPerRequest(), 1e-9);
  }

  private static LoadDriver.Step step(java.util.Map<String, Double> byThread) {
    return new LoadDriver.Step(100, 1000, 0, null, null, null, 2000, 30, java.util.Map.of(), 0, 0, 6.0, 1.2, byThread,
        null);
  }
}
