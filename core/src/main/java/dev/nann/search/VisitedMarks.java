package dev.nann.search;

import java.util.Arrays;

/**
 * Visited marks as a bitmap (paper §4.1) that is never cleared wholesale: every node marked in a
 * query is logged, and only the words of logged nodes are zeroed when the next query starts, so
 * the cost is proportional to the nodes scored, not to the corpus. 1M items take 128 KiB, which
 * stays in a core's L2 cache during the walk. The walks use it, and index-sync's walk for the
 * nearest item with Deep Retrieval paths.
 */
public final class VisitedMarks {
  private final long[] visited;
  private int[] log = new int[1024];
  private int logged;

  public VisitedMarks(int size) {
    visited = new long[(size + 63) >>> 6];
  }

  /** Forgets the marks of the last query. */
  public void newQuery() {
    for (int i = 0; i < logged; i++) {
      visited[log[i] >>> 6] = 0;
    }
    logged = 0;
  }

  public boolean visited(int node) {
    return (visited[node >>> 6] & (1L << node)) != 0;
  }

  /** Marks an unvisited node as visited. */
  public void mark(int node) {
    ensureLog(1);
    visited[node >>> 6] |= 1L << node;
    log[logged++] = node;
  }

  /**
   * Marks the unvisited nodes of {@code nodes[from, to)} and appends them to {@code out} from
   * {@code n}; returns the new count. {@code out} needs room for {@code n + to - from} entries.
   *
   * <p>Branch-free on purpose: whether a neighbour was visited is a coin flip for the branch
   * predictor, so every node is written and the counters advance by 0 or 1 instead.
   */
  int markUnvisited(int[] nodes, int from, int to, int[] out, int n) {
    ensureLog(to - from);
    long[] vis = visited;
    int[] lg = log;
    int l = logged;
    for (int j = from; j < to; j++) {
      int v = nodes[j];
      int w = v >>> 6;
      long bit = 1L << v;
      long old = vis[w];
      int fresh = (int) (~old >>> v) & 1;    // shift counts use the low 6 bits, as for bit
      vis[w] = old | bit;
      out[n] = v;
      lg[l] = v;
      n += fresh;
      l += fresh;
    }
    logged = l;
    return n;
  }

  private void ensureLog(int more) {
    if (logged + more > log.length) {
      log = Arrays.copyOf(log, Math.max(logged + more, log.length * 2));
    }
  }
}
