package dev.nann.eval;

/**
 * Paper §5.1.2 metrics, accumulated over queries: recall-all@M (brute-force top-M vs truth),
 * recall-retrieval@M (retrieved top-M vs truth), recall-Δ@M and coverage@M (retrieved vs
 * brute-force top-M). Per-user values are averaged; recall-Δ is computed from the averaged recalls
 * (a user with recall-all = 0 would make the per-user ratio undefined).
 */
public final class RetrievalMetrics {
  private double recallAll;
  private double recallRetrieval;
  private double coverage;
  private int users;

  /**
   * Adds one query.
   *
   * @param retrieved R_u, the search's top-M (item ids)
   * @param brute B_u, the exact top-M
   * @param truth G_u, the held-out items (may be empty: recall terms then count as 0)
   */
  public void add(long[] retrieved, long[] brute, long[] truth) {
    java.util.Set<Long> b = set(brute);
    java.util.Set<Long> r = set(retrieved);
    if (truth.length > 0) {
      java.util.Set<Long> g = set(truth);
      recallAll += (double) intersect(b, g) / g.size();
      recallRetrieval += (double) intersect(r, g) / g.size();
    }
    coverage += b.isEmpty() ? 1.0 : (double) intersect(r, b) / b.size();
    users++;
  }

  public int users() {
    return users;
  }

  public double recallAll() {
    return users == 0 ? 0 : recallAll / users;
  }

  public double recallRetrieval() {
    return users == 0 ? 0 : recallRetrieval / users;
  }

  /** (recall-all − recall-retrieval) / recall-all; 0 when recall-all is 0. */
  public double recallDelta() {
    double all = recallAll();
    return all == 0 ? 0 : (all - recallRetrieval()) / all;
  }

  public double coverage() {
    return users == 0 ? 0 : coverage / users;
  }

  private static java.util.Set<Long> set(long[] a) {
    java.util.Set<Long> s = new java.util.HashSet<>(a.length * 2);
    for (long v : a) {
      s.add(v);
    }
    return s;
  }

  private static int intersect(java.util.Set<Long> a, java.util.Set<Long> b) {
    int n = 0;
    for (Long v : a) {
      if (b.contains(v)) {
        n++;
      }
    }
    return n;
  }
}
