package dev.nann.eval;

import dev.nann.graph.HnswIndex;
import dev.nann.scorer.ScoreBatch;
import dev.nann.scorer.Scorer;
import dev.nann.scorer.UserFeatures;
import dev.nann.scorer.UserState;
import dev.nann.search.SearchParams;
import dev.nann.search.SearchResult;
import dev.nann.search.Searcher;
import java.nio.FloatBuffer;
import java.util.SplittableRandom;

/**
 * How well an index's graph serves the query it was built for: exact L2 nearest neighbours of
 * the corpus's own items. Both walks run unchanged (the real {@link Searcher}) with an L2 "scorer",
 * s_q(e_v) = -|e_v - q|², and their top-k is compared with the exact top-k.
 *
 * <p>Why it matters: a learned scorer's coverage rests on the same graph. When even exact L2
 * queries lose part of their true neighbours (a graph built with a small efConstruction leaves
 * some items reachable only by long detours), no scorer can be expected to do better at the same
 * budget, so this separates what the graph allows from what the model adds.
 */
public final class GraphQuality {
  /**
   * @param nannRecall mean fraction of the exact top-k that the default walk returns
   * @param beamRecall the same for Beam-retrieval
   * @param hnswRecall the same for HNSW-retrieval
   */
  public record Result(int queries, int k, SearchParams params, double nannRecall, double beamRecall,
                       double hnswRecall) {
    /** The JSON row of {@code ./nann eval --graph-check} for this result over {@code index}. */
    public java.util.Map<String, Object> toJson(HnswIndex index) {
      java.util.Map<String, Object> row = new java.util.LinkedHashMap<>();
      row.put("mode", "graph-l2");
      row.put("items", index.size());
      row.put("queries", queries);
      row.put("k", k);
      row.put("width", params.walk().width());
      row.put("budget", params.walk().budget());
      row.put("nann_recall", nannRecall);
      row.put("ef", params.beam().ef());
      row.put("steps", params.beam().steps());
      row.put("beam_recall", beamRecall);
      row.put("hnsw_ef0", params.hnswEf());
      row.put("hnsw_recall", hnswRecall);
      row.put("m", index.meta().m());
      row.put("ef_construction", index.meta().efConstruction());
      return row;
    }
  }

  private GraphQuality() {
  }

  /**
   * Runs {@code queries} item queries (items drawn with {@code seed}, tombstoned ones skipped).
   *
   * @throws IllegalArgumentException if k exceeds the index size or ef_0, or hnswEf is below k
   */
  public static Result measure(HnswIndex index, int queries, int k, SearchParams params, long seed) {
    if (queries < 1) {
      throw new IllegalArgumentException("queries must be >= 1, got " + queries);
    }
    if (k < 1 || k > index.size() - index.deletedCount()) {
      throw new IllegalArgumentException("k=" + k + " must be in [1, live items " + (index.size() - index.deletedCount()) + "]");
    }
    try (L2Scorer scorer = new L2Scorer(index.dim())) {
      Searcher searcher = new Searcher(index, scorer);
      SplittableRandom rnd = new SplittableRandom(seed);
      RetrievalMetrics nannMetrics = new RetrievalMetrics();   // coverage = share of the exact top-k found
      RetrievalMetrics beamMetrics = new RetrievalMetrics();
      RetrievalMetrics hnswMetrics = new RetrievalMetrics();
      long[] noTruth = new long[0];
      // descent auto: settled first on other item queries, as serving settles it with a model's first requests
      dev.nann.search.DescentChooser descents = new dev.nann.search.DescentChooser();
      if (params.walk().descent() == dev.nann.search.Descent.AUTO) {
        SplittableRandom learn = new SplittableRandom(seed + 1);
        QueryRunner.settle(descents, q -> searcher.nann(new Query(index.embeddings().row(learn.nextInt(index.size()))), k,
            params.walk(), null, descents));
      }
      for (int q = 0; q < queries; q++) {
        int node;
        do {
          node = rnd.nextInt(index.size());
        } while (index.isDeleted(node));
        UserState user = new Query(index.embeddings().row(node));
        long[] exact = nodes(searcher.bruteForce(user, k));
        nannMetrics.add(nodes(searcher.nann(user, k, params.walk(), null, descents)), exact, noTruth);
        beamMetrics.add(nodes(searcher.beam(user, k, params.beamFor(k))), exact, noTruth);
        hnswMetrics.add(nodes(searcher.hnsw(user, k, Math.max(k, params.hnswEf()))), exact, noTruth);
      }
      return new Result(queries, k, params, nannMetrics.coverage(), beamMetrics.coverage(), hnswMetrics.coverage());
    }
  }

  private static long[] nodes(SearchResult r) {
    long[] out = new long[r.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = r.nodes()[i];
    }
    return out;
  }

  /** The query point of an L2 query. */
  private record Query(float[] point) implements UserState {
    @Override
    public void close() {
    }
  }

  /** s_q(e_v) = -|e_v - q|²: the searches' top-k is then the L2 nearest neighbours of q. */
  private static final class L2Scorer implements Scorer {
    private static final int MAX_BATCH = 4096;
    private final int dim;

    L2Scorer(int dim) {
      this.dim = dim;
    }

    @Override
    public int itemDim() {
      return dim;
    }

    @Override
    public int maxBatch() {
      return MAX_BATCH;
    }

    @Override
    public UserState user(UserFeatures features) {
      throw new UnsupportedOperationException("L2 queries are given as points, not user features");
    }

    @Override
    public ScoreBatch newBatch() {
      return new ScoreBatch(MAX_BATCH, dim);
    }

    @Override
    public void score(UserState user, ScoreBatch batch, int n) {
      float[] q = ((Query) user).point();
      FloatBuffer items = batch.items();
      float[] out = batch.scores();
      for (int row = 0, base = 0; row < n; row++, base += dim) {
        float s = 0;
        for (int j = 0; j < dim; j++) {
          float x = items.get(base + j) - q[j];
          s += x * x;
        }
        out[row] = -s;
      }
    }

    @Override
    public void close() {
    }
  }
}
