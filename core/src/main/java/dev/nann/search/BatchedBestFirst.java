package dev.nann.search;

import dev.nann.scorer.UserState;

/**
 * The default walk ({@link SearchMode#NANN}): batched best-first.
 *
 * <ol>
 *   <li>Entry: the lowest layer with at most {@code width} nodes is scored whole, in one call (on a
 *       1M-item graph with M = 32 and the default width, about 30 nodes): many entry points spread
 *       over the catalogue, so a scorer with several separate optima (a user with several tastes) is
 *       not led into one of them by a single entry point.
 *   <li>Descent: on each layer below it down to layer 1, the same batched best-first walk (below)
 *       with a beam of {@code width / 4}, run until it converges. A narrow descent (HNSW's greedy
 *       one) leads a scorer whose best items lie in several regions into one of them: on the 1M
 *       nested corpus with a trained attention scorer, width 1 covered 0.49 of the exact top-200 at
 *       W = 400 where width / 4 covers 0.78 (docs/search.md).
 *   <li>Layer 0: the beam W starts as the best {@code width} of every node scored so far; then each
 *       step takes the best not-yet-expanded nodes of W, as many as fill one runtime call of about
 *       {@link #STEP_ROWS} rows (the first steps of a layer take 1, 2, 4, ... nodes, and fewer while
 *       the walk still climbs: {@link StepSizer}), and scores their unvisited neighbours in that
 *       call. The walk ends when no unexpanded node of W beats W's worst (HNSW's stopping rule, so it
 *       goes as far as the scorer's surface leads, however many hops that is) or when the budget of
 *       items scored is spent.
 * </ol>
 *
 * <p>That is the {@link Descent#WIDE} descent. {@link Descent#NARROW} replaces the first two steps
 * by HNSW's: the top layer's entry point, then a beam of one down to layer 1; for a scorer whose best
 * items lie in one region it reaches the same coverage with fewer items.
 *
 * <p>Against Beam-retrieval it never stops after a fixed number of hops and expands only nodes still
 * among the best; against HNSW-retrieval it scores a call's worth of neighbours at once instead of
 * one node's, and enters layer 0 from many points. No node is scored twice.
 *
 * <p>With a filter, excluded nodes guide the walk like any other and only eligible ones are
 * answered; if the walk converges with fewer than k eligible nodes it goes on expanding the best
 * unexpanded nodes it has scored until k are found, the budget is spent or nothing is left.
 *
 * <p>Per-query state of one {@link Searcher}; not thread-safe.
 */
final class BatchedBestFirst {
  /**
   * Rows one step aims to score in one runtime call: large enough that a call's fixed cost is small
   * against its rows (a few microseconds of ~1 µs/row on the CPU), small enough that a step expands
   * few nodes the walk would have dropped one node at a time (measured on MovieLens + 100k
   * distractors: 64 rows score 2% fewer items than 256 for the same coverage, in 2.5 times as many
   * calls). See docs/search.md.
   */
  static final int STEP_ROWS = 256;

  private final QueryState q;
  private final SortedBeam walkBeam = new SortedBeam();             // W
  private final ScoredHeap seen = new ScoredHeap(512, false);       // best nodes scored on the upper layers
  private final StepSizer steps = new StepSizer();
  private boolean collectSeen;
  private int budgetLeft;

  BatchedBestFirst(QueryState q) {
    this.q = q;
  }

  /** See {@link Searcher#nann(UserState, int, WalkParams, Searcher.NodeFilter)}. */
  SearchResult search(UserState user, int k, WalkParams params, Searcher.NodeFilter filter) {
    Searcher.checkK(k);
    if (params.descent() == Descent.AUTO) {
      throw new IllegalArgumentException("descent auto is settled per model: call nann with the model's DescentChooser");
    }
    int width = Math.max(params.width(), k);
    long start = q.begin();
    q.filter = filter;
    q.eligible.reset(k);
    budgetLeft = params.budget();
    walkBeam.reset(width);
    if (q.index.size() == 0) {
      return finish(k, start);
    }
    NeighborExpander expander = q.expander;
    int top = q.graph.levels() - 1;
    boolean narrow = params.descent() == Descent.NARROW;
    while (!narrow && top > 0 && q.graph.levelSize(top - 1) <= width) {
      top--;                             // wide: the lowest layer of at most W nodes
    }
    collectSeen = top > 0;
    seen.reset(width);
    int upperWidth = params.descent().upperWidth(width);
    walkBeam.reset(top == 0 ? width : upperWidth);
    q.frontier.reset(0);
    // narrow: HNSW's entry point alone; wide: the whole entry layer
    scoreBudgeted(user, narrow ? expander.collectEntryPoint() : expander.collectLevel(top, budgetLeft));
    for (int level = top; level >= 0; level--) {
      if (level != top) {
        if (level == 0) {
          // layer 0 starts from the best of every node scored on the way down (scores are known)
          collectSeen = false;
          walkBeam.reset(width);
          q.ensureDrained(seen.size());
          long[] seeds = q.drained;
          for (int i = 0; i < seen.size(); i++) {
            seeds[i] = seen.get(i);
          }
          walkBeam.offerAll(seeds, seen.size(), null);
        } else {
          walkBeam.unexpandAll();        // every node of W is unexpanded on this layer
        }
        q.frontier.reset(0);
      }
      walkLayer(user, level);
    }
    // filtered and short of k eligible nodes: go on best-first over everything scored
    while (filter != null && q.eligible.size() < k && budgetLeft > 0) {
      if (!expandBest(user, 0, Long.MIN_VALUE)) {
        break;
      }
    }
    return finish(k, start);
  }

  /** Batched best-first on one layer from W's unexpanded nodes until convergence or the budget is spent. */
  private void walkLayer(UserState user, int level) {
    steps.startLayer(q.expander.maxDegree(level), walkBeam.best());
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
    q.ensureCurrent(want);
    int[] current = q.current;
    ScoredHeap frontier = q.frontier;
    int c = walkBeam.takeUnexpanded(want, current);
    while (c < want && frontier.size() > 0 && frontier.peek() >= worst) {
      current[c++] = ScoredHeap.node(frontier.poll());
    }
    if (c == 0) {
      return false;
    }
    int nn = q.expander.unvisitedNeighbors(level, current, c);
    int m = nn > 0 ? scoreBudgeted(user, nn) : 0;
    steps.afterStep(level, c, nn, q.stepEntries, m, q.expander);
    return true;
  }

  /**
   * Scores the expander's pending {@code [0, n)} into W, cut to what is left of the budget (nodes cut
   * off stay marked: the walk ends with this call); returns how many were scored. Nodes entering W
   * are unexpanded candidates; with a filter, the walk may go on past convergence, so nodes outside W
   * stay candidates in the frontier. On the upper layers every node scored is also remembered as a
   * seed for layer 0.
   */
  private int scoreBudgeted(UserState user, int n) {
    int m = Math.min(n, budgetLeft);
    budgetLeft -= m;
    q.score(user, q.expander.pending(), m);
    long[] entries = q.stepEntries;
    walkBeam.offerAll(entries, m, q.filter != null ? q.frontier : null);
    if (collectSeen) {
      for (int i = 0; i < m; i++) {
        seen.offer(entries[i]);
      }
    }
    return m;
  }

  /** The answer: the best k live entries of W (or, filtered, of the eligible ones). */
  private SearchResult finish(int k, long start) {
    if (q.filter != null) {
      return q.finish(k, start);
    }
    q.ensureDrained(k);
    return q.result(walkBeam.best(k, q.live, q.drained), start);
  }
}
