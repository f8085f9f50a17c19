package dev.nann.local;

import java.lang.management.CompilationMXBean;
import java.lang.management.ManagementFactory;

/**
 * How busy this JVM's JIT compiler has been since the last look: the share of one core it spent
 * compiling. A fresh local stack (broker, Flink, the jobs, the clients) hands the JIT minutes of code,
 * and on two cores its compiler threads hold half a core or more for the first tens of seconds, so
 * the first answers are slower than steady ones; the demo and the benches warm up until this falls.
 */
public final class JitActivity {
  /** Share of a core the JIT may still spend compiling when a warm-up ends. */
  public static final double SETTLED_SHARE = 0.1;

  private final CompilationMXBean jit = ManagementFactory.getCompilationMXBean();
  private long compiledMillis;
  private long wallNanos;

  /** Starts looking from now. */
  public JitActivity() {
    shareSinceLast();
  }

  /** False on a JVM that does not time its compilations (then nothing can be said of the JIT). */
  public boolean measurable() {
    return jit != null && jit.isCompilationTimeMonitoringSupported();
  }

  /** Share of one core spent compiling since the last call (or construction); starts a new window. */
  public double shareSinceLast() {
    long compiled = compiledNow();
    long now = System.nanoTime();
    double share = (compiled - compiledMillis) / Math.max(1e-3, (now - wallNanos) / 1e6);
    compiledMillis = compiled;
    wallNanos = now;
    return share;
  }

  private long compiledNow() {
    return measurable() ? jit.getTotalCompilationTime() : 0;
  }
}
