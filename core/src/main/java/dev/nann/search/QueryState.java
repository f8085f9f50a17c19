package dev.nann.search;

import dev.nann.graph.HnswGraphView;
import dev.nann.graph.HnswIndex;
import dev.nann.scorer.Scorer;
import dev.nann.scorer.UserState;
import java.util.Arrays;
import java.util.function.LongPredicate;

/**
 * What the search modes of one {@link Searcher} share, reused query after query: the index, the
 * batch scoring, the neighbour expander, the heaps of the heap-based modes, the answer filter and
 * scratch arrays, and the steps every mode ends a batch or a query with (score a batch, take the
 * best k out). Not thread-safe.
 */
final class QueryState {
  final HnswIndex index;
  final HnswGraphView graph;
  final BatchScoring scoring;
  final NeighborExpander expander;
  final ScoredHeap results = new ScoredHeap(512, false);    // beam and hnsw: W; brute force: the top-k
  final ScoredHeap frontier = new ScoredHeap(512, true);    // hnsw: candidates; filtered default walk: those outside W
  final ScoredHeap eligible = new ScoredHeap(512, false);   // filtered queries: best k eligible seen
  final LongPredicate live;
  /** Nodes the running query must not answer; null for none. */
  Searcher.NodeFilter filter;
  /** Packed (node, score) of the last score call's nodes, same order. */
  long[] stepEntries = new long[0];
  int[] current = new int[512];
  /** Packed entries: the default walk's layer-0 seeds, then the answer best first. */
  long[] drained = new long[512];

  QueryState(HnswIndex index, Scorer scorer) {
    this.index = index;
    this.graph = index.graph();
    this.scoring = new BatchScoring(index.embeddings(), scorer);
    this.expander = new NeighborExpander(graph, index.size());
    this.live = e -> !index.isDeleted(ScoredHeap.node(e));
  }

  /** Starts a query: forgets the last one's marks and counters; returns the start time. */
  long begin() {
    expander.newQuery();
    scoring.newQuery();
    return System.nanoTime();
  }

  /**
   * Scores {@code nodes[0, n)} into {@link #stepEntries} (same order); with a filter, eligible nodes
   * are offered to the answer's top-k.
   */
  void score(UserState user, int[] nodes, int n) {
    stepEntries = scoring.score(user, nodes, n);
    for (int i = 0; filter != null && i < n; i++) {
      if (!filter.excluded(nodes[i]) && !index.isDeleted(nodes[i])) {
        eligible.offer(stepEntries[i]);
      }
    }
  }

  /**
   * Scores {@code nodes[0, n)} and offers each to {@code into}; nodes that enter {@code into} are
   * also pushed to {@code alsoKept} when given (HNSW's candidate queue).
   */
  void scoreInto(UserState user, int[] nodes, int n, ScoredHeap into, ScoredHeap alsoKept) {
    score(user, nodes, n);
    for (int i = 0; i < n; i++) {
      if (into.offer(stepEntries[i]) && alsoKept != null) {
        alsoKept.offer(stepEntries[i]);
      }
    }
  }

  /** The best k live entries of {@link #results} (or, filtered, of the eligible ones), best first; empties it. */
  SearchResult finish(int k, long start) {
    ScoredHeap answer = filter != null ? eligible : results;
    filter = null;
    ensureDrained(answer.size());
    return result(answer.drainBest(k, live, drained), start);
  }

  /** The answer held in {@code drained[0, out)}, with the query's counters. */
  SearchResult result(int out, long start) {
    int[] nodes = new int[out];
    float[] scores = new float[out];
    for (int i = 0; i < out; i++) {
      nodes[i] = ScoredHeap.node(drained[i]);
      scores[i] = ScoredHeap.score(drained[i]);
    }
    return new SearchResult(nodes, scores, scoring.scored(), scoring.calls(), scoring.scorerNanos(),
        scoring.gatherNanos(), expander.nanos(), System.nanoTime() - start);
  }

  void ensureDrained(int n) {
    if (drained.length < n) {
      drained = new long[Math.max(n, drained.length * 2)];
    }
  }

  /** Copies the nodes of {@code heap} into {@link #current}; returns their count. */
  int copyNodes(ScoredHeap heap) {
    ensureCurrent(heap.size());
    for (int i = 0; i < heap.size(); i++) {
      current[i] = ScoredHeap.node(heap.get(i));
    }
    return heap.size();
  }

  void ensureCurrent(int n) {
    if (current.length < n) {
      current = Arrays.copyOf(current, Math.max(n, current.length * 2));
    }
  }
}
