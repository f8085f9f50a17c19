package dev.nann.engine;

import dev.nann.dr.PathModel;
import dev.nann.scorer.Scorer;
import dev.nann.search.Searcher;

/**
 * One walker thread's reusable query state: its {@link QueryExecutor} and the searchers (visited
 * marks, heaps, batches) for the last two (index, scorer) pairs it served, so a swap does not
 * thrash them while requests on the old and new versions interleave. Not thread-safe by design.
 */
final class WalkerScratch {
  private final QueryExecutor executor;
  private LoadedIndex index0;
  private Scorer scorer0;
  private Searcher searcher0;
  private LoadedIndex index1;
  private Scorer scorer1;
  private Searcher searcher1;

  WalkerScratch(PathModel paths, int drBeam) {
    this.executor = new QueryExecutor(paths, drBeam);
  }

  QueryExecutor executor() {
    return executor;
  }

  Searcher searcher(LoadedIndex index, Scorer scorer) {
    if (index0 == index && scorer0 == scorer) {
      return searcher0;
    }
    if (index1 == index && scorer1 == scorer) {
      return searcher1;
    }
    index1 = index0;
    scorer1 = scorer0;
    searcher1 = searcher0;
    index0 = index;
    scorer0 = scorer;
    searcher0 = new Searcher(index.index(), scorer);
    return searcher0;
  }
}
