package dev.nann.eval;

import dev.nann.corpus.Corpus;
import dev.nann.engine.QueryExecutor;
import dev.nann.graph.HnswIndex;
import dev.nann.graph.ItemIdLookup;
import dev.nann.scorer.Scorer;
import dev.nann.scorer.UserState;
import dev.nann.search.SearchResult;
import dev.nann.search.Searcher;
import dev.nann.search.WalkParams;
import java.io.PrintStream;
import java.util.Arrays;
import java.util.BitSet;
import java.util.List;

/**
 * {@code ./nann eval --explain-misses}: where the default walk's misses lie (the exact top-k items it
 * did not return): by rank in the exact list, how far above its last answer they score, and whether
 * the walk scored any of their level-0 neighbours, i.e. whether it came near them at all. Re-runs the
 * queries untimed, with a listener on every scored batch.
 */
final class MissExplainer {
  private final HnswIndex index;
  private final Scorer scorer;
  private final Corpus corpus;
  private final ItemIdLookup ids;
  private final PrintStream progress;

  MissExplainer(HnswIndex index, Scorer scorer, Corpus corpus, ItemIdLookup ids, PrintStream progress) {
    this.index = index;
    this.scorer = scorer;
    this.corpus = corpus;
    this.ids = ids;
    this.progress = progress;
  }

  /** Walks each user's query again at {@code walk} and prints one line about the misses against {@code exactAnswers}. */
  void print(List<Corpus.User> users, WalkParams walk, int k, QueryExecutor.Answer[] exactAnswers) {
    Searcher searcher = new Searcher(index, scorer);
    BitSet scored = new BitSet(index.size());
    searcher.setListener((nodes, count) -> {
      for (int i = 0; i < count; i++) {
        scored.set(nodes[i]);
      }
    });
    int[] byTenth = new int[10];
    long missed = 0;
    long nearScored = 0;
    long total = 0;
    double gap = 0;
    BitSet answered = new BitSet(index.size());
    for (int q = 0; q < users.size(); q++) {
      scored.clear();
      answered.clear();
      SearchResult r;
      try (UserState u = scorer.user(corpus.features(users.get(q)))) {
        r = searcher.nann(u, k, walk);
      }
      for (int node : r.nodes()) {
        answered.set(node);
      }
      float last = r.size() == 0 ? Float.NEGATIVE_INFINITY : r.scores()[r.size() - 1];
      QueryExecutor.Answer exact = exactAnswers[q];
      total += exact.size();
      for (int j = 0; j < exact.size(); j++) {
        int v = ids.nodeOf(exact.items()[j]);
        if (answered.get(v)) {
          continue;
        }
        missed++;
        byTenth[j * 10 / exact.size()]++;
        gap += exact.scores()[j] - last;
        for (int nb : index.graph().neighbors(0, v)) {
          if (scored.get(nb)) {
            nearScored++;
            break;
          }
        }
      }
    }
    progress.printf("[eval] misses of %s: %d of %d exact top-%d items; by tenth of the exact ranking %s; on average %.3f "
            + "above the last answer's score; %.0f%% had a scored level-0 neighbour (the walk came near them); "
            + "%.0f%% of all exact top-%d items have another of them among their level-0 neighbours%n",
        walk, missed, total, k, Arrays.toString(byTenth), missed == 0 ? 0.0 : gap / missed,
        missed == 0 ? 0.0 : 100.0 * nearScored / missed, 100 * AnswerLocality.of(index, ids, exactAnswers), k);
  }
}
