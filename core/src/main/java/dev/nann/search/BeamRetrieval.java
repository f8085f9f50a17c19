package dev.nann.search;

import dev.nann.scorer.UserState;

/**
 * Beam-retrieval, the NANN paper's walk (Alg. 1 with Alg. 2's for-loop), kept as mode {@code beam}
 * for comparison: the top searched layer is scored exhaustively in one batch and its best ef kept;
 * then on each layer, T_l steps each score the unvisited neighbours of the current candidates in one
 * batch, keep the best ef_l, and continue from the newly kept nodes. Per-query state of one
 * {@link Searcher}; not thread-safe.
 */
final class BeamRetrieval {
  private final QueryState q;

  BeamRetrieval(QueryState q) {
    this.q = q;
  }

  /** See {@link Searcher#beam(UserState, int, BeamParams, Searcher.NodeFilter, int)}. */
  SearchResult search(UserState user, int k, BeamParams params, Searcher.NodeFilter filter, int extraSteps) {
    Searcher.checkK(k);
    if (k > params.efBottom()) {
      throw new IllegalArgumentException("k=" + k + " exceeds ef_0=" + params.efBottom()
          + "; Beam-retrieval returns at most ef_0 items, so raise the last ef to at least k");
    }
    long start = q.begin();
    q.filter = filter;
    q.eligible.reset(k);
    if (q.index.size() == 0) {
      return q.finish(k, start);
    }
    NeighborExpander expander = q.expander;
    ScoredHeap results = q.results;
    int top = Math.min(params.layers(), q.graph.levels()) - 1;
    int first = params.layers() - 1 - top;

    results.reset(params.efAt(first));
    int n = expander.collectLevel(top, Integer.MAX_VALUE);
    q.scoreInto(user, expander.pending(), n, results, null);

    for (int level = top; level >= 0; level--) {
      int p = first + (top - level);
      int ef = params.efAt(p);
      if (level != top) {
        results.resize(ef);             // W of the layer above becomes this layer's ep
      }
      int c = q.copyNodes(results);    // C <- ep
      for (int t = 0; t < params.stepsAt(p) && c > 0; t++) {
        int nn = expander.unvisitedNeighbors(level, q.current, c);
        if (nn == 0) {
          break;
        }
        int[] pending = expander.pending();
        q.scoreInto(user, pending, nn, results, null);
        // C <- W ∩ N: W keeps the best ef entries, and entries are unique per node, so a node of N
        // is in W exactly when its packed entry is at least W's worst (all of N when W is not full).
        long worst = results.isFull() ? results.peek() : Long.MIN_VALUE;
        q.ensureCurrent(nn);
        int[] current = q.current;
        long[] entries = q.stepEntries;
        c = 0;
        for (int i = 0; i < nn; i++) {
          current[c] = pending[i];
          c += entries[i] >= worst ? 1 : 0;
        }
      }
    }
    // filtered: keep walking layer 0 from the whole beam until k eligible nodes, for extraSteps at most
    for (int t = 0; q.filter != null && t < extraSteps && q.eligible.size() < k; t++) {
      int c = q.copyNodes(results);
      int nn = expander.unvisitedNeighbors(0, q.current, c);
      if (nn == 0) {
        break;
      }
      q.scoreInto(user, expander.pending(), nn, results, null);
    }
    return q.finish(k, start);
  }
}
