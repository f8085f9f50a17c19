package dev.nann.scorer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nann.TestData;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

/** Merged calls give every query the scores it would get alone, under real concurrency. */
class MicroBatchingScorerTest {
  private static final int DIM = 16;

  private static UserFeatures features(long seed, int length) {
    SplittableRandom r = new SplittableRandom(seed);
    long[] ids = new long[length];
    float[] emb = new float[length * DIM];
    for (int i = 0; i < length; i++) {
      ids[i] = r.nextInt(1000);
      for (int j = 0; j < DIM; j++) {
        emb[i * DIM + j] = (float) r.nextGaussian();
      }
    }
    return new UserFeatures(ids, emb, DIM);
  }

  private static void fill(ScoreBatch b, long seed, int n) {
    SplittableRandom r = new SplittableRandom(seed);
    for (int i = 0; i < n * DIM; i++) {
      b.items().put(i, (float) r.nextGaussian());
    }
  }

  /** Both attention variants: their score networks select each row's user state differently. */
  @org.junit.jupiter.params.ParameterizedTest
  @org.junit.jupiter.params.provider.ValueSource(strings = {"attention", "attention-rbf"})
  void mergedScoresEqualSingleUserScores(String arch) throws Exception {
    try (OnnxScorer onnx = OnnxScorer.open(TestData.model(arch, DIM), 1);
         MicroBatchingScorer batched = new MicroBatchingScorer(onnx, 4096, 2_000)) {
      int threads = 4;
      int rounds = 60;
      // the reference: each (user, batch) scored alone
      float[][][] expected = new float[threads][rounds][];
      ScoreBatch alone = onnx.newBatch();
      for (int t = 0; t < threads; t++) {
        try (UserState u = onnx.user(features(t, 3 + t))) {
          for (int i = 0; i < rounds; i++) {
            int n = 1 + (t * 37 + i * 11) % 300;
            fill(alone, t * 1000L + i, n);
            onnx.score(u, alone, n);
            expected[t][i] = java.util.Arrays.copyOf(alone.scores(), n);
          }
        }
      }
      ExecutorService pool = Executors.newFixedThreadPool(threads);
      CountDownLatch go = new CountDownLatch(1);
      List<Future<?>> done = new ArrayList<>();
      for (int t = 0; t < threads; t++) {
        int thread = t;
        done.add(pool.submit(() -> {
          ScoreBatch b = batched.newBatch();
          go.await();
          try (UserState u = batched.user(features(thread, 3 + thread))) {
            for (int i = 0; i < rounds; i++) {
              int n = expected[thread][i].length;
              fill(b, thread * 1000L + i, n);
              batched.score(u, b, n);
              assertArrayEquals(expected[thread][i], java.util.Arrays.copyOf(b.scores(), n), 1e-5f,
                  "thread " + thread + " round " + i);
            }
          }
          return null;
        }));
      }
      go.countDown();
      for (Future<?> f : done) {
        f.get();
      }
      pool.shutdown();
      assertTrue(batched.meanBatchesPerCall() > 1.0, "concurrent batches were merged: " + batched.meanBatchesPerCall());
      assertTrue(batched.batchFill() > 0 && batched.batchFill() <= 1.0);
    }
  }

  @Test
  void aBatchAtTheMergeLimitIsScoredDirectly() {
    try (OnnxScorer onnx = OnnxScorer.open(TestData.model("attention", DIM), 1);
         MicroBatchingScorer batched = new MicroBatchingScorer(onnx, 64, 0)) {
      ScoreBatch b = batched.newBatch();
      fill(b, 1, 100);
      try (UserState u = batched.user(features(9, 4))) {
        batched.score(u, b, 100);
      }
      float[] got = java.util.Arrays.copyOf(b.scores(), 100);
      try (UserState u = onnx.user(features(9, 4))) {
        onnx.score(u, b, 100);
      }
      assertArrayEquals(java.util.Arrays.copyOf(b.scores(), 100), got, 1e-6f);
      assertTrue(batched.calls() == 1 && batched.meanBatchesPerCall() == 1.0);
    }
  }

  /**
   * Users whose states differ in shape beyond the first axis (a user network whose state length
   * follows the history) do not stack: the merged call refuses them instead of cutting one user's
   * state to another's, and the batcher scores such a user's batch alone.
   */
  @Test
  void userStatesOfDifferentShapesDoNotStack() {
    java.util.Map<String, ai.onnxruntime.OnnxTensor> none = java.util.Map.of();
    OnnxScorer.OnnxUserState three = new OnnxScorer.OnnxUserState(none, java.util.Map.of("u", new float[3 * 4]),
        java.util.Map.of("u", new long[] {1, 3, 4}));
    OnnxScorer.OnnxUserState five = new OnnxScorer.OnnxUserState(none, java.util.Map.of("u", new float[5 * 4]),
        java.util.Map.of("u", new long[] {1, 5, 4}));
    OnnxScorer.OnnxUserState threeAgain = new OnnxScorer.OnnxUserState(none, java.util.Map.of("u", new float[3 * 4]),
        java.util.Map.of("u", new long[] {1, 3, 4}));
    assertTrue(OnnxScorer.stackable(three, threeAgain));
    assertFalse(OnnxScorer.stackable(three, five));
    try (OnnxScorer onnx = OnnxScorer.open(TestData.model("attention", DIM), 1)) {
      ScoreBatch merged = onnx.newBatch();
      assertThrows(IllegalArgumentException.class,
          () -> onnx.scoreMerged(new OnnxScorer.OnnxUserState[] {three, five}, 2, merged, 2));
    }
  }
}
