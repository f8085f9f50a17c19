package dev.nann.engine;

import dev.nann.scorer.MicroBatchingScorer;
import dev.nann.scorer.OnnxScorer;
import dev.nann.scorer.Scorer;
import dev.nann.search.DescentChooser;

/**
 * A model held in the {@link SharedRegistry}: its ONNX scorer and, when micro-batching is on, the
 * batching front every query scores through.
 *
 * @param version the model's version (model.json)
 * @param onnx the runtime sessions
 * @param batcher the cross-request batcher, or null when batching is off
 * @param loadedAtMillis when this TaskManager loaded and warmed it (for the model-age metric)
 * @param descents settles the default walk's descent for this model from its first queries
 */
public record LoadedModel(String version, OnnxScorer onnx, MicroBatchingScorer batcher, long loadedAtMillis,
                          DescentChooser descents) implements AutoCloseable {
  /** What queries score with. */
  public Scorer scorer() {
    return batcher != null ? batcher : onnx;
  }

  @Override
  public void close() {
    if (batcher != null) {
      batcher.close();
    }
    onnx.close();
  }
}
