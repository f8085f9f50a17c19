package dev.nann.search;

import dev.nann.scorer.UserState;

/**
 * HNSW-retrieval (the SL2G baseline), kept as mode {@code hnsw} for comparison: greedy search
 * (ef = 1) on the upper layers from the entry point, then the classic while-loop best-first search
 * with {@code ef0} at layer 0; each node expansion scores its unvisited neighbours in one batch. The
 * nodes scored on the upper layers seed layer 0's lists with their known scores, so no node is
 * scored twice. Per-query state of one {@link Searcher}; not thread-safe.
 */
final class HnswRetrieval {
  private final QueryState q;

  HnswRetrieval(QueryState q) {
    this.q = q;
  }

  /** See {@link Searcher#hnsw(UserState, int, int)}. */
  SearchResult search(UserState user, int k, int ef0) {
    Searcher.checkK(k);
    if (ef0 < k) {
      throw new IllegalArgumentException("ef0=" + ef0 + " is below k=" + k + "; HNSW-retrieval needs ef0 >= k");
    }
    long start = q.begin();
    q.filter = null;
    if (q.index.size() == 0) {
      return q.finish(k, start);
    }
    NeighborExpander expander = q.expander;
    ScoredHeap frontier = q.frontier;
    ScoredHeap results = q.results;
    int entry = q.graph.entryPoint();
    expander.mark(entry);
    int[] first = expander.pending(1);
    first[0] = entry;
    frontier.reset(0);                  // every node scored on the way down, best first
    q.scoreInto(user, first, 1, frontier, null);
    for (int level = q.graph.levels() - 1; level >= 1; level--) {
      while (true) {                    // greedy, ef = 1: move to the best neighbour while it improves
        long cur = frontier.peek();
        int nn = expander.unvisitedNeighbors(level, ScoredHeap.node(cur));
        if (nn == 0) {
          break;
        }
        q.scoreInto(user, expander.pending(), nn, frontier, null);
        if (frontier.peek() == cur) {
          break;
        }
      }
    }
    // Layer 0 starts from every node already scored (scores are reused, never recomputed).
    results.reset(ef0);
    for (int i = 0; i < frontier.size(); i++) {
      results.offer(frontier.get(i));
    }
    while (frontier.size() > 0) {
      long c = frontier.poll();
      if (results.isFull() && c < results.peek()) {
        break;
      }
      int nn = expander.unvisitedNeighbors(0, ScoredHeap.node(c));
      if (nn > 0) {
        q.scoreInto(user, expander.pending(), nn, results, frontier);
      }
    }
    return q.finish(k, start);
  }
}
