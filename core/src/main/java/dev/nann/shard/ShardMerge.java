package dev.nann.shard;

import java.util.Arrays;

/**
 * Merges the shards' answers (each best first, with scores) into the best k overall, one copy of
 * each item. Scores are comparable across shards because every shard scores with the same model
 * and the same user state.
 */
public final class ShardMerge {
  private ShardMerge() {
  }

  /** The merged answer: item ids best first and their scores. */
  public record Merged(long[] items, float[] scores) {
    public int size() {
      return items.length;
    }
  }

  /**
   * @param items per answering shard, its item ids best first
   * @param scores per answering shard, the scores of {@code items}
   */
  public static Merged topK(long[][] items, float[][] scores, int k) {
    int total = 0;
    for (long[] a : items) {
      total += a.length;
    }
    long[] allItems = new long[total];
    float[] allScores = new float[total];
    Integer[] order = new Integer[total];
    int n = 0;
    for (int s = 0; s < items.length; s++) {
      for (int i = 0; i < items[s].length; i++) {
        allItems[n] = items[s][i];
        allScores[n] = scores[s][i];
        order[n] = n;
        n++;
      }
    }
    // best first; ties by item id so the merged order does not depend on which shard answered first
    Arrays.sort(order, (a, b) -> {
      int c = Float.compare(allScores[b], allScores[a]);
      return c != 0 ? c : Long.compare(allItems[a], allItems[b]);
    });
    long[] outItems = new long[Math.min(k, total)];
    float[] outScores = new float[outItems.length];
    java.util.Set<Long> taken = new java.util.HashSet<>();
    int m = 0;
    for (int i = 0; i < total && m < outItems.length; i++) {
      if (taken.add(allItems[order[i]])) {
        outItems[m] = allItems[order[i]];
        outScores[m++] = allScores[order[i]];
      }
    }
    return new Merged(Arrays.copyOf(outItems, m), Arrays.copyOf(outScores, m));
  }
}
