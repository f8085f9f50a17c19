package dev.nann.shard;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nann.search.SearchParams;
import org.junit.jupiter.api.Test;

class ShardingTest {
  @Test
  void assignmentIsStableInRangeAndEvenForSequentialAndStridedIds() {
    assertEquals(0, ShardAssignment.shardOf(12345, 1));
    for (int shards : new int[] {2, 3, 4, 8}) {
      for (long stride : new long[] {1, 8, 1024}) {
        int[] counts = new int[shards];
        int n = 100_000;
        for (long i = 0; i < n; i++) {
          int s = ShardAssignment.shardOf(i * stride, shards);
          assertEquals(s, ShardAssignment.shardOf(i * stride, shards), "stable");
          counts[s]++;
        }
        for (int c : counts) {
          assertTrue(Math.abs(c - n / (double) shards) < 0.02 * n / shards,
              "within 2% of an even share for stride " + stride + ", S=" + shards + ": " + java.util.Arrays.toString(counts));
        }
      }
    }
    assertTrue(ShardAssignment.shardOf(Long.MIN_VALUE, 4) >= 0 && ShardAssignment.shardOf(-1, 4) >= 0);
    assertThrows(IllegalArgumentException.class, () -> ShardAssignment.shardOf(1, 0));
    assertThrows(IllegalArgumentException.class, () -> ShardAssignment.shardOf(1, 1025));
  }

  @Test
  void planSplitsTheBudgetAndCoversEachShardsShareOfTheTopK() {
    SearchParams p = SearchParams.DEFAULTS.withBudget(20_000);
    ShardPlan one = ShardPlan.of(1, 200, p);
    assertEquals(200, one.shardK());
    assertEquals(p, one.shardParams());
    ShardPlan four = ShardPlan.of(4, 200, p);
    // k/S plus four standard deviations of Binomial(200, 1/4): 50 + 4 * 6.12
    assertEquals(75, four.shardK());
    assertTrue(four.shardParams().walk().budget() * 4 <= 20_000 + 3, "the request's budget is the total");
    assertTrue(four.shardParams().walk().width() >= four.shardK());
    assertEquals(1, ShardPlan.of(8, 1, p).shardK());
    assertEquals(10, ShardPlan.of(2, 10, p).shardK(), "never more than k");
  }

  @Test
  void mergeKeepsTheBestKOnceEach() {
    long[][] items = {{5, 3, 1}, {4, 3, 2}};
    float[][] scores = {{0.9f, 0.5f, 0.1f}, {0.8f, 0.5f, 0.2f}};
    ShardMerge.Merged m = ShardMerge.topK(items, scores, 4);
    assertArrayEquals(new long[] {5, 4, 3, 2}, m.items());
    assertArrayEquals(new float[] {0.9f, 0.8f, 0.5f, 0.2f}, m.scores());
    assertEquals(0, ShardMerge.topK(new long[][] {{}, {}}, new float[][] {{}, {}}, 10).size());
    assertEquals(6, ShardMerge.topK(new long[][] {{1, 2, 3}, {4, 5, 6}}, new float[][] {{3, 2, 1}, {3, 2, 1}}, 10).size());
  }
}
