package dev.nann.search;

import dev.nann.scorer.UserState;

/**
 * Brute force, the reference every other mode is measured against: scores every live item in
 * batches of the scorer's largest size and keeps the exact top-k. Per-query state of one
 * {@link Searcher}; not thread-safe.
 */
final class BruteForce {
  private final QueryState q;

  BruteForce(QueryState q) {
    this.q = q;
  }

  /** See {@link Searcher#bruteForce(UserState, int, Searcher.NodeFilter)}. */
  SearchResult search(UserState user, int k, Searcher.NodeFilter filter) {
    Searcher.checkK(k);
    long start = q.begin();
    q.filter = null;   // excluded nodes are skipped below, so the plain top-k is the answer
    q.results.reset(k);
    int chunk = q.scoring.capacity();
    int[] pending = q.expander.pending(chunk);
    int n = 0;
    for (int node = 0; node < q.index.size(); node++) {
      if (q.index.isDeleted(node) || (filter != null && filter.excluded(node))) {
        continue;
      }
      pending[n++] = node;
      if (n == chunk) {
        q.scoreInto(user, pending, n, q.results, null);
        n = 0;
      }
    }
    q.scoreInto(user, pending, n, q.results, null);
    return q.finish(k, start);
  }
}
