package dev.nann.indexsync;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.apache.flink.runtime.state.KeyGroupRangeAssignment;
import org.junit.jupiter.api.Test;

/** Sharded index-sync's keys put its shards on every instance, evenly, at any parallelism up to S. */
class ShardKeysTest {
  @Test
  void shardsSpreadEvenlyOverEveryParallelism() {
    for (int shards : new int[] {2, 3, 4, 5, 8, 16, 33, 64, 1024}) {
      ShardKeys keys = ShardKeys.of(shards);
      for (int p = 1; p <= Math.min(shards, 64); p++) {
        int[] load = new int[p];
        for (int s = 0; s < shards; s++) {
          load[KeyGroupRangeAssignment.assignKeyToParallelOperator(keys.key(s), ShardKeys.MAX_PARALLELISM, p)]++;
        }
        int ceil = (shards + p - 1) / p;
        for (int i = 0; i < p; i++) {
          assertEquals(true, load[i] >= shards / p && load[i] <= ceil,
              shards + " shards on " + p + " instances: instance " + i + " builds " + load[i]);
        }
      }
      for (int s = 0; s < shards; s++) {
        assertEquals(s, keys.shard(keys.key(s)));
      }
    }
  }

  @Test
  void theShardNumbersThemselvesWouldNot() {
    // why the keys exist: keyed by 0 and 1 under Flink's default max parallelism (128), two shards at
    // parallelism 2 both land on one instance
    assertEquals(KeyGroupRangeAssignment.assignKeyToParallelOperator(0, 128, 2),
        KeyGroupRangeAssignment.assignKeyToParallelOperator(1, 128, 2));
    assertThrows(IllegalArgumentException.class, () -> ShardKeys.of(2).shard(-7));
  }
}
