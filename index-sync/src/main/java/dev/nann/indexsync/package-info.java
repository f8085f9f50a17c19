/**
 * The index side: item catalogue → HNSW build → snapshot written, verified by reading it back →
 * descriptor to publish. {@link dev.nann.indexsync.SnapshotPublisher} is the step the index-sync
 * Flink job runs on every rebuild; {@code nann index build} runs it once from the command line.
 */
package dev.nann.indexsync;
