package dev.nann.search;

import dev.nann.scorer.UserState;
import java.util.HashSet;
import java.util.Set;

/**
 * Settles {@link Descent#AUTO} for one model: its first {@link #SAMPLES} queries walk both descents
 * (on half the budget each) and answer with the better items of the two; then every query takes the
 * descent they showed pays.
 *
 * <p>The test needs no exact answers: of the best k items the two walks found together (k at least
 * {@link #MIN_COMPARED_K}; a query whose walks cannot fill them, or both score the whole index, is
 * replaced by another), it counts those only the wide descent found against those only the narrow
 * one found. The two walk at width 2k (whatever the served width), where a scorer with one optimum
 * makes them find the same within a percent or so (the narrow descent then covers that for fewer
 * items), and a scorer with several separate optima (a user with several tastes) makes the wide
 * descent find several percent of the best items more. Above {@link #WIDE_GAIN} on average, or with one query at {@link #USER_GAIN} or
 * more, the wide descent is kept.
 *
 * <p>Shared by every walker thread serving the model. Once the choice is made, {@link #next} is one
 * volatile read; only the first queries (while learning) take a lock. Until the choice is made,
 * queries beyond the samples in flight take the wide descent, the safe choice for an unknown scorer.
 * A query that compares both gives each half of its budget.
 */
public final class DescentChooser {
  /**
   * Queries that compare both descents before the choice is made. A scorer with several optima may
   * give only some users several regions: on MovieLens + 1M with distance attention, the first 16
   * users showed no gain (+0.5%) where the first 64 showed +4.8%.
   */
  public static final int SAMPLES = 64;

  /**
   * Share of the best k items the wide descent must find over the narrow one, on average, to be
   * kept. Measured at W = 2k = 400 on six model-matrix cells (64 queries each): one-optimum scorers
   * −1.0% to +0.5%, several-optima scorers +4.8% (MovieLens, distance attention) and +32% (synthetic).
   */
  public static final double WIDE_GAIN = 0.02;

  /**
   * A learning query's gain that keeps the wide descent whatever the mean: half or more of the best k
   * items the two walks found together were the wide descent's alone, so the narrow descent would
   * leave that user with half an answer, and a few such users can sit behind a small mean. Of the 32
   * MovieLens + 1M cells of the model matrix, on the 14 where {@code ./nann eval} recommends the narrow
   * descent no learning query reached +39%, on the 17 where it recommends the wide one 1 to 13 of 64
   * reached +50% (on the last, where its pick depends on the width, 2 did). The fully trained dnn with
   * FGSM at efConstruction 200 had a mean of +1.2% but one query at +80%, and there the narrow descent
   * stops at 0.975 of the exact top-200 while the wide one reaches 0.997 (docs/search.md).
   */
  public static final double USER_GAIN = 0.5;

  /**
   * Learning queries compare answers of at least this many items: at k = 1 a query's gain is -1, 0
   * or +1, and one such query would settle the choice for the model.
   */
  public static final int MIN_COMPARED_K = 50;

  private final java.util.function.Consumer<String> onChoice;
  private volatile Descent chosen;
  private int inFlight;     // comparisons handed out and not yet recorded or abandoned; guarded by this
  private int recorded;     // guarded by this
  private double gainSum;   // guarded by this
  private double largest = Double.NEGATIVE_INFINITY;   // guarded by this
  private int halfMissed;   // learning queries whose gain reached USER_GAIN; guarded by this

  /** A chooser that settles silently. */
  public DescentChooser() {
    this(message -> { });
  }

  /** @param onChoice told once, in words, which descent was chosen and why (e.g. a log line) */
  public DescentChooser(java.util.function.Consumer<String> onChoice) {
    this.onChoice = onChoice;
  }

