/**
 * Offline evaluation: the paper's metrics ({@link dev.nann.eval.RetrievalMetrics}), graph checks
 * ({@link dev.nann.eval.GraphQuality}) and the runner behind {@code nann eval}
 * ({@link dev.nann.eval.Evaluator}), over the corpora of {@code dev.nann.corpus}.
 */
package dev.nann.eval;
