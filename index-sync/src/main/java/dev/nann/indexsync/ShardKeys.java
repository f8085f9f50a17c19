package dev.nann.indexsync;

import dev.nann.shard.ShardAssignment;
import java.util.Arrays;
import org.apache.flink.runtime.state.KeyGroupRangeAssignment;

/**
 * The Flink keys of a sharded index-sync's S shards. Keyed by the shard number itself, a shard lands
 * on whichever instance its hash picks (two shards at parallelism 2 both on one instance, four on
 * two), so the shards would not build side by side. These keys put shard s in key group
 * ceil(s * {@link #MAX_PARALLELISM} / S), which spreads the shards evenly over every parallelism up to S:
 * the keys do not depend on the parallelism, so a rescale keeps the state and stays even.
 */
public final class ShardKeys {
  /** The shard operator's max parallelism (= {@link ShardAssignment#MAX_SHARDS}, the most instances it can use). */
  public static final int MAX_PARALLELISM = ShardAssignment.MAX_SHARDS;

  private final int[] keyOfShard;
  private final int[] sortedKeys;
  private final int[] shardOfSorted;

  private ShardKeys(int[] keyOfShard) {
    this.keyOfShard = keyOfShard;
    Integer[] order = new Integer[keyOfShard.length];
    for (int s = 0; s < order.length; s++) {
      order[s] = s;
    }
    Arrays.sort(order, (a, b) -> Integer.compare(keyOfShard[a], keyOfShard[b]));
    sortedKeys = new int[order.length];
    shardOfSorted = new int[order.length];
    for (int i = 0; i < order.length; i++) {
      sortedKeys[i] = keyOfShard[order[i]];
      shardOfSorted[i] = order[i];
    }
  }

  /** The keys of {@code shards} shards: the smallest non-negative integers that fall in each shard's key group. */
  public static ShardKeys of(int shards) {
    ShardAssignment.check(shards);
    int[] shardOfGroup = new int[MAX_PARALLELISM];
    Arrays.fill(shardOfGroup, -1);
    for (int s = 0; s < shards; s++) {
      // the first key group at or after s/S of the range: at parallelism S exactly instance s's first group
      shardOfGroup[(int) (((long) s * MAX_PARALLELISM + shards - 1) / shards)] = s;
    }
    int[] keys = new int[shards];
    int found = 0;
    for (int k = 0; found < shards; k++) {
      int shard = shardOfGroup[KeyGroupRangeAssignment.assignToKeyGroup(k, MAX_PARALLELISM)];
      if (shard >= 0) {
        keys[shard] = k;
        shardOfGroup[KeyGroupRangeAssignment.assignToKeyGroup(k, MAX_PARALLELISM)] = -1;
        found++;
      }
    }
    return new ShardKeys(keys);
  }

  /** The key that routes shard {@code shard}. */
  public int key(int shard) {
    return keyOfShard[shard];
  }

  /** The shard key {@code key} routes. */
  public int shard(int key) {
    int i = Arrays.binarySearch(sortedKeys, key);
    if (i < 0) {
      throw new IllegalArgumentException("no shard has key " + key);
    }
    return shardOfSorted[i];
  }
}
