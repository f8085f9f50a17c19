/**
 * The index side: item catalogue → HNSW build → snapshot written, verified by reading it back →
 * descriptor to publish. {@link dev.nann.indexsync.IndexSyncFunction} is the index-sync job's core
 * (catalog in keyed state, full or in-place builds); {@link dev.nann.indexsync.SnapshotPublisher}
 * writes and verifies every snapshot it builds; {@code nann index build} runs the publisher once
 * from the command line. The job's wiring lives in {@code dev.nann.jobs.IndexSyncJob}.
 */
package dev.nann.indexsync;
