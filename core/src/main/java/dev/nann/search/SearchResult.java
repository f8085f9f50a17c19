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

  public int size() {
    return nodes.length;
  }

  /** Fraction of the query time spent outside the scorer (graph walk, marks, heaps, gathers). */
  public double overheadFraction() {
    return totalNanos == 0 ? 0 : 1.0 - (double) scorerNanos / totalNanos;
  }
}
