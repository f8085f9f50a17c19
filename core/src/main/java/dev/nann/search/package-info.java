/**
 * Search under a neural metric over an {@link dev.nann.graph.HnswIndex}: the {@link dev.nann.search.SearchMode}
 * type, the default batched best-first walk, Beam-retrieval (NANN Alg. 1 + 2), HNSW-retrieval (SL2G baseline)
 * and brute force, all in {@link dev.nann.search.Searcher}, which owns the reusable per-query state (visited
 * marks, heaps, candidate arrays, score batch).
 */
package dev.nann.search;
