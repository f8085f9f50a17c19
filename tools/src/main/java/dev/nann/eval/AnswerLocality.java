package dev.nann.eval;

import dev.nann.engine.QueryExecutor;
import dev.nann.graph.HnswIndex;
import dev.nann.graph.ItemIdLookup;
import java.util.BitSet;

/**
 * Whether a model's best items lie together in the graph: the share of each user's exact top-k
 * items that have another of that user's top-k among their level-0 neighbours, averaged over users.
 * A walk finds the best items by stepping from one to the next, so where they lie apart it misses
 * many wherever it enters, at any width; where they lie together, the graph is the ceiling.
 */
final class AnswerLocality {
  /**
   * Below this share the best items count as lying apart. Measured at k = 200 (docs/search.md):
   * 74–96% on model-matrix cells the default walk covers at 0.93 or more, 46–49% on the two whose
   * inner-product scorer no walk covers beyond 0.63 (synthetic corpus, two-sided, no FGSM).
   */
  static final double LOW = 0.6;

  private AnswerLocality() {
  }

  /** The share for the exact answers {@code exact} (item ids mapped to nodes by {@code ids}); 1 with no answer of two items. */
  static double of(HnswIndex index, ItemIdLookup ids, QueryExecutor.Answer[] exact) {
    double sum = 0;
    int users = 0;
    BitSet best = new BitSet(index.size());
    for (QueryExecutor.Answer a : exact) {
      if (a == null || a.size() < 2) {
        continue;
      }
      int[] nodes = new int[a.size()];
      int n = 0;
      for (int j = 0; j < a.size(); j++) {
        int v = ids.nodeOf(a.items()[j]);
        if (v >= 0) {
          best.set(v);
          nodes[n++] = v;
        }
      }
      int together = 0;
      for (int j = 0; j < n; j++) {
        for (int nb : index.graph().neighbors(0, nodes[j])) {
          if (best.get(nb)) {
            together++;
            break;
          }
        }
      }
      for (int j = 0; j < n; j++) {
        best.clear(nodes[j]);
      }
      sum += n == 0 ? 0 : (double) together / n;
      users++;
    }
    return users == 0 ? 1 : sum / users;
  }

  /** What a share means for the user, in words. */
  static String meaning(double share) {
    return share < LOW
        ? "the best items lie apart in the graph, and a walk finds them by stepping from one to the next, so it "
        + "misses many wherever it enters, at any width. Training the scorer with FGSM (the reference trainer's "
        + "--fgsm-eps) brought an inner-product scorer's best items together on the synthetic corpus (docs/search.md)"
        : "the best items lie together, so a larger --ef-construction (a better graph) is the next thing to try";
  }
}
