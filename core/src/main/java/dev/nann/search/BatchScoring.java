package dev.nann.search;

import dev.nann.graph.Embeddings;
import dev.nann.scorer.ScoreBatch;
import dev.nann.scorer.Scorer;
import dev.nann.scorer.UserState;
import java.util.Arrays;

/**
 * Scores a query's nodes in calls of at most the scorer's batch: gathers their embeddings into the
 * batch, calls the scorer, and packs each (node, score) as a {@link ScoredHeap} entry, in the nodes'
 * order. Counts what the query's scoring cost (items, calls, time in the scorer and in the gather).
 *
 * <p>Per-query state of one {@link Searcher}; not thread-safe.
 */
final class BatchScoring {
  private final Embeddings embeddings;
  private final Scorer scorer;
  private final ScoreBatch batch;
  private long[] entries = new long[1024];
  private Searcher.ScoreListener listener;
  private float touchSink;            // keeps the gather's read-ahead loads from being optimised away
  private int scored;
  private int calls;
  private long scorerNanos;
  private long gatherNanos;

  BatchScoring(Embeddings embeddings, Scorer scorer) {
    this.embeddings = embeddings;
    this.scorer = scorer;
    this.batch = scorer.newBatch();
  }

  void setListener(Searcher.ScoreListener listener) {
    this.listener = listener;
  }

  /** Most rows one scorer call takes. */
  int capacity() {
    return batch.capacity();
  }

  /** Zeroes the counters; call at the start of each query. */
  void newQuery() {
    scored = 0;
    calls = 0;
    scorerNanos = 0;
    gatherNanos = 0;
  }

  /**
   * Scores {@code nodes[0, n)}; returns their packed entries, same order, valid in {@code [0, n)}
   * until the next call.
   */
  long[] score(UserState user, int[] nodes, int n) {
    if (entries.length < n) {
      entries = Arrays.copyOf(entries, Math.max(n, entries.length * 2));
    }
    int chunk = batch.capacity();
    for (int from = 0; from < n; from += chunk) {
      int m = Math.min(chunk, n - from);
      long tg = System.nanoTime();
      touchSink += embeddings.gatherRows(nodes, from, m, batch.stage(), batch.items());
      long t0 = System.nanoTime();
      gatherNanos += t0 - tg;
      scorer.score(user, batch, m);
      scorerNanos += System.nanoTime() - t0;
      calls++;
      scored += m;
      float[] s = batch.scores();
      for (int i = 0; i < m; i++) {
        entries[from + i] = ScoredHeap.pack(nodes[from + i], s[i]);
      }
      if (listener != null) {
        listener.scored(from == 0 ? nodes : Arrays.copyOfRange(nodes, from, from + m), m);
      }
    }
    return entries;
  }

  int scored() {
    return scored;
  }

  int calls() {
    return calls;
  }

  long scorerNanos() {
    return scorerNanos;
  }

  long gatherNanos() {
    return gatherNanos;
  }
}
