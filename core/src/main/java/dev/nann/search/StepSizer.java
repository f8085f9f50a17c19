package dev.nann.search;

/**
 * How many nodes each step of the default walk expands on one layer.
 *
 * <p>A step aims to fill one runtime call of about {@link BatchedBestFirst#STEP_ROWS} rows at the unvisited
 * neighbours per expanded node seen so far. Within that, a layer's steps start with one node and
 * double (1, 2, 4, ...): where the walk enters a layer, its candidates are a few seeds of mixed
 * quality, and expanding the best one first lets its neighbours overtake the weak seeds before they
 * are spent on, as HNSW's one node at a time does. On layer 0, a step that finds a node better than
 * any scored before shows the walk still climbing: HNSW would have moved to that node at once, so
 * the next step expands only as many nodes as it took to find it, and steps grow again once the walk
 * stops climbing. On MovieLens + 1M with an inner-product scorer (its best items lie at the edge of
 * the catalogue, a long climb) that scores 17% fewer items at W = 200 for 25 calls instead of 21; on
 * the upper layers, whose walks are short, it only added calls (docs/search.md).
 *
 * <p>Per-query state of one {@link Searcher}; not thread-safe.
 */
final class StepSizer {
  private double newPerExpansion;   // unvisited neighbours per expanded node on this layer, running estimate
  private int stepNodes;            // most nodes the next step may expand
  private long layerBest;           // best entry scored or seeded on this layer so far

  /** A fresh layer of maximum degree {@code maxDegree}, entered from seeds whose best entry is {@code best}. */
  void startLayer(int maxDegree, long best) {
    newPerExpansion = Math.max(1, maxDegree / 2.0);   // about half of a row is unvisited
    stepNodes = 1;
    layerBest = best;
  }

  /** Most nodes the next step may expand (at least one). */
  int nodes() {
    return Math.min(stepNodes, Math.max(1, (int) Math.ceil(BatchedBestFirst.STEP_ROWS / Math.max(1.0, newPerExpansion))));
  }

  /**
   * After a step on {@code level} that expanded {@code c} nodes (best first), found {@code nn}
   * unvisited neighbours (where each node's end in the expander's pending order: {@code expander})
   * and scored the first {@code m} of them into {@code entries}.
   */
  void afterStep(int level, int c, int nn, long[] entries, int m, NeighborExpander expander) {
    newPerExpansion = 0.5 * newPerExpansion + 0.5 * ((double) nn / c);
    int led = expandedToNewBest(c, entries, m, expander);
    stepNodes = level == 0 && led > 0 ? led : Math.min(stepNodes * 2, 1 << 20);
  }

  /**
   * How many of the step's {@code c} expanded nodes it took to find a node better than {@link
   * #layerBest} (on layer 0, the best of every node scored so far): up to and including the first
   * whose neighbours hold one; 0 when none do. Raises layerBest to the best of the {@code m} entries.
   */
  private int expandedToNewBest(int c, long[] entries, int m, NeighborExpander expander) {
    long before = layerBest;
    int led = 0;
    int j = 0;
    for (int i = 0; i < c && j < m; i++) {
      int end = Math.min(expander.end(i), m);
      for (; j < end; j++) {
        layerBest = Math.max(layerBest, entries[j]);
      }
      if (led == 0 && layerBest > before) {
        led = i + 1;
      }
    }
    return led;
  }
}
