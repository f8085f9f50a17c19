package dev.nann.engine;

import dev.nann.dr.PathModel;
import dev.nann.scorer.Scorer;
import dev.nann.search.Searcher;
import java.lang.ref.SoftReference;

/**
 * One walker thread's reusable query state: its {@link QueryExecutor} and the searchers (visited
 * marks, heaps, batches) for the last two (index, scorer) pairs it served, so a swap does not
 * thrash them while requests on the old and new versions interleave. A searcher holds its whole
 * index, so the older pair is let go once {@link #KEEP_PREVIOUS_FOR} queries in a row have used the
 * newer one (the swap is over), and both are held softly: a walker idle through several swaps must
 * not keep index versions the engine has let go from the garbage collector when the heap is short.
 * Not thread-safe by design.
 */
final class WalkerScratch {
  /** Queries in a row on the newest pair after which the pair before it is let go. */
  static final int KEEP_PREVIOUS_FOR = 64;

  private final QueryExecutor executor;
  private SoftReference<Slot> newest = new SoftReference<>(null);
  private SoftReference<Slot> previous = new SoftReference<>(null);
  private int newestInARow;

  private record Slot(LoadedIndex index, Scorer scorer, Searcher searcher) {
    boolean serves(LoadedIndex i, Scorer s) {
      return index == i && scorer == s;
    }
  }

  WalkerScratch(PathModel paths, int drBeam) {
    this.executor = new QueryExecutor(paths, drBeam);
  }

  QueryExecutor executor() {
    return executor;
  }

  Searcher searcher(LoadedIndex index, Scorer scorer) {
    Slot n = newest.get();
    if (n != null && n.serves(index, scorer)) {
      if (++newestInARow == KEEP_PREVIOUS_FOR) {
        previous = new SoftReference<>(null);
      }
      return n.searcher();
    }
    newestInARow = 0;
    Slot p = previous.get();
    if (p != null && p.serves(index, scorer)) {
      return p.searcher();   // a request still on the older pair, while a swap's requests interleave
    }
    previous = newest;
    Slot made = new Slot(index, scorer, new Searcher(index.index(), scorer));
    newest = new SoftReference<>(made);
    return made.searcher();
  }

  /** Whether this scratch still holds a searcher for the pair (tests). */
  boolean holds(LoadedIndex index, Scorer scorer) {
    Slot n = newest.get();
    Slot p = previous.get();
    return n != null && n.serves(index, scorer) || p != null && p.serves(index, scorer);
  }
}
