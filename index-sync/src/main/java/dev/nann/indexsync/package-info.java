/**
 * The index side: item catalogue → HNSW build → snapshot written, verified by reading it back →
 * descriptor to publish. {@link dev.nann.indexsync.IndexSyncFunction} is the index-sync job's core
 * (catalog in keyed state, full or in-place builds); {@link dev.nann.indexsync.SnapshotPublisher}
 * writes and verifies every snapshot it builds; {@code nann index build} runs the publisher once
 * from the command line. With {@code index.shards} S &gt; 1 the function is keyed by shard (each
 * shard builds and publishes {@code index-v<n>-s<i>.nann} with its own versions) and
 * {@link dev.nann.indexsync.ManifestAssembler} (parallelism 1) publishes an index version once all S
 * shards have a snapshot, as a {@link dev.nann.indexsync.ShardManifest} naming every shard's file and
 * SHA-256. The job's wiring lives in {@code dev.nann.jobs.IndexSyncJob}.
 */
package dev.nann.indexsync;
