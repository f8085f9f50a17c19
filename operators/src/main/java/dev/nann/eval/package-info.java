/**
 * Offline evaluation: corpora ({@link dev.nann.eval.SyntheticCorpus}, {@link dev.nann.eval.MovieLensCorpus}),
 * the paper's metrics ({@link dev.nann.eval.RetrievalMetrics}) and the runner behind {@code nann eval}
 * ({@link dev.nann.eval.Evaluator}).
 */
package dev.nann.eval;
