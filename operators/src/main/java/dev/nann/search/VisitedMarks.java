package dev.nann.search;

/**
 * Visited marks without an O(V) clear per query (paper §4.1's bitmap, as a stamp array).
 *
 * <p>One int per node holds the global step at which the node was scored. A query starts at
 * stamp {@code queryStart}; a node is visited in this query iff its stamp is {@code >= queryStart},
 * and was scored in the current step iff its stamp equals the current step. Stamps only grow, so
 * nothing is cleared between queries; after 2^31 steps the array is cleared once.
 */
final class VisitedMarks {
  private final int[] stamps;
  private int queryStart = 1;
  private int step;

  VisitedMarks(int size) {
    stamps = new int[size];
  }

  void newQuery() {
    if (step >= Integer.MAX_VALUE - 1_000_000) {
      java.util.Arrays.fill(stamps, 0);
      step = 0;
    }
    step++;
    queryStart = step;
  }

  /** Starts a new step within the query; returns its stamp. */
  int newStep() {
    return ++step;
  }

  int currentStep() {
    return step;
  }

  boolean visited(int node) {
    return stamps[node] >= queryStart;
  }

  /** Marks the node as visited in the current step. */
  void mark(int node) {
    stamps[node] = step;
  }

  boolean markedInStep(int node, int stepStamp) {
    return stamps[node] == stepStamp;
  }
}