  /**
   * One query of the default walk with {@link Descent#AUTO}: the chosen descent, or, while learning,
   * both descents on half the budget each at width 2k, answered with the best k of the two (the query
   * never scores more than its budget) and recorded.
   */
  SearchResult walk(Searcher searcher, UserState user, int k, WalkParams params, Searcher.NodeFilter filter) {
    Descent d = next();
    int kc = Math.max(k, MIN_COMPARED_K);
    if (d != null || params.budget() / 2 < kc) {
      if (d == null) {
        abandon();   // half the budget could not even score kc items: leave the comparison to another query
      }
      return searcher.nann(user, k, params.withDescent(d == null ? Descent.WIDE : d), filter);
    }
    boolean done = false;
    try {
      if (k < 1) {
        throw new IllegalArgumentException("k must be at least 1, got " + k);
      }
      // compared at width 2kc whatever the served width: at W = k the wide descent's extra items alone
      // buy coverage on any scorer, and at widths far above 2k both walks have found nearly everything
      // they will for most users, so the few users with several tastes no longer show (docs/search.md)
      WalkParams compared = params.withWidth(Math.min(2 * kc, 1_000_000));
      int half = params.budget() / 2;
      SearchResult wide = searcher.nann(user, kc, compared.withDescent(Descent.WIDE).withBudget(params.budget() - half),
          filter);
      SearchResult narrow = searcher.nann(user, kc, compared.withDescent(Descent.NARROW).withBudget(half), filter);
      SearchResult best = SearchResult.union(wide, narrow, kc);
      int size = searcher.index().size();
      if (best.size() < kc || wide.scored() >= size && narrow.scored() >= size) {
        // a filter or exclusions left fewer items than compared, or both walks scored the whole index:
        // the answers say nothing of the scorer (the choice outlives this index), so another query learns
        abandon();
      } else {
        record(gain(best, wide, narrow));
      }
      done = true;
      return kc == k ? best : SearchResult.union(wide, narrow, k);
    } finally {
      if (!done) {
        abandon();
      }
    }
  }

  /**
   * The descent for the next query, or null: walk both, then {@link #record} them (or {@link
   * #abandon} if the query failed, so that another query takes its place).
   */
  public Descent next() {
    Descent d = chosen;
    if (d != null) {
      return d;   // the steady state: one volatile read
    }
    synchronized (this) {
      if (chosen != null) {
        return chosen;
      }
      if (recorded + inFlight < SAMPLES) {
        inFlight++;
        return null;
      }
      return Descent.WIDE;
    }
  }

  /** What the learning queries chose, or null while they run. */
  public Descent chosen() {
    return chosen;
  }

  /** The mean gain of the wide descent over the narrow one measured so far (see {@link #gain}). */
  public synchronized double meanGain() {
    return recorded == 0 ? 0 : gainSum / recorded;
  }

  /** The largest gain of one learning query so far (negative infinity before the first). */
  public synchronized double largestGain() {
    return largest;
  }

  /** Adds one comparison handed out by {@link #next}; the {@link #SAMPLES}-th settles the choice. */
  public void record(SearchResult wide, SearchResult narrow, int k) {
    record(gain(wide, narrow, k));
  }

  private synchronized void record(double g) {
    inFlight--;
    if (chosen != null) {
      return;
    }
    gainSum += g;
    largest = Math.max(largest, g);
    halfMissed += g >= USER_GAIN ? 1 : 0;
    recorded++;
    if (recorded >= SAMPLES) {
      double mean = gainSum / recorded;
      chosen = mean > WIDE_GAIN || halfMissed > 0 ? Descent.WIDE : Descent.NARROW;
      onChoice.accept(String.format(java.util.Locale.ROOT, "the default walk takes the %s descent: over its first %d "
          + "queries the wide descent's gain over the narrow one was %+.1f%% of the best items, %d of them gained "
          + "%.0f%% or more, the largest %+.0f%% (wide is kept above %+.0f%% on average or with one query at %.0f%%)",
          chosen.id(), recorded, 100 * mean, halfMissed, 100 * USER_GAIN, 100 * largest, 100 * WIDE_GAIN,
          100 * USER_GAIN));
    }
  }


  /** A comparison handed out by {@link #next} that will not be recorded (its query failed). */
  public synchronized void abandon() {
    inFlight--;
  }

  /**
   * Of the best {@code k} nodes of both answers, the share only {@code wide} holds minus the share
   * only {@code narrow} holds.
   */
  public static double gain(SearchResult wide, SearchResult narrow, int k) {
    return gain(SearchResult.union(wide, narrow, k), wide, narrow);
  }

  /** {@link #gain(SearchResult, SearchResult, int)} with the two answers' best k already merged into {@code best}. */
  private static double gain(SearchResult best, SearchResult wide, SearchResult narrow) {
    if (best.size() == 0) {
      return 0;
    }
    Set<Integer> inWide = nodes(wide);
    Set<Integer> inNarrow = nodes(narrow);
    int onlyWide = 0;
    int onlyNarrow = 0;
    for (int node : best.nodes()) {
      boolean w = inWide.contains(node);
      boolean n = inNarrow.contains(node);
      onlyWide += w && !n ? 1 : 0;
      onlyNarrow += n && !w ? 1 : 0;
    }
    return (double) (onlyWide - onlyNarrow) / best.size();
  }

  private static Set<Integer> nodes(SearchResult r) {
    Set<Integer> s = new HashSet<>(r.size() * 2);
    for (int node : r.nodes()) {
      s.add(node);
    }
    return s;
  }
}
