/**
 * Search under a neural metric over an {@link dev.nann.graph.HnswIndex}: the {@link dev.nann.search.SearchMode}
 * type and one class per mode: the default batched best-first walk ({@link dev.nann.search.BatchedBestFirst}),
 * Beam-retrieval (NANN Alg. 1 + 2, {@link dev.nann.search.BeamRetrieval}), HNSW-retrieval (SL2G baseline,
 * {@link dev.nann.search.HnswRetrieval}) and brute force ({@link dev.nann.search.BruteForce}), all run through
 * {@link dev.nann.search.Searcher}, which owns the reusable per-query state (visited marks, heaps, candidate
 * arrays, score batch) they share.
 */
package dev.nann.search;
