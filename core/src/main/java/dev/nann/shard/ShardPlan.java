package dev.nann.shard;

import dev.nann.search.SearchParams;

/**
 * What each shard's walk of one query may spend so that the merged top-k holds its coverage.
 *
 * <p>Items are spread over shards by a hash, so the number of the global top-k a shard holds is
 * Binomial(k, 1/S): a shard returns {@code shardK} = k/S plus {@link #SIGMAS} standard deviations
 * (never more than k), which misses an item of the global top-k only when one shard holds more
 * than that (about once in 30,000 queries for k = 200, S = 4). The walk's width shrinks to the
 * share a shard holds at {@link #WIDTH_SIGMAS} standard deviations ({@code W · (k/S + 2σ) / k}, at
 * least shardK): each shard needs to converge on its own share only, and width is what costs
 * items scored (S walks pay S entries and descents, so together they score more items per unit of
 * width than one walk of the whole graph), so it is sized for the typical shard, not for the 4σ
 * tail that shardK guards. Measured on 1M items (nested synthetic, trained attention, efConstruction 40,
 * k = 200, S = 4; docs/results/shards/): at W = 3200 the width {@code W · shardK / k} covered as
 * much as one graph (0.941) at 1.43x the items, {@code W / S} 0.014 less at 1.12x, this rule 0.005
 * less at 1.27x. At small widths (W = 400) no per-shard width holds the coverage within 1.3x the
 * items: S walks pay S entries and descents (about 600 items each on a 250k-item shard).
 *
 * <p>The request's budget is the total over all shards, split evenly; a shard that holds none of
 * the user's best items converges, and stops, long before its share is spent. When the share
 * binds, the width is cut to a quarter of it (at least shardK): a walk scores about four items per
 * unit of width by the time it converges, and a walk cut by its budget in the descent, before its
 * beam reached layer 0, covers far less than a narrower walk that converged (1M, W = 3200, budget
 * 5000: 0.60 uncut, 0.70 cut, against one graph's 0.81 at the same items).
 *
 * @param shards S
 * @param k items the merged answer holds
 * @param shardK items each shard returns
 * @param shardParams each shard's walk (width and budget as above; other modes unchanged)
 */
public record ShardPlan(int shards, int k, int shardK, SearchParams shardParams) {
  /** Standard deviations of a shard's share of the top-k that each shard covers. */
  public static final double SIGMAS = 4.0;

  /** Standard deviations of a shard's share of the top-k that each shard's walk width is sized for. */
  public static final double WIDTH_SIGMAS = 2.0;

  /** The plan for a query of {@code k} items with {@code params} (the request's budget already in them). */
  public static ShardPlan of(int shards, int k, SearchParams params) {
    ShardAssignment.check(shards);
    if (shards == 1) {
      return new ShardPlan(1, k, k, params);
    }
    double p = 1.0 / shards;
    double sigma = Math.sqrt(k * p * (1 - p));
    int shardK = (int) Math.min(k, Math.ceil(k * p + SIGMAS * sigma));
    shardK = Math.max(1, shardK);
    double share = Math.min(k, k * p + WIDTH_SIGMAS * sigma) / Math.max(1, k);
    int width = (int) Math.max(shardK, Math.ceil(params.walk().width() * share));
    int budget = (int) Math.max(shardK, Math.ceil((double) params.walk().budget() / shards));
    width = Math.max(shardK, Math.min(width, budget / 4));   // a walk that can converge within its share
    return new ShardPlan(shards, k, shardK, params.withWidth(width).withBudget(budget));
  }
}
