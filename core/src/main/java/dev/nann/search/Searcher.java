package dev.nann.search;

import dev.nann.graph.HnswGraphView;
import dev.nann.graph.HnswIndex;
import dev.nann.scorer.Scorer;
import dev.nann.scorer.UserState;

/**
 * Runs queries against one index with one scorer: the default batched best-first walk
 * ({@link #nann}), Beam-retrieval ({@link #beam}), HNSW-retrieval ({@link #hnsw}) and brute force
 * ({@link #bruteForce}). Which neighbours to score next is the {@link NeighborExpander}'s job.
 *
 * <p>A searcher owns all per-query state (visited stamps, heaps, candidate and neighbour arrays,
 * the score batch) and reuses it across queries, so it is <b>not</b> thread-safe: use one per
 * thread. Nodes are scored in batches; a node is scored at most once per query (its score does not
 * depend on the layer). Tombstoned nodes are walked through but never returned.
 */
public final class Searcher {
  /** Largest k a query may ask for. */
  public static final int MAX_K = 100_000;

  private final HnswIndex index;
  private final HnswGraphView graph;
  private final BatchScoring scoring;
  private final NeighborExpander expander;
  private final ScoredHeap results = new ScoredHeap(512, false);   // beam and hnsw: W
  private final ScoredHeap frontier = new ScoredHeap(512, true);   // hnsw: candidates; filtered nann: those outside W
  private final SortedBeam walkBeam = new SortedBeam();   // nann: W
  private final ScoredHeap eligible = new ScoredHeap(512, false);   // filtered queries: best k eligible seen
  private final ScoredHeap seen = new ScoredHeap(512, false);   // nann: best nodes scored on the upper layers
  private boolean collectSeen;
  private NodeFilter filter;
  private long[] stepEntries = new long[0];   // packed (node, score) of the last score call's nodes, same order
  private int[] current = new int[512];
  private long[] drained = new long[512];   // packed entries: layer 0's seeds, then the answer best first
  private final java.util.function.LongPredicate live = e -> !index().isDeleted(ScoredHeap.node(e));
  private int budgetLeft;
  private final StepSizer steps = new StepSizer();

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
    this.index = index;
    this.graph = index.graph();
    this.scoring = new BatchScoring(index.embeddings(), scorer);
    this.expander = new NeighborExpander(graph, index.size());
  }

  public void setListener(ScoreListener listener) {
    scoring.setListener(listener);
  }

  public HnswIndex index() {
    return index;
  }

  /**
   * Beam-retrieval (paper Alg. 1 with Alg. 2's for-loop): the top searched layer is scored
   * exhaustively in one batch and its best ef kept; then on each layer, T_l steps each score the
   * unvisited neighbours of the current candidates in one batch, keep the best ef_l, and continue
   * from the newly kept nodes.
   */
  public SearchResult beam(UserState user, int k, BeamParams params) {
    return beam(user, k, params, null, 0);
  }

  /**
   * Beam-retrieval that answers only nodes the filter lets through. Excluded nodes still guide the
   * walk (scored, kept in the beam, expanded); every eligible node scored is offered to a separate
   * top-k. If the regular steps end with fewer than k eligible nodes, the walk keeps expanding layer
   * 0 from its current beam for up to {@code extraSteps} more steps, stopping early once k eligible
   * nodes are found or no unvisited neighbour is left: the answer is not starved by the filter
   * unless the budget runs out.
   *
   * @param filter null for none
   */
  public SearchResult beam(UserState user, int k, BeamParams params, NodeFilter filter, int extraSteps) {
    checkK(k);
    if (k > params.efBottom()) {
      throw new IllegalArgumentException("k=" + k + " exceeds ef_0=" + params.efBottom()
          + "; Beam-retrieval returns at most ef_0 items, so raise the last ef to at least k");
    }
    long start = beginQuery();
    this.filter = filter;
    eligible.reset(k);
    if (index.size() == 0) {
      return finish(k, start);
    }
    int top = Math.min(params.layers(), graph.levels()) - 1;
    int first = params.layers() - 1 - top;

    results.reset(params.efAt(first));
    int n = expander.collectLevel(top, Integer.MAX_VALUE);
    scoreInto(user, expander.pending(), n, results, null);

    for (int level = top; level >= 0; level--) {
      int p = first + (top - level);
      int ef = params.efAt(p);
      if (level != top) {
        results.resize(ef);             // W of the layer above becomes this layer's ep
      }
      int c = copyNodes(results);      // C <- ep
      for (int t = 0; t < params.stepsAt(p) && c > 0; t++) {
        int nn = expander.unvisitedNeighbors(level, current, c);
        if (nn == 0) {
          break;
        }
        int[] pending = expander.pending();
        scoreInto(user, pending, nn, results, null);
        // C <- W ∩ N: W keeps the best ef entries, and entries are unique per node, so a node of N
        // is in W exactly when its packed entry is at least W's worst (all of N when W is not full).
        long worst = results.isFull() ? results.peek() : Long.MIN_VALUE;
        ensureCurrent(nn);
        c = 0;
        for (int i = 0; i < nn; i++) {
          current[c] = pending[i];
          c += stepEntries[i] >= worst ? 1 : 0;
        }
      }
    }
    // filtered: keep walking layer 0 from the whole beam until k eligible nodes or the budget is spent
    for (int t = 0; filter != null && t < extraSteps && eligible.size() < k; t++) {
      int c = copyNodes(results);
      int nn = expander.unvisitedNeighbors(0, current, c);
      if (nn == 0) {
        break;
      }
      scoreInto(user, expander.pending(), nn, results, null);
    }
    return finish(k, start);
  }

  /**
   * The default walk ({@link SearchMode#NANN}): batched best-first.
   *
   * <ol>
   *   <li>Entry: the lowest layer with at most {@code width} nodes is scored whole, in one call
   *       (on a 1M-item graph with M = 32 and the default width, about 30 nodes): many entry points
   *       spread over the catalogue, so a scorer with several separate optima (a user with several
   *       tastes) is not led into one of them by a single entry point.
   *   <li>Descent: on each layer below it down to layer 1, the same batched best-first walk (below)
   *       with a beam of {@code width / 4}, run until it converges. A narrow descent (HNSW's greedy
   *       one) leads a scorer whose best items lie in several regions into one of them: on the 1M
   *       nested corpus with a trained attention scorer, width 1 covered 0.49 of the exact top-200
   *       at W = 400 where width / 4 covers 0.78 (docs/search.md).
   *   <li>Layer 0: the beam W starts as the best {@code width} of every node scored so far; then
   *       each step takes the best not-yet-expanded nodes of W, as many as fill one runtime call of
   *       about {@link #STEP_ROWS} rows (the first steps of a layer take 1, 2, 4, ... nodes, and
   *       fewer while the walk still climbs: {@link StepSizer}), and scores their unvisited
   *       neighbours in that call. The walk
   *       ends when no unexpanded node of W beats W's worst (HNSW's stopping rule, so it goes as far
   *       as the scorer's surface leads, however many hops that is) or when the budget of items
   *       scored is spent.
   * </ol>
   *
   * <p>That is the {@link Descent#WIDE} descent, the default. {@link Descent#NARROW} replaces the
   * first two steps by HNSW's: the top layer's entry point, then a beam of one down to layer 1; for a
   * scorer whose best items lie in one region it reaches the same coverage with fewer items.
   *
   * <p>Against Beam-retrieval it never stops after a fixed number of hops and expands only nodes
   * still among the best; against HNSW-retrieval it scores a call's worth of neighbours at once
   * instead of one node's, and enters layer 0 from many points. No node is scored twice.
   *
   * <p>With a filter, excluded nodes guide the walk like any other and only eligible ones are
   * answered; if the walk converges with fewer than k eligible nodes it goes on expanding the best
   * unexpanded nodes it has scored until k are found, the budget is spent or nothing is left.
   *
   * @param filter null for none
   */
  public SearchResult nann(UserState user, int k, WalkParams params, NodeFilter filter) {
    checkK(k);
    if (params.descent() == Descent.AUTO) {
      throw new IllegalArgumentException("descent auto is settled per model: call nann with the model's DescentChooser");
    }
    int width = Math.max(params.width(), k);
    long start = beginQuery();
    this.filter = filter;
    eligible.reset(k);
    budgetLeft = params.budget();
    walkBeam.reset(width);
    if (index.size() == 0) {
      return finishWalk(k, start);
    }
    int top = graph.levels() - 1;
    boolean narrow = params.descent() == Descent.NARROW;
    while (!narrow && top > 0 && graph.levelSize(top - 1) <= width) {
      top--;                             // wide: the lowest layer of at most W nodes
    }
    collectSeen = top > 0;
    seen.reset(width);
    int upperWidth = params.descent().upperWidth(width);
    walkBeam.reset(top == 0 ? width : upperWidth);
    frontier.reset(0);
    // narrow: HNSW's entry point alone; wide: the whole entry layer
    scoreBudgeted(user, narrow ? expander.collectEntryPoint() : expander.collectLevel(top, budgetLeft));
    for (int level = top; level >= 0; level--) {
      if (level != top) {
        if (level == 0) {
          // layer 0 starts from the best of every node scored on the way down (scores are known)
          collectSeen = false;
          walkBeam.reset(width);
          ensureDrained(seen.size());
          for (int i = 0; i < seen.size(); i++) {
            drained[i] = seen.get(i);
          }
          walkBeam.offerAll(drained, seen.size(), null);
        } else {
          walkBeam.unexpandAll();        // every node of W is unexpanded on this layer
        }
        frontier.reset(0);
      }
      walkLayer(user, level);
    }
    // filtered and short of k eligible nodes: go on best-first over everything scored
    while (filter != null && eligible.size() < k && budgetLeft > 0) {
      if (!expandBest(user, 0, Long.MIN_VALUE)) {
        break;
      }
    }
    return finishWalk(k, start);
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
   * Rows one batched best-first step aims to score in one runtime call: large enough that a call's
   * fixed cost is small against its rows (a few microseconds of ~1 µs/row on the CPU), small enough
   * that a step expands few nodes the walk would have dropped one node at a time (measured on
   * MovieLens + 100k distractors: 64 rows score 2% fewer items than 256 for the same coverage, in
   * 2.5 times as many calls). See docs/search.md.
   */
  static final int STEP_ROWS = 256;

  /** Batched best-first on one layer from W's unexpanded nodes until convergence or the budget is spent. */
  private void walkLayer(UserState user, int level) {
    steps.startLayer(expander.maxDegree(level), walkBeam.best());
    while (budgetLeft > 0) {
      if (!expandBest(user, level, walkBeam.worst())) {
        return;
      }
    }
  }

  /**
   * One step: takes the best unexpanded nodes of W, then (a filtered walk's) candidates outside W not
   * below {@code worst}, as many as {@link StepSizer} allows, and scores their unvisited neighbours
   * on {@code level} in one call. False when no node qualified.
   */
  private boolean expandBest(UserState user, int level, long worst) {
    int want = steps.nodes();
    ensureCurrent(want);
    int c = walkBeam.takeUnexpanded(want, current);
    while (c < want && frontier.size() > 0 && frontier.peek() >= worst) {
      current[c++] = ScoredHeap.node(frontier.poll());
    }
    if (c == 0) {
      return false;
    }
    int nn = expander.unvisitedNeighbors(level, current, c);
    int m = nn > 0 ? scoreBudgeted(user, nn) : 0;
    steps.afterStep(level, c, nn, stepEntries, m, expander);
    return true;
  }

  /**
   * Scores {@code pending[0, n)} into W, cut to what is left of the budget (nodes cut off stay
   * marked: the walk ends with this call); returns how many were scored. Nodes entering W are
   * unexpanded candidates; with a filter, the walk may go on past convergence, so nodes outside W
   * stay candidates in the frontier. On the upper layers every node scored is also remembered as a
   * seed for layer 0.
   */
  private int scoreBudgeted(UserState user, int n) {
    int m = Math.min(n, budgetLeft);
    budgetLeft -= m;
    score(user, expander.pending(), m);
    walkBeam.offerAll(stepEntries, m, filter != null ? frontier : null);
    if (collectSeen) {
      for (int i = 0; i < m; i++) {
        seen.offer(stepEntries[i]);
      }
    }
    return m;
  }

  /**
   * HNSW-retrieval (SL2G baseline): greedy search (ef = 1) on the upper layers from the entry
   * point, then the classic while-loop best-first search with {@code ef0} at layer 0; each node
   * expansion scores its unvisited neighbours in one batch. The nodes scored on the upper layers
   * seed layer 0's lists with their known scores, so no node is scored twice.
   */
  public SearchResult hnsw(UserState user, int k, int ef0) {
    checkK(k);
    if (ef0 < k) {
      throw new IllegalArgumentException("ef0=" + ef0 + " is below k=" + k + "; HNSW-retrieval needs ef0 >= k");
    }
    long start = beginQuery();
    this.filter = null;
    if (index.size() == 0) {
      return finish(k, start);
    }
    int entry = graph.entryPoint();
    expander.mark(entry);
    int[] first = expander.pending(1);
    first[0] = entry;
    frontier.reset(0);                  // every node scored on the way down, best first
    scoreInto(user, first, 1, frontier, null);
    for (int level = graph.levels() - 1; level >= 1; level--) {
      while (true) {                    // greedy, ef = 1: move to the best neighbour while it improves
        long cur = frontier.peek();
        int nn = expander.unvisitedNeighbors(level, ScoredHeap.node(cur));
        if (nn == 0) {
          break;
        }
        scoreInto(user, expander.pending(), nn, frontier, null);
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
        scoreInto(user, expander.pending(), nn, results, frontier);
      }
    }
    return finish(k, start);
  }

  /** Exact top-k: scores every live item in batches of the scorer's largest size. */
  public SearchResult bruteForce(UserState user, int k) {
    return bruteForce(user, k, null);
  }

  /** Exact top-k over the nodes the filter lets through (excluded nodes are not scored). */
  public SearchResult bruteForce(UserState user, int k, NodeFilter filter) {
    checkK(k);
    long start = beginQuery();
    this.filter = null;   // excluded nodes are skipped below, so the plain top-k is the answer
    results.reset(k);
    int chunk = scoring.capacity();
    int[] pending = expander.pending(chunk);
    int n = 0;
    for (int node = 0; node < index.size(); node++) {
      if (index.isDeleted(node) || (filter != null && filter.excluded(node))) {
        continue;
      }
      pending[n++] = node;
      if (n == chunk) {
        scoreInto(user, pending, n, results, null);
        n = 0;
      }
    }
    scoreInto(user, pending, n, results, null);
    return finish(k, start);
  }

  private static void checkK(int k) {
    if (k < 1 || k > MAX_K) {
      throw new IllegalArgumentException("k must be in [1, " + MAX_K + "], got " + k);
    }
  }

  private long beginQuery() {
    collectSeen = false;         // per-query flags start clean, also after a query a scorer error cut short
    expander.newQuery();
    scoring.newQuery();
    return System.nanoTime();
  }

  /**
   * Scores {@code nodes[0, n)} and offers each to {@code into}; nodes that enter {@code into} are
   * also pushed to {@code alsoKept} when given (HNSW's candidate queue).
   */
  private void scoreInto(UserState user, int[] nodes, int n, ScoredHeap into, ScoredHeap alsoKept) {
    score(user, nodes, n);
    for (int i = 0; i < n; i++) {
      if (into.offer(stepEntries[i]) && alsoKept != null) {
        alsoKept.offer(stepEntries[i]);
      }
    }
  }

  /**
   * Scores {@code nodes[0, n)} into {@link #stepEntries} (same order); with a filter, eligible nodes
   * are offered to the answer's top-k.
   */
  private void score(UserState user, int[] nodes, int n) {
    stepEntries = scoring.score(user, nodes, n);
    for (int i = 0; filter != null && i < n; i++) {
      if (!filter.excluded(nodes[i]) && !index.isDeleted(nodes[i])) {
        eligible.offer(stepEntries[i]);
      }
    }
  }

  /** The best k live entries of W (or, filtered, of the eligible ones), best first; empties it. */
  private SearchResult finish(int k, long start) {
    ScoredHeap answer = filter != null ? eligible : results;
    filter = null;
    ensureDrained(answer.size());
    return result(answer.drainBest(k, live, drained), start);
  }

  /** The default walk's answer: the best k live entries of its beam (or, filtered, of the eligible ones). */
  private SearchResult finishWalk(int k, long start) {
    if (filter != null) {
      return finish(k, start);
    }
    ensureDrained(k);
    return result(walkBeam.best(k, live, drained), start);
  }

  private SearchResult result(int out, long start) {
    int[] nodes = new int[out];
    float[] scores = new float[out];
    for (int i = 0; i < out; i++) {
      nodes[i] = ScoredHeap.node(drained[i]);
      scores[i] = ScoredHeap.score(drained[i]);
    }
    return new SearchResult(nodes, scores, scoring.scored(), scoring.calls(), scoring.scorerNanos(),
        scoring.gatherNanos(), expander.nanos(), System.nanoTime() - start);
  }

  private void ensureDrained(int n) {
    if (drained.length < n) {
      drained = new long[Math.max(n, drained.length * 2)];
    }
  }

  private int copyNodes(ScoredHeap heap) {
    ensureCurrent(heap.size());
    for (int i = 0; i < heap.size(); i++) {
      current[i] = ScoredHeap.node(heap.get(i));
    }
    return heap.size();
  }

  private void ensureCurrent(int n) {
    if (current.length < n) {
      current = java.util.Arrays.copyOf(current, Math.max(n, current.length * 2));
    }
  }
}
