package dev.nann.search;

/**
 * The knobs of the default walk ({@link SearchMode#NANN}).
 *
 * @param width how many of the best nodes scored so far the walk keeps (W, HNSW's ef at layer 0);
 *     the walk stops when no unexpanded node of W beats W's worst, so a wider beam walks further
 *     and finds more of the exact top-k. Raised to k when a query asks for more.
 * @param budget most items one query may score, the top layer's batch included: the walk stops
 *     when it is spent even if it has not converged. Scoring is nearly all of a query's time, so
 *     this bounds the latency of every request whatever the model and corpus.
 * @param descent how the walk comes down the upper layers: {@link Descent#WIDE} keeps several regions
 *     for a scorer with several optima, {@link Descent#NARROW} spends nothing on that, {@link
 *     Descent#AUTO} (the default) lets each model's first queries decide
 */
public record WalkParams(int width, int budget, Descent descent) {
  /** Defaults: width 400 (NANN's ef_0), budget 20,000 items (2% of a 1M catalogue), the descent settled per model. */
  public static final WalkParams DEFAULTS = new WalkParams(400, 20_000, Descent.AUTO);

  /** The wide descent. */
  public WalkParams(int width, int budget) {
    this(width, budget, Descent.WIDE);
  }

  public WalkParams {
    if (width < 1 || width > 1_000_000) {
      throw new IllegalArgumentException("width must be in [1, 1000000], got " + width);
    }
    if (budget < 1) {
      throw new IllegalArgumentException("budget must be >= 1 item scored, got " + budget);
    }
    if (descent == null) {
      throw new IllegalArgumentException("descent is required (auto, wide or narrow)");
    }
  }

  /** The same walk with another budget. */
  public WalkParams withBudget(int b) {
    return new WalkParams(width, b, descent);
  }

  /** The same walk with another width. */
  public WalkParams withWidth(int w) {
    return new WalkParams(w, budget, descent);
  }

  /** The same walk with another descent. */
  public WalkParams withDescent(Descent d) {
    return new WalkParams(width, budget, d);
  }

  @Override
  public String toString() {
    return "W=" + width + " budget=" + budget + (descent == Descent.WIDE ? "" : " descent=" + descent.id());
  }
}
