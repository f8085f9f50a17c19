package dev.nann.search;

/**
 * Visited marks as a bitmap (paper §4.1) that is never cleared wholesale: the words a query
 * touched are remembered and only those are zeroed when the next query starts, so the cost is
 * proportional to the nodes scored, not to the corpus. 1M items take 128 KiB, which stays in a
 * core's L2 cache during the walk. A second tracked bitmap marks the nodes scored in the current
 * step, which is how Beam-retrieval forms its next candidates C = W ∩ N.
 */
final class VisitedMarks {
  private final TrackedBits visited;
  private final TrackedBits thisStep;

  VisitedMarks(int size) {
    visited = new TrackedBits(size);
    thisStep = new TrackedBits(size);
  }

  void newQuery() {
    visited.clear();
    thisStep.clear();
  }

  /** Starts a new step within the query: nothing is "scored in this step" any more. */
  void newStep() {
    thisStep.clear();
  }

  boolean visited(int node) {
    return visited.get(node);
  }

  /** Marks the node as visited, and as scored in the current step. */
  void mark(int node) {
    visited.set(node);
    thisStep.set(node);
  }

  boolean markedInStep(int node) {
    return thisStep.get(node);
  }

  /** A bitmap that remembers which of its words are non-zero, to clear just those. */
  private static final class TrackedBits {
    private final long[] words;
    private int[] touched = new int[256];
    private int touchedCount;

    TrackedBits(int size) {
      words = new long[(size + 63) >>> 6];
    }

    boolean get(int i) {
      return (words[i >>> 6] & (1L << i)) != 0;
    }

    void set(int i) {
      int w = i >>> 6;
      long old = words[w];
      if (old == 0) {
        if (touchedCount == touched.length) {
          touched = java.util.Arrays.copyOf(touched, touchedCount * 2);
        }
        touched[touchedCount++] = w;
      }
      words[w] = old | (1L << i);
    }

    void clear() {
      for (int i = 0; i < touchedCount; i++) {
        words[touched[i]] = 0;
      }
      touchedCount = 0;
    }
  }
}
