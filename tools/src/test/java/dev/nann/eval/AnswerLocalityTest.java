package dev.nann.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.nann.TestData;
import dev.nann.corpus.Corpus;
import dev.nann.engine.QueryExecutor;
import dev.nann.graph.HnswIndex;
import dev.nann.graph.ItemIdLookup;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The share of a user's best items that have another of them as a graph neighbour, on a real graph:
 * answers made of mutual neighbour pairs lie together (1), answers of which no two are neighbours
 * lie apart (0), a mix of both counts each kind, and several users' answers average.
 */
class AnswerLocalityTest {
  @Test
  void neighbourPairsLieTogetherAndAnIndependentSetLiesApart() {
    Corpus corpus = TestData.corpus(2000, 16, 3);
    HnswIndex index = TestData.index(corpus, 8);
    ItemIdLookup ids = ItemIdLookup.of(index);
    List<Integer> pairs = mutualPairs(index, 10);
    List<Integer> apart = independentSet(index, 20);

    assertEquals(1.0, AnswerLocality.of(index, ids, answer(index, pairs)), 1e-9, "pairs " + pairs);
    assertEquals(0.0, AnswerLocality.of(index, ids, answer(index, apart)), 1e-9, "independent set " + apart);
    List<Integer> half = new ArrayList<>(pairs.subList(0, 10));   // five pairs, then ten nodes apart from them
    BitSet near = closedNeighbourhood(index, half);
    for (int v : apart) {
      if (half.size() < 20 && !near.get(v) && disjointFrom(index, v, near)) {
        half.add(v);
      }
    }
    assertEquals(10.0 / half.size(), AnswerLocality.of(index, ids, answer(index, half)), 1e-9, "mix " + half);
    // several users: the mean of their shares
    QueryExecutor.Answer[] two = {answer(index, pairs)[0], answer(index, apart)[0]};
    assertEquals(0.5, AnswerLocality.of(index, ids, two), 1e-9);
  }

  /** One user's exact answer holding the items of {@code nodes}. */
  private static QueryExecutor.Answer[] answer(HnswIndex index, List<Integer> nodes) {
    long[] items = new long[nodes.size()];
    for (int i = 0; i < items.length; i++) {
      items[i] = index.itemId(nodes.get(i));
    }
    return new QueryExecutor.Answer[] {new QueryExecutor.Answer(items, new float[items.length], items.length, null)};
  }

  /** {@code pairs} disjoint pairs of nodes that list each other as level-0 neighbours, none adjacent to another pair. */
  private static List<Integer> mutualPairs(HnswIndex index, int pairs) {
    List<Integer> out = new ArrayList<>();
    BitSet used = new BitSet();
    for (int v = 0; v < index.size() && out.size() < 2 * pairs; v++) {
      if (used.get(v)) {
        continue;
      }
      for (int u : index.graph().neighbors(0, v)) {
        if (!used.get(u) && contains(index.graph().neighbors(0, u), v)) {
          out.add(v);
          out.add(u);
          used.or(closedNeighbourhood(index, List.of(v, u)));
          break;
        }
      }
    }
    return out;
  }

  /** {@code n} nodes of which none lists another as a level-0 neighbour. */
  private static List<Integer> independentSet(HnswIndex index, int n) {
    List<Integer> out = new ArrayList<>();
    BitSet near = new BitSet();
    for (int v = 0; v < index.size() && out.size() < n; v++) {
      if (!near.get(v) && disjointFrom(index, v, near)) {
        out.add(v);
        near.or(closedNeighbourhood(index, List.of(v)));
      }
    }
    return out;
  }

  /** The nodes and every node they list. */
  private static BitSet closedNeighbourhood(HnswIndex index, List<Integer> nodes) {
    BitSet s = new BitSet();
    for (int v : nodes) {
      s.set(v);
      for (int u : index.graph().neighbors(0, v)) {
        s.set(u);
      }
    }
    return s;
  }

  /**
   * Whether none of {@code v}'s neighbours is in {@code set}: v lists nothing in it. (That nothing in it
   * lists v is the caller's check: v outside the set's closed neighbourhood.)
   */
  private static boolean disjointFrom(HnswIndex index, int v, BitSet set) {
    for (int u : index.graph().neighbors(0, v)) {
      if (set.get(u)) {
        return false;
      }
    }
    return true;
  }

  private static boolean contains(int[] a, int x) {
    for (int y : a) {
      if (y == x) {
        return true;
      }
    }
    return false;
  }
}
