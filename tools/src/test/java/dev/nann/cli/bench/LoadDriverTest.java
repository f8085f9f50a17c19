package dev.nann.cli.bench;

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
}
