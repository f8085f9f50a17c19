package dev.nann.search;

import dev.nann.graph.HnswIndex;
import dev.nann.scorer.Scorer;
import dev.nann.scorer.UserState;

/**
 * Runs queries against one index with one scorer, in every {@link SearchMode}: the default batched
 * best-first walk ({@link #nann}, {@link BatchedBestFirst}), Beam-retrieval ({@link #beam},
 * {@link BeamRetrieval}), HNSW-retrieval ({@link #hnsw}, {@link HnswRetrieval}) and brute force
 * ({@link #bruteForce}, {@link BruteForce}). Which neighbours to score next is the
 * {@link NeighborExpander}'s job; scoring them in batches is {@link BatchScoring}'s.
 *
 * <p>A searcher owns all per-query state (visited marks, heaps, candidate and neighbour arrays,
 * the score batch: {@link QueryState}) and reuses it across queries, so it is <b>not</b>
 * thread-safe: use one per thread. Nodes are scored in batches; a node is scored at most once per
 * walk (its score does not depend on the layer). Under {@link Descent#AUTO} a model's first queries
 * walk twice, once per descent on half the budget each ({@link DescentChooser}), so there a node may
 * be scored once in each walk. Tombstoned nodes are walked through but never returned.
 */
public final class Searcher {
  /** Largest k a query may ask for. */
  public static final int MAX_K = 100_000;

  private final QueryState state;
  private final BatchedBestFirst walk;
  private final BeamRetrieval beam;
  private final HnswRetrieval hnsw;
  private final BruteForce brute;

  /**
   * Nodes a query must not return (excluded items, items shadowed by the fresh set). The walk still
   * passes through them: they are scored and expanded like any node, so a filter never cuts the
   * graph's paths; they are only kept out of the answer.
   */
  @FunctionalInterface
  public interface NodeFilter {
    boolean excluded(int node);
  }

  /** Receives the node ids of every scored batch (tests and tracing). */
  @FunctionalInterface
  public interface ScoreListener {
    void scored(int[] nodes, int count);
  }

  /**
   * @throws IllegalArgumentException if the scorer's item dimension differs from the index's
   */
  public Searcher(HnswIndex index, Scorer scorer) {
    if (scorer.itemDim() != index.dim()) {
      throw new IllegalArgumentException("dimension mismatch: the model scores items of dim " + scorer.itemDim()
          + " but index version " + index.meta().version() + " holds embeddings of dim " + index.dim());
    }
    this.state = new QueryState(index, scorer);
    this.walk = new BatchedBestFirst(state);
    this.beam = new BeamRetrieval(state);
    this.hnsw = new HnswRetrieval(state);
    this.brute = new BruteForce(state);
  }

  public void setListener(ScoreListener listener) {
    state.scoring.setListener(listener);
  }

  public HnswIndex index() {
    return state.index;
  }

  /** Beam-retrieval ({@link BeamRetrieval}), unfiltered. */
  public SearchResult beam(UserState user, int k, BeamParams params) {
    return beam(user, k, params, null, 0);
  }

  /**
   * Beam-retrieval ({@link BeamRetrieval}) that answers only nodes the filter lets through. Excluded
   * nodes still guide the walk (scored, kept in the beam, expanded); every eligible node scored is
   * offered to a separate top-k. If the regular steps end with fewer than k eligible nodes, the walk
   * keeps expanding layer 0 from its current beam for up to {@code extraSteps} more steps, stopping
   * early once k eligible nodes are found or no unvisited neighbour is left. Beam-retrieval has no
   * budget of items scored, so those steps are its only bound: a filter that few nodes near the
   * user pass can leave the answer with fewer than k items.
   *
   * @param filter null for none
   * @throws IllegalArgumentException if k exceeds the last layer's ef
   */
  public SearchResult beam(UserState user, int k, BeamParams params, NodeFilter filter, int extraSteps) {
    return beam.search(user, k, params, filter, extraSteps);
  }

  /**
   * The default walk ({@link SearchMode#NANN}, {@link BatchedBestFirst}): batched best-first from
   * many entry points (the wide descent) or HNSW's one (the narrow descent), until no unexpanded
   * node of the beam beats its worst or the budget of items scored is spent. With a filter, excluded
   * nodes guide the walk and only eligible ones are answered.
   *
   * @param filter null for none
   * @throws IllegalArgumentException for {@link Descent#AUTO}, which only a model's
   *     {@link DescentChooser} settles (the overload below)
   */
  public SearchResult nann(UserState user, int k, WalkParams params, NodeFilter filter) {
    return walk.search(user, k, params, filter);
  }

  /**
   * The default walk with {@link Descent#AUTO} settled by {@code descents}, the model's chooser (see
   * {@link DescentChooser#walk}); any other descent walks as asked and leaves the chooser alone.
   */
  public SearchResult nann(UserState user, int k, WalkParams params, NodeFilter filter, DescentChooser descents) {
    return params.descent() == Descent.AUTO ? descents.walk(this, user, k, params, filter) : nann(user, k, params, filter);
  }

  /** {@link #nann(UserState, int, WalkParams, NodeFilter)} without a filter. */
  public SearchResult nann(UserState user, int k, WalkParams params) {
    return nann(user, k, params, null);
  }

  /**
   * HNSW-retrieval ({@link HnswRetrieval}): greedy on the upper layers, then best-first with
   * {@code ef0} at layer 0, one node's neighbours a call, as the paper has it: nothing but ef0 bounds
   * the items it scores. For a bound, see the overload with a budget.
   *
   * @throws IllegalArgumentException if ef0 is below k
   */
  public SearchResult hnsw(UserState user, int k, int ef0) {
    return hnsw.search(user, k, ef0, Integer.MAX_VALUE);
  }

  /**
   * {@link #hnsw(UserState, int, int)} that stops once it has scored {@code budget} items (the upper
   * layers' included), converged or not: what the engine runs when a request raises ef0 past the
   * job's (an over-fetch for a selective filter), so that it costs at most the request's budget, as
   * in mode nann.
   *
   * @throws IllegalArgumentException if ef0 is below k or the budget below 1
   */
  public SearchResult hnsw(UserState user, int k, int ef0, int budget) {
    return hnsw.search(user, k, ef0, budget);
  }

  /** Exact top-k: scores every live item in batches of the scorer's largest size. */
  public SearchResult bruteForce(UserState user, int k) {
    return bruteForce(user, k, null);
  }

  /** Exact top-k over the nodes the filter lets through (excluded nodes are not scored). */
  public SearchResult bruteForce(UserState user, int k, NodeFilter filter) {
    return brute.search(user, k, filter);
  }

  static void checkK(int k) {
    if (k < 1 || k > MAX_K) {
      throw new IllegalArgumentException("k must be in [1, " + MAX_K + "], got " + k);
    }
  }
}
