package dev.nann.shard;

/**
 * Which of S shards holds an item: a stable hash of its id, so every job, tool and restart agrees
 * without a lookup table, and ids that are sequential or share their low bits still spread evenly.
 */
public final class ShardAssignment {
  /** The most shards an index may have. */
  public static final int MAX_SHARDS = 1024;

  private ShardAssignment() {
  }

  /**
   * @return the shard of {@code itemId}, in {@code [0, shards)}
   * @throws IllegalArgumentException if {@code shards} is not in {@code [1, MAX_SHARDS]}
   */
  public static int shardOf(long itemId, int shards) {
    check(shards);
    if (shards == 1) {
      return 0;
    }
    // SplitMix64's finaliser: every bit of the id moves every bit of the hash
    long z = itemId + 0x9E3779B97F4A7C15L;
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    z = z ^ (z >>> 31);
    return (int) Long.remainderUnsigned(z, shards);
  }

  /** @throws IllegalArgumentException if {@code shards} is not in {@code [1, MAX_SHARDS]} */
  public static int check(int shards) {
    if (shards < 1 || shards > MAX_SHARDS) {
      throw new IllegalArgumentException("the number of shards must be in [1, " + MAX_SHARDS + "], got " + shards);
    }
    return shards;
  }
}
