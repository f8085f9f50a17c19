package dev.nann.cli.bench;

import dev.nann.scorer.ModelSpec;
import dev.nann.scorer.OnnxScorer;
import dev.nann.scorer.ScoreBatch;
import dev.nann.scorer.UserFeatures;
import dev.nann.scorer.UserState;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The scorer's own ceiling on this machine: items per second that bare ONNX Runtime calls on the
 * serving model reach, with as many threads as the engine walks with and batches of the size the
 * default walk sends. Divided by the items a request scores, it is the request rate no serving
 * pipeline could beat here; the serving benchmark reports its own rate against it.
 */
final class ScorerCeiling {
  private ScorerCeiling() {}

  /** Items/s over {@code seconds}, after a one-second warm-up, from {@code threads} threads. */
  static double itemsPerSecond(Path modelDir, int threads, int batchRows, double seconds) throws InterruptedException {
    int dim = ModelSpec.read(modelDir).itemDim();
    try (OnnxScorer scorer = OnnxScorer.open(modelDir, 1)) {
      AtomicLong items = new AtomicLong();
      long warmEnd = System.nanoTime() + 1_000_000_000L;
      long end = warmEnd + (long) (seconds * 1e9);
      List<Thread> workers = new ArrayList<>();
      for (int t = 0; t < threads; t++) {
        int seed = t;
        Thread w = new Thread(() -> {
          SplittableRandom rnd = new SplittableRandom(seed);
          float[] rows = new float[batchRows * dim];
          for (int i = 0; i < rows.length; i++) {
            rows[i] = (float) rnd.nextGaussian();
          }
          int len = ModelSpec.read(modelDir).maxSeqLen();
          long[] ids = new long[len];
          float[] history = new float[len * dim];
          for (int i = 0; i < history.length; i++) {
            history[i] = (float) rnd.nextGaussian();
          }
          ScoreBatch batch = scorer.newBatch();
          try (UserState user = scorer.user(new UserFeatures(ids, history, dim))) {
            for (int r = 0; r < batchRows; r++) {
              batch.putRow(r, rows, r * dim);
            }
            while (System.nanoTime() < end) {
              scorer.score(user, batch, batchRows);
              if (System.nanoTime() > warmEnd) {
                items.addAndGet(batchRows);
              }
            }
          }
        }, "ceiling-" + t);
        workers.add(w);
        w.start();
      }
      for (Thread w : workers) {
        w.join();
      }
      return items.get() / seconds;
    }
  }
}
