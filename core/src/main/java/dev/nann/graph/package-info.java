/**
 * The item graph: an immutable multi-level HNSW view in CSR arrays ({@link dev.nann.graph.HnswGraphView}),
 * the index that pairs it with item ids, embeddings and tombstones ({@link dev.nann.graph.HnswIndex}),
 * the builder that makes one with Lucene's HNSW builder ({@link dev.nann.graph.HnswIndexBuilder}) and the
 * versioned, checksummed, memory-mapped snapshot file ({@link dev.nann.graph.SnapshotFormat}).
 */
package dev.nann.graph;
