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

  @Test
  void walkerCpuCountsTheEnginesWalkerThreadsAndNoOthers() throws Exception {
    // a walker thread that is still alive when counted: hold one open while the other threads burn
    Object gate = new Object();
    Thread walker = new Thread(() -> {
      spin(200);
      synchronized (gate) {
        try {
          gate.wait(10_000);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
    }, RetrievalEngine.WALKER_THREAD_PREFIX + "test");
    long before = LoadDriver.walkerCpuNanos();
    walker.start();
    burn("not-a-walker", 300);
    while (walker.getState() != Thread.State.TIMED_WAITING) {
      Thread.sleep(10);
    }
    long walkerNanos = LoadDriver.walkerCpuNanos() - before;
    synchronized (gate) {
      gate.notifyAll();
    }
    walker.join();
    // the walker spun 200 ms of wall time; on a busy 2-core machine it may have had less CPU, never 300 ms more
    assertTrue(walkerNanos > 20_000_000L && walkerNanos < 290_000_000L,
        "the walker's ~200 ms and not the other thread's 300 ms: " + walkerNanos / 1e6 + " ms");
  }

  @Test
  void threadRolesFollowTheNamesKafkaAndFlinkGiveTheirThreads() {
    String[][] cases = {
        {RetrievalEngine.WALKER_THREAD_PREFIX + "0", ThreadCpu.WALKERS},
        {"data-plane-kafka-request-handler-1", ThreadCpu.KAFKA_BROKER},
        {"data-plane-kafka-network-thread-1-ListenerName(PLAINTEXT)-PLAINTEXT-0", ThreadCpu.KAFKA_BROKER},
        {"kafka-1-raft-io-thread", ThreadCpu.KAFKA_BROKER},
        {"quorum-controller-1-event-handler", ThreadCpu.KAFKA_BROKER},
        {"kafka-producer-network-thread | producer-3", ThreadCpu.KAFKA_CLIENTS},
        {"nann-client-answers", ThreadCpu.KAFKA_CLIENTS},
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
    Object gate = new Object();
    Thread broker = new Thread(() -> {
      spin(200);
      synchronized (gate) {
        try {
          gate.wait(10_000);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
    }, "data-plane-kafka-request-handler-test");
    java.util.Map<String, Long> before = ThreadCpu.snapshot(LoadDriver.processCpuNanos());
    broker.start();
    while (broker.getState() != Thread.State.TIMED_WAITING) {
      Thread.sleep(10);
    }
    java.util.Map<String, Double> ms = ThreadCpu.perRequest(before, ThreadCpu.snapshot(LoadDriver.processCpuNanos()), 1);
    synchronized (gate) {
      gate.notifyAll();
    }
    broker.join();
    assertTrue(ms.get(ThreadCpu.KAFKA_BROKER) > 20 && ms.get(ThreadCpu.KAFKA_BROKER) < 290,
        "the broker-named thread's ~200 ms: " + ms);
    assertTrue(ms.get(ThreadCpu.WALKERS) < 20, "no walker ran: " + ms);
  }
}
