package dev.nann.cli.bench;

import java.util.concurrent.locks.LockSupport;

/** Open-loop load: each message goes at its own due time, whether or not earlier ones were answered. */
final class Pacing {
  private Pacing() {}

  /** Parks until {@code dueNanos} ({@link System#nanoTime} clock); returns at once when it has passed. */
  static void parkUntil(long dueNanos) {
    long wait = dueNanos - System.nanoTime();
    if (wait > 0) {
      LockSupport.parkNanos(wait);
    }
  }
}
