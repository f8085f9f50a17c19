/**
 * Scoring s_u(e_v): the {@link dev.nann.scorer.Scorer} interface, the ONNX Runtime implementation of
 * nann's model directory contract ({@link dev.nann.scorer.OnnxModel}, {@link dev.nann.scorer.OnnxScorer})
 * with auto-padding to a {@link dev.nann.scorer.ShapeGrid}, and an {@link dev.nann.scorer.InnerProductScorer}
 * for two-sided models.
 */
package dev.nann.scorer;
