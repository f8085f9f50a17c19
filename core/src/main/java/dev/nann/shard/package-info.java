/**
 * An item-sharded index: which shard holds an item ({@link dev.nann.shard.ShardAssignment}), what
 * each shard's walk of one query may spend ({@link dev.nann.shard.ShardPlan}), and how the shards'
 * answers become one ({@link dev.nann.shard.ShardMerge}), and a shard's entry in a version's
 * manifest ({@link dev.nann.shard.ShardEntries}). Used alike by serving's scatter-gather and
 * by {@code ./nann eval --shards}, so an offline figure is the served behaviour.
 */
package dev.nann.shard;
