/**
 * Offline evaluation: the paper's metrics ({@link dev.nann.eval.RetrievalMetrics}), graph checks
 * ({@link dev.nann.eval.GraphQuality}) and the runner behind {@code nann eval}
 * ({@link dev.nann.eval.Evaluator}), over the corpora of {@code dev.nann.corpus}, with the caches that
 * make sweeps cheap (built graphs: {@link dev.nann.eval.SnapshotCache}; exact answers: {@code
 * ReferenceCache}) and the miss analysis of {@code --explain-misses} ({@code MissExplainer}).
 */
package dev.nann.eval;
