package dev.nann.search;

/**
 * The answer to one query: node ids and scores, best first, plus what it cost.
 *
 * @param nodes graph node ids (map to item ids with {@link dev.nann.graph.HnswIndex#itemId})
 * @param scores s_u(e_v) of each node
 * @param scored items scored (without padding)
 * @param scoreCalls scorer calls made
 * @param scorerNanos time inside the scorer's own calls
 * @param gatherNanos time copying candidate embeddings into the score batch
 * @param expandNanos time collecting unvisited neighbours (graph reads and visited marks; the batched walks nann and beam)
 * @param totalNanos time of the whole query, user network excluded
 */
public record SearchResult(int[] nodes, float[] scores, int scored, int scoreCalls, long scorerNanos, long gatherNanos,
                           long expandNanos, long totalNanos) {
  /** No nodes: a search that had nothing eligible to look for. */
  public static SearchResult empty() {
    return new SearchResult(new int[0], new float[0], 0, 0, 0, 0, 0, 0);
  }

  /**
   * The best {@code k} nodes of two answers to the same query (a node in both counts once), with the
   * costs of both: two walks of one query, answered together.
   */
  public static SearchResult union(SearchResult a, SearchResult b, int k) {
    int[] nodes = new int[Math.min(k, a.size() + b.size())];
    float[] scores = new float[nodes.length];
    java.util.Set<Integer> taken = new java.util.HashSet<>(nodes.length * 2);
    int n = 0;
    int i = 0;
    int j = 0;
    while (n < nodes.length && (i < a.size() || j < b.size())) {
      boolean fromA = j >= b.size() || i < a.size() && a.scores[i] >= b.scores[j];
      int node = fromA ? a.nodes[i] : b.nodes[j];
      float score = fromA ? a.scores[i++] : b.scores[j++];
      if (taken.add(node)) {
        nodes[n] = node;
        scores[n++] = score;
      }
    }
    return new SearchResult(java.util.Arrays.copyOf(nodes, n), java.util.Arrays.copyOf(scores, n), a.scored + b.scored,
        a.scoreCalls + b.scoreCalls, a.scorerNanos + b.scorerNanos, a.gatherNanos + b.gatherNanos,
        a.expandNanos + b.expandNanos, a.totalNanos + b.totalNanos);
  }

  public int size() {
    return nodes.length;
  }

  /** Fraction of the query time spent outside the scorer (graph walk, marks, heaps, gathers). */
  public double overheadFraction() {
    return totalNanos == 0 ? 0 : 1.0 - (double) scorerNanos / totalNanos;
  }
}
