/**
 * Corpora: item vectors and users with held-out ground truth that the evaluator, benchmarks and
 * tests search over — seeded synthetic ones ({@link dev.nann.corpus.SyntheticCorpus}), MovieLens
 * ({@link dev.nann.corpus.MovieLensCorpus}) and a trainer's export ({@link dev.nann.corpus.FileCorpus}).
 */
package dev.nann.corpus;
