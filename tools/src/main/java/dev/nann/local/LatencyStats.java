package dev.nann.local;

import java.util.Arrays;

/** Collects latencies (ms) and reports percentiles; single-threaded. */
public final class LatencyStats {
  private float[] values = new float[1024];
  private int n;

  public void add(float ms) {
    if (n == values.length) {
      values = Arrays.copyOf(values, n * 2);
    }
    values[n++] = ms;
  }

  public int count() {
    return n;
  }

  /** The q-quantile (0..1) of everything added, or 0 if empty. */
  public double quantile(double q) {
    if (n == 0) {
      return 0;
    }
    float[] sorted = Arrays.copyOf(values, n);
    Arrays.sort(sorted);
    return sorted[Math.min(n - 1, (int) Math.ceil(q * n) - 1 < 0 ? 0 : (int) Math.ceil(q * n) - 1)];
  }
}
