package dev.nann.scorer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nann.TestData;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

/**
 * A model that is not defined everywhere (the trainer's {@code undefined-d16} fixture: NaN for an
 * empty history, and for items whose first component is negative) fails the call that meets its
 * NaN with a message naming the model, and only that call.
 */
class UndefinedScoresTest {
  private static final int DIM = 16;

  private static UserFeatures history() {
    float[] emb = new float[3 * DIM];
    for (int i = 0; i < emb.length; i++) {
      emb[i] = (i % 5) * 0.25f - 0.5f;
    }
    return new UserFeatures(new long[] {1, 2, 3}, emb, DIM);
  }

  /** Rows whose first component is {@code first[i]}, the rest 0.1 * (i + 1). */
  private static float[] rows(float... first) {
    float[] out = new float[first.length * DIM];
    for (int i = 0; i < first.length; i++) {
      out[i * DIM] = first[i];
      for (int j = 1; j < DIM; j++) {
        out[i * DIM + j] = 0.1f * (i + 1);
      }
    }
    return out;
  }

  private static void put(ScoreBatch b, float[] rows) {
    for (int i = 0; i < rows.length / DIM; i++) {
      b.putRow(i, rows, i * DIM);
    }
  }

  /** u · e + sqrt(e[0]) in Java, u the mean of the history: what the fixture computes where it is defined. */
  private static float expected(UserFeatures f, float[] rows, int row) {
    double s = 0;
    for (int j = 0; j < DIM; j++) {
      double u = 0;
      for (int h = 0; h < f.length(); h++) {
        u += f.embeddings()[h * DIM + j];
      }
      s += u / f.length() * rows[row * DIM + j];
    }
    return (float) (s + Math.sqrt(rows[row * DIM]));
  }

  @Test
  void whereTheModelIsDefinedItScoresAndWhereNotTheCallFailsNamingTheModel() {
    try (OnnxScorer scorer = OnnxScorer.open(TestData.model("undefined", DIM), 1)) {
      ScoreBatch b = scorer.newBatch();
      try (UserState u = scorer.user(history())) {
        float[] fine = rows(0.25f, 1f, 4f);
        put(b, fine);
        scorer.score(u, b, 3);
        for (int i = 0; i < 3; i++) {
          assertEquals(expected(history(), fine, i), b.scores()[i], 1e-4f, "row " + i);
        }
        put(b, rows(1f, -1f, 4f, -0.5f));
        ScorerException e = assertThrows(ScorerException.class, () -> scorer.score(u, b, 4));
        assertTrue(e.getMessage().contains("fixture-undefined-d16") && e.getMessage().contains("NaN for 2 of the 4 items"),
            e.getMessage());
        put(b, fine);
        scorer.score(u, b, 3);   // the scorer is unharmed: the next call of the same user scores
        assertEquals(expected(history(), fine, 2), b.scores()[2], 1e-4f);
      }
    }
  }

  @Test
  void aUserStateWithNaNFailsBeforeAnyItemIsScored() {
    try (OnnxScorer scorer = OnnxScorer.open(TestData.model("undefined", DIM), 1)) {
      ScorerException e = assertThrows(ScorerException.class,
          () -> scorer.user(new UserFeatures(new long[0], new float[0], DIM)));
      assertTrue(e.getMessage().contains("user network of model fixture-undefined-d16") && e.getMessage().contains("NaN")
          && e.getMessage().contains("history of 0 items"), e.getMessage());
    }
  }

  @Test
  void inAMergedCallOnlyTheQueryWhoseRowsGaveNaNFails() throws Exception {
    try (OnnxScorer onnx = OnnxScorer.open(TestData.model("undefined", DIM), 1);
         MicroBatchingScorer batched = new MicroBatchingScorer(onnx, 4096, 2_000_000)) {   // waits for both
      float[] fine = rows(0.5f, 2f);
      float[] undefined = rows(3f, -2f);
      CyclicBarrier together = new CyclicBarrier(2);
      ExecutorService pool = Executors.newFixedThreadPool(2);
      try {
        Future<float[]> good = pool.submit(() -> {
          ScoreBatch b = batched.newBatch();
          put(b, fine);
          try (UserState u = batched.user(history())) {
            together.await();
            batched.score(u, b, 2);
            return java.util.Arrays.copyOf(b.scores(), 2);
          }
        });
        Future<String> bad = pool.submit(() -> {
          ScoreBatch b = batched.newBatch();
          put(b, undefined);
          try (UserState u = batched.user(history())) {
            together.await();
            return assertThrows(ScorerException.class, () -> batched.score(u, b, 2)).getMessage();
          }
        });
        assertArrayEquals(new float[] {expected(history(), fine, 0), expected(history(), fine, 1)}, good.get(), 1e-4f);
        assertTrue(bad.get().contains("NaN for 1 of the 2 items"), bad.get());
      } finally {
        pool.shutdownNow();
      }
      assertEquals(1, batched.calls(), "both queries' rows went to the runtime in one call");
      assertEquals(2.0, batched.meanBatchesPerCall(), 1e-9);
    }
  }
}
