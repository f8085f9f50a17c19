package dev.nann.search;

import dev.nann.scorer.UserState;

/**
 * HNSW-retrieval (the SL2G baseline), kept as mode {@code hnsw} for comparison: greedy search
 * (ef = 1) on the upper layers from the entry point, then the classic while-loop best-first search
 * with {@code ef0} at layer 0; each node expansion scores its unvisited neighbours in one batch. The
 * nodes scored on the upper layers seed layer 0's lists with their known scores, so no node is
 * scored twice. The classic search has no bound on the items it scores but ef0; a budget stops it
 * once it has scored that many. Per-query state of one {@link Searcher}; not thread-safe.
 */
final class HnswRetrieval {
  private final QueryState q;
  private int budgetLeft;

  HnswRetrieval(QueryState q) {
    this.q = q;
  }

  /** See {@link Searcher#hnsw(UserState, int, int, int)}. */
  SearchResult search(UserState user, int k, int ef0, int budget) {
    Searcher.checkK(k);
    if (ef0 < k) {
      throw new IllegalArgumentException("ef0=" + ef0 + " is below k=" + k + "; HNSW-retrieval needs ef0 >= k");
    }
    if (budget < 1) {
      throw new IllegalArgumentException("budget must be >= 1 item scored, got " + budget);
    }
    budgetLeft = budget;
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
    scoreBudgeted(user, first, 1, frontier, null);
    for (int level = q.graph.levels() - 1; level >= 1; level--) {
      while (true) {                    // greedy, ef = 1: move to the best neighbour while it improves
        long cur = frontier.peek();
        int nn = expander.unvisitedNeighbors(level, ScoredHeap.node(cur));
        if (nn == 0 || scoreBudgeted(user, expander.pending(), nn, frontier, null) == 0) {
          break;
        }
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
    while (frontier.size() > 0 && budgetLeft > 0) {
      long c = frontier.poll();
      if (results.isFull() && c < results.peek()) {
        break;
      }
      int nn = expander.unvisitedNeighbors(0, ScoredHeap.node(c));
      if (nn > 0) {
        scoreBudgeted(user, expander.pending(), nn, results, frontier);
      }
    }
    return q.finish(k, start);
  }

  /** Scores the first of {@code nodes[0, n)} that the budget still allows; returns how many. */
  private int scoreBudgeted(UserState user, int[] nodes, int n, ScoredHeap into, ScoredHeap alsoKept) {
    int m = Math.min(n, budgetLeft);
    if (m > 0) {
      budgetLeft -= m;
      q.scoreInto(user, nodes, m, into, alsoKept);
    }
    return m;
  }
}
